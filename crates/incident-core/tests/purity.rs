//! The core stays pure: values in, values out. Being a crate of its own,
//! it cannot name an I/O crate it does not depend on; this test keeps its
//! dependency list to the value crates, and keeps out what a dependency
//! alone cannot: reading the clock, the file system or the network.

use std::path::{Path, PathBuf};

const ALLOWED_DEPENDENCIES: [&str; 3] = ["serde", "time", "toml"];

const FORBIDDEN: [&str; 9] = [
    "OffsetDateTime::now_utc",
    "OffsetDateTime::now_local",
    "SystemTime::now",
    "Instant::now",
    "std::fs",
    "std::net",
    "std::process",
    "std::thread",
    "std::env",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_core_depends_only_on_value_crates() {
    let manifest: toml::Table =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let deps = manifest["dependencies"].as_table().unwrap();
    let extra: Vec<&String> = deps
        .keys()
        .filter(|d| !ALLOWED_DEPENDENCIES.contains(&d.as_str()))
        .collect();
    assert!(extra.is_empty(), "the core may not depend on {extra:?}");
}

#[test]
fn the_core_reads_no_clock_files_or_network() {
    let mut files = Vec::new();
    sources(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")),
        &mut files,
    );
    let mut offenders = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let is_test = path.file_name().is_some_and(|n| n == "tests.rs")
            || path
                .file_stem()
                .is_some_and(|s| s.to_string_lossy().ends_with("_tests"));
        if is_test {
            continue;
        }
        // Unit tests may read the clock; what ships may not.
        let shipped = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in shipped.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for f in FORBIDDEN.iter().filter(|f| code.contains(**f)) {
                offenders.push(format!("{}:{}: {f}", path.display(), n + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "the core must stay pure: {offenders:#?}"
    );
}
