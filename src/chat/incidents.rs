//! `/incident open|ack|resolve|status|list|postmortem`.
//!
//! The database is the record: an incident is written before its thread is
//! created, and a transition is written (conditionally on the version the
//! decision was made on) before it is announced. Without the database these
//! commands refuse rather than act unrecorded.

use super::handler::Handler;
use super::reply::actor;
use crate::chat::outgoing;
use crate::core::commands::{IncidentOp, Invocation, Value};
use crate::core::incident::{self, decide, Incident, Request, State};
use crate::render;
use crate::store::{NewIncident, StoreError};
use serenity::all::{
    AutoArchiveDuration, ChannelId, CommandInteraction, Context, CreateAttachment, CreateEmbed,
    CreateThread, EditInteractionResponse, Http,
};
use time::OffsetDateTime;

/// What an incident command produced: the reply, and the audit result.
pub(super) struct Done {
    pub reply: EditInteractionResponse,
    pub target: Option<String>,
    pub result: String,
}

impl Done {
    fn refused(sentence: String) -> Done {
        Done {
            reply: outgoing::reply().content(sentence.clone()),
            target: None,
            result: format!("refused: {sentence}"),
        }
    }
}

impl From<StoreError> for Done {
    fn from(e: StoreError) -> Done {
        tracing::warn!(error = %crate::cause_chain(&e), "incident command hit the database");
        Done {
            reply: outgoing::reply().content(format!(
                "Nothing was recorded: {e}. Diagnosis commands still work."
            )),
            target: None,
            result: format!("failed: {e}"),
        }
    }
}

pub(super) async fn run(
    h: &Handler,
    ctx: &Context,
    c: &CommandInteraction,
    inv: &Invocation,
    op: IncidentOp,
) -> Done {
    let result = match op {
        IncidentOp::Open => open(h, ctx, c, inv).await,
        IncidentOp::Ack => transition(h, c, Request::Acknowledge { by: actor(c) }).await,
        IncidentOp::Resolve => {
            let summary = text(inv, "summary");
            transition(
                h,
                c,
                Request::Resolve {
                    by: actor(c),
                    summary,
                },
            )
            .await
        }
        IncidentOp::Status => status(h, c).await,
        IncidentOp::List => list(h).await,
        IncidentOp::Postmortem => postmortem(h, c).await,
    };
    result.unwrap_or_else(Done::from)
}

fn text(inv: &Invocation, name: &str) -> String {
    match inv.args.get(name) {
        Some(Value::Text(s)) => s.clone(),
        _ => String::new(),
    }
}

async fn open(
    h: &Handler,
    ctx: &Context,
    c: &CommandInteraction,
    inv: &Invocation,
) -> Result<Done, StoreError> {
    let runbook_id = match inv.args.get("runbook") {
        Some(Value::Text(r)) => r.clone(),
        _ => h.shared.runbooks[0].id().to_string(),
    };
    let Some(rb) = h.runbook(&runbook_id) else {
        return Ok(Done::refused(format!(
            "There is no runbook '{runbook_id}'."
        )));
    };
    let title = text(inv, "title");
    let by = format!("<@{}>", c.user.id);
    let (inc, thread) = open_with_thread(h, &ctx.http, rb, &title, &actor(c), &by).await?;
    let target = Some(format!("incident #{}", inc.id));
    let channel = h.shared.settings.discord.incident_channel_id;
    Ok(match thread {
        Ok(thread) => Done {
            reply: outgoing::reply().content(format!(
                "Opened incident #{}: <#{thread}>. Run the runbook's commands in that thread; they are added to its timeline.",
                inc.id
            )),
            target,
            result: "ok".into(),
        },
        Err(e) => Done {
            reply: outgoing::reply().content(format!(
                "Opened incident #{}, but its thread could not be created in <#{channel}> (check the bot's Create Public Threads permission).",
                inc.id
            )),
            target,
            result: format!("ok, without thread: {e}"),
        },
    })
}

/// Records an incident (with its escalations, from the runbook in force
/// now), then gives it a thread in the incident channel that starts with
/// the runbook. Used by `/incident open` and by alerts (`opened_by` is then
/// a system actor). The inner result is the thread, or why there is none.
pub(super) async fn open_with_thread(
    h: &Handler,
    http: &Http,
    rb: &crate::core::runbook::Runbook,
    title: &str,
    opened_by: &str,
    announced_by: &str,
) -> Result<(Incident, Result<ChannelId, serenity::Error>), StoreError> {
    let channel = h.shared.settings.discord.incident_channel_id;
    let now = OffsetDateTime::now_utc();
    let rules: Vec<_> = rb.escalations.iter().map(|e| e.get_ref()).collect();
    let inc = h
        .shared
        .store
        .open_incident(&NewIncident {
            runbook: rb.id().to_string(),
            title: title.to_string(),
            severity: format!("{:?}", rb.runbook.severity).to_lowercase(),
            estimated_ttr_minutes: rb.runbook.estimated_ttr_minutes as i32,
            opened_by: opened_by.to_string(),
            opened_at: now,
            channel_id: channel as i64,
            escalations: crate::core::escalation::on_open(&rules, now),
        })
        .await?;
    let announce = outgoing::post().content(format!(
        "**Incident #{}** opened by {announced_by}: {title}",
        inc.id
    ));
    let thread_name: String = format!("#{} {title}", inc.id).chars().take(100).collect();
    let made = async {
        let msg = ChannelId::new(channel).send_message(http, announce).await?;
        let thread = ChannelId::new(channel)
            .create_thread_from_message(
                http,
                msg.id,
                CreateThread::new(thread_name).auto_archive_duration(AutoArchiveDuration::OneDay),
            )
            .await?;
        let card = CreateEmbed::new()
            .title(format!("Runbook: {}", rb.runbook.title))
            .description(render::runbook_checklist(rb))
            .field("Severity", format!("{:?}", rb.runbook.severity), true)
            .field(
                "Estimated time to resolve",
                format!("{} min", rb.runbook.estimated_ttr_minutes),
                true,
            )
            .field("Owner", rb.runbook.owner.clone(), true);
        thread
            .id
            .send_message(http, outgoing::post().embed(card))
            .await?;
        Ok::<_, serenity::Error>(thread.id)
    }
    .await;
    match &made {
        Ok(thread) => {
            h.shared
                .store
                .set_thread(inc.id, thread.get() as i64)
                .await?
        }
        Err(e) => {
            tracing::error!(incident = inc.id, error = %e, "creating the incident thread failed")
        }
    }
    let inc = h.shared.store.incident(inc.id).await?.unwrap_or(inc);
    Ok((inc, made))
}

/// The incident a command is about: the one whose thread it was run in;
/// elsewhere, the only unresolved one.
pub(super) async fn find(
    h: &Handler,
    c: &CommandInteraction,
) -> Result<Result<Incident, String>, StoreError> {
    if let Some(inc) = h
        .shared
        .store
        .incident_by_thread(c.channel_id.get() as i64)
        .await?
    {
        return Ok(Ok(inc));
    }
    let open = h.shared.store.unresolved_incidents().await?;
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

async fn transition(h: &Handler, c: &CommandInteraction, req: Request) -> Result<Done, StoreError> {
    let store = &h.shared.store;
    let mut inc = match find(h, c).await? {
        Ok(inc) => inc,
        Err(sentence) => return Ok(Done::refused(sentence)),
    };
    // Decide on what is stored, write only if nobody changed it meanwhile;
    // if somebody did, decide again on the fresh state.
    for _ in 0..3 {
        let change = match decide(&inc, &req, OffsetDateTime::now_utc()) {
            Ok(change) => change,
            Err(sentence) => {
                let mut done = Done::refused(sentence);
                done.target = Some(format!("incident #{}", inc.id));
                return Ok(done);
            }
        };
        if let Some(now) = store.apply_change(inc.id, inc.version, &change).await? {
            let sentence = match now.state {
                State::Resolved => format!(
                    "Incident #{} resolved by <@{}>: {}. Summary: {}",
                    now.id,
                    c.user.id,
                    incident::time_to_resolve_sentence(&now).unwrap_or_default(),
                    now.resolution.clone().unwrap_or_default()
                ),
                _ => format!(
                    "Incident #{} acknowledged by <@{}>, {} after it opened.",
                    now.id,
                    c.user.id,
                    incident::span(change.at - now.opened_at)
                ),
            };
            return Ok(Done {
                reply: outgoing::reply().content(sentence),
                target: Some(format!("incident #{}", now.id)),
                result: now.state.as_str().to_string(),
            });
        }
        inc = match store.incident(inc.id).await? {
            Some(fresh) => fresh,
            None => return Ok(Done::refused("That incident no longer exists.".into())),
        };
    }
    Ok(Done::refused(format!(
        "Incident #{} is being changed by others right now; try again.",
        inc.id
    )))
}

async fn status(h: &Handler, c: &CommandInteraction) -> Result<Done, StoreError> {
    let inc = match find(h, c).await? {
        Ok(inc) => inc,
        Err(sentence) => return Ok(Done::refused(sentence)),
    };
    let timeline = h.shared.store.timeline(inc.id).await?;
    let now = OffsetDateTime::now_utc();
    let mut embed = CreateEmbed::new()
        .title(format!("Incident #{}: {}", inc.id, inc.title))
        .field("State", inc.state.as_str(), true)
        .field(
            "Opened",
            format!("{} by {}", incident::stamp(inc.opened_at), inc.opened_by),
            true,
        );
    embed = match inc.resolved_at {
        Some(_) => embed.field(
            "Resolved",
            incident::time_to_resolve_sentence(&inc).unwrap_or_default(),
            false,
        ),
        None => embed.field(
            "Open for",
            format!(
                "{} (estimate {} min)",
                incident::span(now - inc.opened_at),
                inc.estimated_ttr_minutes
            ),
            false,
        ),
    };
    if let Some(t) = inc.thread_id {
        embed = embed.field("Thread", format!("<#{t}>"), true);
    }
    let recent: Vec<String> = timeline
        .iter()
        .rev()
        .take(8)
        .rev()
        .map(|e| {
            format!(
                "{} {} {}: {}{}",
                incident::stamp(e.at),
                e.actor,
                e.kind,
                e.summary,
                e.outcome
                    .as_deref()
                    .map(|o| format!(" [{}]", o.to_uppercase()))
                    .unwrap_or_default()
            )
        })
        .collect();
    if !recent.is_empty() {
        embed = embed.field("Timeline (latest)", clip(&recent.join("\n")), false);
    }
    Ok(Done {
        reply: outgoing::reply().embed(embed),
        target: Some(format!("incident #{}", inc.id)),
        result: "ok".into(),
    })
}

async fn list(h: &Handler) -> Result<Done, StoreError> {
    let store = &h.shared.store;
    let open = store.unresolved_incidents().await?;
    let recent = store.recent_incidents(10).await?;
    let now = OffsetDateTime::now_utc();
    let line = |i: &Incident| {
        let thread = i.thread_id.map(|t| format!(" <#{t}>")).unwrap_or_default();
        format!(
            "#{} {} ({}, opened {} ago){thread}",
            i.id,
            i.title,
            i.state.as_str(),
            incident::span(now - i.opened_at)
        )
    };
    let mut text = String::from("**Open**\n");
    if open.is_empty() {
        text.push_str("none\n");
    }
    for i in &open {
        text.push_str(&line(i));
        text.push('\n');
    }
    let resolved: Vec<&Incident> = recent
        .iter()
        .filter(|i| i.state == State::Resolved)
        .collect();
    if !resolved.is_empty() {
        text.push_str("**Recently resolved**\n");
        for i in resolved {
            text.push_str(&line(i));
            text.push('\n');
        }
    }
    Ok(Done {
        reply: outgoing::reply().content(clip(&text)),
        target: None,
        result: "ok".into(),
    })
}

async fn postmortem(h: &Handler, c: &CommandInteraction) -> Result<Done, StoreError> {
    let inc = match find(h, c).await? {
        Ok(inc) => inc,
        Err(sentence) => return Ok(Done::refused(sentence)),
    };
    let timeline = h.shared.store.timeline(inc.id).await?;
    let md = incident::postmortem(&inc, &timeline, OffsetDateTime::now_utc());
    Ok(Done {
        reply: outgoing::reply()
            .content(format!("Postmortem of incident #{}: {}", inc.id, inc.title))
            .new_attachment(CreateAttachment::bytes(
                md.into_bytes(),
                format!("incident-{}-postmortem.md", inc.id),
            )),
        target: Some(format!("incident #{}", inc.id)),
        result: "ok".into(),
    })
}

/// Discord caps message content at 2000 characters and fields at 1024.
fn clip(s: &str) -> String {
    crate::core::text::clip(s, 1000)
}
