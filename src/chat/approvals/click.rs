//! A click on Approve or Deny: bound to the request's own message, decided
//! by `core::approval::vote` on the stored request, written conditionally
//! on its version. The write that completes the approvals is the execution
//! claim (with the rate limit checked in the same transaction), and the
//! click that wins it executes.

use super::super::handler::Handler;
use super::record::{announce, expire_now, timeline};
use super::run::{action_timeout, execute, time_span};
use super::view::{buttons, parse_custom_id, request_embed};
use crate::chat::outgoing;
use crate::core::approval::{self, RequestState, VoteResult, Voter};
use crate::core::runbook::ActionEffect;
use crate::store::{AuditEntry, Claim, StoredRequest};
use serenity::all::{ComponentInteraction, Context, CreateInteractionResponse};
use time::OffsetDateTime;

/// A click on Approve or Deny.
pub(in crate::chat) async fn click(h: &Handler, ctx: &Context, b: ComponentInteraction) {
    // Acknowledge at once (Discord's 3 s) as a deferred update: the request
    // message is edited below, and refusals follow privately.
    if let Err(e) = b
        .create_response(&ctx.http, CreateInteractionResponse::Acknowledge)
        .await
    {
        // Another instance answering it first is not a failure: that one
        // records the click.
        if crate::chat::reply::already_acknowledged(&e) {
            tracing::info!(interaction = %b.id, "another instance answered this click");
        } else {
            tracing::warn!(error = %e.to_string().replace(&b.token, "[token]"), "could not acknowledge a click");
        }
        return;
    }
    let who = format!("{} (<@{}>)", b.user.name, b.user.id);
    let store = &h.shared.store;
    let audit = |action: String, target: Option<String>, result: String| AuditEntry {
        at: OffsetDateTime::now_utc(),
        actor: who.clone(),
        action,
        target,
        result,
        detail: Some(serde_json::json!({ "custom_id": b.data.custom_id })),
    };
    let found = match parse_custom_id(&b.data.custom_id) {
        Some((id, approve)) => store.request(id).await.map(|r| r.map(|r| (r, approve))),
        None => Ok(None),
    };
    let (mut req, approve) = match found {
        Ok(Some(found)) => found,
        Ok(None) => {
            let sentence =
                "That button does not belong to any request of this bot; nothing was done.";
            ephemeral(ctx, &b, sentence).await;
            h.record(audit(
                "button".into(),
                None,
                format!("refused: unknown button id {:?}", b.data.custom_id),
            ))
            .await;
            return;
        }
        Err(e) => {
            ephemeral(ctx, &b, &format!("Nothing was recorded: {e}.")).await;
            return;
        }
    };
    let action = if approve { "approve" } else { "deny" };
    let target = Some(format!("request #{}", req.rule.id));
    // A click counts only on the message its request was posted in: a
    // button id names a request, and any client can send any id, so the id
    // alone must never decide what runs.
    if let Err(sentence) = bound_to_message(&req, b.channel_id.get(), b.message.id.get()) {
        ephemeral(ctx, &b, &sentence).await;
        h.record(audit(action.into(), target, format!("refused: {sentence}")))
            .await;
        return;
    }
    let roles: Vec<u64> = b
        .member
        .as_ref()
        .map(|m| m.roles.iter().map(|r| r.get()).collect())
        .unwrap_or_default();
    let voter = Voter {
        user_id: b.user.id.get(),
        label: who.clone(),
        is_approver: roles
            .iter()
            .any(|r| h.shared.settings.discord.approver_role_ids.contains(r)),
    };
    let claim = execution_claim(h, &req);
    // Decide on the stored state; write only if nobody changed it since.
    for _ in 0..3 {
        let now = OffsetDateTime::now_utc();
        let (vote, to) = match approval::vote(&req.rule, &voter, approve, now) {
            VoteResult::Refused(sentence) => {
                ephemeral(ctx, &b, &sentence).await;
                h.record(audit(action.into(), target, format!("refused: {sentence}")))
                    .await;
                return;
            }
            VoteResult::Expired => {
                if let Err(e) = expire_now(h, &ctx.http, now).await {
                    tracing::warn!(error = %e, "expiry after a late click failed");
                }
                let sentence = format!("Request #{} expired; make a new request.", req.rule.id);
                ephemeral(ctx, &b, &sentence).await;
                h.record(audit(action.into(), target, format!("refused: {sentence}")))
                    .await;
                return;
            }
            VoteResult::Counted(v) => (v, RequestState::Pending),
            VoteResult::Approved(v) => (v, RequestState::Approved),
            VoteResult::Denied(v) => (v, RequestState::Denied),
        };
        match store
            .record_vote(req.rule.id, req.rule.version, &vote, to, claim.as_ref())
            .await
        {
            Ok(Some(mut updated)) => {
                if to != RequestState::Pending {
                    crate::metrics::global().approval(to.as_str());
                }
                // The clicked message is the request's: edit it in place.
                let show = outgoing::edit()
                    .embed(request_embed(&updated))
                    .components(buttons(&updated));
                if let Err(e) = b
                    .channel_id
                    .edit_message(&ctx.http, b.message.id, show)
                    .await
                {
                    tracing::warn!(error = %e, "could not update the request message");
                }
                h.record(audit(
                    action.into(),
                    target.clone(),
                    updated.rule.state.as_str().into(),
                ))
                .await;
                let verb = if approve { "approved" } else { "denied" };
                timeline(
                    h,
                    &updated,
                    &who,
                    "approval",
                    format!("request #{} {verb}", updated.rule.id),
                )
                .await;
                match updated.rule.state {
                    RequestState::Approved => execute(h, &ctx.http, updated).await,
                    // Approved, but over the rate limit: recorded as
                    // failed in the same write as the vote; say why.
                    RequestState::Failed if to == RequestState::Approved => {
                        let why = updated.outcome.clone().unwrap_or_default();
                        announce(h, &ctx.http, &mut updated, RequestState::Failed, why, now).await;
                    }
                    _ => {}
                }
                return;
            }
            Ok(None) => match store.request(req.rule.id).await {
                Ok(Some(fresh)) => req = fresh,
                _ => break,
            },
            Err(e) => {
                ephemeral(ctx, &b, &format!("Nothing was recorded: {e}.")).await;
                return;
            }
        }
    }
    ephemeral(ctx, &b, "The request is changing right now; try again.").await;
}

/// The claim the approval completing `req` writes: this bot executes it,
/// with the lease, the action's time limit, and its rate limit.
fn execution_claim(h: &Handler, req: &StoredRequest) -> Option<Claim> {
    let effect = &h
        .runbook(&req.runbook)?
        .actions
        .iter()
        .map(|a| a.get_ref())
        .find(|a| a.id == req.action)?
        .effect;
    let settings = &h.shared.settings;
    Some(Claim {
        by: h.shared.instance.clone(),
        lease: time_span(std::time::Duration::from_secs(
            settings.approvals.lease_secs.max(1),
        )),
        timeout: time_span(action_timeout(effect, settings)),
        rate_limit_per_hour: match effect {
            ActionEffect::RestartService {
                rate_limit_per_hour,
                ..
            } => Some(*rate_limit_per_hour),
            _ => None,
        },
    })
}

/// Whether a click on message `message` in `channel` may act on `req`.
fn bound_to_message(req: &StoredRequest, channel: u64, message: u64) -> Result<(), String> {
    match (req.channel_id, req.message_id) {
        (Some(c), Some(m)) if c as u64 == channel && m as u64 == message => Ok(()),
        (_, None) => Err(format!(
            "Request #{}'s message is not recorded yet; try again in a moment. Nothing was done.",
            req.rule.id
        )),
        _ => Err(format!(
            "That button does not belong to request #{}'s message; nothing was done.",
            req.rule.id
        )),
    }
}

/// A private sentence to whoever clicked (after the acknowledgement).
async fn ephemeral(ctx: &Context, b: &ComponentInteraction, sentence: &str) {
    let msg = outgoing::followup_ephemeral(sentence);
    if let Err(e) = b.create_followup(&ctx.http, msg).await {
        tracing::warn!(error = %e.to_string().replace(&b.token, "[token]"), "could not reply to a click");
    }
}
