//! OOM downtime: after an OOM kill (the bot's OomKiller alert, or
//! Alertmanager's), watch the container and escalate at once, with the
//! runbook's OOM-downtime rule, as soon as the kill has taken the service
//! down:
//!
//! - it was restarted at least twice within the grace window (a crash
//!   loop: the engine's restart count says so as soon as the second
//!   restart happens, not after one look at the end);
//! - it is not running and has no restart policy (nothing will bring it
//!   back);
//! - it is still not running (or still restarting) when the grace window
//!   after its latest kill has passed.
//!
//! One watch per container at a time; later kills extend it.

use super::handler::Handler;
use crate::actions::inspect_container;
use crate::chat::outgoing;
use crate::core::alerting::AlertEvent;
use crate::core::escalation;
use crate::core::incident::span;
use crate::store::Firing;
use serenity::all::{ChannelId, Http, MessageId};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Another OOM kill of a container whose OomKiller alert is firing (a
/// crash loop): counted on the alert, its one report message updated in
/// place ("OOM-killed 8× in 61 s, restarting"), recorded in the timeline
/// and the audit log, and the downtime watch told. Nothing new is posted.
pub(super) async fn again(h: &Arc<Handler>, http: &Arc<Http>, ev: &AlertEvent, f: Firing) {
    let Some(incident) = f.incident_id else {
        return;
    };
    let mut state = "";
    if let Some((id, name)) = &ev.container {
        after_oom(h, incident, id.clone(), name.clone(), ev.at);
        let settings = &h.shared.settings;
        state = match inspect_container(settings, h.shared.docker_host_env.clone(), id).await {
            Ok(Some(c)) if c.restarting => ", restarting",
            Ok(Some(c)) if c.running => ", running again",
            Ok(_) => ", not running",
            Err(_) => "",
        };
    }
    let count = format!(
        "OOM-killed {}× in {}{state}",
        f.occurrences,
        span(ev.at - f.started_at)
    );
    tracing::warn!(alert = %ev.fingerprint, %count, "OOM kill again");
    if let Some((channel, message)) = f.message {
        let text = format!("{} · {count}", super::alerts::headline(ev, incident, false));
        let edit = outgoing::edit().content(crate::core::text::clip(&text, 1900));
        if let Err(e) = ChannelId::new(channel as u64)
            .edit_message(http, MessageId::new(message as u64), edit)
            .await
        {
            tracing::warn!(error = %e, "could not update the OOM alert's report");
        }
    }
    super::alerts::timeline(h, ev, incident, None).await;
    h.audit_bot(
        ev.at,
        format!("alert {} firing ({})", ev.name, ev.source.as_str()),
        Some(format!("incident #{incident}")),
        format!("counted: {count}"),
    )
    .await;
}

/// How often the container is looked at during the grace window.
const LOOK_EVERY: Duration = Duration::from_millis(500);

/// Notes a kill of container `id` (at `at`) and, unless one runs already,
/// starts watching it for downtime on behalf of incident `incident`.
pub(super) fn after_oom(
    h: &Arc<Handler>,
    incident: i64,
    id: String,
    name: String,
    at: OffsetDateTime,
) {
    let first = match h.shared.oom_watch.entry(id.clone()) {
        dashmap::Entry::Occupied(mut e) => {
            let last = e.get_mut();
            *last = (*last).max(at);
            false
        }
        dashmap::Entry::Vacant(e) => {
            e.insert(at);
            true
        }
    };
    if first {
        tokio::spawn(watch(h.clone(), incident, id, name, at));
    }
}

/// Why the service counts as down, if it does.
async fn watch(
    h: Arc<Handler>,
    incident: i64,
    id: String,
    name: String,
    first_kill: OffsetDateTime,
) {
    let down = judge(&h, &id, &name, first_kill).await;
    h.shared.oom_watch.remove(&id);
    if let Some(reason) = down {
        escalate(&h, incident, &name, reason).await;
    }
}

async fn judge(h: &Handler, id: &str, name: &str, first_kill: OffsetDateTime) -> Option<String> {
    let settings = &h.shared.settings;
    let grace = time::Duration::seconds(settings.escalation.oom_grace_secs as i64);
    // Restarts since the first kill: when each was seen to have started.
    let mut restarts: Vec<OffsetDateTime> = Vec::new();
    let mut counted: Option<i64> = None;
    loop {
        let now = OffsetDateTime::now_utc();
        let last_kill = h
            .shared
            .oom_watch
            .get(id)
            .map_or(first_kill, |k| *k.value());
        let found = match inspect_container(settings, h.shared.docker_host_env.clone(), id).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(container = %name, error = %e, "cannot tell whether the OOM kill left it down");
                if now - last_kill >= grace * 3 {
                    return None;
                }
                tokio::time::sleep(LOOK_EVERY).await;
                continue;
            }
        };
        let Some(c) = found else {
            // Removed: nothing runs for it any more.
            return (now - last_kill >= grace)
                .then(|| format!("{name} was killed by the OOM killer and is not running (the container is gone)"));
        };
        let restarted_since_kill = c.started_at.is_some_and(|t| t >= first_kill);
        let new = match counted {
            // The first look: a restart already done shows in its start.
            None => i64::from(restarted_since_kill),
            Some(before) => (c.restart_count - before).max(0),
        };
        counted = Some(c.restart_count);
        for _ in 0..new {
            restarts.push(c.started_at.unwrap_or(now).max(first_kill));
        }
        if let [.., a, b] = restarts.as_slice() {
            if *b - *a <= grace {
                return Some(format!(
                    "{name} is restarting in a loop: OOM-killed and restarted {} time(s) since {} (restart count {})",
                    restarts.len(),
                    crate::core::incident::stamp(first_kill),
                    c.restart_count
                ));
            }
        }
        let up = c.running && !c.restarting;
        let no_policy = matches!(c.restart_policy.as_str(), "" | "no");
        if !up && no_policy && now - last_kill >= time::Duration::SECOND.min(grace) {
            return Some(format!(
                "{name} was killed by the OOM killer and is not running (it has no restart policy)"
            ));
        }
        if now - last_kill >= grace {
            if up {
                tracing::info!(container = %name, "OOM kill, but the container runs again: no downtime");
                return None;
            }
            return Some(format!(
                "{name} was killed by the OOM killer and is not running {} s later",
                grace.whole_seconds()
            ));
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}

/// Schedules the runbook's OOM-downtime escalation of `incident` at once
/// (once per incident: the database refuses a second).
async fn escalate(h: &Handler, incident: i64, name: &str, reason: String) {
    if !h.shared.health.wait_db(Duration::from_secs(30)).await {
        tracing::error!(container = %name, "OOM downtime, but the database is unreachable: cannot escalate");
        return;
    }
    let store = &h.shared.store;
    let inc = match store.incident(incident).await {
        Ok(Some(inc)) => inc,
        Ok(None) => return,
        Err(e) => {
            return tracing::error!(error = %crate::cause_chain(&e), "cannot read the incident to escalate an OOM kill")
        }
    };
    let rules: Vec<_> = h
        .runbook(&inc.runbook)
        .unwrap_or(&h.shared.runbooks[0])
        .escalations
        .iter()
        .map(|e| e.get_ref())
        .collect();
    let now = OffsetDateTime::now_utc();
    match store
        .schedule_escalations(
            inc.id,
            &escalation::on_oom_downtime(&rules, now),
            Some(&reason),
        )
        .await
    {
        Ok(n) if n > 0 => {
            tracing::warn!(incident = inc.id, container = %name, %reason, "OOM downtime: escalating at once")
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "could not schedule the OOM escalation"),
    }
}
