//! The kernel's memory accounting of a container, as plain text in and a
//! [`Reading`] out: where a container's cgroup lives under each cgroup
//! version and driver, how its files are parsed, and the same arithmetic
//! as `docker stats` (usage minus inactive page cache).
//!
//! The adapter (`src/cgroup.rs`) reads the files; nothing here touches
//! them.

use crate::memory::{own_limit, usage_without_cache, Reading};
use std::collections::HashMap;

/// The cgroup hierarchy's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Separate hierarchies; memory under `<root>/memory/`.
    V1,
    /// One unified hierarchy; memory files in every cgroup directory.
    V2,
}

/// How the engine names its cgroups (`docker info`'s Cgroup Driver).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// `<parent>/<id>`, parent `/docker` by default.
    Cgroupfs,
    /// `<slice>/docker-<id>.scope`, slice `system.slice` by default.
    Systemd,
}

impl Driver {
    /// The engine's name for it; unknown names are taken as cgroupfs, the
    /// engine's own default.
    pub fn from_engine(name: &str) -> Driver {
        if name.eq_ignore_ascii_case("systemd") {
            Driver::Systemd
        } else {
            Driver::Cgroupfs
        }
    }
}

/// The files a reading takes, relative to the container's cgroup
/// directory: (usage, stat, limit).
pub fn files(version: Version) -> [&'static str; 3] {
    match version {
        Version::V1 => [
            "memory.usage_in_bytes",
            "memory.stat",
            "memory.limit_in_bytes",
        ],
        Version::V2 => ["memory.current", "memory.stat", "memory.max"],
    }
}

/// Where a container's memory cgroup should be, relative to the memory
/// hierarchy's root, most likely first: the engine's conventions for its
/// driver, with the container's own cgroup parent when it has one.
pub fn candidate_dirs(driver: Driver, parent: Option<&str>, id: &str) -> Vec<String> {
    let parent = parent
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty());
    let mut out = Vec::new();
    match driver {
        Driver::Cgroupfs => {
            out.push(format!("{}/{id}", parent.unwrap_or("docker")));
        }
        Driver::Systemd => {
            // A custom parent is a slice name ("my-app.slice"), which
            // systemd nests by its dashes: my-app.slice lives under
            // my.slice/my-app.slice.
            let slice = parent.map_or_else(|| "system.slice".to_string(), slice_path);
            out.push(format!("{slice}/docker-{id}.scope"));
        }
    }
    out
}

/// systemd's nesting of a slice name: `a-b-c.slice` is
/// `a.slice/a-b.slice/a-b-c.slice`.
fn slice_path(slice: &str) -> String {
    let Some(stem) = slice.strip_suffix(".slice") else {
        return slice.to_string();
    };
    if stem.is_empty() || stem == "-" {
        return slice.to_string();
    }
    let parts: Vec<&str> = stem.split('-').collect();
    (1..=parts.len())
        .map(|n| format!("{}.slice", parts[..n].join("-")))
        .collect::<Vec<_>>()
        .join("/")
}

/// The container ID a cgroup directory's name stands for, under either
/// driver: `<64 hex>` (cgroupfs) or `docker-<64 hex>.scope` (systemd).
pub fn container_id_of(dir_name: &str) -> Option<&str> {
    let id = dir_name
        .strip_prefix("docker-")
        .and_then(|s| s.strip_suffix(".scope"))
        .unwrap_or(dir_name);
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

/// `memory.stat`: one `key value` pair per line. Lines that are not are
/// skipped (a newer kernel may add kinds of line).
pub fn parse_stat(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(' ')?;
            Some((key.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

/// A single-number file; `max` (cgroup v2's "no limit") is `None`.
pub fn parse_value(text: &str) -> Result<Option<u64>, String> {
    match text.trim() {
        "max" => Ok(None),
        t => t
            .parse()
            .map(Some)
            .map_err(|_| format!("not a number: {:?}", crate::text::clip(t, 40))),
    }
}

/// The three files' contents as `docker stats` would show them. A v1
/// "unlimited" limit (a page-rounded `i64::MAX`) and any limit at or above
/// host memory are no limit of the container's own.
pub fn reading(
    usage: &str,
    stat: &str,
    limit: &str,
    host_memory_bytes: u64,
) -> Result<Reading, String> {
    let usage = parse_value(usage)?.ok_or("usage reads \"max\"")?;
    let limit = parse_value(limit)?;
    Ok(Reading::Sampled {
        usage_bytes: usage_without_cache(usage, &parse_stat(stat)),
        limit_bytes: limit.and_then(|l| own_limit(l, host_memory_bytes)),
    })
}

#[cfg(test)]
mod tests;
