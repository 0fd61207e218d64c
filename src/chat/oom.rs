//! The OOM watcher: follows the engine's OOM kills in the watched project
//! and, when a kill leaves the service down, opens (or joins) an incident
//! and schedules the runbook's OOM-downtime escalation at once.

use super::handler::Handler;
use super::incidents::open_with_thread;
use crate::actions::container_state;
use crate::core::escalation;
use crate::docker::Engine;
use futures_util::StreamExt;
use serenity::all::Http;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Follows the engine's OOM kills in the watched project; a kill that
/// leaves the service down opens (or joins) an incident and escalates it at
/// once. Reconnects when the event stream ends.
pub(super) async fn oom_watcher(h: Arc<Handler>, http: Arc<Http>) {
    let settings = &h.shared.settings;
    let scope = settings.scope();
    if scope == crate::config::Scope::All {
        // Watching every container is read-only: no alert opens incidents
        // for containers that are not the project's.
        tracing::info!("no watched project: OOM kills are not escalated");
        return;
    }
    let mut backoff = Duration::from_secs(2);
    loop {
        let engine = Engine::from_settings(settings, h.shared.docker_host_env.clone()).await;
        match engine {
            Ok(engine) => {
                let mut events = Box::pin(engine.oom_events(&scope));
                while let Some(event) = events.next().await {
                    match event {
                        Ok((id, _)) if id.is_empty() => {}
                        Ok((id, name)) => {
                            backoff = Duration::from_secs(2);
                            tracing::warn!(container = %name, "OOM kill");
                            tokio::spawn(after_oom(h.clone(), http.clone(), id, name));
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "OOM event stream failed");
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_secs = backoff.as_secs(), "cannot watch for OOM kills")
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

async fn after_oom(h: Arc<Handler>, http: Arc<Http>, id: String, name: String) {
    let settings = &h.shared.settings;
    tokio::time::sleep(Duration::from_secs(settings.escalation.oom_grace_secs)).await;
    let down = match container_state(settings, h.shared.docker_host_env.clone(), &id).await {
        Ok(Some(running)) => !running,
        Ok(None) => true,
        Err(e) => {
            tracing::warn!(container = %name, error = %e, "cannot tell whether the OOM kill left it down");
            return;
        }
    };
    if !down {
        tracing::info!(container = %name, "OOM kill, but the container runs again: no downtime");
        return;
    }
    if !h.shared.db_ready() {
        tracing::error!(container = %name, "OOM downtime, but the database is unreachable: cannot escalate");
        return;
    }
    // One OOM kill at a time decides whether to open an incident, so two
    // kills close together join one incident instead of opening two.
    let _one_at_a_time = h.shared.oom_lock.lock().await;
    let store = &h.shared.store;
    let now = OffsetDateTime::now_utc();
    let existing = store
        .unresolved_incidents()
        .await
        .ok()
        .and_then(|open| open.into_iter().last());
    let rb = &h.shared.runbooks[0];
    let inc = match existing {
        Some(inc) => inc,
        None => match open_with_thread(
            &h,
            &http,
            rb,
            &format!("OOM kill: {name} is down"),
            "alert:OomKiller",
            "the OomKiller alert",
        )
        .await
        {
            Ok((inc, _)) => inc,
            Err(e) => {
                return tracing::error!(error = %e, "could not open an incident for an OOM kill")
            }
        },
    };
    let rules: Vec<_> = h
        .runbook(&inc.runbook)
        .unwrap_or(rb)
        .escalations
        .iter()
        .map(|e| e.get_ref())
        .collect();
    let reason = format!("{name} was killed by the OOM killer and is not running");
    match store
        .schedule_escalations(
            inc.id,
            &escalation::on_oom_downtime(&rules, now),
            Some(&reason),
        )
        .await
    {
        Ok(n) if n > 0 => {
            tracing::warn!(incident = inc.id, container = %name, "OOM downtime: escalating at once")
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "could not schedule the OOM escalation"),
    }
}
