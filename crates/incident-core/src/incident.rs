//! Incidents: the lifecycle (open → acknowledged → resolved), its rules, and
//! what a postmortem says.
//!
//! [`decide`] takes an incident as stored, a request and `now`, and returns
//! the change to write or the sentence explaining why not. The store writes
//! a change only if the incident's `version` is still the one decided on, so
//! a late acknowledgement can never reopen a resolved incident and two
//! people resolving at once produce one resolution.

use serde::Serialize;
use std::fmt::Write;
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Open,
    Acknowledged,
    Resolved,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Acknowledged => "acknowledged",
            State::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        match s {
            "open" => Some(State::Open),
            "acknowledged" => Some(State::Acknowledged),
            "resolved" => Some(State::Resolved),
            _ => None,
        }
    }
}

/// An incident as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    pub id: i64,
    pub runbook: String,
    pub title: String,
    pub severity: String,
    pub estimated_ttr_minutes: i32,
    pub state: State,
    /// Bumped by every change; writes are conditional on it.
    pub version: i32,
    pub opened_at: OffsetDateTime,
    pub opened_by: String,
    pub acknowledged_at: Option<OffsetDateTime>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<OffsetDateTime>,
    pub resolved_by: Option<String>,
    pub resolution: Option<String>,
    /// The incident channel it was opened in, and its thread there.
    pub channel_id: i64,
    pub thread_id: Option<i64>,
    /// Who leads it (a Discord user), once someone was named.
    pub lead_id: Option<u64>,
}

/// A lifecycle request from a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Acknowledge { by: String },
    Resolve { by: String, summary: String },
}

/// The change to write: the new state, who, when, and the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub to: State,
    pub by: String,
    pub at: OffsetDateTime,
    pub summary: Option<String>,
}

/// Decides a request against the incident's current state.
pub fn decide(inc: &Incident, req: &Request, now: OffsetDateTime) -> Result<Change, String> {
    let who = |by: &Option<String>| by.clone().unwrap_or_else(|| "someone".into());
    match (inc.state, req) {
        (State::Resolved, _) => Err(format!(
            "Incident #{} was already resolved by {} at {}; open a new incident if the problem is back.",
            inc.id,
            who(&inc.resolved_by),
            inc.resolved_at.map(clock).unwrap_or_default()
        )),
        (State::Acknowledged, Request::Acknowledge { .. }) => Err(format!(
            "Incident #{} was already acknowledged by {} at {}.",
            inc.id,
            who(&inc.acknowledged_by),
            inc.acknowledged_at.map(clock).unwrap_or_default()
        )),
        (State::Open, Request::Acknowledge { by }) => Ok(Change {
            to: State::Acknowledged,
            by: by.clone(),
            at: now,
            summary: None,
        }),
        (State::Open | State::Acknowledged, Request::Resolve { by, summary }) => Ok(Change {
            to: State::Resolved,
            by: by.clone(),
            at: now,
            summary: Some(summary.clone()),
        }),
    }
}

/// "resolved in 42 min, 12 min over the runbook's 30 min estimate".
pub fn time_to_resolve_sentence(inc: &Incident) -> Option<String> {
    let took = inc.resolved_at? - inc.opened_at;
    let estimate = Duration::minutes(i64::from(inc.estimated_ttr_minutes));
    let versus = if took <= estimate {
        format!("within the runbook's {} estimate", span(estimate))
    } else {
        format!(
            "{} over the runbook's {} estimate",
            span(took - estimate),
            span(estimate)
        )
    };
    Some(format!("resolved in {}, {versus}", span(took)))
}

/// One line of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub at: OffsetDateTime,
    /// A Discord user mention (`<@id>`) or a system actor (`alert:OomKiller`).
    pub actor: String,
    pub kind: String,
    pub summary: String,
    /// The verdict of a diagnosis (`pass`, `fail`, …), if any.
    pub outcome: Option<String>,
    /// A link to the report or message.
    pub link: Option<String>,
}

/// The postmortem as Markdown: summary, durations, timeline, diagnoses.
pub fn postmortem(inc: &Incident, timeline: &[TimelineEntry], now: OffsetDateTime) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Postmortem: incident #{}: {}\n", inc.id, inc.title);
    let _ = writeln!(md, "## Summary\n");
    let _ = writeln!(
        md,
        "- Runbook: {} (severity {}, estimated time to resolve {} min)",
        inc.runbook, inc.severity, inc.estimated_ttr_minutes
    );
    let _ = writeln!(md, "- State: {}", inc.state.as_str());
    let _ = writeln!(
        md,
        "- Opened: {} by {}",
        stamp(inc.opened_at),
        inc.opened_by
    );
    lifecycle(&mut md, inc, now);
    let _ = writeln!(md, "\n## Timeline\n");
    if timeline.is_empty() {
        let _ = writeln!(md, "(nothing recorded)");
    }
    for e in timeline {
        let outcome = e
            .outcome
            .as_deref()
            .map(|o| format!(" [{}]", o.to_uppercase()))
            .unwrap_or_default();
        let link = e
            .link
            .as_deref()
            .map(|l| format!(" ([report]({l}))"))
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "- {} {} {}: {}{outcome}{link}",
            clock(e.at),
            e.actor,
            e.kind,
            e.summary
        );
    }

    section(
        &mut md,
        timeline,
        "Actions and approvals",
        &["action", "approval"],
    );
    section(&mut md, timeline, "Reports and verdicts", &["diagnosis"]);
    section(&mut md, timeline, "Escalations", &["escalation"]);
    md
}

/// The postmortem's acknowledgement and resolution lines.
fn lifecycle(md: &mut String, inc: &Incident, now: OffsetDateTime) {
    match (inc.acknowledged_at, &inc.acknowledged_by) {
        (Some(at), Some(by)) => {
            let _ = writeln!(
                md,
                "- Acknowledged: {} by {} ({} after opening)",
                stamp(at),
                by,
                span(at - inc.opened_at)
            );
        }
        _ => {
            let _ = writeln!(md, "- Acknowledged: never");
        }
    }
    match (inc.resolved_at, &inc.resolved_by) {
        (Some(at), Some(by)) => {
            let _ = writeln!(
                md,
                "- Resolved: {} by {}; {}",
                stamp(at),
                by,
                time_to_resolve_sentence(inc).unwrap_or_default()
            );
            let _ = writeln!(
                md,
                "- Resolution: {}",
                inc.resolution.as_deref().unwrap_or("(none given)")
            );
        }
        _ => {
            let _ = writeln!(
                md,
                "- Resolved: not yet ({} open so far)",
                span(now - inc.opened_at)
            );
        }
    }
}

/// A postmortem section: the timeline entries of `kinds`.
fn section(md: &mut String, timeline: &[TimelineEntry], title: &str, kinds: &[&str]) {
    let rows: Vec<&TimelineEntry> = timeline
        .iter()
        .filter(|e| kinds.contains(&e.kind.as_str()))
        .collect();
    let _ = writeln!(md, "\n## {title}\n");
    if rows.is_empty() {
        let _ = writeln!(md, "(none)");
    }
    for e in rows {
        let outcome = e
            .outcome
            .as_deref()
            .map(|o| format!("{}: ", o.to_uppercase()))
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "- {} {}{} ({})",
            clock(e.at),
            outcome,
            e.summary,
            e.actor
        );
    }
}

/// "2026-02-21 14:03 UTC"
pub fn stamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// "14:03:07"
fn clock(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// "42 min", "1 h 05 min", "20 s".
pub fn span(d: Duration) -> String {
    let secs = d.whole_seconds().max(0);
    if secs < 60 {
        format!("{secs} s")
    } else if secs < 3600 {
        format!("{} min", secs / 60)
    } else {
        format!("{} h {:02} min", secs / 3600, (secs % 3600) / 60)
    }
}

#[cfg(test)]
mod tests;
