//! Action requests in Discord: `/mem restart`, `/mem close-idle` and
//! `/mem restart-workers` post a request (prepared in `prepare.rs`: exactly
//! what it will touch and run) with Approve and Deny buttons. Clicks
//! (`click.rs`) are decided by `core::approval::vote` and written
//! conditionally (the pending → approved write is the execution claim);
//! execution (`run.rs`) keeps its claim alive; outcomes and expiry are
//! recorded in `record.rs`; claims whose executor died are reconciled in
//! `reconcile.rs`.
//!
//! A button's custom id only names the request (`approval:<id>:approve`),
//! and counts only on the message that request was posted in: everything
//! else comes from the database, so buttons keep working after a restart
//! and a forged or misplaced id finds nothing to act on.

mod click;
mod prepare;
mod reconcile;
mod record;
mod run;
mod view;

pub(super) use click::click;
pub(super) use record::expiry_loop;

use super::handler::Handler;
use super::reply::{actor, defer, edit};
use crate::chat::outgoing;
use crate::core::commands::{Invocation, Value};
use crate::core::incident::stamp;
use crate::core::runbook::ActionEffect;
use crate::store::NewRequest;
use prepare::{prepare_close_idle, prepare_recreate, prepare_restart, text_arg, DATABASE_KEY};
use record::timeline;
use serenity::all::{ChannelId, CommandInteraction, Context};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use view::{buttons, request_embed};

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
    if let Err(result) = defer(ctx, c, true, label).await {
        return (target, result);
    }
    let refuse = |sentence: String| {
        let target = target.clone();
        async move {
            edit(ctx, c, outgoing::reply().content(sentence.clone()), label).await;
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
                outgoing::reply().content(format!("No request was made: {e}.")),
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
    let message = outgoing::post()
        .content(format!(
            "Approval needed: {} (request #{})",
            action.title, req.rule.id
        ))
        .embed(request_embed(&req))
        .components(buttons(&req));
    let posted = ChannelId::new(channel)
        .send_message(&ctx.http, message)
        .await;
    let sentence = match posted {
        Ok(msg) => {
            // Clicks count only on the recorded message: a hiccup of the
            // database must not leave the request unclickable.
            let mut recorded = store
                .set_request_message(req.rule.id, channel, msg.id.get())
                .await;
            for _ in 0..3 {
                if recorded.is_ok() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                recorded = store
                    .set_request_message(req.rule.id, channel, msg.id.get())
                    .await;
            }
            if let Err(e) = recorded {
                tracing::error!(request = req.rule.id, error = %crate::cause_chain(&e), "request message not recorded; its buttons will be refused");
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
            tracing::error!(error = %super::reply::redacted(&e, c), "posting the request failed");
            format!(
                "Request #{} was recorded but could not be posted in <#{channel}>.",
                req.rule.id
            )
        }
    };
    edit(ctx, c, outgoing::reply().content(sentence), label).await;
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
