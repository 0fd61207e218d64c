//! Alerts into incidents: the bot's own HighMemoryUsage and OomKiller
//! alerts (from the live watcher) and Alertmanager's (from the HTTP intake)
//! arrive here as the same [`AlertEvent`]s.
//!
//! A firing alert is recorded first (one row while it keeps firing, so
//! repeats do nothing), then opens an incident or joins the open one for
//! its service, and the memory report with its chart is posted in the
//! incident channel. A resolved alert is noted in the incident's thread.
//! While incidents are open, a short memory update goes to their threads.

use super::embed;
use super::handler::Handler;
use super::incidents::open_with_thread;
use crate::chat::outgoing;
use crate::core::alerting::{AlertEvent, AlertSource, OOM_KILLER};
use crate::core::incident::{Incident, TimelineEntry};
use crate::diagnose::run_step;
use crate::store::{Fired, NewAlert};
use serenity::all::{ChannelId, Http, Message};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Handles alerts one at a time, so two alerts for one service arriving
/// together join one incident instead of opening two.
pub(super) async fn alert_loop(
    h: Arc<Handler>,
    http: Arc<Http>,
    mut alerts: mpsc::Receiver<AlertEvent>,
) {
    while let Some(event) = alerts.recv().await {
        // An alert must be recorded before it opens anything: while the
        // database is away, alerts wait here (the queue fills, then the
        // watcher waits and Alertmanager is told to retry) rather than
        // being dropped.
        if !h.shared.db_ready() {
            tracing::warn!(alert = %event.name, "alerts wait for the database");
            while !h.shared.health.wait_db(Duration::from_secs(60)).await {}
        }
        if event.firing {
            firing(&h, &http, event).await;
        } else {
            resolved(&h, &http, event).await;
        }
    }
}

async fn firing(h: &Arc<Handler>, http: &Arc<Http>, ev: AlertEvent) {
    let store = &h.shared.store;
    let alert = NewAlert {
        fingerprint: ev.fingerprint.clone(),
        name: ev.name.clone(),
        service: ev.service.clone(),
        source: ev.source.as_str().into(),
        summary: ev.summary.clone(),
        at: ev.at,
    };
    // Each of the bot's OOM events is a kill: another occurrence of a
    // firing OomKiller alert, counted on it. Anything else firing again is
    // a repeat delivery (Alertmanager resends), which changes nothing.
    let occurrence = ev.name == OOM_KILLER && ev.source == AlertSource::Bot;
    // A hiccup of the database must not lose the alert: a few tries.
    let mut fired = store.fire_alert(&alert, occurrence).await;
    for _ in 0..3 {
        if fired.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        fired = store.fire_alert(&alert, occurrence).await;
    }
    let alert_id = match fired {
        Ok(Fired::New { id }) => id,
        Ok(Fired::Already(f)) if occurrence => return super::oom::again(h, http, &ev, f).await,
        Ok(Fired::Already(f)) => {
            return tracing::debug!(alert = %ev.fingerprint, incident_id = ?f.incident_id, "alert still firing");
        }
        Err(e) => {
            crate::metrics::global().postgres_error("fire_alert");
            return tracing::error!(alert = %ev.fingerprint, error = %crate::cause_chain(&e), "alert not recorded");
        }
    };
    tracing::warn!(alert = %ev.name, source = ev.source.as_str(), summary = %ev.summary, "alert firing");
    let rb = h
        .shared
        .runbooks
        .iter()
        .find(|rb| rb.alerts.iter().any(|a| a.get_ref().name == ev.name))
        .unwrap_or(&h.shared.runbooks[0]);
    let (inc, joined) = match store.incident_for_service(ev.service.as_deref()).await {
        Ok(Some(inc)) => (inc, true),
        Ok(None) => {
            let title = match (ev.name.as_str(), &ev.container) {
                (OOM_KILLER, Some((_, name))) => format!("OOM kill: {name}"),
                _ => format!("{}: {}", ev.name, ev.summary),
            };
            let opened_by = format!("alert:{}", ev.name);
            let announced = format!("the {} alert", ev.name);
            match open_with_thread(h, http, rb, &title, &opened_by, &announced).await {
                Ok((inc, _)) => (inc, false),
                Err(e) => {
                    crate::metrics::global().postgres_error("open_incident");
                    return tracing::error!(error = %crate::cause_chain(&e), "could not open an incident for an alert");
                }
            }
        }
        Err(e) => {
            crate::metrics::global().postgres_error("incident_for_service");
            return tracing::error!(error = %crate::cause_chain(&e), "could not look up the incident for an alert");
        }
    };
    if let Err(e) = store.link_alert(alert_id, inc.id).await {
        tracing::warn!(error = %crate::cause_chain(&e), "alert not linked to its incident");
    }
    let posted = post_report(h, http, &ev, &inc, joined).await;
    if let Some(m) = &posted {
        // Later occurrences update this message instead of posting anew.
        if let Err(e) = store
            .set_alert_message(alert_id, m.channel_id.get(), m.id.get())
            .await
        {
            tracing::warn!(error = %crate::cause_chain(&e), "the alert's report message was not recorded");
        }
    }
    timeline(h, &ev, inc.id, posted.map(|m| m.link())).await;
    h.audit_bot(
        ev.at,
        format!("alert {} firing ({})", ev.name, ev.source.as_str()),
        Some(format!("incident #{}", inc.id)),
        if joined { "joined" } else { "opened" }.into(),
    )
    .await;
    if ev.name == OOM_KILLER {
        // The runbook's "if OOM causing downtime, escalate immediately",
        // whichever source saw the kill: Alertmanager's names the service,
        // so its container is looked up.
        let container = match (&ev.container, &ev.service) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(service)) => {
                let settings = &h.shared.settings;
                crate::actions::service_container(
                    settings,
                    &settings.scope(),
                    h.shared.docker_host_env.clone(),
                    service,
                )
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(service, error = %e, "cannot find the container of an OOM alert");
                    None
                })
            }
            (None, None) => None,
        };
        if let Some((id, name)) = container {
            super::oom::after_oom(h, inc.id, id, name, ev.at);
        }
    }
}

/// Posts the memory report with its chart in the incident channel, with
/// the alert's sentence above it; returns the message.
async fn post_report(
    h: &Handler,
    http: &Http,
    ev: &AlertEvent,
    inc: &Incident,
    joined: bool,
) -> Option<Message> {
    let settings = &h.shared.settings;
    let rb = h.runbook(&inc.runbook).unwrap_or(&h.shared.runbooks[0]);
    let text = headline(ev, inc.id, joined);
    let mut msg = outgoing::post_text(&text);
    // The first container_memory step is the report (`/mem status`).
    let step = rb
        .steps
        .iter()
        .map(|s| s.get_ref())
        .find(|s| matches!(s.check, crate::core::runbook::Check::ContainerMemory(_)));
    if let Some(step) = step {
        let scope = settings.scope();
        let report = run_step(&h.shared.probes(&scope), rb, &step.id, &Default::default()).await;
        match report {
            Ok(d) => {
                let (embed, chart) = embed::report(&d, rb);
                msg = msg.embed(embed);
                if let Some(chart) = chart {
                    msg = msg.add_file(chart);
                }
            }
            Err(e) => {
                tracing::warn!(error = %crate::cause_chain(&e), "no memory report for the alert")
            }
        }
    }
    match ChannelId::new(settings.discord.incident_channel_id)
        .send_message(http, msg)
        .await
    {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::error!(error = %e, "posting the alert's report failed");
            None
        }
    }
}

/// The line above an alert's report.
pub(super) fn headline(ev: &AlertEvent, incident: i64, joined: bool) -> String {
    format!(
        "**{}** firing ({}): {} · incident #{incident}{}",
        ev.name,
        ev.source.as_str(),
        ev.summary,
        if joined {
            " (joined the open incident)"
        } else {
            ""
        }
    )
}

pub(super) async fn timeline(h: &Handler, ev: &AlertEvent, incident: i64, link: Option<String>) {
    let entry = TimelineEntry {
        at: ev.at,
        actor: format!("alert:{}", ev.name),
        kind: "alert".into(),
        summary: format!(
            "{} {} ({}): {}",
            ev.name,
            if ev.firing { "firing" } else { "resolved" },
            ev.source.as_str(),
            ev.summary
        ),
        outcome: None,
        link,
    };
    if let Err(e) = h.shared.store.append_timeline(incident, &entry).await {
        tracing::warn!(error = %crate::cause_chain(&e), "alert not added to the timeline");
    }
}

async fn resolved(h: &Arc<Handler>, http: &Arc<Http>, ev: AlertEvent) {
    let store = &h.shared.store;
    let r = match store.resolve_alert(&ev.fingerprint, ev.at).await {
        Ok(Some(r)) => r,
        // Not firing (a repeat, or it never fired): nothing to say.
        Ok(None) => return,
        Err(e) => {
            crate::metrics::global().postgres_error("resolve_alert");
            return tracing::warn!(error = %crate::cause_chain(&e), "alert resolution not recorded");
        }
    };
    tracing::info!(alert = %ev.name, summary = %ev.summary, "alert resolved");
    let Some(incident) = r.incident_id else {
        return;
    };
    let inc = match store.incident(incident).await {
        Ok(Some(inc)) => inc,
        _ => return,
    };
    let channel = inc
        .thread_id
        .map_or(h.shared.settings.discord.incident_channel_id, |t| t as u64);
    let text = format!(
        "**{}** resolved ({}): {}",
        ev.name,
        ev.source.as_str(),
        ev.summary
    );
    let link = match ChannelId::new(channel)
        .send_message(http, outgoing::post_text(&text))
        .await
    {
        Ok(m) => Some(m.link()),
        Err(e) => {
            tracing::warn!(error = %e, "posting an alert's resolution failed");
            None
        }
    };
    timeline(h, &ev, incident, link).await;
    h.audit_bot(
        ev.at,
        format!("alert {} resolved ({})", ev.name, ev.source.as_str()),
        Some(format!("incident #{incident}")),
        "ok".into(),
    )
    .await;
}
