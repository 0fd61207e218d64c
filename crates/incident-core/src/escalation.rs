//! Escalation policy: which escalations an incident gets and when, who is
//! next by hand, and how a ping names its target.
//!
//! Due times are computed once, when the incident opens (or when an OOM
//! kill takes a service down), from the runbook in force then; the store
//! keeps them, so a changed runbook never rewrites an open incident's
//! policy, and a restarted bot finds them.

use super::runbook::{Escalation, EscalationCondition, RosterRole};
use time::{Duration, OffsetDateTime};

/// An escalation to schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The runbook rule's id, or `manual`.
    pub rule: String,
    /// A roster role id.
    pub target: String,
    pub due_at: OffsetDateTime,
    /// The rule's words, quoted in the ping.
    pub text: String,
}

fn due(rule: &Escalation, from: OffsetDateTime) -> Due {
    Due {
        rule: rule.id.clone(),
        target: rule.target.clone(),
        due_at: from + Duration::minutes(i64::from(rule.after_minutes)),
        text: rule.text.clone(),
    }
}

/// The escalations an incident gets when it opens ("unresolved after …").
pub fn on_open(rules: &[&Escalation], opened_at: OffsetDateTime) -> Vec<Due> {
    rules
        .iter()
        .filter(|r| r.condition == EscalationCondition::Unresolved)
        .map(|r| due(r, opened_at))
        .collect()
}

/// The escalations an OOM kill that took a service down triggers.
pub fn on_oom_downtime(rules: &[&Escalation], now: OffsetDateTime) -> Vec<Due> {
    rules
        .iter()
        .filter(|r| r.condition == EscalationCondition::OomDowntime)
        .map(|r| due(r, now))
        .collect()
}

/// Who a manual escalation goes to: the first role of the roster's order
/// (lowest first) above everyone already pinged; the top again when
/// everyone was.
pub fn next_level<'a>(ladder: &'a [RosterRole], pinged: &[String]) -> Option<&'a RosterRole> {
    let highest = ladder.iter().rposition(|role| pinged.contains(&role.id));
    match highest {
        None => ladder.first(),
        Some(i) => ladder.get(i + 1).or_else(|| ladder.last()),
    }
}

/// Who to mention for a roster role, and what Discord may ping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    pub text: String,
    pub users: Vec<u64>,
    pub roles: Vec<u64>,
}

/// The person on the roster; else the role configured for it; else the
/// on-call roles; else the role's name with a hint.
pub fn mention(title: &str, person: Option<u64>, role: Option<u64>, on_call: &[u64]) -> Mention {
    match (person, role) {
        (Some(user), _) => Mention {
            text: format!("<@{user}> ({title})"),
            users: vec![user],
            roles: vec![],
        },
        (None, Some(role)) => Mention {
            text: format!("<@&{role}> ({title})"),
            users: vec![],
            roles: vec![role],
        },
        (None, None) if !on_call.is_empty() => Mention {
            text: format!(
                "{} ({title}: nobody is on the roster, so on-call)",
                on_call
                    .iter()
                    .map(|r| format!("<@&{r}>"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            users: vec![],
            roles: on_call.to_vec(),
        },
        (None, None) => Mention {
            text: format!("{title} (nobody is on the roster: set one with /oncall set)"),
            users: vec![],
            roles: vec![],
        },
    }
}

/// "10 min late" when it matters (over a second late): the bot was down
/// when it fell due, or delivering it failed before.
pub fn lateness(due_at: OffsetDateTime, fired_at: OffsetDateTime) -> Option<String> {
    let late = fired_at - due_at;
    (late > Duration::seconds(1)).then(|| format!("{} late", super::incident::span(late)))
}

#[cfg(test)]
mod tests;
