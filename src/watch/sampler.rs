//! How memory is read, for the watcher's clock and for the terminal's one
//! report: the kernel's cgroup files where they are reachable (the engine
//! runs on this host and its hierarchy is mounted), the engine's stats API
//! for the containers whose files are not. Every stats-API read, from
//! whichever caller, takes one of a fixed number of permits, so the engine
//! never sees more than `docker.max_concurrent_stats` of them at once.

use crate::cgroup::{Cgroups, Read};
use crate::core::cgroup::Driver;
use crate::core::memory::{ContainerSample, MemorySnapshot, Reading};
use crate::docker::{DockerError, Engine, Listed};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The hierarchy is searched at most this often for containers whose
/// cgroup is not where the driver's convention puts it.
const SEARCH_EVERY: Duration = Duration::from_secs(5);

/// Reads containers' memory; shared by the watcher's rounds.
pub struct Sampler {
    engine: Engine,
    /// The cgroup root; `None` when the settings turn kernel reads off.
    root: Option<PathBuf>,
    kernel: RwLock<Result<Cgroups, String>>,
    /// Container ID → its cgroup directory, once found.
    dirs: Mutex<HashMap<String, PathBuf>>,
    last_search: Mutex<Option<Instant>>,
    /// One per stats-API read in flight.
    permits: Arc<Semaphore>,
    max_api_reads: usize,
}

/// How a round's rows were read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Via {
    pub kernel: usize,
    pub api: usize,
    /// Why some rows needed the stats API, when they did.
    pub why_api: Option<String>,
}

impl Sampler {
    /// A sampler that reads the cgroup files under `root` (when given) and
    /// the engine's stats API otherwise, at most `max_api_reads` at once.
    pub fn new(engine: Engine, root: Option<PathBuf>, max_api_reads: usize) -> Sampler {
        Sampler {
            engine,
            kernel: RwLock::new(Err(match &root {
                Some(r) => format!(
                    "the cgroup hierarchy under {} is not examined yet",
                    r.display()
                ),
                None => {
                    "reading the cgroup files is turned off (watch.cgroup_root is empty)".into()
                }
            })),
            root,
            dirs: Mutex::new(HashMap::new()),
            last_search: Mutex::new(None),
            permits: Arc::new(Semaphore::new(max_api_reads.max(1))),
            max_api_reads: max_api_reads.max(1),
        }
    }

    /// Looks for the memory hierarchy, for an engine naming cgroups the
    /// `driver` way: where the files are, or why there are none. Called
    /// whenever the engine is (re)connected.
    pub fn attach(&self, driver: Driver) -> Result<String, String> {
        let found = match &self.root {
            Some(root) => Cgroups::detect(root, driver),
            None => Err(self.kernel_status().unwrap_err()),
        };
        let status = found
            .as_ref()
            .map(|cg| format!("{} ({:?})", cg.mem_root().display(), cg.version()))
            .map_err(|e| e.clone());
        if let Ok(mut k) = self.kernel.write() {
            *k = found;
        }
        status
    }

    /// Whether the cgroup files were found at the last attach.
    pub fn kernel_ok(&self) -> bool {
        self.kernel_status().is_ok()
    }

    fn kernel_status(&self) -> Result<(), String> {
        match self.kernel.read() {
            Ok(k) => k.as_ref().map(|_| ()).map_err(|e| e.clone()),
            Err(_) => Err("poisoned".into()),
        }
    }

    /// Reads `targets`: each from its cgroup files when they can be found,
    /// else through the stats API (bounded by the permits), one after the
    /// other: for a one-shot report.
    pub async fn read(&self, targets: Vec<Listed>, host: u64) -> (Vec<(Listed, Reading)>, Via) {
        let (mut done, rest, via) = self.read_kernel_part(targets, host).await;
        if !rest.is_empty() {
            done.extend(self.read_api(rest, host).await);
        }
        (done, via)
    }

    /// The kernel's part of a read: the rows read from cgroup files, the
    /// containers left for the stats API, and how the rows divide.
    pub async fn read_kernel_part(
        &self,
        targets: Vec<Listed>,
        host: u64,
    ) -> (Vec<(Listed, Reading)>, Vec<Listed>, Via) {
        let kernel = self
            .kernel
            .read()
            .map(|k| k.clone())
            .unwrap_or_else(|_| Err("poisoned".into()));
        let (done, rest, why_api) = match kernel {
            Ok(cg) => self.read_kernel(cg, targets, host).await,
            Err(why) => (Vec::new(), targets, Some(why)),
        };
        let via = Via {
            kernel: done.len(),
            api: rest.len(),
            why_api: (!rest.is_empty()).then_some(why_api).flatten(),
        };
        (done, rest, via)
    }

    /// One report's worth, for the terminal: every running container of
    /// `scope`, read now.
    pub async fn snapshot(
        &self,
        scope: &crate::config::Scope,
    ) -> Result<(MemorySnapshot, Via), DockerError> {
        let (host, listed) = tokio::try_join!(self.engine.host(), self.engine.list(scope))?;
        // The report says how its rows were read; no log line needed.
        let _ = self.attach(host.cgroup_driver);
        let (rows, via) = self.read(listed, host.memory_bytes).await;
        let mut containers: Vec<ContainerSample> = rows
            .into_iter()
            .map(|(c, reading)| c.sampled(reading))
            .collect();
        containers.sort_by(|a, b| a.name.cmp(&b.name));
        let snapshot = MemorySnapshot {
            host_memory_bytes: host.memory_bytes,
            containers,
        };
        Ok((snapshot, via))
    }

    /// The kernel's part of a round, on a blocking thread: the readings,
    /// the containers whose files were not found, and why.
    async fn read_kernel(
        &self,
        cg: Cgroups,
        targets: Vec<Listed>,
        host: u64,
    ) -> (Vec<(Listed, Reading)>, Vec<Listed>, Option<String>) {
        let known: HashMap<String, PathBuf> = match self.dirs.lock() {
            Ok(dirs) => targets
                .iter()
                .filter_map(|t| Some((t.id.clone(), dirs.get(&t.id)?.clone())))
                .collect(),
            Err(_) => HashMap::new(),
        };
        let may_search = self
            .last_search
            .lock()
            .map(|last| last.is_none_or(|at| at.elapsed() >= SEARCH_EVERY))
            .unwrap_or(false);
        let root = cg.mem_root().display().to_string();
        let job = tokio::task::spawn_blocking(move || {
            kernel_round(&cg, targets, known, host, may_search)
        });
        let Ok(round) = job.await else {
            return (Vec::new(), Vec::new(), None);
        };
        if round.searched {
            if let Ok(mut last) = self.last_search.lock() {
                *last = Some(Instant::now());
            }
        }
        if let Ok(mut dirs) = self.dirs.lock() {
            // Only the round's containers are kept: the map cannot grow
            // with churn.
            *dirs = round.dirs;
        }
        let why = (!round.missing.is_empty()).then(|| {
            format!("their cgroup directories are not under {root} (is the engine on another host, or its hierarchy not mounted?)")
        });
        (round.read, round.missing, why)
    }

    /// Stats-API reads, each holding a permit while it is in flight.
    pub async fn read_api(&self, rest: Vec<Listed>, host: u64) -> Vec<(Listed, Reading)> {
        futures_util::stream::iter(rest)
            .map(|c| async move {
                let _permit = self.permits.acquire().await;
                let s = self.engine.sample(c.clone(), host).await;
                (c, s.reading)
            })
            .buffer_unordered(self.max_api_reads)
            .collect()
            .await
    }
}

/// What one kernel round found.
struct KernelRound {
    read: Vec<(Listed, Reading)>,
    missing: Vec<Listed>,
    dirs: HashMap<String, PathBuf>,
    searched: bool,
}

impl KernelRound {
    fn record(&mut self, t: Listed, dir: PathBuf, reading: Reading) {
        if reading != Reading::Gone {
            self.dirs.insert(t.id.clone(), dir);
        }
        self.read.push((t, reading));
    }
}

/// Reads `targets` from their cgroup directories: those found before, and
/// for the rest where the driver's convention puts them (a wrong guess
/// costs one failed open, and no `stat` is spent on a right one). What is
/// not there is looked for by a search of the hierarchy when `may_search`,
/// else left for the stats API.
fn kernel_round(
    cg: &Cgroups,
    targets: Vec<Listed>,
    mut known: HashMap<String, PathBuf>,
    host: u64,
    may_search: bool,
) -> KernelRound {
    let mut guessed = std::collections::HashSet::new();
    let first: Vec<(Listed, PathBuf)> = targets
        .into_iter()
        .map(|t| {
            let dir = known.remove(&t.id).unwrap_or_else(|| {
                guessed.insert(t.id.clone());
                cg.conventional(&t.id)
            });
            (t, dir)
        })
        .collect();
    let mut round = KernelRound {
        read: Vec::with_capacity(first.len()),
        missing: Vec::new(),
        dirs: HashMap::with_capacity(first.len()),
        searched: false,
    };
    let mut unresolved = Vec::new();
    for (t, dir, reading) in read_all(cg, first, host) {
        // Not where the convention puts it: elsewhere, or stopped.
        if reading == Reading::Gone && guessed.contains(&t.id) {
            unresolved.push(t);
        } else {
            round.record(t, dir, reading);
        }
    }
    if unresolved.is_empty() || !may_search {
        round.missing = unresolved;
        return round;
    }
    round.searched = true;
    let found = cg.search();
    let mut second = Vec::new();
    for t in unresolved {
        match found.get(&t.id) {
            Some(dir) => second.push((t, dir.clone())),
            None => round.missing.push(t),
        }
    }
    for (t, dir, reading) in read_all(cg, second, host) {
        round.record(t, dir, reading);
    }
    round
}

/// Below this many containers one thread reads them all; above, the
/// reads are spread over the machine's cores (each file read is a few
/// microseconds of kernel work, so hundreds of containers add up to tens
/// of milliseconds, which a person at the terminal waits for).
const READS_PER_THREAD: usize = 64;

/// Reads each container's files, in order.
fn read_all(
    cg: &Cgroups,
    found: Vec<(Listed, PathBuf)>,
    host: u64,
) -> Vec<(Listed, PathBuf, Reading)> {
    let one = |(t, dir): (Listed, PathBuf)| {
        let reading = match cg.read(&dir, host) {
            Read::Reading(r) => r,
            Read::Gone => Reading::Gone,
            Read::Failed(reason) => Reading::Failed { reason },
        };
        (t, dir, reading)
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(found.len().div_ceil(READS_PER_THREAD));
    if threads <= 1 {
        return found.into_iter().map(one).collect();
    }
    let per = found.len().div_ceil(threads);
    let mut chunks = Vec::new();
    let mut rest = found;
    while rest.len() > per {
        let tail = rest.split_off(per);
        chunks.push(rest);
        rest = tail;
    }
    chunks.push(rest);
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| scope.spawn(move || chunk.into_iter().map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}
