//! The runbook's escalation rules at work: delivering due escalations
//! (claimed in the database, so two bots never ping twice, and confirmed
//! only after the ping is posted), escalating by hand to the next roster
//! role, and the on-call roster. The OOM-downtime escalation is scheduled
//! by `oom`; the one-hour rule when an incident opens.

use super::{App, Caller};
use crate::core::escalation::{self, Due};
use crate::core::incident::{span, Incident, State, TimelineEntry};
use crate::render::Message;
use crate::store::{Claimed, StoreError};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// What one delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    pub delivered: usize,
    /// Not posted: released for a retry 30 s later.
    pub failed: usize,
}

/// Delivers every escalation due at `now`. One failure does not strand the
/// rest: an undelivered one is put back for this bot (or another) to retry.
pub async fn tick(app: &App, now: OffsetDateTime) -> Result<Delivered, StoreError> {
    let store = &app.store;
    let claimed = store.claim_due_escalations(now).await?;
    let mut done = Delivered::default();
    if claimed.is_empty() {
        return Ok(done);
    }
    let roster: BTreeMap<String, u64> = store
        .roster()
        .await
        .unwrap_or_default()
        .into_iter()
        .collect();
    for e in claimed {
        match deliver(app, &e, &roster).await {
            Ok(()) => done.delivered += 1,
            Err(why) => {
                done.failed += 1;
                crate::metrics::global().escalation("failed");
                tracing::warn!(escalation = e.id, error = %why, "escalation not delivered; retrying in 30 s");
                let retry = OffsetDateTime::now_utc() + time::Duration::seconds(30);
                if let Err(err) = store.release_escalation(e.id, retry).await {
                    tracing::error!(escalation = e.id, error = %err, "could not release an undelivered escalation");
                }
            }
        }
    }
    Ok(done)
}

async fn deliver(app: &App, e: &Claimed, roster: &BTreeMap<String, u64>) -> Result<(), String> {
    let store = &app.store;
    let inc = store
        .incident(e.incident_id)
        .await
        .map_err(|err| err.to_string())?
        .ok_or("the incident is gone")?;
    if inc.state == State::Resolved {
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
    let title = app
        .runbooks
        .get(&inc.runbook)
        .map_or(e.target.clone(), |rb| rb.role_title(&e.target));
    let discord = &app.settings.discord;
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
    text.push_str(&format!("\n{}", summary(app, &inc, e.fired_at).await));
    if let Some(late) = escalation::lateness(e.due_at, e.fired_at) {
        text.push_str(&format!("\n(This escalation is {late}.)"));
    }
    let channel = inc.thread_id.unwrap_or(inc.channel_id) as u64;
    // Exactly the escalation's targets are notified; the incident's title
    // and the reason are people's text and notify nobody.
    let message = Message::ping(text, &m.users, &m.roles);
    if let Err(first) = app.chat.post(channel, &message).await {
        // A deleted or locked thread must not silence the escalation: the
        // incident channel gets it instead.
        tracing::warn!(incident = inc.id, error = %first, "escalation not posted in the thread; trying the incident channel");
        app.chat
            .post(inc.channel_id as u64, &message)
            .await
            .map_err(|err| err.to_string())?;
    }
    delivered(app, e, &inc, &title).await;
    Ok(())
}

/// Confirms a posted escalation (so no other bot repeats it after the
/// lease) and records it: metrics, the audit log, the timeline.
async fn delivered(app: &App, e: &Claimed, inc: &Incident, title: &str) {
    if let Err(err) = app.store.mark_delivered(e.id).await {
        tracing::warn!(escalation = e.id, error = %err, "delivery not confirmed; another bot may repeat it after the lease");
    }
    let late_ms = (e.fired_at - e.due_at).whole_milliseconds();
    crate::metrics::global().escalation("fired");
    tracing::info!(incident = inc.id, target = %e.target, late_ms, "escalation delivered");
    app.audit_bot(
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
    app.timeline(inc.id, &line).await;
}

/// How long, the last verdicts, actions, open requests: what the person
/// pinged needs first.
async fn summary(app: &App, inc: &Incident, now: OffsetDateTime) -> String {
    let mut out = format!(
        "Open for {} (estimate {} min), {}.",
        span(now - inc.opened_at),
        inc.estimated_ttr_minutes,
        inc.state.as_str()
    );
    if let Ok(timeline) = app.store.timeline(inc.id).await {
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
        let or_none = |v: String| if v.is_empty() { "none yet".into() } else { v };
        out.push_str(&format!(
            "\nLast verdicts: {}\nActions: {}",
            or_none(verdicts.join("; ")),
            or_none(actions.join("; "))
        ));
    }
    if let Ok(open) = app.store.pending_requests(inc.id).await {
        out.push_str(&format!("\nOpen requests: {open}"));
    }
    out
}

/// What `/mem escalate` came to.
pub enum Escalated {
    Refused {
        incident: Option<i64>,
        sentence: String,
    },
    /// Scheduled at once; the ping follows from [`tick`].
    Scheduled {
        incident: i64,
        role: String,
        title: String,
    },
}

/// Escalates the incident of the caller's channel by hand to the next
/// roster role above everyone already pinged, at once.
pub async fn manual(app: &App, caller: &Caller, reason: &str) -> Result<Escalated, StoreError> {
    let inc = match super::incidents::find(app, caller.channel_id).await? {
        Ok(inc) => inc,
        Err(sentence) => {
            return Ok(Escalated::Refused {
                incident: None,
                sentence,
            })
        }
    };
    if inc.state == State::Resolved {
        return Ok(Escalated::Refused {
            incident: Some(inc.id),
            sentence: format!(
                "Incident #{} is resolved; open a new incident to escalate.",
                inc.id
            ),
        });
    }
    let ladder: Vec<_> = app
        .runbooks
        .get(&inc.runbook)
        .map(|rb| {
            rb.roster_roles
                .iter()
                .map(|r| r.get_ref().clone())
                .collect()
        })
        .unwrap_or_default();
    let pinged = app.store.pinged_roles(inc.id).await?;
    let Some(next) = escalation::next_level(&ladder, &pinged) else {
        return Ok(Escalated::Refused {
            incident: None,
            sentence: "This incident's runbook has no roster roles to escalate to.".into(),
        });
    };
    let due = Due {
        rule: "manual".into(),
        target: next.id.clone(),
        due_at: OffsetDateTime::now_utc(),
        text: format!("escalated by hand by {}", caller.label()),
    };
    app.store
        .schedule_escalations(inc.id, &[due], Some(reason))
        .await?;
    Ok(Escalated::Scheduled {
        incident: inc.id,
        role: next.id.clone(),
        title: next.title.clone(),
    })
}

/// The roster: each role any runbook declares, with who holds it.
pub async fn roster(app: &App) -> Result<Vec<(String, Option<u64>)>, StoreError> {
    let held: BTreeMap<String, u64> = app.store.roster().await?.into_iter().collect();
    let mut lines = Vec::new();
    let mut seen = Vec::new();
    for rb in app.runbooks.all() {
        for role in rb.roster_roles.iter().map(|r| r.get_ref()) {
            if seen.contains(&role.id) {
                continue;
            }
            seen.push(role.id.clone());
            lines.push((role.title.clone(), held.get(&role.id).copied()));
        }
    }
    Ok(lines)
}

/// Puts `user` on the roster as `role`, recorded as set by `caller`.
pub async fn set_roster(
    app: &App,
    caller: &Caller,
    role: &str,
    user: u64,
) -> Result<(), StoreError> {
    app.store
        .set_roster(
            role,
            user,
            &caller.label(),
            OffsetDateTime::now_utc(),
            false,
        )
        .await
}
