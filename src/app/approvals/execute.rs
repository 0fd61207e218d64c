//! Executing approved requests: the actions themselves, with the claim
//! kept alive while they run. Recording the outcome is `record.rs`.
//!
//! Reached only from the vote whose database write moved the request from
//! pending to approved (one write can win).

use super::record::finish;
use crate::app::actions::{describe_closed, execute_close_idle, execute_recreate, execute_restart};
use crate::app::App;
use crate::config::Settings;
use crate::core::approval::RequestState;
use crate::core::incident::stamp;
use crate::core::memory::human_bytes;
use crate::core::runbook::fill_command;
use crate::core::runbook::ActionEffect;
use crate::store::StoredRequest;
use std::time::Duration;
use time::OffsetDateTime;

/// Runs an approved request (this bot won the claim), then records and
/// posts the outcome with the next runbook step.
pub(super) async fn execute(app: &App, req: StoredRequest) {
    let claim = keep_claim(app, req.rule.id);
    run(app, req).await;
    claim.abort();
}

async fn run(app: &App, req: StoredRequest) {
    let effect = app
        .runbooks
        .action(&req.runbook, &req.action)
        .map(|a| a.effect.clone());
    match effect {
        Some(ActionEffect::RestartService {
            stop_timeout_secs, ..
        }) => restart(app, req, stop_timeout_secs).await,
        Some(ActionEffect::CloseIdleConnections { include_idle, .. }) => {
            close_idle(app, req, include_idle).await
        }
        Some(ActionEffect::RecreateWithCommand {
            command, params, ..
        }) => recreate(app, req, &command, &params).await,
        _ => {
            finish(
                app,
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
    app: &App,
    req: StoredRequest,
    command: &[String],
    params: &[crate::core::runbook::ActionParam],
) {
    let values: std::collections::BTreeMap<String, i64> =
        serde_json::from_value(req.params["values"].clone()).unwrap_or_default();
    let approved: Vec<String> =
        serde_json::from_value(req.params["command"].clone()).unwrap_or_default();
    match fill_command(command, params, &values) {
        Ok(argv) if argv == approved && !argv.is_empty() => {}
        _ => {
            return finish(
                app,
                req,
                RequestState::Failed,
                "the runbook's command changed since the request; make a new request".into(),
            )
            .await
        }
    }
    starting(app, &req).await;
    let result = execute_recreate(
        &app.engine,
        &app.scope,
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
            finish(app, req, RequestState::Executed, outcome).await
        }
        Err(e) => {
            tracing::warn!(request = req.rule.id, error = %crate::cause_chain(&e), "recreate failed");
            finish(app, req, RequestState::Failed, e.for_chat()).await
        }
    }
}

/// The audit row written before an action starts changing anything.
async fn starting(app: &App, req: &StoredRequest) {
    app.audit_bot(
        OffsetDateTime::now_utc(),
        format!("execute {}", req.action),
        Some(format!("request #{} ({})", req.rule.id, req.container_name)),
        "starting".into(),
    )
    .await;
}

/// As `docker compose` does: SIGTERM, then SIGKILL after this long.
pub(super) const RECREATE_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Closes the idle sessions an approved request names, by the age that was
/// approved; says exactly which were closed.
async fn close_idle(app: &App, req: StoredRequest, allowed_idle: bool) {
    let Some(minutes) = req.params["older_than_minutes"].as_u64() else {
        return finish(
            app,
            req,
            RequestState::Failed,
            "the request has no age to close by".into(),
        )
        .await;
    };
    // Plain idle sessions only if the runbook (still) allows it.
    let include_idle = allowed_idle && req.params["include_idle"].as_bool().unwrap_or(false);
    starting(app, &req).await;
    let result = execute_close_idle(
        app.probes().app_db,
        Duration::from_secs(app.settings.docker.timeout_secs),
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
            finish(app, req, RequestState::Executed, outcome).await
        }
        Err(e) => {
            tracing::warn!(request = req.rule.id, error = %crate::cause_chain(&e), "closing idle sessions failed");
            let sentence = e.to_string();
            finish(app, req, RequestState::Failed, sentence).await
        }
    }
}

/// Restarts the container an approved request names, if it is still the
/// service's (the rate limit was checked with the claim).
async fn restart(app: &App, req: StoredRequest, stop_timeout_secs: u32) {
    let settings = &app.settings;
    starting(app, &req).await;
    let result = execute_restart(
        &app.engine,
        &app.watcher,
        &app.scope,
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
            finish(app, req, RequestState::Executed, outcome).await
        }
        Err(e) => {
            tracing::warn!(request = req.rule.id, error = %crate::cause_chain(&e), "restart failed");
            finish(app, req, RequestState::Failed, e.for_chat()).await
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
fn keep_claim(app: &App, id: i64) -> tokio::task::AbortHandle {
    let store = app.store.clone();
    let by = app.instance.clone();
    let lease = Duration::from_secs(app.settings.approvals.lease_secs.max(1));
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
