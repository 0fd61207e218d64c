//! The memory report's table, aligned like `docker stats`: one row per
//! container, each row's age when the rows were sampled at different
//! times (a live report), and the TOTAL line last. A fleet's report has a
//! HOST column and a TOTAL line per host (the runbook's 80% is a host's),
//! a blind host's saying why it has no rows.

use crate::core::diagnosis::{MemoryReport, MemoryRow, Outcome};
use crate::core::memory::{human_bytes, Reading};
use std::fmt::Write;

/// Rows whose ages differ by this much or more get an AGE column.
const AGE_SPREAD_MS: u64 = 1000;

/// The whole table in the report's order, at most `max_rows` containers
/// (with a line saying how many more there are).
pub fn memory_table(r: &MemoryReport, max_rows: usize) -> String {
    let rows: Vec<&MemoryRow> = r.rows.iter().take(max_rows).collect();
    let mut out = memory_table_of(r, &rows);
    if r.rows.len() > rows.len() {
        let _ = writeln!(out, "… and {} more containers", r.rows.len() - rows.len());
    }
    out
}

/// The rows a short view shows first: those not passing (in the table's
/// order), then the rest, so a cut never hides an offender before a
/// healthy row.
pub fn offenders_first(r: &MemoryReport) -> Vec<&MemoryRow> {
    let (mut out, rest): (Vec<&MemoryRow>, Vec<&MemoryRow>) =
        r.rows.iter().partition(|row| row.outcome != Outcome::Pass);
    out.extend(rest);
    out
}

/// `rows` of the report as an aligned table with its TOTAL line (the
/// total is always the whole report's).
pub fn memory_table_of(r: &MemoryReport, rows: &[&MemoryRow]) -> String {
    // Rows of containers that do not run have no age of their own.
    let ages: Vec<Option<u64>> = r
        .rows
        .iter()
        .filter(|row| row.sample.reading != Reading::Gone)
        .map(|row| row.sample.age_ms)
        .collect();
    let with_age = shows_age(&ages);
    let fleet = !r.hosts.is_empty();
    let mut lines: Vec<Vec<String>> = vec![header(with_age)];
    for row in rows {
        lines.push(cells(row, with_age));
    }
    let total = |name: &str, usage: String, percent: String, mark: &str| {
        let mut line = vec![
            name.to_string(),
            String::new(),
            usage,
            String::new(),
            percent,
        ];
        if with_age {
            line.push(String::new());
        }
        line.push(mark.to_string());
        line
    };
    for h in &r.hosts {
        let mut line = match &h.blind {
            Some(_) => total("TOTAL", "?".into(), "-".into(), "?  blind: no data"),
            None => total(
                "TOTAL",
                human_bytes(h.total_usage_bytes),
                format!("{:.1}% of host", h.percent_of_host),
                mark(h.outcome),
            ),
        };
        line.insert(0, h.host.clone());
        lines.push(line);
    }
    let mut whole = total(
        if fleet { "TOTAL (all hosts)" } else { "TOTAL" },
        human_bytes(r.total_usage_bytes),
        format!(
            "{:.1}% of host{}",
            r.total_percent_of_host,
            if fleet { "s" } else { "" }
        ),
        "",
    );
    if fleet {
        whole.insert(0, String::new());
        for line in lines.iter_mut().take(rows.len() + 1) {
            let host = match line.first().map(String::as_str) {
                Some("CONTAINER") => "HOST".to_string(),
                _ => String::new(),
            };
            line.insert(0, host);
        }
        for (line, row) in lines.iter_mut().skip(1).zip(rows) {
            line[0] = row.host.clone().unwrap_or_default();
        }
    }
    lines.push(whole);
    align(&lines, with_age, usize::from(fleet))
}

fn mark(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Fail => "<< OVER",
        Outcome::Warn => "<  near",
        Outcome::Unknown => "?  no reading",
        Outcome::Pass => "",
    }
}

/// Whether the rows' ages differ enough to be worth a column.
fn shows_age(ages: &[Option<u64>]) -> bool {
    let known: Vec<u64> = ages.iter().flatten().copied().collect();
    let (Some(min), Some(max)) = (known.iter().min(), known.iter().max()) else {
        return false;
    };
    max - min >= AGE_SPREAD_MS || known.len() < ages.len()
}

fn header(with_age: bool) -> Vec<String> {
    let mut h: Vec<String> = ["CONTAINER", "SERVICE", "USAGE", "LIMIT", "% LIMIT"]
        .map(String::from)
        .to_vec();
    if with_age {
        h.push("AGE".into());
    }
    h.push(String::new());
    h
}

fn cells(row: &MemoryRow, with_age: bool) -> Vec<String> {
    let s = &row.sample;
    let (usage, limit) = match &s.reading {
        Reading::Sampled {
            usage_bytes,
            limit_bytes,
        } => (
            human_bytes(*usage_bytes),
            limit_bytes.map_or("no limit".to_string(), human_bytes),
        ),
        Reading::Gone => ("down".into(), "-".into()),
        Reading::Failed { .. } => ("?".into(), "-".into()),
    };
    let mark = match &s.reading {
        Reading::Gone => "not running",
        _ => mark(row.outcome),
    };
    let mut out = vec![
        s.name.clone(),
        s.service.clone().unwrap_or_else(|| "-".into()),
        usage,
        limit,
        row.percent_of_limit
            .map_or("-".into(), |p| format!("{p:.1}%")),
    ];
    if with_age {
        out.push(
            s.age_ms
                .map_or("-".into(), |ms| format!("{:.1}s", ms as f64 / 1000.0)),
        );
    }
    out.push(mark.into());
    out
}

/// `lines` aligned; `shift` leading columns come before CONTAINER.
fn align(lines: &[Vec<String>], with_age: bool, shift: usize) -> String {
    let columns = lines[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            lines
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    // Numbers right-aligned, names left-aligned, as docker stats.
    let numeric = if with_age { 2..=5 } else { 2..=4 };
    let numeric = numeric.start() + shift..=numeric.end() + shift;
    let mut out = String::new();
    for row in lines {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let w = widths[i];
            if numeric.contains(&i) {
                let _ = write!(line, "{cell:>w$}  ");
            } else {
                let _ = write!(line, "{cell:<w$}  ");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}
