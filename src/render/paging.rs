//! Pages, silences and the bot's blindness as chat text (no chat types:
//! the caller sends them).

use crate::core::incident::Incident;
use crate::core::paging::Blind;
use crate::core::runbook::SeverityLevel;
use crate::store::Silence;
use time::OffsetDateTime;

/// `14:35 UTC`.
pub fn clock(at: OffsetDateTime) -> String {
    format!("{:02}:{:02} UTC", at.hour(), at.minute())
}

/// `SEV1 Service down`, or the bare id when the runbook no longer has it.
pub fn severity(id: &str, level: Option<&SeverityLevel>) -> String {
    match level {
        Some(l) => format!("{} {}", id.to_uppercase(), l.title),
        None => id.to_uppercase(),
    }
}

/// The page in the incident's thread. `who` is the mention; `next` the
/// role and time of the next page, if one is planned.
pub fn page(
    inc: &Incident,
    severity: &str,
    seq: i32,
    who: &str,
    next: Option<(&str, OffsetDateTime)>,
) -> String {
    let mut text = format!(
        "**Page {}** · incident #{} · {severity} · {}\n{who}: you are paged. Acknowledge with `/incident ack` in this thread.",
        seq + 1,
        inc.id,
        inc.title
    );
    match next {
        Some((role, at)) => text.push_str(&format!(
            "\nUnacknowledged, the next page goes to the {role} at {}.",
            clock(at)
        )),
        None => text.push_str("\nThis is the last page; the escalation rules still apply."),
    }
    text
}

/// The direct message to the person paged.
pub fn page_dm(inc: &Incident, severity: &str, role: &str, link: &str) -> String {
    format!(
        "You are paged as {role} for incident #{} ({severity}): {}\nAcknowledge with `/incident ack` in its thread: {link}",
        inc.id, inc.title
    )
}

/// Said in the thread when paging stops without an acknowledgement.
pub fn paging_stopped(pages: i32) -> String {
    format!(
        "Paging stopped after {pages} pages without an acknowledgement. The escalation rules still apply; `/mem escalate` pages the next level by hand."
    )
}

/// A severity change, said in the thread.
pub fn severity_changed(from: &str, to: &str, by: &str, next: Option<OffsetDateTime>) -> String {
    let mut text = format!("Severity changed from {from} to **{to}** by {by}.");
    if let Some(at) = next {
        text.push_str(&format!(" Next page at {} unless acknowledged.", clock(at)));
    }
    text
}

/// What a silence covers, in a few words.
pub fn silence_scope(s: &Silence) -> String {
    match &s.service {
        Some(service) => service.clone(),
        None => "every service".into(),
    }
}

/// One line per silence in force.
pub fn silences(list: &[Silence]) -> String {
    if list.is_empty() {
        return "No silence is in force: every alert opens its incident and pages.".into();
    }
    let lines: Vec<String> = list
        .iter()
        .map(|s| {
            format!(
                "#{} · {} until {} · {} · by {}",
                s.id,
                silence_scope(s),
                clock(s.ends_at),
                s.reason,
                s.created_by
            )
        })
        .collect();
    format!("Silences in force:\n{}", lines.join("\n"))
}

/// The report footer's note while silences are in force.
pub fn silence_footer(list: &[Silence]) -> Option<String> {
    if list.is_empty() {
        return None;
    }
    let parts: Vec<String> = list
        .iter()
        .map(|s| format!("#{} {} until {}", s.id, silence_scope(s), clock(s.ends_at)))
        .collect();
    Some(format!("Silenced: {}", parts.join(", ")))
}

/// A silence's end, said in the incident channel; `handed_on` alerts it
/// held back that still fire and now open their incidents.
pub fn silence_ended(s: &Silence, handed_on: usize) -> String {
    let how = match &s.ended {
        Some((_, by)) => format!("ended by {by}"),
        None => "expired".into(),
    };
    let mut text = format!(
        "Silence #{} ({}: {}) {how}: alerts open incidents and page again.",
        s.id,
        silence_scope(s),
        s.reason
    );
    if handed_on > 0 {
        text.push_str(&format!(
            " {handed_on} alert(s) it held back still fire and are handled now."
        ));
    }
    text
}

/// The bot says it cannot see.
pub fn blind(what: Blind, host: Option<&str>, since: OffsetDateTime) -> String {
    let on = host.map(|h| format!(" on {h}")).unwrap_or_default();
    format!(
        "**I cannot see{on}**: {} (since {}). Check the host yourself until I say I can see again.",
        what.sentence(),
        clock(since)
    )
}

/// The bot says it can see again.
pub fn seeing(what: Blind, host: Option<&str>, blind_for: time::Duration) -> String {
    let on = host.map(|h| format!(" on {h}")).unwrap_or_default();
    format!(
        "**I can see again{on}**: the {} is back after {}.",
        what.as_str(),
        crate::core::incident::span(blind_for)
    )
}
