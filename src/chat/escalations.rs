//! Escalations in Discord: the scheduler that delivers due escalations
//! (claimed in the database, so two bots never ping twice), `/oncall` and
//! `/mem escalate`. The OOM watcher (`oom.rs`) schedules the OOM ones.

use super::handler::Handler;
use super::incidents::find;
use super::reply::actor;
use crate::chat::outgoing;
use crate::core::commands::{Invocation, Value};
use crate::core::escalation::{self, Due};
use crate::core::incident::{span, Incident, TimelineEntry};
use crate::store::{Claimed, StoreError};
use serenity::all::{ChannelId, CommandInteraction, EditInteractionResponse, Http};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Delivers due escalations every `every`, for as long as the bot runs.
pub(super) async fn scheduler(h: Arc<Handler>, http: Arc<Http>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    let mut warn = crate::core::throttle::Throttle::per_minute();
    loop {
        tick.tick().await;
        if h.shared.db_ready() {
            if let Err(e) = fire_due(&h, &http).await {
                if let Some(suppressed) = warn.allow(std::time::Instant::now()) {
                    tracing::warn!(error = %e, suppressed, "escalation check failed");
                }
            }
        }
    }
}

async fn fire_due(h: &Handler, http: &Http) -> Result<(), StoreError> {
    let store = &h.shared.store;
    let claimed = store
        .claim_due_escalations(OffsetDateTime::now_utc())
        .await?;
    if claimed.is_empty() {
        return Ok(());
    }
    let roster: BTreeMap<String, u64> = store
        .roster()
        .await
        .unwrap_or_default()
        .into_iter()
        .collect();
    for e in claimed {
        match deliver(h, http, &e, &roster).await {
            Ok(()) => {}
            Err(why) => {
                // Not delivered: put it back so this bot (or another) retries;
                // one failure must not strand the rest of the batch.
                crate::metrics::global().escalation("failed");
                tracing::warn!(escalation = e.id, error = %why, "escalation not delivered; retrying in 30 s");
                let retry = OffsetDateTime::now_utc() + time::Duration::seconds(30);
                if let Err(err) = store.release_escalation(e.id, retry).await {
                    tracing::error!(escalation = e.id, error = %err, "could not release an undelivered escalation");
                }
            }
        }
    }
    Ok(())
}

async fn deliver(
    h: &Handler,
    http: &Http,
    e: &Claimed,
    roster: &BTreeMap<String, u64>,
) -> Result<(), String> {
    let store = &h.shared.store;
    let inc = store
        .incident(e.incident_id)
        .await
        .map_err(|err| err.to_string())?
        .ok_or("the incident is gone")?;
    if inc.state == crate::core::incident::State::Resolved {
        // Claimed just before the incident was resolved: nobody needs it.
        store
            .cancel_escalation(e.id)
            .await
            .map_err(|err| err.to_string())?;
        tracing::info!(
            incident = inc.id,
            "escalation dropped: the incident is resolved"
        );
        return Ok(());
    }
    let title = h
        .runbook(&inc.runbook)
        .and_then(|rb| {
            rb.roster_roles
                .iter()
                .map(|r| r.get_ref())
                .find(|r| r.id == e.target)
        })
        .map_or(e.target.clone(), |r| r.title.clone());
    let discord = &h.shared.settings.discord;
    let m = escalation::mention(
        &title,
        roster.get(&e.target).copied(),
        discord.roster_role_ids.get(&e.target).copied(),
        &discord.oncall_role_ids,
    );
    let mut text = format!(
        "**Escalation** of incident #{}: {}\n{}: {}",
        inc.id, inc.title, m.text, e.text
    );
    if let Some(reason) = &e.reason {
        text.push_str(&format!("\nWhy: {reason}"));
    }
    text.push_str(&format!("\n{}", summary(h, &inc, e.fired_at).await));
    if let Some(late) = escalation::lateness(e.due_at, e.fired_at) {
        text.push_str(&format!("\n(This escalation is {late}.)"));
    }
    let channel = inc.thread_id.unwrap_or(inc.channel_id) as u64;
    // Exactly the escalation's targets are notified; the incident's title
    // and the reason are people's text and notify nobody.
    let message = outgoing::ping(&text, &m.users, &m.roles);
    if let Err(first) = ChannelId::new(channel)
        .send_message(http, message.clone())
        .await
    {
        // A deleted or locked thread must not silence the escalation: the
        // incident channel gets it instead.
        tracing::warn!(incident = inc.id, error = %first, "escalation not posted in the thread; trying the incident channel");
        ChannelId::new(inc.channel_id as u64)
            .send_message(http, message)
            .await
            .map_err(|err| err.to_string())?;
    }
    if let Err(err) = store.mark_delivered(e.id).await {
        tracing::warn!(escalation = e.id, error = %err, "delivery not confirmed; another bot may repeat it after the lease");
    }
    let late_ms = (e.fired_at - e.due_at).whole_milliseconds();
    crate::metrics::global().escalation("fired");
    tracing::info!(incident = inc.id, target = %e.target, late_ms, "escalation delivered");
    h.audit_bot(
        e.fired_at,
        "escalate".into(),
        Some(format!("incident #{}", inc.id)),
        format!("pinged {} ({late_ms} ms after due)", e.target),
    )
    .await;
    let line = TimelineEntry {
        at: e.fired_at,
        actor: "incident-bot".into(),
        kind: "escalation".into(),
        summary: format!("escalated to {title}: {}", e.text),
        outcome: None,
        link: None,
    };
    if let Err(err) = store.append_timeline(inc.id, &line).await {
        tracing::warn!(error = %err, "timeline entry not recorded");
    }
    Ok(())
}

/// How long, the last verdicts, actions, open requests: what the person
/// pinged needs first.
async fn summary(h: &Handler, inc: &Incident, now: OffsetDateTime) -> String {
    let mut out = format!(
        "Open for {} (estimate {} min), {}.",
        span(now - inc.opened_at),
        inc.estimated_ttr_minutes,
        inc.state.as_str()
    );
    if let Ok(timeline) = h.shared.store.timeline(inc.id).await {
        let verdicts: Vec<String> = timeline
            .iter()
            .filter(|e| e.kind == "diagnosis")
            .rev()
            .take(3)
            .map(|e| {
                e.summary.clone()
                    + &e.outcome
                        .as_deref()
                        .map(|o| format!(" [{}]", o.to_uppercase()))
                        .unwrap_or_default()
            })
            .collect();
        let actions: Vec<&str> = timeline
            .iter()
            .filter(|e| e.kind == "action")
            .map(|e| e.summary.as_str())
            .collect();
        out.push_str(&format!(
            "\nLast verdicts: {}\nActions: {}",
            if verdicts.is_empty() {
                "none yet".into()
            } else {
                verdicts.join("; ")
            },
            if actions.is_empty() {
                "none yet".into()
            } else {
                actions.join("; ")
            }
        ));
    }
    if let Ok(open) = h.shared.store.pending_requests(inc.id).await {
        out.push_str(&format!("\nOpen requests: {open}"));
    }
    out
}

/// `/mem escalate reason:<…>`: the next roster role up, at once.
pub(super) async fn manual(
    h: &Handler,
    c: &CommandInteraction,
    inv: &Invocation,
) -> Result<(EditInteractionResponse, Option<String>, String), StoreError> {
    let inc = match find(h, c).await? {
        Ok(inc) => inc,
        Err(sentence) => {
            return Ok((
                outgoing::reply().content(sentence.clone()),
                None,
                format!("refused: {sentence}"),
            ))
        }
    };
    if inc.state == crate::core::incident::State::Resolved {
        let sentence = format!(
            "Incident #{} is resolved; open a new incident to escalate.",
            inc.id
        );
        return Ok((
            outgoing::reply().content(sentence.clone()),
            Some(format!("incident #{}", inc.id)),
            format!("refused: {sentence}"),
        ));
    }
    let reason = match inv.args.get("reason") {
        Some(Value::Text(r)) => r.clone(),
        _ => String::new(),
    };
    let ladder: Vec<_> = h
        .runbook(&inc.runbook)
        .map(|rb| {
            rb.roster_roles
                .iter()
                .map(|r| r.get_ref().clone())
                .collect()
        })
        .unwrap_or_default();
    let pinged = h.shared.store.pinged_roles(inc.id).await?;
    let Some(next) = escalation::next_level(&ladder, &pinged) else {
        let sentence = "This incident's runbook has no roster roles to escalate to.".to_string();
        return Ok((
            outgoing::reply().content(sentence.clone()),
            None,
            format!("refused: {sentence}"),
        ));
    };
    let due = Due {
        rule: "manual".into(),
        target: next.id.clone(),
        due_at: OffsetDateTime::now_utc(),
        text: format!("escalated by hand by {}", actor(c)),
    };
    h.shared
        .store
        .schedule_escalations(inc.id, &[due], Some(&reason))
        .await?;
    Ok((
        outgoing::reply().content(format!(
            "Escalating incident #{} to the {}; the ping follows in its thread.",
            inc.id, next.title
        )),
        Some(format!("incident #{}", inc.id)),
        format!("escalated to {}", next.id),
    ))
}

/// `/oncall` and `/oncall set role:<…> member:<…>`.
pub(super) async fn oncall(
    h: &Handler,
    c: &CommandInteraction,
    inv: &Invocation,
    set: bool,
) -> Result<(EditInteractionResponse, String), StoreError> {
    let store = &h.shared.store;
    if set {
        let (Some(Value::Text(role)), Some(Value::User(user))) =
            (inv.args.get("role"), inv.args.get("member"))
        else {
            return Ok((
                outgoing::reply().content("Give a role and a member."),
                "refused".into(),
            ));
        };
        store
            .set_roster(role, *user, &actor(c), OffsetDateTime::now_utc(), false)
            .await?;
        return Ok((
            outgoing::reply().content(format!("<@{user}> is now {role} on the roster.")),
            format!("set {role} = {user}"),
        ));
    }
    let roster: BTreeMap<String, u64> = store.roster().await?.into_iter().collect();
    let mut lines = Vec::new();
    let mut seen = Vec::new();
    for rb in &h.shared.runbooks {
        for role in rb.roster_roles.iter().map(|r| r.get_ref()) {
            if seen.contains(&role.id) {
                continue;
            }
            seen.push(role.id.clone());
            let who = roster
                .get(&role.id)
                .map_or("nobody".to_string(), |u| format!("<@{u}>"));
            lines.push(format!("{}: {who}", role.title));
        }
    }
    Ok((outgoing::reply().content(lines.join("\n")), "ok".into()))
}
