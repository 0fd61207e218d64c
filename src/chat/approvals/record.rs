//! Recording and announcing what became of approved requests (executed,
//! failed, reconciled, over the rate limit) and expiring stale ones: the
//! database first, then the request's message, its thread, the audit log
//! and the incident timeline.

use super::super::handler::Handler;
use super::view::{buttons, request_embed};
use crate::chat::outgoing;
use crate::core::approval::RequestState;
use crate::core::incident::TimelineEntry;
use crate::store::StoredRequest;
use serenity::all::{ChannelId, Http, MessageId};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Records the outcome the executor saw, then announces it.
pub(super) async fn finish(
    h: &Handler,
    http: &Arc<Http>,
    mut req: StoredRequest,
    state: RequestState,
    outcome: String,
) {
    let now = OffsetDateTime::now_utc();
    match h
        .shared
        .store
        .finish_request(req.rule.id, state, &outcome, now, false)
        .await
    {
        Ok(true) => {}
        Ok(false) => tracing::error!(request = req.rule.id, "the request was already finished by another bot; recording this outcome in the audit log only"),
        Err(e) => tracing::error!(request = req.rule.id, error = %e, "the outcome of an executed request was not recorded"),
    }
    announce(h, http, &mut req, state, outcome, now).await;
}

/// Says what became of a request, in its message, its channel, the audit
/// log and the incident timeline (after it was recorded).
pub(super) async fn announce(
    h: &Handler,
    http: &Arc<Http>,
    req: &mut StoredRequest,
    state: RequestState,
    outcome: String,
    now: OffsetDateTime,
) {
    req.rule.state = state;
    req.outcome = Some(outcome.clone());
    update_message(http, req).await;
    if let Some(channel) = req.channel_id {
        let text = match state {
            RequestState::Executed => format!("Request #{} executed: {outcome}", req.rule.id),
            RequestState::Unknown => {
                format!("Request #{}: outcome unknown: {outcome}", req.rule.id)
            }
            _ => format!("Request #{} failed: {outcome}", req.rule.id),
        };
        if let Err(e) = ChannelId::new(channel as u64)
            .send_message(http, outgoing::post_text(&text))
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
        req,
        "incident-bot",
        "action",
        format!("request #{} {}: {outcome}", req.rule.id, state.as_str()),
    )
    .await;
}

/// Expires what is due and updates those requests' messages.
pub(super) async fn expire_now(
    h: &Handler,
    http: &Arc<Http>,
    now: OffsetDateTime,
) -> Result<(), crate::store::StoreError> {
    let expired = h.shared.store.expire_due(now).await?;
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
    Ok(())
}

pub(super) async fn update_message(http: &Arc<Http>, req: &StoredRequest) {
    if let (Some(channel), Some(message)) = (req.channel_id, req.message_id) {
        let edit = outgoing::edit()
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

/// Checks for expired requests and for claims whose executor is gone every
/// `every` (the first check at once: on start), for as long as the bot runs.
pub(in crate::chat) async fn expiry_loop(h: Arc<Handler>, http: Arc<Http>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    let mut warn = crate::core::throttle::Throttle::per_minute();
    loop {
        tick.tick().await;
        if h.shared.db_ready() {
            let checked = match expire_now(&h, &http, OffsetDateTime::now_utc()).await {
                Ok(()) => super::reconcile::reconcile_stale(&h, &http).await,
                Err(e) => Err(e),
            };
            if let Err(e) = checked {
                if let Some(suppressed) = warn.allow(std::time::Instant::now()) {
                    tracing::warn!(error = %e, suppressed, "expiry and claim check failed");
                }
            }
        }
    }
}
