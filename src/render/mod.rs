//! Presents what the bot found to people (an aligned text table, chat
//! messages as plain data, the chart's data) and to scripts (JSON). Pure
//! formatting: no probing, no judging, no I/O, no chat platform's types.

use crate::chart;
use crate::core::diagnosis::{Diagnosis, Finding, MemoryReport, Outcome, ScopeView, Verdict};
use crate::core::memory::{human_bytes, Reading};
use crate::core::trend::{span, TrendReport};
use std::fmt::Write;

pub mod alert;
mod connections;
pub mod fleet;
pub mod followups;
pub mod incident;
mod memory_table;
pub mod message;
pub mod paging;
mod report;
pub mod reverify;
mod runbook;
pub use connections::connections_table;
pub use memory_table::{memory_table, memory_table_of, offenders_first};
pub use message::{Attachment, Button, ButtonStyle, Embed, Mentions, Message};
pub use report::{footer_note, report, CHART_FILE};
pub use runbook::runbook_sections;

/// The diagnosis as a text report for a terminal.
pub fn text(d: &Diagnosis) -> String {
    match &d.finding {
        Finding::ContainerMemory(report) => memory_text(d, report),
        Finding::MemoryTrend(report) => trend_text(d, report),
        Finding::Profile(report) => {
            let v = &report.verdict;
            let mut out = format!(
                "{} · {} ({} {})\n{} · {}\n$ {}\n\n",
                d.runbook_title,
                v.title,
                d.runbook,
                v.step,
                report.service,
                report.container,
                report.command
            );
            out.push_str(&report.output);
            if !report.output.ends_with('\n') {
                out.push('\n');
            }
            verdict_lines(&mut out, v, d);
            out
        }
        Finding::Connections(report) => {
            let v = &report.verdict;
            let mut out = format!(
                "{} · {} ({} {})\napplication database {}\n\n",
                d.runbook_title, v.title, d.runbook, v.step, d.endpoint
            );
            out.push_str(&connections_table(report, usize::MAX));
            verdict_lines(&mut out, v, d);
            out
        }
    }
}

/// The diagnosis as pretty JSON, the same facts as [`text`].
pub fn json(d: &Diagnosis) -> String {
    serde_json::to_string_pretty(d).expect("a diagnosis always serializes")
}

/// An error for `--json` consumers, so stdout stays parseable.
pub fn json_error(message: &str, outcome: Outcome) -> String {
    serde_json::json!({ "error": message, "outcome": outcome }).to_string()
}

fn memory_text(d: &Diagnosis, r: &MemoryReport) -> String {
    let v = &r.verdict;
    let mut out = String::new();
    let scope = scope_label(&d.scope);
    let _ = writeln!(
        out,
        "{} · {} ({} {})\n{scope} · engine {} · host memory {}\n",
        d.runbook_title,
        v.title,
        d.runbook,
        v.step,
        d.endpoint,
        human_bytes(r.host_memory_bytes)
    );

    out.push_str(&memory_table(r, usize::MAX));
    verdict_lines(&mut out, v, d);
    out
}

fn trend_text(d: &Diagnosis, r: &TrendReport) -> String {
    let v = &r.verdict;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} · {} ({} {})\n{} · window {}\n",
        d.runbook_title,
        v.title,
        d.runbook,
        v.step,
        scope_label(&d.scope),
        span(r.window_secs as f64),
    );
    out.push_str(&trend_table(r, usize::MAX));
    verdict_lines(&mut out, v, d);
    out
}

/// Expected, observed, verdict, offenders, notes and the data's age.
fn verdict_lines(out: &mut String, v: &Verdict, d: &Diagnosis) {
    let _ = writeln!(out, "\nExpected: {}", v.expected);
    let _ = writeln!(out, "Observed: {}", v.observed);
    match &v.conclusion {
        Some(c) => {
            let _ = writeln!(out, "Verdict:  {}: {c}", v.outcome.label());
        }
        None => {
            let _ = writeln!(out, "Verdict:  {}", v.outcome.label());
        }
    }
    for o in &v.offenders {
        let _ = writeln!(out, "  - {} ({}): {}", o.name, o.outcome.label(), o.reason);
    }
    for n in &v.notes {
        let _ = writeln!(out, "Note: {n}");
    }
    let _ = writeln!(out, "Data: {}", d.source.describe());
}

/// One line per container: slope, fit, latest and time to its ceiling
/// (monospace), at most `max_rows` containers.
pub fn trend_table(r: &TrendReport, max_rows: usize) -> String {
    let mut rows: Vec<[String; 6]> = vec![[
        "CONTAINER".into(),
        "SAMPLES".into(),
        "MiB/HOUR".into(),
        "FIT R²".into(),
        "LATEST".into(),
        "REACHES CEILING".into(),
    ]];
    for row in r.rows.iter().take(max_rows) {
        let eta = match (&row.ceiling, row.seconds_to_ceiling) {
            (Some((what, _)), Some(s)) if s <= 0.0 => format!("at its {what} now"),
            (Some((what, bytes)), Some(s)) => {
                format!("{what} {} in {}", human_bytes(*bytes), span(s))
            }
            (_, None) if row.slope_mib_per_hour.is_none() => "-".into(),
            _ => "not heading there".into(),
        };
        rows.push([
            row.name.clone(),
            row.samples.to_string(),
            row.slope_mib_per_hour
                .map_or("-".into(), |s| format!("{s:+.1}")),
            row.r2.map_or("-".into(), |r| format!("{r:.2}")),
            row.latest_bytes.map_or("-".into(), human_bytes),
            eta,
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let w = widths[i];
            if (1..=4).contains(&i) {
                let _ = write!(line, "{cell:>w$}  ");
            } else {
                let _ = write!(line, "{cell:<w$}  ");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if r.rows.len() > max_rows {
        let _ = writeln!(out, "… and {} more containers", r.rows.len() - max_rows);
    }
    out
}

/// The chart of a trend report: each container's history, its fitted line
/// and the ceiling it is projected against.
pub fn trend_chart(d: &Diagnosis, r: &TrendReport) -> chart::TrendChart {
    let title = match &d.scope {
        ScopeView::Project(p) => format!("Memory over time - {p}"),
        ScopeView::All(_) => "Memory over time - all".to_string(),
    };
    // One ceiling line: the lowest, the one that matters first.
    let limit = r
        .rows
        .iter()
        .filter_map(|row| row.ceiling.clone())
        .min_by_key(|(_, bytes)| *bytes)
        .map(|(what, bytes)| (format!("{what} {}", human_bytes(bytes)), bytes));
    chart::TrendChart {
        title,
        window_secs: r.window_secs as f64,
        limit,
        series: r
            .rows
            .iter()
            .zip(&r.series)
            .map(|(row, points)| chart::TrendSeries {
                label: row.name.clone(),
                points: points.clone(),
                trend: row.line,
                state: bar_state(row.outcome),
            })
            .collect(),
    }
}

fn bar_state(o: Outcome) -> chart::BarState {
    match o {
        Outcome::Pass => chart::BarState::Ok,
        Outcome::Warn => chart::BarState::Warn,
        Outcome::Fail => chart::BarState::Over,
        Outcome::Unknown => chart::BarState::Unknown,
    }
}

/// "Compose project rota-cc" or "all containers".
pub fn scope_label(scope: &ScopeView) -> String {
    match scope {
        ScopeView::Project(p) => format!("Compose project {p}"),
        ScopeView::All(_) => "all containers".to_string(),
    }
}

/// Embed colour by outcome: green, amber, red, grey.
pub fn outcome_colour(o: Outcome) -> u32 {
    match o {
        Outcome::Pass => 0x2E_CC_71,
        Outcome::Warn => 0xF1_C4_0F,
        Outcome::Fail => 0xE7_4C_3C,
        Outcome::Unknown => 0x95_A5_A6,
    }
}

/// The chart of a memory report: a bar per container, the per-container
/// bar of the check and each limit.
pub fn memory_chart(d: &Diagnosis, r: &MemoryReport, bar_mib: Option<f64>) -> chart::MemoryChart {
    let title = match &d.scope {
        ScopeView::Project(p) => format!("Memory by container - {p}"),
        ScopeView::All(_) => "Memory by container - all".to_string(),
    };
    // Service names are short and familiar; replicas share one, so then the
    // container names tell the bars apart.
    // In a fleet, the same service runs on several hosts: each bar names
    // its host.
    let mut services: Vec<(Option<&str>, &str)> = r
        .rows
        .iter()
        .filter_map(|row| Some((row.host.as_deref(), row.sample.service.as_deref()?)))
        .collect();
    let total = services.len();
    services.sort_unstable();
    services.dedup();
    let by_service = total == r.rows.len() && services.len() == total;
    chart::MemoryChart {
        title,
        threshold_mib: bar_mib,
        bars: r
            .rows
            .iter()
            .map(|row| {
                let (usage, limit) = match row.sample.reading {
                    Reading::Sampled {
                        usage_bytes,
                        limit_bytes,
                    } => (Some(usage_bytes), limit_bytes),
                    _ => (None, None),
                };
                let label = match (&row.sample.service, by_service) {
                    (Some(service), true) => service.clone(),
                    _ => row.sample.name.clone(),
                };
                chart::Bar {
                    label: match &row.host {
                        Some(host) => format!("{host}/{label}"),
                        None => label,
                    },
                    usage_bytes: usage,
                    limit_bytes: limit,
                    state: bar_state(row.outcome),
                }
            })
            .collect(),
    }
}

/// The runbook as a checklist for an incident's first post: each diagnosis
/// step with the command that runs it, the verification items and the
/// escalation rules.
pub fn runbook_checklist(rb: &crate::core::runbook::Runbook) -> String {
    let mut out = String::from("**Diagnosis**\n");
    for (i, s) in rb.steps.iter().map(|s| s.get_ref()).enumerate() {
        let _ = writeln!(
            out,
            "{}. {}: `/{} {}` (expected: {})",
            i + 1,
            s.title,
            rb.id(),
            s.id,
            s.expected
        );
    }
    if !rb.verification.is_empty() {
        out.push_str("\n**Verification** (`/");
        out.push_str(rb.id());
        out.push_str(" verify`)\n");
        for v in &rb.verification {
            let _ = writeln!(out, "- [ ] {}", v.get_ref().text);
        }
    }
    if !rb.escalations.is_empty() {
        out.push_str("\n**Escalation**\n");
        for e in &rb.escalations {
            let _ = writeln!(out, "- {}", e.get_ref().text);
        }
    }
    out
}
