//! Recording and announcing what became of approved requests (executed,
//! failed, reconciled, over the rate limit) and expiring stale ones: the
//! database first, then the request's message, its thread, the audit log
//! and the incident timeline.

use super::view::request_message;
use crate::app::App;
use crate::core::approval::RequestState;
use crate::core::incident::TimelineEntry;
use crate::render::Message;
use crate::store::StoredRequest;
use time::OffsetDateTime;

/// Records the outcome the executor saw, then announces it.
pub(super) async fn finish(
    app: &App,
    mut req: StoredRequest,
    state: RequestState,
    outcome: String,
) {
    let now = OffsetDateTime::now_utc();
    match app
        .store
        .finish_request(req.rule.id, state, &outcome, now, false)
        .await
    {
        Ok(true) => {}
        Ok(false) => tracing::error!(request = req.rule.id, "the request was already finished by another bot; recording this outcome in the audit log only"),
        Err(e) => tracing::error!(request = req.rule.id, error = %e, "the outcome of an executed request was not recorded"),
    }
    if state == RequestState::Executed {
        // A remedy ran: the checklist runs again later, by itself.
        if let Some(Ok(Some(inc))) = match req.incident_id {
            Some(id) => Some(app.store.incident(id).await),
            None => None,
        } {
            super::super::rechecks::schedule(app, &inc, &req.action, now).await;
        }
    }
    announce(app, &mut req, state, outcome, now).await;
}

/// Says what became of a request, in its message, its channel, the audit
/// log and the incident timeline (after it was recorded).
pub(super) async fn announce(
    app: &App,
    req: &mut StoredRequest,
    state: RequestState,
    outcome: String,
    now: OffsetDateTime,
) {
    req.rule.state = state;
    req.outcome = Some(outcome.clone());
    update_message(app, req).await;
    if let Some(channel) = req.channel_id {
        let text = match state {
            RequestState::Executed => format!("Request #{} executed: {outcome}", req.rule.id),
            RequestState::Unknown => {
                format!("Request #{}: outcome unknown: {outcome}", req.rule.id)
            }
            _ => format!("Request #{} failed: {outcome}", req.rule.id),
        };
        if let Err(e) = app.chat.post(channel as u64, &Message::text(text)).await {
            tracing::warn!(error = %e, "could not post the outcome");
        }
    }
    crate::metrics::global().approval(state.as_str());
    app.audit_bot(
        now,
        format!("execute {}", req.action),
        Some(format!("request #{} ({})", req.rule.id, req.container_name)),
        format!("{}: {outcome}", state.as_str()),
    )
    .await;
    timeline(
        app,
        req,
        "incident-bot",
        "action",
        format!("request #{} {}: {outcome}", req.rule.id, state.as_str()),
    )
    .await;
}

/// Expires what is due and updates those requests' messages; returns how
/// many expired.
pub(super) async fn expire_now(
    app: &App,
    now: OffsetDateTime,
) -> Result<usize, crate::store::StoreError> {
    let expired = app.store.expire_due(now).await?;
    let n = expired.len();
    for req in expired {
        update_message(app, &req).await;
        crate::metrics::global().approval("expired");
        app.audit_bot(
            now,
            format!("expire {}", req.action),
            Some(format!("request #{}", req.rule.id)),
            "expired".into(),
        )
        .await;
        timeline(
            app,
            &req,
            "incident-bot",
            "approval",
            format!("request #{} expired", req.rule.id),
        )
        .await;
    }
    Ok(n)
}

pub(super) async fn update_message(app: &App, req: &StoredRequest) {
    if let (Some(channel), Some(message)) = (req.channel_id, req.message_id) {
        let edit = request_message(req);
        if let Err(e) = app.chat.edit(channel as u64, message as u64, &edit).await {
            tracing::warn!(request = req.rule.id, error = %e, "could not update the request message");
        }
    }
}

pub(super) async fn timeline(
    app: &App,
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
        app.timeline(id, &entry).await;
    }
}
