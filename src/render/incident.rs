//! Incidents as people see them: the runbook card that starts a thread,
//! the status embed, the list, and the replies to acknowledge and resolve.

use super::message::Embed;
use crate::core::incident::{self, Incident, State, TimelineEntry};
use crate::core::runbook::Runbook;
use crate::core::text::clip;
use time::OffsetDateTime;

/// Discord caps message content at 2000 characters and fields at 1024.
const FIELD: usize = 1000;

/// The first post of an incident's thread: the runbook as a checklist.
pub fn runbook_card(rb: &Runbook) -> Embed {
    Embed::titled(format!("Runbook: {}", rb.runbook.title))
        .description(super::runbook_checklist(rb))
        .field("Severity", format!("{:?}", rb.runbook.severity), true)
        .field(
            "Estimated time to resolve",
            format!("{} min", rb.runbook.estimated_ttr_minutes),
            true,
        )
        .field("Owner", rb.runbook.owner.clone(), true)
}

/// `/incident status`: state, who opened it, how long, the latest timeline.
pub fn status(inc: &Incident, timeline: &[TimelineEntry], now: OffsetDateTime) -> Embed {
    let mut embed = Embed::titled(format!("Incident #{}: {}", inc.id, inc.title))
        .field("State", inc.state.as_str(), true)
        .field(
            "Opened",
            format!("{} by {}", incident::stamp(inc.opened_at), inc.opened_by),
            true,
        );
    embed = match inc.resolved_at {
        Some(_) => embed.field(
            "Resolved",
            incident::time_to_resolve_sentence(inc).unwrap_or_default(),
            false,
        ),
        None => embed.field(
            "Open for",
            format!(
                "{} (estimate {} min)",
                incident::span(now - inc.opened_at),
                inc.estimated_ttr_minutes
            ),
            false,
        ),
    };
    if let Some(t) = inc.thread_id {
        embed = embed.field("Thread", format!("<#{t}>"), true);
    }
    let recent: Vec<String> = timeline
        .iter()
        .rev()
        .take(8)
        .rev()
        .map(|e| {
            format!(
                "{} {} {}: {}{}",
                incident::stamp(e.at),
                e.actor,
                e.kind,
                e.summary,
                e.outcome
                    .as_deref()
                    .map(|o| format!(" [{}]", o.to_uppercase()))
                    .unwrap_or_default()
            )
        })
        .collect();
    if !recent.is_empty() {
        embed = embed.field("Timeline (latest)", clip(&recent.join("\n"), FIELD), false);
    }
    embed
}

/// `/incident list`: the open ones, then the recently resolved.
pub fn list(open: &[Incident], recent: &[Incident], now: OffsetDateTime) -> String {
    let line = |i: &Incident| {
        let thread = i.thread_id.map(|t| format!(" <#{t}>")).unwrap_or_default();
        format!(
            "#{} {} ({}, opened {} ago){thread}",
            i.id,
            i.title,
            i.state.as_str(),
            incident::span(now - i.opened_at)
        )
    };
    let mut text = String::from("**Open**\n");
    if open.is_empty() {
        text.push_str("none\n");
    }
    for i in open {
        text.push_str(&line(i));
        text.push('\n');
    }
    let resolved: Vec<&Incident> = recent
        .iter()
        .filter(|i| i.state == State::Resolved)
        .collect();
    if !resolved.is_empty() {
        text.push_str("**Recently resolved**\n");
        for i in resolved {
            text.push_str(&line(i));
            text.push('\n');
        }
    }
    clip(&text, FIELD)
}

/// The reply to an acknowledgement or a resolution, `by` a mention.
pub fn transitioned(inc: &Incident, by: &str, at: OffsetDateTime) -> String {
    match inc.state {
        State::Resolved => format!(
            "Incident #{} resolved by {by}: {}. Summary: {}",
            inc.id,
            incident::time_to_resolve_sentence(inc).unwrap_or_default(),
            inc.resolution.clone().unwrap_or_default()
        ),
        _ => format!(
            "Incident #{} acknowledged by {by}, {} after it opened.",
            inc.id,
            incident::span(at - inc.opened_at)
        ),
    }
}

/// The thread's pinned header: severity, lead, state, next scheduled check
/// (minutes after its remedy, and when).
pub fn header(
    inc: &Incident,
    severity: &str,
    next_check: Option<(i32, OffsetDateTime)>,
    now: OffsetDateTime,
) -> String {
    let lead = inc
        .lead_id
        .map_or("nobody yet (`/incident lead`)".to_string(), |u| {
            format!("<@{u}>")
        });
    let check = match next_check {
        Some((offset, at)) if at > now => {
            format!("+{offset} min re-check at {}", super::paging::clock(at))
        }
        Some((offset, _)) => format!("+{offset} min re-check, due now"),
        None => "none scheduled".into(),
    };
    clip(
        &format!(
            "📌 **Incident #{}** · {severity} · {}\nLead: {lead} · Next check: {check}",
            inc.id,
            inc.state.as_str()
        ),
        1900,
    )
}
