//! Action requests in Discord: `/mem restart`, `/mem close-idle` and
//! `/mem restart-workers` post a request (prepared in `prepare.rs`: exactly
//! what it will touch and run) with Approve and Deny buttons; clicks are decided by `core::approval::vote` and
//! written conditionally (the pending → approved write is the execution
//! claim); expiry runs in the background.
//!
//! A button's custom id only names the request (`approval:<id>:approve`);
//! everything else comes from the database, so buttons keep working after a
//! restart and a forged id finds nothing to act on.

mod prepare;
mod run;
mod view;

pub(super) use run::expiry_loop;

use super::handler::{actor, defer, edit, Handler};
use crate::core::approval::{self, RequestState, VoteResult, Voter};
use crate::core::commands::{Invocation, Value};
use crate::core::incident::stamp;
use crate::core::runbook::ActionEffect;
use crate::store::{AuditEntry, NewRequest};
use prepare::{prepare_close_idle, prepare_recreate, prepare_restart, text_arg, DATABASE_KEY};
use run::{execute, expire_now, timeline};
use serenity::all::{
    ChannelId, CommandInteraction, ComponentInteraction, Context, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateMessage, EditInteractionResponse, EditMessage,
};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use view::{buttons, parse_custom_id, request_embed};

/// `/mem restart service:<…> reason:<…>`: records and posts a request.
/// Returns the audit target and result.
pub(super) async fn request(
    h: &Handler,
    ctx: &Context,
    c: &CommandInteraction,
    inv: &Invocation,
    action_id: &str,
    label: &str,
) -> (Option<String>, String) {
    let Some(action) = h.runbook(&inv.runbook).and_then(|rb| {
        rb.actions
            .iter()
            .map(|a| a.get_ref())
            .find(|a| a.id == action_id)
    }) else {
        return (None, "failed: action not loaded".into());
    };
    // Who or what the request is about: the one open request per action
    // and key is enforced by the database.
    let key = match &action.effect {
        ActionEffect::RestartService { .. } => text_arg(inv, "service"),
        ActionEffect::CloseIdleConnections { .. } => DATABASE_KEY.to_string(),
        ActionEffect::RecreateWithCommand { service, .. } => service.clone(),
    };
    let reason = text_arg(inv, "reason");
    let store = &h.shared.store;
    let now = OffsetDateTime::now_utc();
    let target = Some(match &action.effect {
        ActionEffect::CloseIdleConnections { .. } => "the application's database".to_string(),
        _ => format!("service {key}"),
    });
    // Acknowledge before any I/O (Discord's 3 s). The reply is private: a
    // refusal concerns the requester, and the request itself is posted
    // for everyone.
    if !defer(ctx, c, true, label).await {
        return (target, "failed: could not acknowledge".into());
    }
    let refuse = |sentence: String| {
        let target = target.clone();
        async move {
            edit(
                ctx,
                c,
                EditInteractionResponse::new().content(sentence.clone()),
                label,
            )
            .await;
            (target, format!("refused: {sentence}"))
        }
    };
    match store.open_request(action_id, &key).await {
        Ok(Some(open)) => {
            return refuse(format!(
                "Request #{open} for {key} is still open; approve or deny it rather than asking twice."
            ))
            .await;
        }
        Ok(None) => {}
        Err(e) => return refuse(format!("Nothing was requested: {e}.")).await,
    }
    let prepared = match &action.effect {
        ActionEffect::RestartService {
            rate_limit_per_hour,
            ..
        } => prepare_restart(h, action_id, &key, *rate_limit_per_hour, now).await,
        ActionEffect::CloseIdleConnections {
            default_older_than_minutes,
            include_idle,
        } => {
            let minutes = match inv.args.get("older_than") {
                Some(Value::Integer(n)) => u32::try_from(*n).unwrap_or(*default_older_than_minutes),
                _ => *default_older_than_minutes,
            };
            prepare_close_idle(h, minutes, *include_idle).await
        }
        ActionEffect::RecreateWithCommand {
            service,
            command,
            params,
        } => {
            let values: BTreeMap<String, i64> = params
                .iter()
                .filter_map(|p| match inv.args.get(&p.name) {
                    Some(Value::Integer(n)) => Some((p.name.clone(), *n)),
                    _ => None,
                })
                .collect();
            prepare_recreate(h, service, command, params, values, now).await
        }
    };
    let p = match prepared {
        Ok(p) => p,
        Err(sentence) => {
            tracing::info!(command = %label, refusal = %sentence, "no request made");
            return refuse(sentence).await;
        }
    };
    let incident = super::incidents::find(h, c).await.ok().and_then(Result::ok);
    let stored = store
        .create_request(&NewRequest {
            runbook: inv.runbook.clone(),
            action: action.id.clone(),
            service: key.clone(),
            container_id: p.container_id,
            container_name: p.container_name,
            target_summary: p.summary,
            reason: reason.clone(),
            requested_by: c.user.id.get(),
            requested_by_label: actor(c),
            requested_at: now,
            expires_at: now + time::Duration::minutes(i64::from(action.expires_minutes)),
            approvals_needed: action.approvals,
            incident_id: incident.as_ref().map(|i| i.id),
            title: p.title.clone(),
            params: p.params,
        })
        .await;
    if stored.is_ok() {
        crate::metrics::global().approval("requested");
    }
    let req = match stored {
        Ok(req) => req,
        Err(e) => {
            edit(
                ctx,
                c,
                EditInteractionResponse::new().content(format!("No request was made: {e}.")),
                label,
            )
            .await;
            return (target, format!("failed: {e}"));
        }
    };
    // In the incident's thread when there is one, else the incident channel.
    let channel = incident
        .as_ref()
        .and_then(|i| i.thread_id)
        .map_or(h.shared.settings.discord.incident_channel_id, |t| t as u64);
    let message = CreateMessage::new()
        .content(format!(
            "Approval needed: {} (request #{})",
            action.title, req.rule.id
        ))
        .embed(request_embed(&req))
        .components(buttons(&req))
        .allowed_mentions(serenity::all::CreateAllowedMentions::new());
    let posted = ChannelId::new(channel)
        .send_message(&ctx.http, message)
        .await;
    let sentence = match posted {
        Ok(msg) => {
            if let Err(e) = store
                .set_request_message(req.rule.id, channel, msg.id.get())
                .await
            {
                tracing::warn!(error = %e, "request message not recorded");
            }
            format!(
                "Request #{} to {} is waiting for {} approval(s) from someone else, until {}: {}",
                req.rule.id,
                p.title,
                req.rule.approvals_needed,
                stamp(req.rule.expires_at),
                msg.link()
            )
        }
        Err(e) => {
            tracing::error!(error = %super::handler::redacted(&e, c), "posting the request failed");
            format!(
                "Request #{} was recorded but could not be posted in <#{channel}>.",
                req.rule.id
            )
        }
    };
    edit(
        ctx,
        c,
        EditInteractionResponse::new().content(sentence),
        label,
    )
    .await;
    timeline(
        h,
        &req,
        &actor(c),
        "action",
        format!("{} requested: {reason}", p.title),
    )
    .await;
    (
        Some(format!("request #{}", req.rule.id)),
        "requested".into(),
    )
}

/// A click on Approve or Deny.
pub(super) async fn click(h: &Handler, ctx: &Context, b: ComponentInteraction) {
    // Acknowledge at once (Discord's 3 s) as a deferred update: the request
    // message is edited below, and refusals follow privately.
    if let Err(e) = b
        .create_response(&ctx.http, CreateInteractionResponse::Acknowledge)
        .await
    {
        tracing::warn!(error = %e.to_string().replace(&b.token, "[token]"), "could not acknowledge a click");
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
                expire_now(h, &ctx.http, now).await;
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
            .record_vote(req.rule.id, req.rule.version, &vote, to)
            .await
        {
            Ok(Some(updated)) => {
                if to != RequestState::Pending {
                    crate::metrics::global().approval(to.as_str());
                }
                // The clicked message is the request's: edit it in place.
                let show = EditMessage::new()
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
                if updated.rule.state == RequestState::Approved {
                    execute(h, &ctx.http, updated).await;
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

/// A private sentence to whoever clicked (after the acknowledgement).
async fn ephemeral(ctx: &Context, b: &ComponentInteraction, sentence: &str) {
    let msg = CreateInteractionResponseFollowup::new()
        .content(sentence)
        .ephemeral(true);
    if let Err(e) = b.create_followup(&ctx.http, msg).await {
        tracing::warn!(error = %e.to_string().replace(&b.token, "[token]"), "could not reply to a click");
    }
}
