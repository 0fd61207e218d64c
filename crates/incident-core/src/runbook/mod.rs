//! Runbooks as data: the schema of a `commands/*.toml` file and its parsing.
//!
//! A runbook is one slash-command group (`/mem`) with its diagnosis steps,
//! root causes, resolutions, actions, verification checklist, escalation
//! rules and alerts. Everything the bot does for a runbook is driven by these
//! types; nothing here performs I/O. Reading files is the caller's job
//! (`crate::runbooks`): this module takes the text and a name for it, and
//! returns either a validated [`Runbook`] or every [`Problem`] found, each
//! with its line.
//!
//! Every struct denies unknown keys: a typo in a threshold must fail loudly
//! at start-up rather than silently fall back to a default.

mod check;
mod fill;
mod numbers;
mod paging;
mod problem;
mod validate;

pub use check::{ActionEffect, ActionParam, AlertCondition, Check, ContainerMemoryCheck, Profiler};
pub use fill::fill_command;
pub use paging::{Followups, Paging, Reverify, SeverityLevel, EVENT_SEVERITIES};
pub use problem::Problem;

use serde::Deserialize;
use toml::Spanned;

/// One parsed and validated runbook file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    pub runbook: Meta,
    #[serde(default)]
    pub detection: Detection,
    pub steps: Vec<Spanned<Step>>,
    #[serde(default)]
    pub causes: Vec<Spanned<Cause>>,
    #[serde(default)]
    pub resolutions: Vec<Spanned<Resolution>>,
    #[serde(default)]
    pub actions: Vec<Spanned<Action>>,
    #[serde(default)]
    pub verification: Vec<Spanned<VerificationItem>>,
    #[serde(default)]
    pub roster_roles: Vec<Spanned<RosterRole>>,
    #[serde(default)]
    pub escalations: Vec<Spanned<Escalation>>,
    #[serde(default)]
    pub alerts: Vec<Spanned<Alert>>,
    #[serde(default)]
    pub paging: Option<Paging>,
    #[serde(default)]
    pub severities: Vec<Spanned<SeverityLevel>>,
    #[serde(default)]
    pub reverify: Option<Reverify>,
    #[serde(default)]
    pub followups: Option<Followups>,
}

/// The runbook's header: who owns it and how bad it is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// The command group name: `mem` gives `/mem …` and `incident-bot mem …`.
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub last_updated: Option<String>,
    pub severity: Severity,
    pub estimated_ttr_minutes: u32,
    pub owner: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub symptoms: Vec<String>,
    #[serde(default)]
    pub related_runbooks: Vec<String>,
    #[serde(default)]
    pub prevention: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

/// How the problem is noticed: alert names refer to `[[alerts]]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detection {
    #[serde(default)]
    pub alerts: Vec<String>,
    #[serde(default)]
    pub dashboard: Option<String>,
    #[serde(default)]
    pub query: Option<String>,
}

/// A diagnosis step: the check it runs and how its result is judged.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Subcommand name: `/mem <id>`.
    pub id: String,
    pub title: String,
    /// The runbook's "Expected" line, quoted in every verdict.
    pub expected: String,
    /// The runbook's "If different" conclusion, quoted when the check fails.
    pub if_different: String,
    /// What the runbook had people type; shown for reference, never run.
    #[serde(default)]
    pub shell: Vec<String>,
    pub check: Check,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Likelihood {
    Low,
    Medium,
    High,
}

/// What live evidence can support a root cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// Sudden jumps of a web container's memory (unpaginated result sets).
    StepJumps,
    /// A steady upward trend (a leak).
    MemoryTrend,
    /// Many database connections.
    ConnectionCount,
    /// Growth that keeps going without bound (caches).
    CacheGrowth,
    /// A worker container's memory that does not come back down.
    WorkerGrowth,
}

/// One row of the root-cause table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cause {
    pub id: String,
    pub cause: String,
    pub likelihood: Likelihood,
    /// "How to confirm", as the runbook words it.
    pub confirm: String,
    pub evidence: Evidence,
    /// The `[[resolutions]]` id that fixes this cause.
    pub resolution: String,
}

/// A group of resolution steps ("For Memory Leaks").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    pub id: String,
    pub title: String,
    pub items: Vec<ResolutionItem>,
}

/// One resolution step: advice to show, an action the bot can run after
/// approval, or a verification that re-runs a diagnosis step.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ResolutionItem {
    Guidance {
        text: String,
        #[serde(default)]
        language: Option<String>,
        #[serde(default)]
        code: Option<String>,
    },
    Action {
        text: String,
        /// An `[[actions]]` id.
        action: String,
    },
    Verify {
        text: String,
        /// A `[[steps]]` id whose check is re-run and compared.
        step: String,
    },
}

/// A state-changing action: runs only after approval by other people.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// Subcommand name: `/mem <id>`.
    pub id: String,
    pub title: String,
    /// Approvers needed besides the requester.
    #[serde(default = "one")]
    pub approvals: u32,
    #[serde(default = "fifteen")]
    pub expires_minutes: u32,
    /// What the runbook had people type; shown for reference, never run.
    #[serde(default)]
    pub shell: Vec<String>,
    pub effect: ActionEffect,
}

fn one() -> u32 {
    1
}

fn fifteen() -> u32 {
    15
}

/// One item of the verification checklist, checked live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationItem {
    pub id: String,
    pub text: String,
    pub check: Check,
}

/// A role of the on-call roster that escalations can target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterRole {
    pub id: String,
    pub title: String,
}

/// When an escalation rule fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationCondition {
    /// The incident is still not resolved `after_minutes` after it opened.
    Unresolved,
    /// An OOM kill left a service down (not running, or restarting in a loop).
    OomDowntime,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    pub id: String,
    pub text: String,
    pub condition: EscalationCondition,
    pub after_minutes: u32,
    /// A `[[roster_roles]]` id.
    pub target: String,
}

/// An alert the bot raises itself or accepts from Alertmanager.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    pub name: String,
    pub summary: String,
    pub condition: AlertCondition,
    /// The severity of an incident it opens (a `[[severities]]` id).
    #[serde(default)]
    pub severity: Option<String>,
}

impl Runbook {
    /// Parses and validates one runbook. `origin` names the source in
    /// problems (usually its path).
    pub fn parse(source: &str, origin: &str) -> Result<Runbook, Vec<Problem>> {
        let locate = |offset: usize, message: String| {
            let (line, column) = line_col(source, offset);
            Problem {
                origin: origin.to_string(),
                line,
                column,
                message,
            }
        };
        let runbook: Runbook = toml::from_str(source).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            vec![locate(offset, e.message().trim().to_string())]
        })?;
        let found = all_problems(&runbook);
        if found.is_empty() {
            Ok(runbook)
        } else {
            Err(found
                .into_iter()
                .map(|(offset, message)| locate(offset, message))
                .collect())
        }
    }

    /// The command group name (`mem`).
    pub fn id(&self) -> &str {
        &self.runbook.id
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().map(|s| s.get_ref()).find(|s| s.id == id)
    }

    /// Applies `[thresholds.<runbook>.<step>]` overrides from configuration
    /// to the steps' checks, then validates again. Problems carry `origin`.
    pub fn apply_overrides(
        &mut self,
        overrides: &std::collections::BTreeMap<String, toml::Table>,
        origin: &str,
    ) -> Result<(), Vec<Problem>> {
        let mut problems = Vec::new();
        let problem = |message: String| Problem {
            origin: origin.to_string(),
            line: 0,
            column: 0,
            message,
        };
        for (id, table) in overrides {
            // A key names a step, or else an alert. Alert names match
            // whatever their case: environment variables arrive lowercased
            // (INCIDENT_BOT_THRESHOLDS__MEM__HIGHMEMORYUSAGE__FOR_SECS).
            if let Some(step) = self.steps.iter_mut().find(|s| s.get_ref().id == *id) {
                match step.get_mut().check.with_overrides(table) {
                    Ok(check) => {
                        let step = step.get_mut();
                        step.check = check;
                        // The runbook's words stay; the bars in force are
                        // said next to them, so a verdict never seems to
                        // contradict its Expected line.
                        let set: Vec<String> =
                            table.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                        step.expected = format!("{} (here: {})", step.expected, set.join(", "));
                    }
                    Err(e) => {
                        problems.push(problem(format!("thresholds.{}.{id}: {e}", self.runbook.id)))
                    }
                }
            } else if let Some(alert) = self
                .alerts
                .iter_mut()
                .find(|a| a.get_ref().name.eq_ignore_ascii_case(id))
            {
                match alert.get_mut().condition.with_overrides(table) {
                    Ok(condition) => alert.get_mut().condition = condition,
                    Err(e) => {
                        problems.push(problem(format!("thresholds.{}.{id}: {e}", self.runbook.id)))
                    }
                }
            } else {
                problems.push(problem(format!(
                    "thresholds.{}.{id}: runbook '{}' has no step or alert '{id}'",
                    self.runbook.id, self.runbook.id
                )));
            }
        }
        problems.extend(
            all_problems(self)
                .into_iter()
                .map(|(_, message)| problem(format!("after threshold overrides: {message}"))),
        );
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Every problem of a parsed runbook, as (byte offset, message), in file
/// order.
fn all_problems(rb: &Runbook) -> Vec<(usize, String)> {
    let mut out = validate::validate(rb);
    paging::validate(rb, &mut out);
    out.sort_by_key(|(at, _)| *at);
    out
}

/// 1-based line and column of a byte offset.
fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
