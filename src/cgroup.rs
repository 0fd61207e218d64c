//! The kernel's memory accounting of containers, read from the cgroup files
//! of the host the engine runs on: what the engine itself reads for
//! `docker stats`, without asking the engine. The container list stays the
//! engine's; this only answers "how much memory does container `id` use".
//!
//! Blocking file reads of a few hundred bytes each (microseconds);
//! callers batch them onto a blocking thread. The arithmetic and the
//! naming conventions are the core's (`core::cgroup`).

use crate::core::cgroup::{self, Driver, Version};
use crate::core::memory::Reading;
use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// How deep under the memory root a container's cgroup is looked for, and
/// how many directories one search may visit, so a pathological tree
/// cannot stall the watcher.
const SEARCH_DEPTH: usize = 6;
const SEARCH_MAX_DIRS: usize = 50_000;

/// The memory cgroup hierarchy found under a cgroup root.
#[derive(Debug, Clone)]
pub struct Cgroups {
    /// Where the memory files live: `<root>/memory` on v1, `<root>` on v2.
    mem_root: PathBuf,
    version: Version,
    driver: Driver,
}

/// One container's memory from its files.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    Reading(Reading),
    /// Its cgroup directory is gone: the container stopped.
    Gone,
    /// The files are there but could not be read or parsed.
    Failed(String),
}

impl Cgroups {
    /// The memory hierarchy under `root` (usually `/sys/fs/cgroup`, or the
    /// host's, mounted read-only into the bot's container), or why there
    /// is none.
    pub fn detect(root: &Path, driver: Driver) -> Result<Cgroups, String> {
        let controllers = std::fs::read_to_string(root.join("cgroup.controllers"));
        if let Ok(c) = &controllers {
            if c.split_whitespace().any(|c| c == "memory") {
                return Ok(Cgroups {
                    mem_root: root.to_path_buf(),
                    version: Version::V2,
                    driver,
                });
            }
        }
        let v1 = root.join("memory");
        if v1.join("memory.usage_in_bytes").is_file() {
            return Ok(Cgroups {
                mem_root: v1,
                version: Version::V1,
                driver,
            });
        }
        Err(format!(
            "no memory cgroup hierarchy under {} (neither v2's cgroup.controllers with memory nor v1's memory/)",
            root.display()
        ))
    }

    pub fn version(&self) -> Version {
        self.version
    }

    pub fn mem_root(&self) -> &Path {
        &self.mem_root
    }

    /// Where the engine's naming convention puts container `id`'s
    /// directory (not checked: reading it tells).
    pub fn conventional(&self, id: &str) -> PathBuf {
        let rel = cgroup::candidate_dirs(self.driver, None, id)
            .into_iter()
            .next()
            .unwrap_or_default();
        self.mem_root.join(rel)
    }

    /// Every container cgroup under the hierarchy, by container ID: for
    /// containers with a cgroup parent of their own, or a driver the engine
    /// did not report. Bounded in depth and size.
    pub fn search(&self) -> HashMap<String, PathBuf> {
        let mut found = HashMap::new();
        let mut visited = 0usize;
        let mut level = vec![self.mem_root.clone()];
        for _ in 0..SEARCH_DEPTH {
            let mut next = Vec::new();
            for dir in level {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    // Cgroups are real directories; never follow links.
                    if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                        continue;
                    }
                    visited += 1;
                    if visited > SEARCH_MAX_DIRS {
                        return found;
                    }
                    let name = entry.file_name();
                    match cgroup::container_id_of(&name.to_string_lossy()) {
                        Some(id) => {
                            found.insert(id.to_string(), entry.path());
                        }
                        None => next.push(entry.path()),
                    }
                }
            }
            level = next;
        }
        found
    }

    /// Reads one container's memory from its directory.
    pub fn read(&self, dir: &Path, host_memory_bytes: u64) -> Read {
        let [usage, stat, limit] = cgroup::files(self.version);
        let text = |file: &str| std::fs::read_to_string(dir.join(file));
        let all = text(usage).and_then(|u| Ok((u, text(stat)?, text(limit)?)));
        match all {
            Ok((u, s, l)) => match cgroup::reading(&u, &s, &l, host_memory_bytes) {
                Ok(r) => Read::Reading(r),
                Err(e) => Read::Failed(format!("unreadable cgroup files: {e}")),
            },
            // The kernel removes the directory when the container's last
            // process is gone; a read racing that removal can also see
            // ENODEV.
            Err(e) if e.kind() == ErrorKind::NotFound || e.raw_os_error() == Some(19) => Read::Gone,
            Err(e) => Read::Failed(format!("cgroup files not readable: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "2a26aea528dba9698cd7056d3c1137d0cfeeaf7c03a8ab0d554d2f21687bda5a";

    /// A directory of the test's own, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("ib-cgroup-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn write(dir: &Path, files: &[(&str, &str)]) {
        std::fs::create_dir_all(dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }

    /// A cgroup v2 host with the systemd driver, as files: found by the
    /// convention and by the search, read with v2's file names, gone when
    /// the directory goes.
    #[test]
    fn a_v2_systemd_tree_is_found_and_read() {
        let root = Scratch::new("v2");
        write(
            root.path(),
            &[("cgroup.controllers", "cpuset cpu io memory pids\n")],
        );
        let scope = root.path().join(format!("system.slice/docker-{ID}.scope"));
        write(
            &scope,
            &[
                ("memory.current", "9871360\n"),
                (
                    "memory.stat",
                    include_str!("../crates/incident-core/src/fixtures/v2-memory.stat"),
                ),
                ("memory.max", "max\n"),
            ],
        );
        let cg = Cgroups::detect(root.path(), Driver::Systemd).unwrap();
        assert_eq!(cg.version(), Version::V2);
        assert_eq!(cg.conventional(ID), scope);
        assert_eq!(cg.search().get(ID), Some(&scope));
        assert_eq!(
            cg.read(&scope, 24 << 30),
            Read::Reading(Reading::Sampled {
                usage_bytes: 9871360 - 1228800,
                limit_bytes: None
            })
        );
        // Under the other driver's convention it is not where expected,
        // but the search still finds it.
        let as_cgroupfs = Cgroups::detect(root.path(), Driver::Cgroupfs).unwrap();
        assert_ne!(as_cgroupfs.conventional(ID), scope);
        assert_eq!(
            as_cgroupfs.read(&as_cgroupfs.conventional(ID), 24 << 30),
            Read::Gone
        );
        assert_eq!(as_cgroupfs.search().get(ID), Some(&scope));
        std::fs::remove_dir_all(&scope).unwrap();
        assert_eq!(cg.read(&scope, 24 << 30), Read::Gone);
    }

    #[test]
    fn no_memory_hierarchy_says_where_it_looked() {
        let root = Scratch::new("none");
        // A v2 mount without the memory controller (a hybrid host's
        // "unified" tree) does not count.
        write(root.path(), &[("cgroup.controllers", "hugetlb\n")]);
        let e = Cgroups::detect(root.path(), Driver::Cgroupfs).unwrap_err();
        assert!(e.contains(&root.path().display().to_string()), "{e}");
    }

    #[test]
    fn garbage_in_the_files_is_a_failed_row() {
        let root = Scratch::new("garbage");
        let dir = root.path().join("memory/docker").join(ID);
        write(
            &root.path().join("memory"),
            &[("memory.usage_in_bytes", "1\n")],
        );
        write(
            &dir,
            &[
                ("memory.usage_in_bytes", "many\n"),
                ("memory.stat", ""),
                ("memory.limit_in_bytes", "1\n"),
            ],
        );
        let cg = Cgroups::detect(root.path(), Driver::Cgroupfs).unwrap();
        assert_eq!(cg.version(), Version::V1);
        assert!(matches!(cg.read(&dir, 1 << 30), Read::Failed(e) if e.contains("not a number")));
    }
}
