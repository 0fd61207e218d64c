//! Alerts into incidents: the bot's own HighMemoryUsage and OomKiller
//! alerts (from the live watcher) and Alertmanager's (from the HTTP intake)
//! arrive as the same [`AlertEvent`]s and are handled one at a time
//! ([`handle`]), so two alerts for one service arriving together join one
//! incident instead of opening two.
//!
//! A firing alert is recorded first (one row while it keeps firing, so
//! repeats do nothing), then opens an incident or joins the open one for
//! its service, and the memory report with its chart is posted in the
//! incident channel. Each further OOM kill of a firing OomKiller alert (a
//! crash loop) is counted on it and edits that one report. A resolved
//! alert is noted in the incident's thread.

use super::App;
use crate::core::alerting::{AlertEvent, AlertSource, OOM_KILLER};
use crate::core::incident::{span, Incident, TimelineEntry};
use crate::core::runbook::Check;
use crate::core::text::clip;
use crate::render::{self, Message};
use crate::store::{Fired, Firing, NewAlert};
use std::time::Duration;

/// What handling one alert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// A new firing alert opened incident `incident` (or `joined` one).
    Opened { incident: i64, joined: bool },
    /// Another OOM kill, counted on the firing alert ("OOM-killed 3× …").
    Counted { incident: i64, count: String },
    /// A resolution, said in incident `incident`'s thread.
    Resolved { incident: i64 },
    /// Nothing to do: a repeat, or a resolution of nothing firing.
    Nothing,
    /// It could not be recorded (the log says why).
    Failed,
}

/// Handles one alert. The caller waits for the database first: an alert
/// must be recorded before it opens anything.
pub async fn handle(app: &App, event: AlertEvent) -> Handled {
    if event.firing {
        firing(app, event).await
    } else {
        resolved(app, event).await
    }
}

async fn firing(app: &App, ev: AlertEvent) -> Handled {
    let store = &app.store;
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
        Ok(Fired::Already(f)) if occurrence => return again(app, &ev, f).await,
        Ok(Fired::Already(f)) => {
            tracing::debug!(alert = %ev.fingerprint, incident_id = ?f.incident_id, "alert still firing");
            return Handled::Nothing;
        }
        Err(e) => {
            crate::metrics::global().postgres_error("fire_alert");
            tracing::error!(alert = %ev.fingerprint, error = %crate::cause_chain(&e), "alert not recorded");
            return Handled::Failed;
        }
    };
    tracing::warn!(alert = %ev.name, source = ev.source.as_str(), summary = %ev.summary, "alert firing");
    let Some((inc, joined)) = incident_for(app, &ev).await else {
        return Handled::Failed;
    };
    if let Err(e) = store.link_alert(alert_id, inc.id).await {
        tracing::warn!(error = %crate::cause_chain(&e), "alert not linked to its incident");
    }
    let posted = post_report(app, &ev, &inc, joined).await;
    if let Some(m) = &posted {
        // Later occurrences update this message instead of posting anew.
        if let Err(e) = store
            .set_alert_message(alert_id, m.channel_id, m.message_id)
            .await
        {
            tracing::warn!(error = %crate::cause_chain(&e), "the alert's report message was not recorded");
        }
    }
    app.timeline(inc.id, &timeline_entry(&ev, posted.map(|m| m.link)))
        .await;
    app.audit_bot(
        ev.at,
        format!("alert {} firing ({})", ev.name, ev.source.as_str()),
        Some(format!("incident #{}", inc.id)),
        if joined { "joined" } else { "opened" }.into(),
    )
    .await;
    if ev.name == OOM_KILLER {
        watch_downtime(app, &ev, inc.id).await;
    }
    Handled::Opened {
        incident: inc.id,
        joined,
    }
}

/// The open incident for the alert's service, or a new one; `None` when
/// the database could not say or record.
async fn incident_for(app: &App, ev: &AlertEvent) -> Option<(Incident, bool)> {
    match app.store.incident_for_service(ev.service.as_deref()).await {
        Ok(Some(inc)) => Some((inc, true)),
        Ok(None) => {
            let title = match (ev.name.as_str(), &ev.container) {
                (OOM_KILLER, Some((_, name))) => format!("OOM kill: {name}"),
                _ => format!("{}: {}", ev.name, ev.summary),
            };
            let rb = app.runbooks.for_alert(&ev.name);
            let opened_by = format!("alert:{}", ev.name);
            let announced = format!("the {} alert", ev.name);
            let now = time::OffsetDateTime::now_utc();
            match super::incidents::open(app, rb, &title, &opened_by, &announced, now).await {
                Ok(opened) => Some((opened.incident, false)),
                Err(e) => {
                    crate::metrics::global().postgres_error("open_incident");
                    tracing::error!(error = %crate::cause_chain(&e), "could not open an incident for an alert");
                    None
                }
            }
        }
        Err(e) => {
            crate::metrics::global().postgres_error("incident_for_service");
            tracing::error!(error = %crate::cause_chain(&e), "could not look up the incident for an alert");
            None
        }
    }
}

/// The runbook's "if OOM causing downtime, escalate immediately", whichever
/// source saw the kill: Alertmanager's names the service, so its container
/// is looked up.
async fn watch_downtime(app: &App, ev: &AlertEvent, incident: i64) {
    let container = match (&ev.container, &ev.service) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(service)) => super::actions::service_container(
            &app.engine,
            &app.scope,
            service,
        )
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(service, error = %e, "cannot find the container of an OOM alert");
            None
        }),
        (None, None) => None,
    };
    if let Some((id, name)) = container {
        super::oom::after_oom(app, incident, id, name, ev.at);
    }
}

/// Another OOM kill of a container whose OomKiller alert is firing (a
/// crash loop): counted on the alert, its one report message updated in
/// place ("OOM-killed 8× in 61 s, restarting"), recorded in the timeline
/// and the audit log, and the downtime watch told. Nothing new is posted.
async fn again(app: &App, ev: &AlertEvent, f: Firing) -> Handled {
    let Some(incident) = f.incident_id else {
        return Handled::Nothing;
    };
    let mut state = "";
    if let Some((id, name)) = &ev.container {
        super::oom::after_oom(app, incident, id.clone(), name.clone(), ev.at);
        state = match app.engine.inspect(id).await {
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
        let text = format!("{} · {count}", render::alert::headline(ev, incident, false));
        let edit = Message::text(clip(&text, 1900));
        if let Err(e) = app.chat.edit(channel as u64, message as u64, &edit).await {
            tracing::warn!(error = %e, "could not update the OOM alert's report");
        }
    }
    app.timeline(incident, &timeline_entry(ev, None)).await;
    app.audit_bot(
        ev.at,
        format!("alert {} firing ({})", ev.name, ev.source.as_str()),
        Some(format!("incident #{incident}")),
        format!("counted: {count}"),
    )
    .await;
    Handled::Counted { incident, count }
}

/// Posts the memory report with its chart in the incident channel, with
/// the alert's sentence above it.
async fn post_report(
    app: &App,
    ev: &AlertEvent,
    inc: &Incident,
    joined: bool,
) -> Option<super::port::Posted> {
    let rb = app.runbooks.or_first(&inc.runbook);
    let mut msg = Message::text(render::alert::headline(ev, inc.id, joined));
    // The first container_memory step is the report (`/mem status`).
    let step = rb
        .steps
        .iter()
        .map(|s| s.get_ref())
        .find(|s| matches!(s.check, Check::ContainerMemory(_)));
    if let Some(step) = step {
        let probes = app.probes();
        match super::diagnose::run_step(&probes, rb, &step.id, &Default::default()).await {
            Ok(d) => {
                let (embed, chart) = render::report(&d, rb);
                msg = msg.with_embed(embed).with_file(chart);
            }
            Err(e) => {
                tracing::warn!(error = %crate::cause_chain(&e), "no memory report for the alert")
            }
        }
    }
    match app.chat.post(app.incident_channel(), &msg).await {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::error!(error = %e, "posting the alert's report failed");
            None
        }
    }
}

fn timeline_entry(ev: &AlertEvent, link: Option<String>) -> TimelineEntry {
    TimelineEntry {
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
    }
}

async fn resolved(app: &App, ev: AlertEvent) -> Handled {
    let store = &app.store;
    let r = match store.resolve_alert(&ev.fingerprint, ev.at).await {
        Ok(Some(r)) => r,
        // Not firing (a repeat, or it never fired): nothing to say.
        Ok(None) => return Handled::Nothing,
        Err(e) => {
            crate::metrics::global().postgres_error("resolve_alert");
            tracing::warn!(error = %crate::cause_chain(&e), "alert resolution not recorded");
            return Handled::Failed;
        }
    };
    tracing::info!(alert = %ev.name, summary = %ev.summary, "alert resolved");
    let Some(incident) = r.incident_id else {
        return Handled::Nothing;
    };
    let Ok(Some(inc)) = store.incident(incident).await else {
        return Handled::Nothing;
    };
    let channel = inc.thread_id.map_or(app.incident_channel(), |t| t as u64);
    let link = match app
        .chat
        .post(channel, &Message::text(render::alert::resolved(&ev)))
        .await
    {
        Ok(m) => Some(m.link),
        Err(e) => {
            tracing::warn!(error = %e, "posting an alert's resolution failed");
            None
        }
    };
    app.timeline(incident, &timeline_entry(&ev, link)).await;
    app.audit_bot(
        ev.at,
        format!("alert {} resolved ({})", ev.name, ev.source.as_str()),
        Some(format!("incident #{incident}")),
        "ok".into(),
    )
    .await;
    Handled::Resolved { incident }
}
