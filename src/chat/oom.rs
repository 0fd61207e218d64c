//! OOM downtime: after an OomKiller alert (the live watcher saw the
//! engine's `oom` event and the alert opened or joined an incident), waits
//! the grace period and, if the container is down (not running, or in a
//! restart loop), schedules the runbook's OOM-downtime escalation at once.

use super::handler::Handler;
use crate::actions::container_state;
use crate::core::escalation;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Escalates incident `incident` at once if the OOM kill of container
/// `id` left it down after the grace period.
pub(super) async fn after_oom(h: Arc<Handler>, incident: i64, id: String, name: String) {
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
    let store = &h.shared.store;
    let now = OffsetDateTime::now_utc();
    let inc = match store.incident(incident).await {
        Ok(Some(inc)) => inc,
        Ok(None) => return,
        Err(e) => {
            return tracing::error!(error = %crate::cause_chain(&e), "cannot read the incident to escalate an OOM kill")
        }
    };
    let rb = &h.shared.runbooks[0];
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
