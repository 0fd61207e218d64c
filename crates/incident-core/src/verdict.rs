//! How a check came out: [`Outcome`] (pass, warn, fail, unknown, with the
//! precedence used to combine them and the monitoring-plugin exit codes) and
//! [`Verdict`], a step's Expected line against what was observed.
//!
//! At the bottom of the core's verdict modules: the judges (`diagnosis`,
//! `trend`, `connections`, `profile`, `verification`) all build these, and
//! this module imports none of them.

use super::runbook::Step;
use serde::Serialize;

/// How a check came out, ordered from best to worst for combining.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
    /// The probe could not answer: nothing can be said either way.
    Unknown,
}

impl Outcome {
    /// The monitoring-plugin convention (Nagios, Icinga, Sensu): 0 OK,
    /// 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Pass => 0,
            Outcome::Warn => 1,
            Outcome::Fail => 2,
            Outcome::Unknown => 3,
        }
    }

    /// Precedence when combining: a known failure outranks an unknown, and an
    /// unknown outranks a warning (it might hide a failure).
    fn rank(self) -> u8 {
        match self {
            Outcome::Pass => 0,
            Outcome::Warn => 1,
            Outcome::Unknown => 2,
            Outcome::Fail => 3,
        }
    }

    pub fn worst(self, other: Outcome) -> Outcome {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Warn => "WARN",
            Outcome::Fail => "FAIL",
            Outcome::Unknown => "UNKNOWN",
        }
    }
}

/// Expected against observed for one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub step: String,
    pub title: String,
    /// The runbook's Expected line, verbatim.
    pub expected: String,
    /// What was seen, in one line.
    pub observed: String,
    pub outcome: Outcome,
    /// The runbook's "If different" conclusion; set only on a failure.
    pub conclusion: Option<String>,
    /// What broke or nearly broke the bar, each with the reason.
    pub offenders: Vec<Offender>,
    /// Things worth knowing that did not decide the outcome.
    pub notes: Vec<String>,
}

impl Verdict {
    /// A step's verdict: its Expected line verbatim, and its "If different"
    /// conclusion when (and only when) the outcome is a failure.
    pub fn of(
        step: &Step,
        observed: String,
        outcome: Outcome,
        offenders: Vec<Offender>,
        notes: Vec<String>,
    ) -> Verdict {
        Verdict {
            step: step.id.clone(),
            title: step.title.clone(),
            expected: step.expected.clone(),
            observed,
            outcome,
            conclusion: (outcome == Outcome::Fail).then(|| step.if_different.clone()),
            offenders,
            notes,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Offender {
    pub name: String,
    pub outcome: Outcome,
    pub reason: String,
}
