//! The watcher's loops: following the engine (events and the container
//! list; the sampling rounds are in `rounds.rs`), evaluating
//! HighMemoryUsage once a second, and recording history. Each loop
//! survives engine and database outages: it logs, counts the error for
//! /metrics, waits and tries again.

use super::Watcher;
use crate::core::alerting::{
    AlertEvent, AlertSource, Observation, Tracker, Transition, HIGH_MEMORY, OOM_KILLER, TOTAL,
};
use crate::core::memory::Reading;
use crate::docker::{DockerError, Engine, EngineEvent, Listed};
use futures_util::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Follows the engine for as long as the process runs, reconnecting with
/// backoff.
pub(super) async fn follow(w: Arc<Watcher>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        match session(&w, &mut backoff).await {
            Ok(()) => tracing::warn!("the engine's event stream ended; reconnecting"),
            Err(e) => {
                crate::metrics::global().docker_error("watch");
                tracing::warn!(error = %crate::cause_chain(&e), retry_in_secs = backoff.as_secs(), "watcher lost the engine");
                if let Ok(mut last) = w.engine_error.lock() {
                    *last = Some(match &e {
                        DockerError::Timeout { secs, .. } => {
                            super::EngineDown::Timeout { secs: *secs }
                        }
                        e => super::EngineDown::Failed(e.to_string()),
                    });
                }
                w.progress.notify_waiters();
            }
        }
        w.synced.store(false, Ordering::Release);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// One connection's worth of following: subscribe to events first, then
/// list, so that nothing starting in between is missed.
async fn session(w: &Arc<Watcher>, backoff: &mut Duration) -> Result<(), DockerError> {
    let engine = w.engine.clone();
    let host = engine.host().await?;
    w.host_memory.store(host.memory_bytes, Ordering::Release);
    match w.sampler.attach(host.cgroup_driver) {
        Ok(at) => {
            tracing::info!(memory_root = %at, "reading container memory from the kernel's cgroup files")
        }
        Err(why) => {
            tracing::warn!(%why, "reading container memory through the engine's stats API, at most docker.max_concurrent_stats at once")
        }
    }
    let mut events = Box::pin(engine.container_events(&w.scope));
    reconcile(w, &engine).await?;
    w.synced.store(true, Ordering::Release);
    if let Ok(mut last) = w.engine_error.lock() {
        *last = None;
    }
    // Sample what was just listed now, not at the next tick.
    w.kick.notify_one();
    *backoff = Duration::from_secs(1);
    tracing::info!(containers = w.cache.len(), "watcher following the engine");
    let every = Duration::from_secs(w.settings.watch.reconcile_secs.max(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            event = events.next() => match event {
                None => return Ok(()),
                Some(Err(e)) => return Err(e),
                Some(Ok(e)) => on_event(w, e).await,
            },
            _ = tick.tick() => {
                reconcile(w, &engine).await?;
                if let Ok(host) = engine.host_memory().await {
                    w.host_memory.store(host, Ordering::Release);
                }
            }
        }
    }
}

/// Makes the cache hold exactly the running containers.
async fn reconcile(w: &Arc<Watcher>, engine: &Engine) -> Result<(), DockerError> {
    let listed = engine.list(&w.scope).await?;
    let running: BTreeSet<&str> = listed.iter().map(|c| c.id.as_str()).collect();
    for id in w.cache.ids() {
        if !running.contains(id.as_str()) {
            w.cache.remove(&id);
        }
    }
    for c in &listed {
        track(w, c);
    }
    Ok(())
}

async fn on_event(w: &Arc<Watcher>, e: EngineEvent) {
    if e.id.is_empty() {
        return;
    }
    let key = e.service.clone().unwrap_or_else(|| e.name.clone());
    match e.action.as_str() {
        "start" => {
            // A start does not resolve an OomKiller alert: a container in
            // a crash loop starts after every kill. It resolves once the
            // service has run `oom_resolve_secs` without another kill
            // (`resolve_quiet_ooms`).
            tracing::debug!(container = %e.name, "container started");
            let started = Listed {
                id: e.id.clone(),
                name: e.name.clone(),
                service: e.service.clone(),
                project: e.project.clone(),
            };
            // Read at once from the kernel (microseconds), so a report
            // right after a start has its numbers; through the stats API
            // the next round reads it.
            track(w, &started);
            if w.sampler.kernel_ok() {
                let host = w.host_memory.load(Ordering::Acquire);
                super::rounds::round(w, vec![started], host).await;
            }
        }
        // A container that stopped stays in reports as not running (an
        // OOM-killed service's report shows it down) until it starts
        // again, is removed, or a re-list no longer shows it.
        "die" => {
            tracing::debug!(container = %e.name, "container stopped");
            w.cache
                .mark_down(&e.id, std::time::Instant::now(), OffsetDateTime::now_utc());
        }
        "destroy" => {
            tracing::debug!(container = %e.name, "container removed");
            w.cache.remove(&e.id);
        }
        "oom" => {
            let now = OffsetDateTime::now_utc();
            tracing::warn!(container = %e.name, "OOM kill");
            w.note_oom(now, &e.name);
            if let Ok(mut open) = w.oom_open.lock() {
                open.insert(key.clone(), now);
            }
            // Every kill is sent: the first opens the alert, the others
            // are counted on it (one report, updated in place).
            send(
                w,
                AlertEvent {
                    name: OOM_KILLER.into(),
                    firing: true,
                    fingerprint: w.fingerprint(OOM_KILLER, &key),
                    service: e.service.clone(),
                    container: Some((e.id.clone(), e.name.clone())),
                    summary: format!("the OOM killer killed a process in {}", e.name),
                    source: AlertSource::Bot,
                    at: now,
                },
            )
            .await;
        }
        _ => {}
    }
}

/// OomKiller alerts still firing from before this process started: they
/// resolve here like the ones this process saw begin.
async fn adopt_firing_ooms(w: &Watcher) -> bool {
    let prefix = AlertEvent::fingerprint_of(OOM_KILLER, w.project(), "", None);
    match w.store.firing_bot_alerts(OOM_KILLER).await {
        Ok(firing) => {
            if let Ok(mut open) = w.oom_open.lock() {
                for (fingerprint, last) in firing {
                    // Only this host's: in a fleet, other nodes resolve
                    // theirs.
                    let key = fingerprint
                        .strip_prefix(&prefix)
                        .map(|k| match k.split_once('@') {
                            Some((key, host)) => (key, Some(host)),
                            None => (k, None),
                        });
                    match key {
                        Some((key, host)) if host == w.host() => {
                            open.entry(key.to_string()).or_insert(last);
                        }
                        _ => {}
                    }
                }
            }
            true
        }
        Err(e) => {
            tracing::debug!(error = %e, "firing OOM alerts not read yet");
            false
        }
    }
}

/// Resolves OomKiller alerts of services that have run for
/// `oom_resolve_secs` since their last kill.
async fn resolve_quiet_ooms(w: &Watcher, now: OffsetDateTime) {
    let quiet = time::Duration::seconds(w.settings.watch.oom_resolve_secs as i64);
    let due: Vec<String> = match w.oom_open.lock() {
        Ok(open) => open
            .iter()
            .filter(|(_, last)| now - **last >= quiet)
            .map(|(key, _)| key.clone())
            .collect(),
        Err(_) => return,
    };
    if due.is_empty() {
        return;
    }
    let running: Vec<_> = w
        .live(now)
        .snapshot
        .containers
        .into_iter()
        .filter(|c| matches!(c.reading, Reading::Sampled { .. }))
        .collect();
    for key in due {
        // Still down: the alert keeps firing.
        let Some(c) = running
            .iter()
            .find(|c| c.service.as_deref() == Some(key.as_str()) || c.name == key)
        else {
            continue;
        };
        if let Ok(mut open) = w.oom_open.lock() {
            open.remove(&key);
        }
        send(
            w,
            AlertEvent {
                name: OOM_KILLER.into(),
                firing: false,
                fingerprint: w.fingerprint(OOM_KILLER, &key),
                service: c.service.clone(),
                container: Some((c.id.clone(), c.name.clone())),
                summary: format!(
                    "{} has run {} s without another OOM kill",
                    c.name,
                    quiet.whole_seconds()
                ),
                source: AlertSource::Bot,
                at: now,
            },
        )
        .await;
    }
}

/// Starts tracking a container (false: tracked already); the next
/// sampling round reads it.
fn track(w: &Watcher, c: &Listed) -> bool {
    w.cache
        .insert(&c.id, &c.name, c.service.clone(), c.project.clone())
}

/// HighMemoryUsage, evaluated once a second over the cache, and the
/// OomKiller alerts' resolution.
pub(super) async fn evaluate(w: Arc<Watcher>) {
    let mut tracker = Tracker::default();
    let mut forecasting = super::forecast::Forecasting::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut adopted = false;
    loop {
        tick.tick().await;
        if !adopted && w.health.db_ready() {
            adopted = adopt_firing_ooms(&w).await;
        }
        if !w.is_synced() {
            // Without the engine nothing is known: keep the state as it is
            // rather than resolving alerts that may still hold.
            continue;
        }
        let now = OffsetDateTime::now_utc();
        resolve_quiet_ooms(&w, now).await;
        for event in super::forecast::evaluate(&w, &mut forecasting, now) {
            send(&w, event).await;
        }
        let Some(rule) = w.high_memory else {
            continue;
        };
        let live = w.live(now);
        // A service's containers are judged one by one (the bar is per
        // process); the service's key carries its largest.
        let mut services: BTreeMap<String, u64> = BTreeMap::new();
        let mut total: u64 = 0;
        for c in &live.snapshot.containers {
            if let Reading::Sampled { usage_bytes, .. } = c.reading {
                total = total.saturating_add(usage_bytes);
                let key = c.service.clone().unwrap_or_else(|| c.name.clone());
                let e = services.entry(key).or_insert(0);
                *e = (*e).max(usage_bytes);
            }
        }
        let host = live.snapshot.host_memory_bytes;
        let obs = Observation {
            services: services.into_iter().collect(),
            total_percent: (host > 0).then(|| total as f64 / host as f64 * 100.0),
        };
        for t in tracker.evaluate(&rule, &obs, now) {
            let (key, firing, summary) = match t {
                Transition::Firing { key, summary } => (key, true, summary),
                Transition::Resolved { key } => {
                    let s = format!("{key} is back under the bar");
                    (key, false, s)
                }
            };
            send(
                &w,
                AlertEvent {
                    name: HIGH_MEMORY.into(),
                    firing,
                    fingerprint: w.fingerprint(HIGH_MEMORY, &key),
                    service: (key != TOTAL).then(|| key.clone()),
                    container: None,
                    summary,
                    source: AlertSource::Bot,
                    at: now,
                },
            )
            .await;
        }
    }
}

async fn send(w: &Watcher, mut event: AlertEvent) {
    if let Some(host) = w.host() {
        event.summary = format!("{} (host {host})", event.summary);
    }
    if w.scope == crate::config::Scope::All {
        // Watching every container is for looking: the bot's own alerts
        // open incidents only for the watched project's containers.
        return tracing::debug!(alert = %event.name, summary = %event.summary, "no watched project: alert not raised");
    }
    crate::metrics::global().alert(
        &event.name,
        if event.firing { "firing" } else { "resolved" },
        event.source.as_str(),
    );
    if w.alerts.send(event).await.is_err() {
        tracing::error!("the alert handler is gone; an alert was dropped");
    }
}

/// Records the newest history point of every container each persist
/// interval, and prunes what is past retention once an hour.
pub(super) async fn persist(w: Arc<Watcher>) {
    let every = Duration::from_secs(w.settings.watch.persist_secs.max(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_prune: Option<OffsetDateTime> = None;
    loop {
        tick.tick().await;
        if !w.health.db_ready() {
            continue;
        }
        let fleet = &w.settings.fleet;
        let points = w
            .cache
            .newest_points(fleet.enabled.then_some(fleet.node.as_str()));
        if let Err(e) = w.store.record_samples(&points).await {
            crate::metrics::global().postgres_error("record_samples");
            tracing::warn!(error = %crate::cause_chain(&e), "memory history not recorded");
        }
        let now = OffsetDateTime::now_utc();
        if last_prune.is_none_or(|at| now - at >= time::Duration::hours(1)) {
            let before = now - time::Duration::hours(w.settings.watch.retention_hours as i64);
            match w.store.prune_samples(before).await {
                Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned recorded memory history"),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %crate::cause_chain(&e), "could not prune memory history")
                }
            }
            last_prune = Some(now);
        }
    }
}
