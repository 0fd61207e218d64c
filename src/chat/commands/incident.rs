//! `/incident open|ack|resolve|status|list|postmortem`. The database is the
//! record: without it these refuse rather than act unrecorded.

use super::{text, Done, Outcome};
use crate::app::incidents::{self, Transitioned};
use crate::app::lead::{self, Named};
use crate::app::severity::{self, Changed};
use crate::app::{App, Caller};
use crate::core::commands::{IncidentOp, Invocation, Value};
use crate::core::incident::Request;
use crate::render::{self, Attachment, Message};
use crate::store::StoreError;
use time::OffsetDateTime;

pub(super) async fn run(app: &App, caller: &Caller, inv: &Invocation, op: IncidentOp) -> Done {
    let result = match op {
        IncidentOp::Open => open(app, caller, inv).await,
        IncidentOp::Ack => {
            transition(app, caller, Request::Acknowledge { by: caller.label() }).await
        }
        IncidentOp::Resolve => {
            let summary = text(inv, "summary");
            let by = caller.label();
            transition(app, caller, Request::Resolve { by, summary }).await
        }
        IncidentOp::Status => status(app, caller).await,
        IncidentOp::List => list(app).await,
        IncidentOp::Postmortem => postmortem(app, caller).await,
        IncidentOp::Severity => severity(app, caller, &text(inv, "level")).await,
        IncidentOp::Lead => lead(app, caller, inv).await,
        IncidentOp::FollowupAdd
        | IncidentOp::FollowupDone
        | IncidentOp::FollowupList
        | IncidentOp::Followups => super::followup::run(app, caller, inv, op).await,
    };
    result.unwrap_or_else(|e| {
        tracing::warn!(error = %crate::cause_chain(&e), "incident command hit the database");
        Done::new(
            Message::text(format!(
                "Nothing was recorded: {e}. Diagnosis commands still work."
            )),
            None,
            Outcome::Failed(e.to_string()),
        )
    })
}

fn about(id: i64) -> Option<String> {
    Some(format!("incident #{id}"))
}

async fn open(app: &App, caller: &Caller, inv: &Invocation) -> Result<Done, StoreError> {
    let runbook_id = match inv.args.get("runbook") {
        Some(Value::Text(r)) => r.clone(),
        _ => app.runbooks.first().id().to_string(),
    };
    let Some(rb) = app.runbooks.get(&runbook_id) else {
        return Ok(Done::refused(
            format!("There is no runbook '{runbook_id}'."),
            None,
        ));
    };
    let title = text(inv, "title");
    let now = OffsetDateTime::now_utc();
    let (label, mention) = (caller.label(), caller.mention());
    let how = incidents::How {
        opened_by: &label,
        announced_by: &mention,
        severity: None,
    };
    let opened = incidents::open(app, rb, &title, &how, now).await?;
    let id = opened.incident.id;
    let channel = app.incident_channel();
    Ok(match opened.thread {
        Ok(thread) => Done::new(
            Message::text(format!(
                "Opened incident #{id}: <#{thread}>. Run the runbook's commands in that thread; they are added to its timeline."
            )),
            about(id),
            Outcome::Ok("ok".into()),
        ),
        Err(e) => Done::new(
            Message::text(format!(
                "Opened incident #{id}, but its thread could not be created in <#{channel}> (check the bot's Create Public Threads permission)."
            )),
            about(id),
            Outcome::Ok(format!("ok, without thread: {e}")),
        ),
    })
}

async fn transition(app: &App, caller: &Caller, req: Request) -> Result<Done, StoreError> {
    Ok(
        match incidents::transition(app, caller.channel_id, &req).await? {
            Transitioned::Done { incident, at } => Done::new(
                Message::text(format!(
                    "{}{}",
                    render::incident::transitioned(&incident, &caller.mention(), at),
                    // Resolving offers the runbook's prevention items.
                    if incident.state == crate::core::incident::State::Resolved {
                        render::followups::offer(&crate::app::followups::offered(
                            app,
                            &incident.runbook,
                        ))
                    } else {
                        String::new()
                    }
                )),
                about(incident.id),
                Outcome::Ok(incident.state.as_str().to_string()),
            ),
            Transitioned::Refused { incident, sentence } => {
                Done::refused(sentence, incident.and_then(about))
            }
        },
    )
}

async fn status(app: &App, caller: &Caller) -> Result<Done, StoreError> {
    Ok(
        match incidents::with_timeline(app, caller.channel_id).await? {
            Ok((inc, timeline)) => Done::new(
                Message::embed(render::incident::status(
                    &inc,
                    &timeline,
                    OffsetDateTime::now_utc(),
                )),
                about(inc.id),
                Outcome::Ok("ok".into()),
            ),
            Err(sentence) => Done::refused(sentence, None),
        },
    )
}

async fn list(app: &App) -> Result<Done, StoreError> {
    let (open, recent) = incidents::list(app).await?;
    let text = render::incident::list(&open, &recent, OffsetDateTime::now_utc());
    Ok(Done::new(
        Message::text(text),
        None,
        Outcome::Ok("ok".into()),
    ))
}

async fn postmortem(app: &App, caller: &Caller) -> Result<Done, StoreError> {
    let now = OffsetDateTime::now_utc();
    Ok(
        match incidents::postmortem(app, caller.channel_id, now).await? {
            Ok((inc, md)) => Done::new(
                Message::text(format!("Postmortem of incident #{}: {}", inc.id, inc.title))
                    .with_file(Some(Attachment::new(
                        format!("incident-{}-postmortem.md", inc.id),
                        md.into_bytes(),
                    ))),
                about(inc.id),
                Outcome::Ok("ok".into()),
            ),
            Err(sentence) => Done::refused(sentence, None),
        },
    )
}

async fn severity(app: &App, caller: &Caller, level: &str) -> Result<Done, StoreError> {
    Ok(match severity::set(app, caller, level).await? {
        Changed::Done {
            incident, from, to, ..
        } => Done::new(
            Message::text(format!("Incident #{incident} is now {to} (was {from}).")),
            about(incident),
            Outcome::Ok(format!("severity {level}")),
        ),
        Changed::Refused { incident, sentence } => {
            Done::refused(sentence, incident.and_then(about))
        }
    })
}

async fn lead(app: &App, caller: &Caller, inv: &Invocation) -> Result<Done, StoreError> {
    let Some(Value::User(member)) = inv.args.get("member") else {
        return Ok(Done::refused("Name the member who leads.".into(), None));
    };
    Ok(match lead::name(app, caller, *member).await? {
        Named::Done { incident, before } => Done::new(
            Message::text(match before {
                Some(old) => format!("<@{member}> leads incident #{incident} now (was <@{old}>)."),
                None => format!("<@{member}> leads incident #{incident}."),
            }),
            about(incident),
            Outcome::Ok(format!("lead {member}")),
        ),
        Named::Refused { incident, sentence } => Done::refused(sentence, incident.and_then(about)),
    })
}
