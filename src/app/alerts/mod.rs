//! Alerts into incidents: the bot's own HighMemoryUsage and OomKiller
//! alerts (from the live watcher) and Alertmanager's (from the HTTP intake)
//! arrive as the same [`AlertEvent`]s and are handled one at a time
//! ([`handle`]), so two alerts for one service arriving together join one
//! incident instead of opening two.
//!
//! Grouping: an alert is its fingerprint (name, project, service, host),
//! whichever source reports it, so the watcher and Alertmanager reporting
//! the same condition make one alert (one row, each source listed; it
//! resolves when every source has resolved it). A firing alert is recorded
//! first; a new one then opens an incident or joins the open one for its
//! service, and the memory report with its chart is posted in the incident
//! channel. Each further OOM kill (a crash loop), and each time it fires
//! again within the runbook's flap window, is counted on the alert and
//! edits that one report (`report.rs`). A new incident starts paging
//! (`paging`). While a silence covers the alert's service, a new alert is
//! recorded and held back: no incident, no report, no page (`silences`
//! hands it on when the silence ends). A resolved alert is noted in the
//! incident's thread.

pub mod held;
mod report;

use super::App;
use crate::core::alerting::{AlertEvent, AlertSource, OOM_KILLER};
use crate::core::incident::{Incident, State, TimelineEntry};
use crate::render;
use crate::store::{Fired, Firing, NewAlert};
use std::time::Duration;

/// What handling one alert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// A new firing alert opened incident `incident` (or `joined` one).
    Opened { incident: i64, joined: bool },
    /// Counted again on the firing alert: another OOM kill, or a flap.
    Counted { incident: i64, count: String },
    /// Recorded, but held back by silence `silence`.
    Silenced { silence: i64 },
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

/// The runbook's flap window for alert `name`.
fn flap_window(app: &App, name: &str) -> time::Duration {
    let minutes = app
        .runbooks
        .for_alert(name)
        .paging
        .as_ref()
        .map_or(0, |p| p.flap_minutes);
    time::Duration::minutes(i64::from(minutes))
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
    // a repeat (Alertmanager resends, or the other source reports the same
    // condition), which changes nothing.
    let occurrence = ev.name == OOM_KILLER && ev.source == AlertSource::Bot;
    let flap = flap_window(app, &ev.name);
    // A hiccup of the database must not lose the alert: a few tries.
    let mut fired = store.fire_alert(&alert, occurrence, flap).await;
    for _ in 0..3 {
        if fired.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        fired = store.fire_alert(&alert, occurrence, flap).await;
    }
    match fired {
        Ok(Fired::New { id }) => {
            tracing::warn!(alert = %ev.name, source = ev.source.as_str(), summary = %ev.summary, "alert firing");
            new_alert(app, id, &ev).await
        }
        Ok(Fired::Already(f)) if occurrence => again(app, &ev, f, false).await,
        Ok(Fired::Flapped(f)) => again(app, &ev, f, true).await,
        Ok(Fired::Already(f)) => {
            tracing::debug!(alert = %ev.fingerprint, source = ev.source.as_str(), incident_id = ?f.incident_id, "alert still firing");
            Handled::Nothing
        }
        Err(e) => {
            crate::metrics::global().postgres_error("fire_alert");
            tracing::error!(alert = %ev.fingerprint, error = %crate::cause_chain(&e), "alert not recorded");
            Handled::Failed
        }
    }
}

/// A newly recorded alert: held back by a silence, or into its incident.
async fn new_alert(app: &App, id: i64, ev: &AlertEvent) -> Handled {
    match super::silences::covering(app, ev.service.as_deref(), ev.at).await {
        Ok(Some(s)) => {
            if let Err(e) = app.store.silence_alert(id, s.id).await {
                tracing::warn!(error = %crate::cause_chain(&e), "the silence holding an alert back was not recorded");
            }
            tracing::info!(alert = %ev.fingerprint, silence = s.id, "alert held back by a silence");
            app.audit_bot(
                ev.at,
                format!("alert {} firing ({})", ev.name, ev.source.as_str()),
                ev.service.as_ref().map(|s| format!("service {s}")),
                format!("silenced by silence #{}: {}", s.id, s.reason),
            )
            .await;
            return Handled::Silenced { silence: s.id };
        }
        Ok(None) => {}
        // Unknown is not silent: page rather than miss one.
        Err(e) => {
            tracing::warn!(error = %crate::cause_chain(&e), "silences not read; the alert is handled as not silenced")
        }
    }
    into_incident(app, id, ev).await
}

/// An alert a silence held back that still fires, handed on when the
/// silence ended: it opens or joins its incident now.
async fn hand_on(app: &App, id: i64, ev: AlertEvent) -> Handled {
    into_incident(app, id, &ev).await
}

/// Opens or joins the incident for the alert, posts its report, starts
/// paging a new incident, and watches an OOM kill for downtime.
async fn into_incident(app: &App, id: i64, ev: &AlertEvent) -> Handled {
    let Some((inc, joined)) = incident_for(app, ev).await else {
        return Handled::Failed;
    };
    if let Err(e) = app.store.link_alert(id, inc.id).await {
        tracing::warn!(error = %crate::cause_chain(&e), "alert not linked to its incident");
    }
    let posted = report::post(app, id, ev, &inc, joined).await;
    app.timeline(inc.id, &timeline_entry(ev, posted.map(|m| m.link)))
        .await;
    app.audit_bot(
        ev.at,
        format!("alert {} firing ({})", ev.name, ev.source.as_str()),
        Some(format!("incident #{}", inc.id)),
        if joined { "joined" } else { "opened" }.into(),
    )
    .await;
    if !joined {
        // Paged from when the alert fired (at once, if it waited).
        super::paging::start(app, &inc, ev.at).await;
    }
    if ev.name == OOM_KILLER {
        watch_downtime(app, ev, inc.id).await;
    }
    Handled::Opened {
        incident: inc.id,
        joined,
    }
}

/// The open incident for the alert's service, or a new one at the alert's
/// severity; `None` when the database could not say or record.
async fn incident_for(app: &App, ev: &AlertEvent) -> Option<(Incident, bool)> {
    match app.store.incident_for_service(ev.service.as_deref()).await {
        Ok(Some(inc)) => Some((inc, true)),
        Ok(None) => {
            let title = match (ev.name.as_str(), &ev.container, &ev.service) {
                (OOM_KILLER, Some((_, name)), _) => format!("OOM kill: {name}"),
                (OOM_KILLER, None, Some(service)) => format!("OOM kill: {service}"),
                _ => format!("{}: {}", ev.name, ev.summary),
            };
            let rb = app.runbooks.for_alert(&ev.name);
            let severity = rb.severity_for(Some(&ev.name)).map(|s| s.id.clone());
            let opened_by = format!("alert:{}", ev.name);
            let announced = format!("the {} alert", ev.name);
            let now = time::OffsetDateTime::now_utc();
            let how = super::incidents::How {
                opened_by: &opened_by,
                announced_by: &announced,
                severity: severity.as_deref(),
            };
            match super::incidents::open(app, rb, &title, &how, now).await {
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

/// The alert fired again while firing (another OOM kill: a crash loop) or
/// within its flap window (`flapped`): counted on the alert, its one
/// report updated in place ("OOM-killed 8× since 14:02, restarting"),
/// recorded in the timeline and the audit log, and the downtime watch
/// told. Nothing new is posted. An alert whose incident is gone or
/// resolved (or that a silence held back) is handled as new instead.
async fn again(app: &App, ev: &AlertEvent, f: Firing, flapped: bool) -> Handled {
    let inc = match f.incident_id {
        Some(id) => app.store.incident(id).await.ok().flatten(),
        None => None,
    };
    let Some(inc) = inc.filter(|i| i.state != State::Resolved) else {
        if f.incident_id.is_none() && !flapped {
            // Held back by a silence, or never got its incident: a repeat.
            return Handled::Nothing;
        }
        return new_alert(app, f.id, ev).await;
    };
    let mut state = "";
    if ev.name == OOM_KILLER {
        if let Some((id, name)) = &ev.container {
            super::oom::after_oom(app, inc.id, id.clone(), name.clone(), ev.at);
            state = match app.engine.inspect(id).await {
                Ok(Some(c)) if c.restarting => ", restarting",
                Ok(Some(c)) if c.running => ", running again",
                Ok(_) => ", not running",
                Err(_) => "",
            };
        } else if flapped {
            watch_downtime(app, ev, inc.id).await;
        }
    }
    let since = render::paging::clock(f.started_at);
    let count = match (ev.name == OOM_KILLER, flapped) {
        (true, false) => format!("OOM-killed {}× since {since}{state}", f.occurrences),
        (_, true) => format!(
            "fired {}× since {since} (cleared and fired again {}×){state}",
            f.occurrences, f.flaps
        ),
        (false, false) => format!("fired {}× since {since}", f.occurrences),
    };
    tracing::warn!(alert = %ev.fingerprint, %count, "alert counted again");
    report::update(app, ev, &f, &inc, &count).await;
    app.timeline(inc.id, &timeline_entry(ev, None)).await;
    app.audit_bot(
        ev.at,
        format!("alert {} firing ({})", ev.name, ev.source.as_str()),
        Some(format!("incident #{}", inc.id)),
        format!("counted: {count}"),
    )
    .await;
    Handled::Counted {
        incident: inc.id,
        count,
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
    let r = match store
        .resolve_alert(&ev.fingerprint, ev.source.as_str(), ev.at)
        .await
    {
        Ok(Some(r)) => r,
        // Not firing (a repeat, or it never fired): nothing to say.
        Ok(None) => return Handled::Nothing,
        Err(e) => {
            crate::metrics::global().postgres_error("resolve_alert");
            tracing::warn!(error = %crate::cause_chain(&e), "alert resolution not recorded");
            return Handled::Failed;
        }
    };
    if r.still_firing {
        tracing::info!(alert = %ev.fingerprint, source = ev.source.as_str(), "resolved by one source; another still reports it");
        return Handled::Nothing;
    }
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
        .post(
            channel,
            &render::Message::text(render::alert::resolved(&ev)),
        )
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
