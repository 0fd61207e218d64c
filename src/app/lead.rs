//! An incident's lead: `/incident lead member:<@…>` names who leads it.
//! Each handover is in the timeline and said in the thread (pinging the new
//! lead), and the header shows it. The lead is who repeat pages reach
//! first (`paging`) and who a regression pings first (`reverify`).

use super::{App, Caller};
use crate::core::incident::TimelineEntry;
use crate::render::Message;
use crate::store::StoreError;
use time::OffsetDateTime;

/// What naming a lead came to.
pub enum Named {
    Done {
        incident: i64,
        before: Option<u64>,
    },
    Refused {
        incident: Option<i64>,
        sentence: String,
    },
}

/// Names `member` lead of the incident of `caller`'s channel.
pub async fn name(app: &App, caller: &Caller, member: u64) -> Result<Named, StoreError> {
    let inc = match super::incidents::find(app, caller.channel_id).await? {
        Ok(inc) => inc,
        Err(sentence) => {
            return Ok(Named::Refused {
                incident: None,
                sentence,
            })
        }
    };
    if inc.lead_id == Some(member) {
        return Ok(Named::Refused {
            incident: Some(inc.id),
            sentence: format!("<@{member}> leads incident #{} already.", inc.id),
        });
    }
    let before = match app.store.set_lead(inc.id, member).await? {
        Ok(before) => before,
        Err(()) => {
            return Ok(Named::Refused {
                incident: Some(inc.id),
                sentence: format!("Incident #{} is resolved.", inc.id),
            })
        }
    };
    let now = OffsetDateTime::now_utc();
    let handover = match before {
        Some(old) => format!(
            "lead handed over from <@{old}> to <@{member}> by {}",
            caller.label()
        ),
        None => format!("<@{member}> leads, named by {}", caller.label()),
    };
    app.timeline(
        inc.id,
        &TimelineEntry {
            at: now,
            actor: caller.label(),
            kind: "lead".into(),
            summary: handover.clone(),
            outcome: None,
            link: None,
        },
    )
    .await;
    let channel = inc.thread_id.unwrap_or(inc.channel_id) as u64;
    let text = format!(
        "Incident #{}: {handover}. Repeat pages and regressions reach <@{member}> first.",
        inc.id
    );
    if let Err(e) = app
        .chat
        .post(channel, &Message::ping(text, &[member], &[]))
        .await
    {
        tracing::warn!(incident = inc.id, error = %e, "the handover was not said in the thread");
    }
    super::header::refresh(app, inc.id).await;
    Ok(Named::Done {
        incident: inc.id,
        before,
    })
}
