//! The live watcher: while `serve` runs, it follows every container of the
//! watched project through the engine's stats streams and events, keeps the
//! latest sample and a bounded history per container in memory
//! ([`cache::Cache`]), records a down-sampled history in PostgreSQL, and
//! raises the bot's own alerts (HighMemoryUsage with Prometheus's `for:`
//! semantics, OomKiller on the engine's `oom` events) as [`AlertEvent`]s on
//! a channel that the application turns into incidents.
//!
//! Orchestration: engine and database through their adapters, rules from
//! the core. It never changes a container.

pub mod cache;
mod run;

use crate::config::{Scope, Settings};
use crate::core::alerting::{AlertEvent, HighMemory};
use crate::core::runbook::{AlertCondition, Runbook};
use crate::core::trend::History;
use crate::docker::Engine;
use crate::health::Health;
use crate::store::Store;
use cache::{Cache, Live};
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
    host_memory: AtomicU64,
    /// The event stream is open and the container list was read after it
    /// opened: the cache holds every running container.
    synced: AtomicBool,
    store: Store,
    health: Arc<Health>,
    alerts: mpsc::Sender<AlertEvent>,
    /// The runbook's HighMemoryUsage rule, if it declares one.
    high_memory: Option<HighMemory>,
    /// Every alert name the runbooks declare (what Alertmanager may send).
    alert_names: Vec<String>,
    /// Services (or container names) with a firing OomKiller alert, and
    /// their latest kill: resolved after `oom_resolve_secs` of running.
    oom_open: std::sync::Mutex<BTreeMap<String, OffsetDateTime>>,
    /// The latest OOM kills seen (when, container name), newest last, for
    /// the verification checklist.
    ooms: std::sync::Mutex<std::collections::VecDeque<(OffsetDateTime, String)>>,
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
                AlertCondition::OomKill => None,
            });
        Arc::new(Watcher {
            cache: Cache::new(
                settings.watch.history_step_secs,
                settings.watch.history_minutes,
            ),
            scope: settings.scope(),
            settings,
            engine,
            host_memory: AtomicU64::new(0),
            synced: AtomicBool::new(false),
            store,
            health,
            alerts,
            high_memory,
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
        tokio::spawn(run::evaluate(self.clone()));
        tokio::spawn(run::persist(self.clone()));
    }

    /// Whether the cache holds every running container of the scope.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The cache as a snapshot, if it is complete and its oldest sample is
    /// at most `watch.fresh_secs` old: what `/mem status` answers from.
    pub fn fresh(&self, now: OffsetDateTime) -> Option<Live> {
        if !self.is_synced() || self.cache.is_empty() {
            return None;
        }
        let host = self.host_memory.load(Ordering::Acquire);
        let live = self.cache.live(host, now);
        let limit = self.settings.watch.fresh_secs.saturating_mul(1000);
        (host > 0 && live.oldest_ms? <= limit).then_some(live)
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
        let mut by_id: BTreeMap<String, History> =
            self.cache.histories(service, since).into_iter().collect();
        if self.health.db_ready() {
            match self.store.samples_since(service, since).await {
                Ok(points) => {
                    for p in points {
                        let h = by_id
                            .entry(p.container_id.clone())
                            .or_insert_with(|| History {
                                name: p.container.clone(),
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
