//! Executing approved requests: the actions themselves, with the claim
//! kept alive while they run. Recording the outcome is `record.rs`.

use super::super::handler::Handler;
use super::record::finish;
use crate::actions::{describe_closed, execute_close_idle, execute_recreate, execute_restart};
use crate::config::Settings;
use crate::core::approval::RequestState;
use crate::core::incident::stamp;
use crate::core::memory::human_bytes;
use crate::core::runbook::fill_command;
use crate::core::runbook::ActionEffect;
use crate::store::StoredRequest;
use serenity::all::Http;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Runs an approved request (this bot won the claim), then records and
/// posts the outcome with the next runbook step.
pub(super) async fn execute(h: &Handler, http: &Arc<Http>, req: StoredRequest) {
    let claim = keep_claim(h, req.rule.id);
    run(h, http, req).await;
    claim.abort();
}

async fn run(h: &Handler, http: &Arc<Http>, req: StoredRequest) {
    let effect = h
        .runbook(&req.runbook)
        .and_then(|rb| {
            rb.actions
                .iter()
                .map(|a| a.get_ref())
                .find(|a| a.id == req.action)
        })
        .map(|a| a.effect.clone());
    match effect {
        Some(ActionEffect::RestartService {
            stop_timeout_secs, ..
        }) => restart(h, http, req, stop_timeout_secs).await,
        Some(ActionEffect::CloseIdleConnections { include_idle, .. }) => {
            close_idle(h, http, req, include_idle).await
        }
        Some(ActionEffect::RecreateWithCommand {
            command, params, ..
        }) => recreate(h, http, req, &command, &params).await,
        _ => {
            finish(
                h,
                http,
                req,
                RequestState::Failed,
                "the runbook no longer declares this action".into(),
            )
            .await
        }
    }
}

/// Recreates the container an approved request names with the command
/// that was approved, provided the runbook still yields that command.
async fn recreate(
    h: &Handler,
    http: &Arc<Http>,
    req: StoredRequest,
    command: &[String],
    params: &[crate::core::runbook::ActionParam],
) {
    let settings = &h.shared.settings;
    let values: std::collections::BTreeMap<String, i64> =
        serde_json::from_value(req.params["values"].clone()).unwrap_or_default();
    let approved: Vec<String> =
        serde_json::from_value(req.params["command"].clone()).unwrap_or_default();
    match fill_command(command, params, &values) {
        Ok(argv) if argv == approved && !argv.is_empty() => {}
        _ => {
            return finish(
                h,
                http,
                req,
                RequestState::Failed,
                "the runbook's command changed since the request; make a new request".into(),
            )
            .await
        }
    }
    h.audit_bot(
        OffsetDateTime::now_utc(),
        format!("execute {}", req.action),
        Some(format!("request #{} ({})", req.rule.id, req.container_name)),
        "starting".into(),
    )
    .await;
    let result = execute_recreate(
        settings,
        &settings.scope(),
        h.shared.docker_host_env.clone(),
        &req.service,
        &req.container_id,
        approved.clone(),
        RECREATE_STOP_TIMEOUT,
    )
    .await;
    match result {
        Ok(new) => {
            let outcome = format!(
                "{} recreated as {} ({}), {}, running `{}`. Next: /{} status",
                req.container_name,
                new.name,
                new.id.chars().take(12).collect::<String>(),
                if new.running {
                    "running"
                } else {
                    "NOT running"
                },
                approved.join(" "),
                req.runbook
            );
            finish(h, http, req, RequestState::Executed, outcome).await
        }
        Err(e) => {
            tracing::warn!(request = req.rule.id, error = %crate::cause_chain(&e), "recreate failed");
            finish(h, http, req, RequestState::Failed, e.for_chat()).await
        }
    }
}

/// As `docker compose` does: SIGTERM, then SIGKILL after this long.
pub(super) const RECREATE_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Closes the idle sessions an approved request names, by the age that was
/// approved; says exactly which were closed.
async fn close_idle(h: &Handler, http: &Arc<Http>, req: StoredRequest, allowed_idle: bool) {
    let now = OffsetDateTime::now_utc();
    let Some(minutes) = req.params["older_than_minutes"].as_u64() else {
        return finish(
            h,
            http,
            req,
            RequestState::Failed,
            "the request has no age to close by".into(),
        )
        .await;
    };
    // Plain idle sessions only if the runbook (still) allows it.
    let include_idle = allowed_idle && req.params["include_idle"].as_bool().unwrap_or(false);
    h.audit_bot(
        now,
        format!("execute {}", req.action),
        Some(format!("request #{} ({})", req.rule.id, req.container_name)),
        "starting".into(),
    )
    .await;
    let result = execute_close_idle(
        h.shared.app_db.as_ref(),
        Duration::from_secs(h.shared.settings.docker.timeout_secs),
        Duration::from_secs(minutes * 60),
        include_idle,
    )
    .await;
    match result {
        Ok(closed) => {
            let outcome = format!(
                "{}. Next: /{} connections",
                describe_closed(&closed),
                req.runbook
            );
            finish(h, http, req, RequestState::Executed, outcome).await
        }
        Err(e) => {
            tracing::warn!(request = req.rule.id, error = %crate::cause_chain(&e), "closing idle sessions failed");
            let sentence = e.to_string();
            finish(h, http, req, RequestState::Failed, sentence).await
        }
    }
}

/// Restarts the container an approved request names, if it is still the
/// service's (the rate limit was checked with the claim).
async fn restart(h: &Handler, http: &Arc<Http>, req: StoredRequest, stop_timeout_secs: u32) {
    let settings = &h.shared.settings;
    let now = OffsetDateTime::now_utc();
    h.audit_bot(
        now,
        format!("execute {}", req.action),
        Some(format!("request #{} ({})", req.rule.id, req.container_name)),
        "starting".into(),
    )
    .await;
    let result = execute_restart(
        settings,
        &settings.scope(),
        h.shared.docker_host_env.clone(),
        &req.service,
        &req.container_id,
        Duration::from_secs(u64::from(stop_timeout_secs)),
        Duration::from_secs(settings.approvals.settle_secs),
    )
    .await;
    match result {
        Ok(done) => {
            let started = done
                .container
                .started_at
                .map(stamp)
                .unwrap_or_else(|| "unknown".into());
            let memory = done.usage_after.map_or("unknown".into(), human_bytes);
            let outcome = format!(
                "{} {} since {started}; memory {memory} {} s after. Next: /{} verify",
                done.container.name,
                if done.container.running {
                    "running"
                } else {
                    "NOT running"
                },
                settings.approvals.settle_secs,
                req.runbook
            );
            finish(h, http, req, RequestState::Executed, outcome).await
        }
        Err(e) => {
            tracing::warn!(request = req.rule.id, error = %crate::cause_chain(&e), "restart failed");
            finish(h, http, req, RequestState::Failed, e.for_chat()).await
        }
    }
}

/// The longest an action may take, all its bounded steps together: a claim
/// older than twice this is reconciled whatever its lease says.
pub(super) fn action_timeout(effect: &ActionEffect, settings: &Settings) -> Duration {
    let engine = Duration::from_secs(settings.docker.timeout_secs);
    match effect {
        ActionEffect::RestartService {
            stop_timeout_secs, ..
        } => {
            Duration::from_secs(u64::from(*stop_timeout_secs) + settings.approvals.settle_secs)
                + engine * 4
        }
        ActionEffect::RecreateWithCommand { .. } => RECREATE_STOP_TIMEOUT + engine * 6,
        ActionEffect::CloseIdleConnections { .. } => engine * 3,
    }
}

/// Renews this bot's claim on request `id` while it executes, so no other
/// bot reconciles it meanwhile; aborted when execution ends.
fn keep_claim(h: &Handler, id: i64) -> tokio::task::AbortHandle {
    let store = h.shared.store.clone();
    let by = h.shared.instance.clone();
    let lease = Duration::from_secs(h.shared.settings.approvals.lease_secs.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(lease / 3);
        tick.tick().await;
        loop {
            tick.tick().await;
            match store.renew_claim(id, &by, time_span(lease)).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(request = id, "the execution claim was taken over; this bot's outcome will still be recorded");
                    return;
                }
                Err(e) => {
                    tracing::warn!(request = id, error = %e, "the execution claim could not be renewed")
                }
            }
        }
    })
    .abort_handle()
}

pub(super) fn time_span(d: Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}
