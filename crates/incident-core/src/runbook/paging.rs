//! The runbook's paging data: `[paging]` (how pages repeat and climb the
//! roster, how long a flapping alert stays one alert, the bounds of
//! silences) and `[[severities]]` (highest first: who is paged first and
//! how often pages repeat): both or neither (a runbook without them gets
//! its escalation rules only, no repeated pages); and `[reverify]` (the
//! checklist again, by itself, after a remedy and after resolving).

use super::Runbook;
use serde::Deserialize;
use std::collections::HashSet;

/// `[paging]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    /// The severity of an incident opened by hand, or by an alert that
    /// names none.
    pub default_severity: String,
    /// The severity an incident is raised to when an OOM kill takes its
    /// service down.
    pub downtime_severity: String,
    /// Pages to one roster role (the first and its repeats) before the next
    /// role up is paged.
    pub pages_per_role: u32,
    /// After this many pages of one incident, paging stops (said in the
    /// thread); the escalation rules still apply.
    pub max_pages: u32,
    /// An alert that fires again within this many minutes of resolving is
    /// the same alert, counted, not a new one.
    pub flap_minutes: u32,
    /// `/mem silence` without `minutes:`.
    pub silence_default_minutes: u32,
    /// The longest silence accepted.
    pub silence_max_minutes: u32,
}

/// One `[[severities]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityLevel {
    /// `sev1`: shown in titles, chosen with `/incident severity`.
    pub id: String,
    pub title: String,
    /// The roster role paged first.
    pub page_first: String,
    /// Minutes between pages while nobody acknowledges.
    pub repeat_minutes: u32,
    /// The severity the outgoing webhook gives a paging service (PagerDuty
    /// Events API v2: critical, error, warning or info).
    pub event_severity: String,
}

/// `[reverify]`: the verification checklist again, by itself, after a
/// remedy (an executed action) and after resolving.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reverify {
    /// Minutes after the remedy or resolution, ascending.
    pub after_minutes: Vec<u32>,
    /// A regression found within this many minutes of resolving reopens
    /// the incident; later, a new incident linked to it is opened.
    pub reopen_within_minutes: u32,
}

/// `[followups]`: resolving offers the runbook's `prevention` items as
/// follow-ups (`/incident followup add`), each with an owner and a due
/// date.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Followups {
    /// A follow-up is due this many days after it is added, unless given.
    pub due_days: u32,
}

/// PagerDuty Events API v2's severities.
pub const EVENT_SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];

/// A week: the longest silence a runbook may allow.
const MAX_SILENCE_MINUTES: u32 = 7 * 24 * 60;

impl Runbook {
    /// What roster role `id` is called ("Senior DevOps Engineer"); the id
    /// itself when the runbook does not declare it.
    pub fn role_title(&self, id: &str) -> String {
        self.roster_roles
            .iter()
            .map(|r| r.get_ref())
            .find(|r| r.id == id)
            .map_or(id.to_string(), |r| r.title.clone())
    }

    /// The severity `id` of this runbook, if it declares it.
    pub fn severity(&self, id: &str) -> Option<&SeverityLevel> {
        self.severities
            .iter()
            .map(|s| s.get_ref())
            .find(|s| s.id == id)
    }

    /// The severity a new incident gets: the alert's, else the default;
    /// `None` when the runbook declares no paging.
    pub fn severity_for(&self, alert: Option<&str>) -> Option<&SeverityLevel> {
        let paging = self.paging.as_ref()?;
        let named = alert
            .and_then(|name| self.alerts.iter().find(|a| a.get_ref().name == name))
            .and_then(|a| a.get_ref().severity.as_deref());
        self.severity(named.unwrap_or(&paging.default_severity))
    }

    /// Where `id` ranks: 0 is the highest.
    pub fn severity_rank(&self, id: &str) -> Option<usize> {
        self.severities.iter().position(|s| s.get_ref().id == id)
    }
}

/// The paging section's rules, as (byte offset, message).
pub(super) fn validate(rb: &Runbook, out: &mut Vec<(usize, String)>) {
    let roles: HashSet<&str> = rb
        .roster_roles
        .iter()
        .map(|r| r.get_ref().id.as_str())
        .collect();
    let mut ids = HashSet::new();
    for s in &rb.severities {
        let (at, sev) = (s.span().start, s.get_ref());
        let what = format!("severity '{}'", sev.id);
        if !super::validate::is_command_name(&sev.id) {
            out.push((
                at,
                format!(
                    "{what}: id must be 1-32 characters of lowercase letters, digits, '-' or '_'"
                ),
            ));
        }
        if !ids.insert(sev.id.as_str()) {
            out.push((at, format!("{what}: duplicate id")));
        }
        if !roles.contains(sev.page_first.as_str()) {
            out.push((
                at,
                format!(
                    "{what}: page_first '{}' is not a [[roster_roles]] id",
                    sev.page_first
                ),
            ));
        }
        if !(1..=1440).contains(&sev.repeat_minutes) {
            out.push((at, format!("{what}: repeat_minutes must be 1-1440")));
        }
        if !EVENT_SEVERITIES.contains(&sev.event_severity.as_str()) {
            out.push((
                at,
                format!(
                    "{what}: event_severity must be one of {}",
                    EVENT_SEVERITIES.join(", ")
                ),
            ));
        }
    }
    for a in &rb.alerts {
        if let Some(sev) = &a.get_ref().severity {
            if !ids.contains(sev.as_str()) {
                out.push((
                    a.span().start,
                    format!(
                        "alert '{}': severity '{sev}' is not a [[severities]] id",
                        a.get_ref().name
                    ),
                ));
            }
        }
    }
    if let Some(f) = &rb.followups {
        if !(1..=365).contains(&f.due_days) {
            out.push((0, "followups.due_days must be 1-365".into()));
        }
        if rb
            .runbook
            .prevention
            .iter()
            .any(|p| p.chars().count() > 100)
        {
            out.push((
                0,
                "prevention items offered as follow-ups must be at most 100 characters".into(),
            ));
        }
    }
    if let Some(r) = &rb.reverify {
        let ascending = r.after_minutes.windows(2).all(|w| w[0] < w[1]);
        let in_range = r.after_minutes.iter().all(|m| (1..=1440).contains(m));
        if r.after_minutes.is_empty() || r.after_minutes.len() > 10 || !ascending || !in_range {
            out.push((
                0,
                "reverify.after_minutes must be 1 to 10 ascending minutes, each 1-1440".into(),
            ));
        }
        if !(1..=MAX_SILENCE_MINUTES * 4).contains(&r.reopen_within_minutes) {
            out.push((
                0,
                "reverify.reopen_within_minutes must be 1-40320 (four weeks)".into(),
            ));
        }
        if rb.verification.is_empty() {
            out.push((0, "[reverify] needs [[verification]] items to run".into()));
        }
    }
    let Some(p) = &rb.paging else {
        if !rb.severities.is_empty() {
            out.push((0, "[[severities]] need a [paging] section".into()));
        }
        return;
    };
    if rb.severities.is_empty() {
        out.push((0, "[paging] needs at least one [[severities]] entry".into()));
    }
    if rb.roster_roles.is_empty() {
        out.push((0, "[paging] needs [[roster_roles]] to page".into()));
    }
    for (key, id) in [
        ("default_severity", &p.default_severity),
        ("downtime_severity", &p.downtime_severity),
    ] {
        if !ids.contains(id.as_str()) {
            out.push((0, format!("paging.{key} '{id}' is not a [[severities]] id")));
        }
    }
    if !(1..=10).contains(&p.pages_per_role) {
        out.push((0, "paging.pages_per_role must be 1-10".into()));
    }
    if !(1..=100).contains(&p.max_pages) {
        out.push((0, "paging.max_pages must be 1-100".into()));
    }
    if p.flap_minutes > 1440 {
        out.push((0, "paging.flap_minutes must be at most 1440".into()));
    }
    if !(1..=MAX_SILENCE_MINUTES).contains(&p.silence_max_minutes) {
        out.push((
            0,
            format!("paging.silence_max_minutes must be 1-{MAX_SILENCE_MINUTES}"),
        ));
    }
    if p.silence_default_minutes == 0 || p.silence_default_minutes > p.silence_max_minutes {
        out.push((
            0,
            "paging.silence_default_minutes must be at least 1 and at most silence_max_minutes"
                .into(),
        ));
    }
}

#[cfg(test)]
mod tests;
