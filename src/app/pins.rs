//! The timeline from the thread: a 📌 reaction on a message of an
//! incident's thread adds it to the incident's timeline (and so to the
//! postmortem): its author, time, link, and its text where the bot may
//! read it (without Discord's Message Content intent, other people's text
//! reads as empty, and the entry says so). A message pinned twice is one
//! entry.

use super::App;
use crate::core::incident::TimelineEntry;
use crate::core::text::{clip, storable};
use time::OffsetDateTime;

/// The reaction that adds a message to the timeline.
pub const PIN: &str = "📌";

/// `by` reacted with 📌 to message `message` of `channel`; returns the
/// incident it was added to, if any.
pub async fn pinned(app: &App, channel: u64, message: u64, by: u64) -> Option<i64> {
    if !app.health.db_ready() {
        tracing::warn!(
            channel,
            message,
            "a 📌 while the database is away is not recorded"
        );
        return None;
    }
    let inc = match app.store.incident_by_thread(channel as i64).await {
        Ok(Some(inc)) => inc,
        // Not an incident's thread: nothing to add.
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %crate::cause_chain(&e), "a 📌 could not be matched to an incident");
            return None;
        }
    };
    let m = match app.chat.read(channel, message).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(incident = inc.id, error = %e, "the 📌'd message could not be read");
            return None;
        }
    };
    match app.store.timeline_has(inc.id, "pinned", &m.link).await {
        Ok(true) => return None,
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(error = %crate::cause_chain(&e), "the timeline could not be read");
            return None;
        }
    }
    let text = if m.content.trim().is_empty() {
        "(its text is not readable by the bot; the link leads to it)".to_string()
    } else {
        clip(&storable(m.content.trim()), 500)
    };
    let entry = TimelineEntry {
        at: m.at,
        actor: format!("{} (<@{}>)", m.author, m.author_id),
        kind: "pinned".into(),
        summary: format!("{text} (📌 by <@{by}>)"),
        outcome: None,
        link: Some(m.link.clone()),
    };
    app.timeline(inc.id, &entry).await;
    app.audit_bot(
        OffsetDateTime::now_utc(),
        "📌 to the timeline".into(),
        Some(format!("incident #{}", inc.id)),
        format!("message {message} by <@{}>", m.author_id),
    )
    .await;
    Some(inc.id)
}
