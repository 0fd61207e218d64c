//! The live watcher: while `serve` runs, it follows which containers of the
//! watched project run through the engine's events (and a periodic list),
//! samples their memory on its own clock (every `watch.sample_ms`, from the
//! kernel's cgroup files where reachable, see [`sampler`]), keeps the
//! latest sample and a bounded history per container in memory
//! ([`cache::Cache`]), records a down-sampled history in PostgreSQL, and
//! raises the bot's own alerts (HighMemoryUsage with Prometheus's `for:`
//! semantics, OomKiller on the engine's `oom` events) as [`AlertEvent`]s on
//! a channel that the application turns into incidents.
//!
//! Orchestration: engine and database through their adapters, rules from
//! the core. It never changes a container.

pub mod cache;
mod engine_down;
mod forecast;
mod rounds;
mod run;
pub mod sampler;

use crate::config::{Scope, Settings};
use crate::core::alerting::{AlertEvent, HighMemory};
use crate::core::memory::Reading;
use crate::core::runbook::{AlertCondition, Runbook};
use crate::core::trend::History;
use crate::docker::{DockerError, Engine};
use crate::health::Health;
use crate::store::Store;
use cache::{Cache, Live};
pub use engine_down::EngineDown;
use sampler::{Sampler, Via};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::mpsc;

/// The running watcher, shared by commands, alerts and the HTTP endpoints.
pub struct Watcher {
    settings: Settings,
    /// The shared engine connection.
    engine: Engine,
    scope: Scope,
    cache: Cache,
    /// Reads memory each round: the kernel's files or the stats API.
    sampler: Sampler,
    /// How the latest round read its rows.
    via: std::sync::Mutex<Via>,
    /// Why the engine is not followed right now, while it is not.
    engine_error: std::sync::Mutex<Option<EngineDown>>,
    /// A sampling round has completed since the engine was reached.
    sampled: AtomicBool,
    /// When the latest sampling round completed (Unix milliseconds; 0:
    /// none yet), so a stalled watcher can be told.
    last_round_ms: std::sync::atomic::AtomicI64,
    /// Woken after every round and every lost connection, for commands
    /// waiting for the watcher's first view.
    progress: tokio::sync::Notify,
    /// Wakes the sampling loop for a round now (after a re-list).
    kick: tokio::sync::Notify,
    /// A round of stats-API reads is in flight (at most one is).
    api_round: AtomicBool,
    host_memory: AtomicU64,
    /// The event stream is open and the container list was read after it
    /// opened: the cache holds every running container.
    synced: AtomicBool,
    store: Store,
    health: Arc<Health>,
    alerts: mpsc::Sender<AlertEvent>,
    /// The runbook's HighMemoryUsage rule, if it declares one.
    high_memory: Option<HighMemory>,
    /// The runbook's forecast alert: its name and rule.
    forecast: Option<(String, crate::core::forecast::ForecastRule)>,
    /// Every alert name the runbooks declare (what Alertmanager may send).
    alert_names: Vec<String>,
    /// Services (or container names) with a firing OomKiller alert, and
    /// their latest kill: resolved after `oom_resolve_secs` of running.
    oom_open: std::sync::Mutex<BTreeMap<String, OffsetDateTime>>,
    /// The latest OOM kills seen (when, container name), newest last, for
    /// the verification checklist.
    ooms: std::sync::Mutex<std::collections::VecDeque<(OffsetDateTime, String)>>,
}

/// The watcher's own state, for the fleet's heartbeat.
#[derive(Debug, Clone)]
pub struct Status {
    pub host_memory_bytes: u64,
    pub via: Via,
    /// Why the engine is not followed, while it is not.
    pub engine_down: Option<EngineDown>,
}

/// The watcher's view, for a report.
#[derive(Debug, Clone)]
pub struct Current {
    pub live: Live,
    /// How the latest round read its rows.
    pub via: Via,
    /// The container list is up to date (the event stream is open).
    pub synced: bool,
    /// Rows older than this are flagged as stale.
    pub stale_ms: u64,
    /// Why the engine is not followed, while it is not.
    pub engine_error: Option<EngineDown>,
}

/// OOM kills remembered for `/mem verify`.
const OOMS_KEPT: usize = 100;

impl Watcher {
    pub fn new(
        settings: Settings,
        runbooks: &[Runbook],
        engine: Engine,
        store: Store,
        health: Arc<Health>,
        alerts: mpsc::Sender<AlertEvent>,
    ) -> Arc<Watcher> {
        let high_memory = runbooks
            .iter()
            .flat_map(|rb| rb.alerts.iter())
            .find_map(|a| match a.get_ref().condition {
                AlertCondition::HighMemory {
                    process_max_mib,
                    total_max_percent,
                    for_secs,
                } => Some(HighMemory {
                    process_max_mib,
                    total_max_percent,
                    for_secs,
                }),
                AlertCondition::OomKill | AlertCondition::Forecast { .. } => None,
            });
        Arc::new(Watcher {
            cache: Cache::new(
                settings.watch.history_step_secs,
                settings.watch.history_minutes,
            ),
            scope: settings.scope(),
            sampler: Sampler::new(
                engine.clone(),
                settings.cgroup_root(),
                settings.docker.max_concurrent_stats,
            ),
            via: std::sync::Mutex::new(Via::default()),
            engine_error: std::sync::Mutex::new(None),
            sampled: AtomicBool::new(false),
            last_round_ms: std::sync::atomic::AtomicI64::new(0),
            progress: tokio::sync::Notify::new(),
            kick: tokio::sync::Notify::new(),
            api_round: AtomicBool::new(false),
            settings,
            engine,
            host_memory: AtomicU64::new(0),
            synced: AtomicBool::new(false),
            store,
            health,
            alerts,
            high_memory,
            forecast: forecast::rule_of(runbooks),
            ooms: std::sync::Mutex::new(std::collections::VecDeque::new()),
            oom_open: std::sync::Mutex::new(BTreeMap::new()),
            alert_names: runbooks
                .iter()
                .flat_map(|rb| rb.alerts.iter().map(|a| a.get_ref().name.clone()))
                .collect(),
        })
    }

    /// Remembers an OOM kill (the engine's `oom` event).
    pub(crate) fn note_oom(&self, at: OffsetDateTime, container: &str) {
        if let Ok(mut ooms) = self.ooms.lock() {
            ooms.push_back((at, container.to_string()));
            while ooms.len() > OOMS_KEPT {
                ooms.pop_front();
            }
        }
    }

    /// Containers the OOM killer hit since `since`, as seen while running.
    pub fn ooms_since(&self, since: OffsetDateTime) -> Vec<String> {
        self.ooms
            .lock()
            .map(|o| {
                o.iter()
                    .filter(|(at, _)| *at >= since)
                    .map(|(_, name)| name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The alert names the runbooks declare.
    pub fn alert_names(&self) -> Vec<String> {
        self.alert_names.clone()
    }

    /// Seconds since container `id`'s latest sample arrived.
    pub fn sample_age(&self, id: &str, now: OffsetDateTime) -> Option<f64> {
        self.cache.age(id, now)
    }

    /// Starts following the engine (and recording, and alerting) in the
    /// background, for as long as the process runs.
    pub fn spawn(self: &Arc<Self>) {
        tokio::spawn(run::follow(self.clone()));
        tokio::spawn(rounds::sample(self.clone()));
        tokio::spawn(run::evaluate(self.clone()));
        tokio::spawn(run::persist(self.clone()));
    }

    /// What the watcher can say of itself now: the host's memory (0 before
    /// the engine was first reached), how the latest round read memory,
    /// and why the engine is not followed, while it is not.
    pub fn status(&self) -> Status {
        let synced = self.is_synced();
        Status {
            host_memory_bytes: self.host_memory.load(Ordering::Acquire),
            via: self.via.lock().map(|v| v.clone()).unwrap_or_default(),
            engine_down: (!synced).then(|| {
                self.engine_error
                    .lock()
                    .ok()
                    .and_then(|e| e.clone())
                    .unwrap_or(EngineDown::NotYet)
            }),
        }
    }

    /// When the latest sampling round completed (`None`: none yet).
    pub fn last_round(&self) -> Option<OffsetDateTime> {
        let ms = self.last_round_ms.load(Ordering::Acquire);
        (ms > 0)
            .then(|| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
            .flatten()
    }

    /// Whether the cache holds every running container of the scope.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// What `/mem status` answers from: the latest sample of every tracked
    /// container, each with its age, and how they were read. Never asks the
    /// engine: a stale or missing row is shown as such. `Err` (why) only
    /// when the watcher has never followed the engine, so it knows no
    /// containers at all.
    pub fn current(&self, now: OffsetDateTime) -> Result<Current, EngineDown> {
        let synced = self.is_synced();
        let host = self.host_memory.load(Ordering::Acquire);
        if host == 0 {
            let why = self.engine_error.lock().ok().and_then(|e| e.clone());
            return Err(why.unwrap_or(EngineDown::NotYet));
        }
        let via = self.via.lock().map(|v| v.clone()).unwrap_or_default();
        Ok(Current {
            live: self.cache.live(host, now),
            via,
            synced,
            stale_ms: self.settings.watch.fresh_secs.saturating_mul(1000),
            engine_error: if synced {
                None
            } else {
                self.engine_error.lock().ok().and_then(|e| e.clone())
            },
        })
    }

    /// Like [`Watcher::current`], but right after start-up waits up to
    /// `wait` for the watcher's first round (or its first failure to reach
    /// the engine), so the first command after a start gets numbers rather
    /// than "no sample yet". Waits for the watcher, never reads the engine.
    pub async fn current_within(&self, wait: std::time::Duration) -> Result<Current, EngineDown> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let progress = self.progress.notified();
            tokio::pin!(progress);
            progress.as_mut().enable();
            let failed = self.engine_error.lock().is_ok_and(|e| e.is_some());
            if self.sampled.load(Ordering::Acquire) || failed {
                break;
            }
            if tokio::time::timeout_at(deadline, progress).await.is_err() {
                break;
            }
        }
        self.current(OffsetDateTime::now_utc())
    }

    /// One container's memory read now, the way the watcher reads it
    /// (its cgroup files, else one stats-API read holding one of the
    /// shared permits): for an action's summary and its result, never a
    /// read outside the bound.
    pub async fn read_one(&self, c: crate::docker::Listed) -> Result<Reading, DockerError> {
        let host = match self.host_memory.load(Ordering::Acquire) {
            0 => self.engine.host_memory().await?,
            host => host,
        };
        let (mut rows, _) = self.sampler.read(vec![c], host).await;
        Ok(rows.pop().map_or(Reading::Gone, |(_, reading)| reading))
    }

    /// Everything the cache holds now, fresh or not (for /metrics).
    pub fn live(&self, now: OffsetDateTime) -> Live {
        self.cache
            .live(self.host_memory.load(Ordering::Acquire), now)
    }

    /// Memory history of `service` (all containers when `None`) since
    /// `since`: the recorded history, with the in-memory points for the
    /// span the cache covers. Containers with no point in the window are
    /// left out. Without the database, the in-memory history alone.
    pub async fn history(&self, service: Option<&str>, since: OffsetDateTime) -> Vec<History> {
        // In a fleet, other nodes record their hosts' history here too:
        // every name says its host ("web-2 shop-web-1").
        let fleet = &self.settings.fleet;
        let own = fleet.enabled.then_some(fleet.node.as_str());
        let label = |node: Option<&str>, name: &str| match node.or(own) {
            Some(node) if fleet.enabled => format!("{node} {name}"),
            _ => name.to_string(),
        };
        let mut by_id: BTreeMap<String, History> = self
            .cache
            .histories(service, since)
            .into_iter()
            .map(|(id, mut h)| {
                h.name = label(own, &h.name);
                (id, h)
            })
            .collect();
        if self.health.db_ready() {
            match self.store.samples_since(service, since).await {
                Ok(points) => {
                    for p in points {
                        let h = by_id
                            .entry(p.container_id.clone())
                            .or_insert_with(|| History {
                                name: label(p.node.as_deref(), &p.container),
                                service: p.service.clone(),
                                limit_bytes: p.limit_bytes,
                                samples: Vec::new(),
                            });
                        h.samples.push((p.at, p.usage_bytes));
                    }
                }
                Err(e) => {
                    crate::metrics::global().postgres_error("samples_since");
                    tracing::warn!(error = %crate::cause_chain(&e), "recorded history unavailable; using the in-memory history");
                }
            }
        }
        let mut out: Vec<History> = by_id
            .into_values()
            .filter_map(|mut h| {
                // Recorded and in-memory points overlap: one per instant.
                h.samples.sort_by_key(|(at, _)| *at);
                h.samples.dedup_by_key(|(at, _)| *at);
                (!h.samples.is_empty()).then_some(h)
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

impl Watcher {
    /// This host's node name, in a fleet.
    pub(crate) fn host(&self) -> Option<&str> {
        let fleet = &self.settings.fleet;
        fleet.enabled.then_some(fleet.node.as_str())
    }

    /// The fingerprint of this bot's alert `name` for `key`; in a fleet it
    /// names the host too (`HighMemoryUsage/shop/web@web-2`), so one host's
    /// alert never resolves another's.
    fn fingerprint(&self, name: &str, key: &str) -> String {
        crate::core::alerting::AlertEvent::fingerprint_of(name, self.project(), key, self.host())
    }

    /// The watched Compose project (`None`: every container).
    pub(crate) fn project(&self) -> Option<&str> {
        match &self.scope {
            crate::config::Scope::Project(p) => Some(p),
            crate::config::Scope::All => None,
        }
    }
}
