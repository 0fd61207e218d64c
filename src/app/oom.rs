//! OOM downtime: after an OOM kill (the bot's OomKiller alert, or
//! Alertmanager's), the container is watched, and the runbook's
//! OOM-downtime rule escalates at once as soon as the kill has taken the
//! service down (`core::downtime` judges each look).
//!
//! One watch per container at a time; later kills extend it. The watches
//! live in memory: a bot that restarts mid-watch loses it, but the alert it
//! came from is still firing and its next kill starts a new one.

use super::App;
use crate::core::downtime::{judge, Judgement, Seen, Watch};
use crate::core::escalation;
use dashmap::DashMap;
use std::time::Duration;
use time::OffsetDateTime;

/// How often a watched container is looked at (the loop's period).
pub const LOOK_EVERY: Duration = Duration::from_millis(500);

/// One container watched on behalf of an incident.
struct Watched {
    incident: i64,
    name: String,
    watch: Watch,
}

/// The containers watched for downtime now, by container id.
#[derive(Default)]
pub(crate) struct Watches(DashMap<String, Watched>);

/// Notes a kill of container `id` (at `at`) and, unless one runs already,
/// starts watching it for downtime on behalf of `incident`.
pub fn after_oom(app: &App, incident: i64, id: String, name: String, at: OffsetDateTime) {
    match app.downtime.0.entry(id) {
        dashmap::Entry::Occupied(mut e) => e.get_mut().watch.killed_again(at),
        dashmap::Entry::Vacant(e) => {
            e.insert(Watched {
                incident,
                name,
                watch: Watch::new(at),
            });
        }
    }
}

/// Looks at every watched container once; escalates those found down and
/// stops watching those decided. Returns the containers found down.
pub async fn tick(app: &App, now: OffsetDateTime) -> Vec<String> {
    let grace = time::Duration::seconds(app.settings.escalation.oom_grace_secs as i64);
    let ids: Vec<String> = app.downtime.0.iter().map(|e| e.key().clone()).collect();
    let mut down = Vec::new();
    for id in ids {
        // The engine is asked without holding the map's lock.
        let seen = match app.engine.inspect(&id).await {
            Ok(Some(c)) => Seen::Container {
                running: c.running,
                restarting: c.restarting,
                started_at: c.started_at,
                restart_count: c.restart_count,
                restart_policy: c.restart_policy,
            },
            Ok(None) => Seen::Gone,
            Err(e) => {
                tracing::warn!(container = %id, error = %e, "cannot tell whether the OOM kill left it down");
                Seen::Unreachable
            }
        };
        let decided = match app.downtime.0.get_mut(&id) {
            Some(mut w) => {
                let w = &mut *w;
                match judge(&mut w.watch, &seen, &w.name, now, grace) {
                    Judgement::Wait => None,
                    j => Some((j, w.incident, w.name.clone())),
                }
            }
            None => None,
        };
        let Some((judgement, incident, name)) = decided else {
            continue;
        };
        app.downtime.0.remove(&id);
        match judgement {
            Judgement::Down(reason) => {
                escalate(app, incident, &name, reason, now).await;
                down.push(name);
            }
            Judgement::Up => {
                tracing::info!(container = %name, "OOM kill, but the container runs again: no downtime")
            }
            _ => {
                tracing::warn!(container = %name, "the engine did not answer: OOM downtime not judged")
            }
        }
    }
    down
}

/// Schedules the runbook's OOM-downtime escalation of `incident` at once
/// (once per incident: the database refuses a second).
async fn escalate(app: &App, incident: i64, name: &str, reason: String, now: OffsetDateTime) {
    if !app.health.wait_db(Duration::from_secs(30)).await {
        tracing::error!(container = %name, "OOM downtime, but the database is unreachable: cannot escalate");
        return;
    }
    let inc = match app.store.incident(incident).await {
        Ok(Some(inc)) => inc,
        Ok(None) => return,
        Err(e) => {
            return tracing::error!(error = %crate::cause_chain(&e), "cannot read the incident to escalate an OOM kill")
        }
    };
    let rules: Vec<_> = app
        .runbooks
        .or_first(&inc.runbook)
        .escalations
        .iter()
        .map(|e| e.get_ref())
        .collect();
    match app
        .store
        .schedule_escalations(
            inc.id,
            &escalation::on_oom_downtime(&rules, now),
            Some(&reason),
        )
        .await
    {
        Ok(n) if n > 0 => {
            tracing::warn!(incident = inc.id, container = %name, %reason, "OOM downtime: escalating at once");
            // The highest severity: pages repeat at its interval.
            super::severity::raise_for_downtime(app, inc.id, now).await;
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "could not schedule the OOM escalation"),
    }
}
