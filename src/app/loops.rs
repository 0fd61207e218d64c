//! The timers, started once at start-up (never by a chat event: they run
//! while Discord is away, and what they post is delivered over its REST
//! API). Each loop repeats one step of a use case, which tests call
//! directly instead of waiting:
//!
//! | loop | step | every |
//! |---|---|---|
//! | alerts | [`alerts::handle`] one event | as they come |
//! | escalations | [`escalation::tick`] | `escalation.tick_ms` |
//! | pages | [`alerts::held::tick`] (silences that ended), then [`paging::tick`] (due pages, deliveries) | `paging.tick_ms` |
//! | re-checks after remedies | [`reverify::tick`] | `paging.tick_ms` |
//! | blindness and heartbeat | [`sight::step`] | 1 s, whatever the database says |
//! | expiry and claims | [`approvals::sweep`] | `approvals.expiry_check_secs`, first at once |
//! | memory updates | [`updates::tick`] | `watch.thread_update_secs` (0: off) |
//! | OOM downtime | [`oom::tick`] | half a second |
//! | fleet heartbeat | [`fleet::publish`] | `fleet.publish_ms` (a fleet only) |
//! | remote engines | [`fleet::publish_remote`] | `fleet.publish_ms`, each `fleet.remote` |
//! | blind spots | [`fleet::blind_spots`] | 5 s (a fleet only) |
//! | fleet jobs | [`approvals::jobs`] | 1 s (a fleet only) |
//! | gateway lease | [`fleet::lease_step`] | a third of `fleet.lease_secs` held, 1 s on standby |
//!
//! Loops that need the database skip their step while it is down, and a
//! failing step is logged once a minute with a count, never per tick.

use super::{alerts, approvals, escalation, fleet, oom, paging, reverify, sight, updates, App};
use crate::core::alerting::AlertEvent;
use crate::core::throttle::Throttle;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

/// Starts every loop; they run for as long as the process does.
pub fn spawn(app: &Arc<App>, alerts: mpsc::Receiver<AlertEvent>) {
    let s = &app.settings;
    tokio::spawn(alert_loop(app.clone(), alerts));
    every(
        app,
        "escalation check",
        Duration::from_millis(s.escalation.tick_ms.max(50)),
        Duration::ZERO,
        |app, now| async move { escalation::tick(&app, now).await },
    );
    // Silences that ended first (the alerts they held back may page), then
    // the pages due.
    let page_every = Duration::from_millis(s.paging.tick_ms.max(50));
    every(
        app,
        "paging",
        page_every,
        Duration::ZERO,
        |app, now| async move {
            alerts::held::tick(&app, now).await?;
            paging::tick(&app, now).await
        },
    );
    // Runs of the checklist due after remedies: a loop of their own, so a
    // slow run (log scans) never delays a page.
    every(
        app,
        "re-check",
        page_every,
        Duration::ZERO,
        |app, now| async move { reverify::tick(&app, now).await },
    );
    sight::spawn(app);
    every(
        app,
        "expiry and claim check",
        Duration::from_secs(s.approvals.expiry_check_secs.max(1)),
        Duration::ZERO,
        |app, now| async move { approvals::sweep(&app, now).await },
    );
    if s.watch.thread_update_secs > 0 {
        let period = Duration::from_secs(s.watch.thread_update_secs);
        every(
            app,
            "memory update",
            period,
            period,
            move |app, now| async move { updates::tick(&app, now, period).await },
        );
    }
    if s.fleet.enabled {
        spawn_fleet(app);
    }
    let app = app.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(oom::LOOK_EVERY);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            oom::tick(&app, OffsetDateTime::now_utc()).await;
        }
    });
}

/// The fleet's loops: the heartbeat, the blind-spot check, and (with
/// gateway interactions) the lease, which runs whatever the database's
/// health says: a holder that cannot renew must notice and let go.
fn spawn_fleet(app: &Arc<App>) {
    let s = &app.settings;
    every(
        app,
        "fleet heartbeat",
        Duration::from_millis(s.fleet.publish_ms.max(100)),
        Duration::ZERO,
        |app, _| async move { fleet::publish(&app).await },
    );
    every(
        app,
        "blind-spot check",
        Duration::from_secs(5),
        Duration::from_secs(5),
        |app, _| async move { fleet::blind_spots(&app).await },
    );
    // Approved actions on this host's containers, claimed within a second.
    every(
        app,
        "fleet jobs",
        Duration::from_secs(1),
        Duration::from_secs(1),
        |app, _| async move { approvals::jobs(&app).await },
    );
    if s.fleet.interactions != crate::config::Interactions::Gateway {
        return;
    }
    let app = app.clone();
    tokio::spawn(async move {
        let mut warn = Throttle::per_minute();
        loop {
            let wait = match fleet::lease_step(&app).await {
                Ok(true) => fleet::lease_period(&app),
                Ok(false) => Duration::from_secs(1),
                Err(e) => {
                    if let Some(suppressed) = warn.allow(std::time::Instant::now()) {
                        tracing::warn!(error = %crate::cause_chain(&e), suppressed, "gateway lease check failed");
                    }
                    Duration::from_secs(1)
                }
            };
            tokio::time::sleep(wait).await;
        }
    });
}

/// Publishes an engine this node watches from afar (`fleet.remote`) as
/// node `node`, every `fleet.publish_ms`.
pub fn spawn_remote(app: &Arc<App>, node: String, watcher: Arc<crate::watch::Watcher>) {
    every(
        app,
        "remote engine publish",
        Duration::from_millis(app.settings.fleet.publish_ms.max(100)),
        Duration::ZERO,
        move |app, _| {
            let (node, watcher) = (node.clone(), watcher.clone());
            async move { fleet::publish_remote(&app, &watcher, &node).await }
        },
    );
}

/// Handles alerts one at a time, so two alerts for one service arriving
/// together join one incident instead of opening two.
async fn alert_loop(app: Arc<App>, mut events: mpsc::Receiver<AlertEvent>) {
    while let Some(event) = events.recv().await {
        // An alert must be recorded before it opens anything: while the
        // database is away, alerts wait here (the queue fills, then the
        // watcher waits and Alertmanager is told to retry) rather than
        // being dropped.
        if !app.health.db_ready() {
            tracing::warn!(alert = %event.name, "alerts wait for the database");
            while !app.health.wait_db(Duration::from_secs(60)).await {}
        }
        alerts::handle(&app, event).await;
    }
}

/// Runs `step` every `period`, the first time `first` from now, while the
/// database is up.
fn every<T, E, F, Fut>(
    app: &Arc<App>,
    what: &'static str,
    period: Duration,
    first: Duration,
    step: F,
) where
    F: Fn(Arc<App>, OffsetDateTime) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, E>> + Send,
    E: std::fmt::Display,
{
    let app = app.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(Instant::now() + first, period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut warn = Throttle::per_minute();
        loop {
            tick.tick().await;
            if !app.health.db_ready() {
                continue;
            }
            if let Err(e) = step(app.clone(), OffsetDateTime::now_utc()).await {
                if let Some(suppressed) = warn.allow(std::time::Instant::now()) {
                    tracing::warn!(error = %e, suppressed, "{what} failed");
                }
            }
        }
    });
}
