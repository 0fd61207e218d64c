//! An incident's severity: set when it opens (the alert's, else the
//! runbook's default), changed with `/incident severity`, raised to the
//! runbook's downtime severity when an OOM kill takes its service down. It
//! decides who is paged first and how often pages repeat; a change while
//! the incident pages re-plans the next page from the last one, at the new
//! severity's interval.

use super::{App, Caller};
use crate::core::incident::{Incident, State, TimelineEntry};
use crate::core::paging;
use crate::render::{self, Message};
use crate::store::StoreError;
use time::OffsetDateTime;

/// What a change came to.
pub enum Changed {
    /// Written: the incident, the severity before and after (as shown), and
    /// the next page if one is planned.
    Done {
        incident: i64,
        from: String,
        to: String,
        next_page: Option<OffsetDateTime>,
    },
    Refused {
        incident: Option<i64>,
        sentence: String,
    },
}

/// Sets the severity of the incident of `caller`'s channel to `level`.
pub async fn set(app: &App, caller: &Caller, level: &str) -> Result<Changed, StoreError> {
    let inc = match super::incidents::find(app, caller.channel_id).await? {
        Ok(inc) => inc,
        Err(sentence) => {
            return Ok(Changed::Refused {
                incident: None,
                sentence,
            })
        }
    };
    change(app, &inc, level, &caller.label(), OffsetDateTime::now_utc()).await
}

/// Raises incident `incident` to its runbook's downtime severity, unless it
/// is that high already (an OOM kill took its service down).
pub async fn raise_for_downtime(app: &App, incident: i64, now: OffsetDateTime) {
    let Ok(Some(inc)) = app.store.incident(incident).await else {
        return;
    };
    let Some(rb) = app.runbooks.get(&inc.runbook) else {
        return;
    };
    let Some(p) = &rb.paging else {
        return;
    };
    let (current, target) = (
        rb.severity_rank(&inc.severity),
        rb.severity_rank(&p.downtime_severity),
    );
    if matches!((current, target), (Some(c), Some(t)) if c <= t) {
        return;
    }
    if let Err(e) = change(
        app,
        &inc,
        &p.downtime_severity,
        "incident-bot (OOM downtime)",
        now,
    )
    .await
    {
        tracing::warn!(incident, error = %crate::cause_chain(&e), "severity not raised for the downtime");
    }
}

async fn change(
    app: &App,
    inc: &Incident,
    level: &str,
    by: &str,
    now: OffsetDateTime,
) -> Result<Changed, StoreError> {
    let refused = |sentence: String| Changed::Refused {
        incident: Some(inc.id),
        sentence,
    };
    if inc.state == State::Resolved {
        return Ok(refused(format!("Incident #{} is resolved.", inc.id)));
    }
    let Some(rb) = app.runbooks.get(&inc.runbook) else {
        return Ok(refused(format!(
            "Incident #{}'s runbook is not loaded.",
            inc.id
        )));
    };
    let Some(sev) = rb.severity(level) else {
        let known: Vec<&str> = rb
            .severities
            .iter()
            .map(|s| s.get_ref().id.as_str())
            .collect();
        return Ok(refused(if known.is_empty() {
            format!("The {} runbook declares no severities.", rb.id())
        } else {
            format!(
                "The {} runbook's severities are {}.",
                rb.id(),
                known.join(", ")
            )
        }));
    };
    if inc.severity == level {
        return Ok(refused(format!(
            "Incident #{} is {} already.",
            inc.id,
            level.to_uppercase()
        )));
    }
    // While it pages: the next page at the new interval from the last one
    // (at once if that is past).
    let last = app.store.pages(inc.id).await?.last().map(|p| p.at);
    let next = last.map(|at| paging::next_after(at, sev).max(now));
    if !app.store.set_severity(inc.id, level, next).await? {
        return Ok(refused(format!("Incident #{} is resolved.", inc.id)));
    }
    let (next_page, _) = app.store.paging_next(inc.id).await?;
    super::header::refresh(app, inc.id).await;
    let from = render::paging::severity(&inc.severity, rb.severity(&inc.severity));
    let to = render::paging::severity(level, Some(sev));
    let text = render::paging::severity_changed(&from, &to, by, next_page);
    let channel = inc.thread_id.unwrap_or(inc.channel_id) as u64;
    if let Err(e) = app.chat.post(channel, &Message::text(text)).await {
        tracing::warn!(incident = inc.id, error = %e, "could not say the severity change in the thread");
    }
    app.timeline(
        inc.id,
        &TimelineEntry {
            at: now,
            actor: by.to_string(),
            kind: "severity".into(),
            summary: format!("severity {from} → {to}"),
            outcome: None,
            link: None,
        },
    )
    .await;
    tracing::info!(incident = inc.id, from = %inc.severity, to = level, "severity changed");
    Ok(Changed::Done {
        incident: inc.id,
        from,
        to,
        next_page,
    })
}
