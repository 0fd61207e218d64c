//! Verdicts: observed values judged against a runbook step's Expected line.
//!
//! Pure functions from (step, thresholds, observation) to a [`Verdict`]; the
//! renderers turn verdicts into text, JSON or embeds, and the exit code of a
//! terminal command is the verdict's [`Outcome`].

use super::connections::ConnectionsReport;
use super::memory::{ContainerSample, MemorySnapshot, Reading, MIB};
use super::profile::ProfileReport;
use super::runbook::{Check, ContainerMemoryCheck, Step};
use super::trend::TrendReport;
use serde::Serialize;

pub use super::verdict::{Offender, Outcome, Verdict};

/// One container's line in a memory report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryRow {
    /// The Docker host it runs on, in a fleet's report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(flatten)]
    pub sample: ContainerSample,
    /// Usage as a percent of the container's own limit, when it has one.
    pub percent_of_limit: Option<f64>,
    pub outcome: Outcome,
}

/// The judged result of a `container_memory` step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryReport {
    pub host_memory_bytes: u64,
    pub total_usage_bytes: u64,
    pub total_percent_of_host: f64,
    pub rows: Vec<MemoryRow>,
    /// A fleet's report: each host's own total, judged against its own
    /// memory (empty for one host's report).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostTotal>,
    pub verdict: Verdict,
}

/// One host's part of a fleet's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostTotal {
    pub host: String,
    pub memory_bytes: u64,
    pub total_usage_bytes: u64,
    pub percent_of_host: f64,
    pub containers: usize,
    pub outcome: Outcome,
    /// Why the host is not judged: its data is missing or too old.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blind: Option<String>,
}

/// A judged step, with what it looked at.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub runbook: String,
    pub runbook_title: String,
    pub scope: ScopeView,
    pub endpoint: String,
    /// Where the numbers came from and how old they are.
    pub source: Source,
    #[serde(flatten)]
    pub finding: Finding,
}

/// Where a report's numbers came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Source {
    /// Read from the engine's API for this report.
    Engine,
    /// Read from the kernel's cgroup files for this report.
    Kernel,
    /// The live watcher's latest samples: the oldest is `age_ms` old, the
    /// newest `newest_ms`; `reader` says how the watcher reads memory.
    Live {
        age_ms: u64,
        newest_ms: u64,
        reader: Reader,
    },
    /// The recorded history (live cache and database).
    History,
    /// Read from the monitored application's database for this report.
    AppDatabase,
}

impl Source {
    /// "live data from the kernel's cgroup files, 0.8 s old" / "read from the
    /// engine just now".
    pub fn describe(&self) -> String {
        match self {
            Source::Engine => "read from the engine just now".into(),
            Source::Kernel => "read from the kernel's cgroup files just now".into(),
            Source::Live {
                age_ms,
                newest_ms,
                reader,
            } => {
                let secs = |ms: &u64| *ms as f64 / 1000.0;
                // Rows sampled at different times say so: one age would
                // hide a stale row behind a fresh one.
                let age = if age_ms.abs_diff(*newest_ms) >= 100 {
                    format!("{:.1}-{:.1} s old", secs(newest_ms), secs(age_ms))
                } else {
                    format!("{:.1} s old", secs(age_ms))
                };
                format!("live data from {}, {age}", reader.describe())
            }
            Source::History => "recorded history".into(),
            Source::AppDatabase => "read from the application's database just now".into(),
        }
    }
}

/// How the live watcher reads memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reader {
    /// The kernel's cgroup files, beside the engine.
    Kernel,
    /// The engine's stats API: the cgroup files are not reachable here.
    StatsApi,
}

impl Reader {
    pub fn describe(&self) -> &'static str {
        match self {
            Reader::Kernel => "the kernel's cgroup files",
            Reader::StatsApi => "the engine's stats API",
        }
    }
}

/// The scope, as it reads in JSON: `{"project": "rota-cc"}` or `{"all": true}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeView {
    Project(String),
    All(bool),
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Finding {
    ContainerMemory(MemoryReport),
    MemoryTrend(TrendReport),
    Connections(ConnectionsReport),
    Profile(ProfileReport),
}

impl Diagnosis {
    pub fn outcome(&self) -> Outcome {
        self.verdict().outcome
    }

    pub fn verdict(&self) -> &Verdict {
        match &self.finding {
            Finding::ContainerMemory(r) => &r.verdict,
            Finding::MemoryTrend(r) => &r.verdict,
            Finding::Connections(r) => &r.verdict,
            Finding::Profile(r) => &r.verdict,
        }
    }
}

/// Whether this version can run a check (the others are declared in the
/// runbook and answered with "not available yet").
pub fn can_run(check: &Check) -> bool {
    matches!(
        check,
        Check::ContainerMemory(_)
            | Check::MemoryTrend { .. }
            | Check::PgConnections { .. }
            | Check::ExecProfile { .. }
    )
}

/// Judges a snapshot against the thresholds of a `container_memory` check.
pub fn judge_memory(
    step: &Step,
    check: &ContainerMemoryCheck,
    snap: &MemorySnapshot,
) -> MemoryReport {
    let mut offenders = Vec::new();
    let mut notes = Vec::new();
    let (rows, total, mut outcome) = container_rows(check, snap, &mut offenders, &mut notes);
    let total_pct = if snap.host_memory_bytes > 0 {
        total as f64 / snap.host_memory_bytes as f64 * 100.0
    } else {
        0.0
    };
    outcome = outcome.worst(judge_total(
        check,
        total,
        total_pct,
        snap.host_memory_bytes,
        &mut offenders,
        &mut notes,
    ));

    let sampled = rows
        .iter()
        .filter(|r| matches!(r.sample.reading, Reading::Sampled { .. }))
        .count();
    if sampled == 0 {
        // Nothing was measured, so nothing passed.
        outcome = outcome.worst(Outcome::Unknown);
    }
    let largest = rows
        .iter()
        .filter_map(|r| match r.sample.reading {
            Reading::Sampled { usage_bytes, .. } => Some((usage_bytes, &r.sample.name)),
            _ => None,
        })
        .max();
    let observed = match largest {
        Some((bytes, name)) => format!(
            "total {} ({total_pct:.1}% of host memory) over {sampled} container{}; largest {name} at {}",
            mib(total),
            if sampled == 1 { "" } else { "s" },
            mib(bytes)
        ),
        None => "no container could be measured".to_string(),
    };

    MemoryReport {
        host_memory_bytes: snap.host_memory_bytes,
        total_usage_bytes: total,
        total_percent_of_host: total_pct,
        rows,
        hosts: Vec::new(),
        verdict: Verdict::of(step, observed, outcome, offenders, notes),
    }
}

/// Every container's row, judged against the per-process bar and its own
/// limit; with the total usage and the worst outcome.
fn container_rows(
    check: &ContainerMemoryCheck,
    snap: &MemorySnapshot,
    offenders: &mut Vec<Offender>,
    notes: &mut Vec<String>,
) -> (Vec<MemoryRow>, u64, Outcome) {
    let mut outcome = Outcome::Pass;
    let mut rows = Vec::with_capacity(snap.containers.len());
    let mut total: u64 = 0;
    for c in &snap.containers {
        let (row_outcome, percent_of_limit) = match &c.reading {
            Reading::Sampled {
                usage_bytes,
                limit_bytes,
            } => {
                // Engine numbers are not trusted to be sane.
                total = total.saturating_add(*usage_bytes);
                let pct = limit_bytes.map(|l| *usage_bytes as f64 / l as f64 * 100.0);
                let (o, reasons) = judge_container(check, *usage_bytes, pct);
                if o != Outcome::Pass {
                    offenders.push(Offender {
                        name: c.name.clone(),
                        outcome: o,
                        reason: reasons.join("; "),
                    });
                }
                (o, pct)
            }
            Reading::Gone => {
                notes.push(format!(
                    "{} is not running: it stopped, was killed or was removed",
                    c.name
                ));
                (Outcome::Pass, None)
            }
            Reading::Failed { reason } => {
                notes.push(format!("{}: no reading ({reason})", c.name));
                (Outcome::Unknown, None)
            }
        };
        outcome = outcome.worst(row_outcome);
        rows.push(MemoryRow {
            host: None,
            sample: c.clone(),
            percent_of_limit,
            outcome: row_outcome,
        });
    }
    (rows, total, outcome)
}

/// The total against the runbook's percent of host memory.
fn judge_total(
    check: &ContainerMemoryCheck,
    total: u64,
    total_pct: f64,
    host_memory_bytes: u64,
    offenders: &mut Vec<Offender>,
    notes: &mut Vec<String>,
) -> Outcome {
    let Some(bar) = check.total_max_percent else {
        return Outcome::Pass;
    };
    if host_memory_bytes == 0 {
        // Without host memory the total cannot be judged; do not pass it.
        notes.push("the engine did not report host memory, so the total is not judged".into());
        return Outcome::Unknown;
    }
    let o = grade(total_pct, bar, check.warn_ratio);
    if o != Outcome::Pass {
        offenders.push(Offender {
            name: "total".into(),
            outcome: o,
            reason: format!(
                "{} is {total_pct:.1}% of host memory ({}the {bar}% bar)",
                mib(total),
                if o == Outcome::Fail {
                    "at or over "
                } else {
                    "close to "
                }
            ),
        });
    }
    o
}

/// One container against the per-process bar and its own limit.
fn judge_container(
    check: &ContainerMemoryCheck,
    usage: u64,
    percent_of_limit: Option<f64>,
) -> (Outcome, Vec<String>) {
    let mut outcome = Outcome::Pass;
    let mut reasons = Vec::new();
    if let Some(bar) = check.process_max_mib {
        let o = grade(usage as f64 / MIB, bar, check.warn_ratio);
        match o {
            Outcome::Fail => {
                reasons.push(format!("{} is at or over the {bar} MiB bar", mib(usage)))
            }
            Outcome::Warn => reasons.push(format!("{} is close to the {bar} MiB bar", mib(usage))),
            _ => {}
        }
        outcome = outcome.worst(o);
    }
    if let Some(pct) = percent_of_limit {
        if pct >= check.limit_warn_percent {
            reasons.push(format!(
                "at {pct:.0}% of its own limit: the OOM killer acts at 100%"
            ));
            outcome = outcome.worst(Outcome::Warn);
        }
    }
    (outcome, reasons)
}

/// Fail at or over the bar ("Expected < bar"), warn at `warn_ratio` of it.
fn grade(value: f64, bar: f64, warn_ratio: f64) -> Outcome {
    if value >= bar {
        Outcome::Fail
    } else if value >= bar * warn_ratio {
        Outcome::Warn
    } else {
        Outcome::Pass
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB)
}

mod fleet;
pub use fleet::{judge_fleet, HostSnapshot};

#[cfg(test)]
mod tests;
