//! The incident thread's pinned header: one message that always shows the
//! incident's severity, lead, state and next scheduled check. Posted and
//! pinned the first time, edited in place after every change of those
//! (severity, lead, acknowledgement, resolution, reopening, a check
//! scheduled or run). Best effort: the header only shows what the
//! database holds, and a failure to update it is logged, never fatal.

use super::App;
use crate::render::{self, Message};
use time::OffsetDateTime;

/// Brings incident `incident`'s header up to date.
pub async fn refresh(app: &App, incident: i64) {
    if let Err(e) = try_refresh(app, incident).await {
        tracing::warn!(incident, error = %e, "the incident's header was not updated");
    }
}

async fn try_refresh(app: &App, incident: i64) -> Result<(), String> {
    let store = &app.store;
    let Some(inc) = store.incident(incident).await.map_err(|e| e.to_string())? else {
        return Ok(());
    };
    let Some(thread) = inc.thread_id else {
        return Ok(());
    };
    let next_check = store
        .checks(incident)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|c| c.2 == "pending")
        .map(|c| (c.0, c.1));
    let rb = app.runbooks.or_first(&inc.runbook);
    let severity = render::paging::severity(&inc.severity, rb.severity(&inc.severity));
    let text = render::incident::header(&inc, &severity, next_check, OffsetDateTime::now_utc());
    let message = Message::text(text);
    let thread = thread as u64;
    match store
        .header_message(incident)
        .await
        .map_err(|e| e.to_string())?
    {
        Some(id) => app
            .chat
            .edit(thread, id as u64, &message)
            .await
            .map_err(|e| e.to_string()),
        None => {
            let posted = app
                .chat
                .post(thread, &message)
                .await
                .map_err(|e| e.to_string())?;
            store
                .set_header_message(incident, posted.message_id as i64)
                .await
                .map_err(|e| e.to_string())?;
            app.chat
                .pin(thread, posted.message_id)
                .await
                .map_err(|e| e.to_string())
        }
    }
}
