//! Incidents: open (record first, then the thread, which starts with the
//! runbook), find the one a command is about, acknowledge and resolve
//! (decided by `core::incident::decide`, written conditionally on the
//! version the decision was made on), status, list, postmortem.
//!
//! The database is the record: without it these refuse rather than act
//! unrecorded. What people see is rendered by the caller.

use super::port::ChatError;
use super::App;
use crate::core::escalation;
use crate::core::incident::{self, decide, Incident, Request, TimelineEntry};
use crate::core::runbook::Runbook;
use crate::render::{self, Message};
use crate::store::{NewIncident, StoreError};
use time::OffsetDateTime;

/// A newly opened incident and its thread (or why it has none).
pub struct Opened {
    pub incident: Incident,
    pub thread: Result<u64, ChatError>,
}

/// Who opens an incident, how the announcement names them, and at which
/// severity (`None`: the runbook's default).
pub struct How<'a> {
    /// A person's label, or a system actor (`alert:OomKiller`).
    pub opened_by: &'a str,
    pub announced_by: &'a str,
    pub severity: Option<&'a str>,
}

/// Records an incident (with its escalations, from the runbook in force
/// now), then gives it a thread in the incident channel that starts with
/// the runbook. Used by `/incident open` and by alerts.
pub async fn open(
    app: &App,
    rb: &Runbook,
    title: &str,
    how: &How<'_>,
    now: OffsetDateTime,
) -> Result<Opened, StoreError> {
    let channel = app.incident_channel();
    let rules: Vec<_> = rb.escalations.iter().map(|e| e.get_ref()).collect();
    // The runbook's severities when it pages; else its one severity.
    let severity = how
        .severity
        .and_then(|id| rb.severity(id))
        .or_else(|| rb.severity_for(None))
        .map_or(format!("{:?}", rb.runbook.severity).to_lowercase(), |s| {
            s.id.clone()
        });
    let shown = render::paging::severity(&severity, rb.severity(&severity));
    let inc = app
        .store
        .open_incident(&NewIncident {
            runbook: rb.id().to_string(),
            title: title.to_string(),
            severity: severity.clone(),
            estimated_ttr_minutes: rb.runbook.estimated_ttr_minutes as i32,
            opened_by: how.opened_by.to_string(),
            opened_at: now,
            channel_id: channel as i64,
            escalations: escalation::on_open(&rules, now),
        })
        .await?;
    let announce = Message::text(format!(
        "**Incident #{}** [{shown}] opened by {}: {title}",
        inc.id, how.announced_by
    ));
    let thread_name: String = format!("#{} [{}] {title}", inc.id, severity.to_uppercase())
        .chars()
        .take(100)
        .collect();
    let made = async {
        let posted = app.chat.post(channel, &announce).await?;
        let thread = app
            .chat
            .thread(channel, posted.message_id, &thread_name)
            .await?;
        let card = Message::embed(render::incident::runbook_card(rb));
        app.chat.post(thread, &card).await?;
        Ok::<_, ChatError>(thread)
    }
    .await;
    match &made {
        Ok(thread) => {
            app.store.set_thread(inc.id, *thread as i64).await?;
            super::header::refresh(app, inc.id).await;
        }
        Err(e) => {
            tracing::error!(incident = inc.id, error = %e, "creating the incident thread failed")
        }
    }
    let incident = app.store.incident(inc.id).await?.unwrap_or(inc);
    Ok(Opened {
        incident,
        thread: made,
    })
}

/// The incident a command run in `channel` is about: the one whose thread
/// it is; elsewhere, the only unresolved one. `Err` is the sentence.
pub async fn find(app: &App, channel: u64) -> Result<Result<Incident, String>, StoreError> {
    if let Some(inc) = app.store.incident_by_thread(channel as i64).await? {
        return Ok(Ok(inc));
    }
    let open = app.store.unresolved_incidents().await?;
    Ok(match open.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err("No incident is open. Open one with /incident open.".into()),
        many => Err(format!(
            "Several incidents are open ({}): run this in the incident's thread.",
            many.iter()
                .map(|i| format!("#{}", i.id))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    })
}

/// What a transition came to.
pub enum Transitioned {
    /// Written: the incident as it is now, and when the change happened.
    Done {
        incident: Box<Incident>,
        at: OffsetDateTime,
    },
    /// Not allowed, or nothing to act on; the incident, if there was one.
    Refused {
        incident: Option<i64>,
        sentence: String,
    },
}

/// Acknowledges or resolves the incident of `channel`. Decides on what is
/// stored and writes only if nobody changed it meanwhile; if somebody did,
/// decides again on the fresh state.
pub async fn transition(
    app: &App,
    channel: u64,
    req: &Request,
) -> Result<Transitioned, StoreError> {
    let mut inc = match find(app, channel).await? {
        Ok(inc) => inc,
        Err(sentence) => {
            return Ok(Transitioned::Refused {
                incident: None,
                sentence,
            })
        }
    };
    for _ in 0..3 {
        let change = match decide(&inc, req, OffsetDateTime::now_utc()) {
            Ok(change) => change,
            Err(sentence) => {
                return Ok(Transitioned::Refused {
                    incident: Some(inc.id),
                    sentence,
                })
            }
        };
        if let Some(now) = app.store.apply_change(inc.id, inc.version, &change).await? {
            if now.state == incident::State::Resolved {
                // "Memory usage stable over time": checked again later.
                super::rechecks::schedule(app, &now, "resolve", change.at).await;
            }
            super::header::refresh(app, now.id).await;
            return Ok(Transitioned::Done {
                incident: Box::new(now),
                at: change.at,
            });
        }
        inc = match app.store.incident(inc.id).await? {
            Some(fresh) => fresh,
            None => {
                return Ok(Transitioned::Refused {
                    incident: None,
                    sentence: "That incident no longer exists.".into(),
                })
            }
        };
    }
    Ok(Transitioned::Refused {
        incident: Some(inc.id),
        sentence: format!(
            "Incident #{} is being changed by others right now; try again.",
            inc.id
        ),
    })
}

/// The incident of `channel` with its timeline; `Err` is the sentence.
pub async fn with_timeline(
    app: &App,
    channel: u64,
) -> Result<Result<(Incident, Vec<TimelineEntry>), String>, StoreError> {
    let inc = match find(app, channel).await? {
        Ok(inc) => inc,
        Err(sentence) => return Ok(Err(sentence)),
    };
    let timeline = app.store.timeline(inc.id).await?;
    Ok(Ok((inc, timeline)))
}

/// Unresolved incidents, and the ten most recent of all.
pub async fn list(app: &App) -> Result<(Vec<Incident>, Vec<Incident>), StoreError> {
    let open = app.store.unresolved_incidents().await?;
    let recent = app.store.recent_incidents(10).await?;
    Ok((open, recent))
}

/// The postmortem of the incident of `channel`, as Markdown.
pub async fn postmortem(
    app: &App,
    channel: u64,
    now: OffsetDateTime,
) -> Result<Result<(Incident, String), String>, StoreError> {
    let (inc, timeline) = match with_timeline(app, channel).await? {
        Ok(found) => found,
        Err(sentence) => return Ok(Err(sentence)),
    };
    let mut md = incident::postmortem(&inc, &timeline, now);
    // The follow-ups it left, so they are not forgotten.
    let followups = app.store.followups(Some(inc.id)).await?;
    md.push_str(&render::followups::postmortem(&followups, now.date()));
    Ok(Ok((inc, md)))
}
