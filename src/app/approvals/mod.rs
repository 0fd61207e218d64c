//! Two-person approval of every state change: `/mem restart`, `/mem
//! close-idle` and `/mem restart-workers` make a request (prepared in
//! `prepare.rs`: exactly what it will touch and run) and post it with
//! Approve and Deny buttons. Votes (`vote.rs`) are decided by
//! `core::approval::vote` and written conditionally (the pending →
//! approved write is the execution claim); execution (`execute.rs`) keeps
//! its claim alive; outcomes and expiry are recorded in `record.rs`;
//! claims whose executor died are reconciled in `reconcile.rs`; the sweep
//! ([`sweep`]) expires and reconciles.
//!
//! A button's id only names the request (`approval:<id>:approve`), and
//! counts only on the message that request was posted in: everything else
//! comes from the database, so buttons keep working after a restart and a
//! forged or misplaced id finds nothing to act on.

mod execute;
mod fleet_target;
mod jobs;
mod prepare;
mod reconcile;
mod record;
mod view;
mod vote;

pub use jobs::jobs;
pub use vote::click;

use super::port::Posted;
use super::{App, Caller};
use crate::core::commands::{Invocation, Value};
use crate::core::runbook::ActionEffect;
use crate::store::{NewRequest, StoreError, StoredRequest};
use prepare::{prepare_close_idle, prepare_recreate, prepare_restart, text_arg, DATABASE_KEY};
use record::timeline;
use std::collections::BTreeMap;
use time::OffsetDateTime;
use view::request_message;

/// What asking for an action came to.
pub enum Requested {
    /// Not made: the sentence says why (still open, over the rate limit,
    /// no such container, nothing to close, …).
    Refused {
        target: Option<String>,
        sentence: String,
    },
    /// Not made: the database or the request could not be recorded.
    Failed {
        target: Option<String>,
        error: String,
    },
    /// Recorded, and posted where `posted` says (or in `channel` it could
    /// not be posted).
    Made {
        request: Box<StoredRequest>,
        /// "restart web", "close 3 idle database sessions older than 10 min".
        title: String,
        posted: Result<Posted, u64>,
    },
}

/// Records a request for action `action_id` as `caller` asked it, and
/// posts it for approval: in the incident's thread when there is one, else
/// in the incident channel.
pub async fn request(
    app: &App,
    caller: &Caller,
    inv: &Invocation,
    action_id: &str,
    now: OffsetDateTime,
) -> Requested {
    let Some(action) = app.runbooks.action(&inv.runbook, action_id) else {
        return Requested::Failed {
            target: None,
            error: "the runbook no longer declares this action".into(),
        };
    };
    let (key, target) = about(&action.effect, inv);
    let reason = text_arg(inv, "reason");
    let p = match prepare(app, inv, action_id, &action.effect, &key, now).await {
        Ok(p) => p,
        Err(sentence) => {
            tracing::info!(action = action_id, refusal = %sentence, "no request made");
            return Requested::Refused { target, sentence };
        }
    };
    let incident = super::incidents::find(app, caller.channel_id)
        .await
        .ok()
        .and_then(Result::ok);
    let stored = app
        .store
        .create_request(&NewRequest {
            runbook: inv.runbook.clone(),
            action: action.id.clone(),
            service: key.clone(),
            container_id: p.container_id,
            container_name: p.container_name,
            target_summary: p.summary,
            reason: reason.clone(),
            requested_by: caller.user_id,
            requested_by_label: caller.label(),
            requested_at: now,
            expires_at: now + time::Duration::minutes(i64::from(action.expires_minutes)),
            approvals_needed: action.approvals,
            incident_id: incident.as_ref().map(|i| i.id),
            title: p.title.clone(),
            params: p.params,
            node: p.node,
        })
        .await;
    let req = match stored {
        Ok(req) => req,
        Err(e) => {
            return Requested::Failed {
                target,
                error: e.to_string(),
            }
        }
    };
    crate::metrics::global().approval("requested");
    let channel = incident
        .as_ref()
        .and_then(|i| i.thread_id)
        .map_or(app.incident_channel(), |t| t as u64);
    let posted = post(app, &req, &action.title, channel).await;
    timeline(
        app,
        &req,
        &caller.label(),
        "action",
        format!("{} requested: {reason}", p.title),
    )
    .await;
    Requested::Made {
        request: Box::new(req),
        title: p.title,
        posted,
    }
}

/// Who or what a request is about: its key (the one open request per
/// action and key is enforced by the database) and its audit target.
fn about(effect: &ActionEffect, inv: &Invocation) -> (String, Option<String>) {
    let key = match effect {
        ActionEffect::RestartService { .. } => text_arg(inv, "service"),
        ActionEffect::CloseIdleConnections { .. } => DATABASE_KEY.to_string(),
        ActionEffect::RecreateWithCommand { service, .. } => service.clone(),
    };
    let target = match effect {
        ActionEffect::CloseIdleConnections { .. } => "the application's database".to_string(),
        _ => format!("service {key}"),
    };
    (key, Some(target))
}

/// What the request is about, prepared for approvers (the container, the
/// sessions, the exact command), unless one is open for it already; `Err`
/// is the sentence for the requester.
async fn prepare(
    app: &App,
    inv: &Invocation,
    action_id: &str,
    effect: &ActionEffect,
    key: &str,
    now: OffsetDateTime,
) -> Result<prepare::Prepared, String> {
    match app.store.open_request(action_id, key).await {
        Ok(Some(open)) => {
            return Err(format!(
            "Request #{open} for {key} is still open; approve or deny it rather than asking twice."
        ))
        }
        Ok(None) => {}
        Err(e) => return Err(format!("Nothing was requested: {e}.")),
    }
    match effect {
        ActionEffect::RestartService {
            rate_limit_per_hour,
            ..
        } => prepare_restart(app, inv, action_id, key, *rate_limit_per_hour, now).await,
        ActionEffect::CloseIdleConnections {
            default_older_than_minutes,
            include_idle,
        } => {
            let minutes = match inv.args.get("older_than") {
                Some(Value::Integer(n)) => u32::try_from(*n).unwrap_or(*default_older_than_minutes),
                _ => *default_older_than_minutes,
            };
            prepare_close_idle(app, minutes, *include_idle).await
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
            prepare_recreate(app, inv, service, command, params, values, now).await
        }
    }
}

/// Posts the request message and records where it is: clicks count only
/// on that message.
async fn post(
    app: &App,
    req: &StoredRequest,
    action_title: &str,
    channel: u64,
) -> Result<Posted, u64> {
    let message = request_message(req).with_content(format!(
        "Approval needed: {action_title} (request #{})",
        req.rule.id
    ));
    let posted = match app.chat.post(channel, &message).await {
        Ok(posted) => posted,
        Err(e) => {
            tracing::error!(request = req.rule.id, error = %e, "posting the request failed");
            return Err(channel);
        }
    };
    // A hiccup of the database must not leave the request unclickable.
    let mut recorded = app
        .store
        .set_request_message(req.rule.id, channel, posted.message_id)
        .await;
    for _ in 0..3 {
        if recorded.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        recorded = app
            .store
            .set_request_message(req.rule.id, channel, posted.message_id)
            .await;
    }
    if let Err(e) = recorded {
        tracing::error!(request = req.rule.id, error = %crate::cause_chain(&e), "request message not recorded; its buttons will be refused");
    }
    Ok(posted)
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Pending requests past their expiry, and approved jobs their node
    /// did not claim in time.
    pub expired: usize,
    /// Claims whose executor was gone, settled as executed, failed or
    /// unknown.
    pub reconciled: usize,
}

/// Expires requests due at `now`, reconciles claims whose executor is
/// gone, and forgets old interaction claims (on start, and then every
/// `approvals.expiry_check_secs`).
pub async fn sweep(app: &App, now: OffsetDateTime) -> Result<Swept, StoreError> {
    let expired = record::expire_now(app, now).await? + jobs::abandoned(app).await?;
    let reconciled = reconcile::reconcile_stale(app, now).await?;
    // Claims of interactions are needed only while a replay could still
    // pass the endpoint's five-minute timestamp check.
    if app.settings.fleet.enabled
        || app.settings.fleet.interactions != crate::config::Interactions::Gateway
    {
        app.store
            .prune_interactions(now - time::Duration::minutes(15))
            .await?;
    }
    Ok(Swept {
        expired,
        reconciled,
    })
}
