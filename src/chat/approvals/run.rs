//! Executing approved requests, expiring stale ones, and recording both
//! (audit log, incident timeline, the request's message).

use super::super::handler::Handler;
use super::view::{buttons, request_embed};
use crate::actions::{describe_closed, execute_close_idle, execute_recreate, execute_restart};
use crate::core::approval::{self, RequestState};
use crate::core::incident::{stamp, TimelineEntry};
use crate::core::memory::human_bytes;
use crate::core::runbook::fill_command;
use crate::core::runbook::ActionEffect;
use crate::store::StoredRequest;
use serenity::all::{ChannelId, CreateMessage, EditMessage, Http, MessageId};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Runs an approved request (this bot won the claim), then records and
/// posts the outcome with the next runbook step.
pub(super) async fn execute(h: &Handler, http: &Arc<Http>, req: StoredRequest) {
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
            stop_timeout_secs,
            rate_limit_per_hour,
            ..
        }) => restart(h, http, req, stop_timeout_secs, rate_limit_per_hour).await,
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
const RECREATE_STOP_TIMEOUT: Duration = Duration::from_secs(10);

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
/// service's and within the rate limit.
async fn restart(
    h: &Handler,
    http: &Arc<Http>,
    req: StoredRequest,
    stop_timeout_secs: u32,
    rate_limit_per_hour: u32,
) {
    let settings = &h.shared.settings;
    let now = OffsetDateTime::now_utc();
    // If the count cannot be read, the limit cannot be vouched for: refuse.
    let recent = match h
        .shared
        .store
        .restarts_since(
            &req.action,
            &req.service,
            now - time::Duration::hours(1),
            Some(req.rule.id),
        )
        .await
    {
        Ok(recent) => recent,
        Err(e) => {
            return finish(
                h,
                http,
                req,
                RequestState::Failed,
                format!("the rate limit could not be checked: {e}"),
            )
            .await
        }
    };
    h.audit_bot(
        now,
        format!("execute {}", req.action),
        Some(format!("request #{} ({})", req.rule.id, req.container_name)),
        "starting".into(),
    )
    .await;
    if let Err(sentence) =
        approval::within_rate_limit(&req.service, &recent, rate_limit_per_hour, now)
    {
        return finish(h, http, req, RequestState::Failed, sentence).await;
    }
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

async fn finish(
    h: &Handler,
    http: &Arc<Http>,
    mut req: StoredRequest,
    state: RequestState,
    outcome: String,
) {
    let now = OffsetDateTime::now_utc();
    if let Err(e) = h
        .shared
        .store
        .finish_request(req.rule.id, state, &outcome, now)
        .await
    {
        tracing::error!(request = req.rule.id, error = %e, "the outcome of an executed request was not recorded");
    }
    req.rule.state = state;
    req.outcome = Some(outcome.clone());
    update_message(http, &req).await;
    if let Some(channel) = req.channel_id {
        let text = match state {
            RequestState::Executed => format!("Request #{} executed: {outcome}", req.rule.id),
            _ => format!("Request #{} failed: {outcome}", req.rule.id),
        };
        if let Err(e) = ChannelId::new(channel as u64)
            .send_message(
                http,
                CreateMessage::new()
                    .content(crate::core::text::clip(&text, 1900))
                    // The outcome names people; it does not ping them.
                    .allowed_mentions(serenity::all::CreateAllowedMentions::new()),
            )
            .await
        {
            tracing::warn!(error = %e, "could not post the outcome");
        }
    }
    crate::metrics::global().approval(state.as_str());
    h.audit_bot(
        now,
        format!("execute {}", req.action),
        Some(format!("request #{} ({})", req.rule.id, req.container_name)),
        format!("{}: {outcome}", state.as_str()),
    )
    .await;
    timeline(
        h,
        &req,
        "incident-bot",
        "action",
        format!("request #{} {}: {outcome}", req.rule.id, state.as_str()),
    )
    .await;
}

/// Expires what is due and updates those requests' messages.
pub(super) async fn expire_now(h: &Handler, http: &Arc<Http>, now: OffsetDateTime) {
    let expired = match h.shared.store.expire_due(now).await {
        Ok(expired) => expired,
        Err(e) => return tracing::warn!(error = %e, "expiry check failed"),
    };
    for req in expired {
        update_message(http, &req).await;
        crate::metrics::global().approval("expired");
        h.audit_bot(
            now,
            format!("expire {}", req.action),
            Some(format!("request #{}", req.rule.id)),
            "expired".into(),
        )
        .await;
        timeline(
            h,
            &req,
            "incident-bot",
            "approval",
            format!("request #{} expired", req.rule.id),
        )
        .await;
    }
}

async fn update_message(http: &Arc<Http>, req: &StoredRequest) {
    if let (Some(channel), Some(message)) = (req.channel_id, req.message_id) {
        let edit = EditMessage::new()
            .embed(request_embed(req))
            .components(buttons(req));
        if let Err(e) = ChannelId::new(channel as u64)
            .edit_message(http, MessageId::new(message as u64), edit)
            .await
        {
            tracing::warn!(request = req.rule.id, error = %e, "could not update the request message");
        }
    }
}

pub(super) async fn timeline(
    h: &Handler,
    req: &StoredRequest,
    actor: &str,
    kind: &str,
    summary: String,
) {
    if let Some(id) = req.incident_id {
        let entry = TimelineEntry {
            at: OffsetDateTime::now_utc(),
            actor: actor.to_string(),
            kind: kind.to_string(),
            summary,
            outcome: None,
            link: None,
        };
        if let Err(e) = h.shared.store.append_timeline(id, &entry).await {
            tracing::warn!(error = %e, "timeline entry not recorded");
        }
    }
}

/// Checks for expired requests every `every`, for as long as the bot runs.
pub(in crate::chat) async fn expiry_loop(h: Arc<Handler>, http: Arc<Http>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if h.shared.db_ready() {
            expire_now(&h, &http, OffsetDateTime::now_utc()).await;
        }
    }
}
