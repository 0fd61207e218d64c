//! Memory over time: a least-squares line through a container's history,
//! and the runbook's "monitor memory over time; expected: stable" judged
//! on it (step `leaks`, and the verification item "memory stable").
//!
//! Pure: the caller passes the samples and `now`; nothing here reads a
//! clock or knows where the samples came from (live cache or database).

use super::memory::MIB;
use super::runbook::Step;
use super::verdict::{Offender, Outcome, Verdict};
use serde::Serialize;
use time::OffsetDateTime;

/// Below this coefficient of determination a slope is noise rather than a
/// trend: growth is then a warning ("growing, but not steadily"), not a
/// suspected leak.
pub const MIN_FIT_R2: f64 = 0.5;

/// A least-squares line `bytes = intercept + slope * t`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fit {
    /// Bytes at t = 0.
    pub intercept: f64,
    /// Bytes per second.
    pub slope: f64,
    /// Coefficient of determination: 1 is a perfect line. A flat, constant
    /// series fits perfectly (1).
    pub r2: f64,
}

/// Fits a line to `(seconds, bytes)` points. `None` with fewer than two
/// points, or when they all share one instant (no line through them).
pub fn fit(points: &[(f64, f64)]) -> Option<Fit> {
    let n = points.len();
    if n < 2 || points.iter().any(|(t, y)| !t.is_finite() || !y.is_finite()) {
        return None;
    }
    let nf = n as f64;
    // Centre on the means first: summing raw squared seconds since the
    // epoch would lose every digit that matters.
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / nf;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / nf;
    let (mut stt, mut sty, mut syy) = (0.0, 0.0, 0.0);
    for (t, y) in points {
        let (dt, dy) = (t - mean_t, y - mean_y);
        stt += dt * dt;
        sty += dt * dy;
        syy += dy * dy;
    }
    if stt <= f64::EPSILON {
        return None;
    }
    let slope = sty / stt;
    let intercept = mean_y - slope * mean_t;
    let r2 = if syy <= f64::EPSILON {
        1.0
    } else {
        (sty * sty / (stt * syy)).clamp(0.0, 1.0)
    };
    Some(Fit {
        intercept,
        slope,
        r2,
    })
}

/// One container's history over the window.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub name: String,
    pub service: Option<String>,
    /// The container's own memory limit, if it has one.
    pub limit_bytes: Option<u64>,
    /// (when, bytes in use), oldest first.
    pub samples: Vec<(OffsetDateTime, u64)>,
}

/// What the trend step was asked to judge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendRule {
    pub window_secs: u64,
    pub max_growth_mib_per_hour: f64,
    pub min_samples: u32,
    /// The runbook's per-container bar (500 MB), the line a container
    /// without a limit of its own is projected against.
    pub bar_mib: Option<f64>,
}

/// One container's trend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendRow {
    pub name: String,
    pub service: Option<String>,
    pub samples: usize,
    /// Seconds between the first and the last sample used.
    pub span_secs: f64,
    pub latest_bytes: Option<u64>,
    pub slope_mib_per_hour: Option<f64>,
    pub r2: Option<f64>,
    /// The line it is projected against: ("limit" | "bar", bytes).
    pub ceiling: Option<(String, u64)>,
    /// Seconds from now until the fitted line reaches the ceiling; `Some(0)`
    /// when it is already there, `None` when it is not heading there.
    pub seconds_to_ceiling: Option<f64>,
    /// The fitted line, for the chart: bytes at the window's start and
    /// bytes per second.
    #[serde(skip)]
    pub line: Option<(f64, f64)>,
    pub outcome: Outcome,
}

/// The judged trend of every container in scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendReport {
    pub window_secs: u64,
    /// Window start, the chart's t = 0.
    #[serde(with = "time::serde::rfc3339")]
    pub window_start: OffsetDateTime,
    pub rows: Vec<TrendRow>,
    /// The samples, per row, as (seconds since window start, bytes): the
    /// chart's data.
    #[serde(skip)]
    pub series: Vec<Vec<(f64, u64)>>,
    pub verdict: Verdict,
}

/// Judges each container's memory trend over the window ending at `now`.
pub fn judge_trend(
    step: &Step,
    rule: &TrendRule,
    histories: &[History],
    now: OffsetDateTime,
) -> TrendReport {
    let start = now - time::Duration::seconds(rule.window_secs as i64);
    let mut rows = Vec::new();
    let mut series = Vec::new();
    let mut offenders = Vec::new();
    let mut notes = Vec::new();
    let mut outcome = Outcome::Pass;
    for h in histories {
        let pts: Vec<(f64, u64)> = h
            .samples
            .iter()
            .filter(|(at, _)| *at >= start && *at <= now)
            .map(|(at, b)| ((*at - start).as_seconds_f64(), *b))
            .collect();
        let row = judge_one(rule, h, &pts);
        if let Some(reason) = offender_reason(rule, &row) {
            offenders.push(Offender {
                name: h.name.clone(),
                outcome: row.outcome,
                reason,
            });
        }
        if row.outcome == Outcome::Unknown {
            notes.push(format!(
                "{}: {} sample{} in the window, {} needed to judge a trend",
                h.name,
                row.samples,
                if row.samples == 1 { "" } else { "s" },
                rule.min_samples
            ));
        }
        outcome = outcome.worst(row.outcome);
        rows.push(row);
        series.push(pts);
    }
    if rows.is_empty() {
        outcome = Outcome::Unknown;
    }
    let observed = match rows
        .iter()
        .filter(|r| r.slope_mib_per_hour.is_some())
        .max_by(|a, b| {
            a.slope_mib_per_hour
                .partial_cmp(&b.slope_mib_per_hour)
                .unwrap()
        }) {
        Some(r) => format!(
            "steepest: {} at {:+.1} MiB/hour (fit R² {:.2}) over {} of history",
            r.name,
            r.slope_mib_per_hour.unwrap_or(0.0),
            r.r2.unwrap_or(0.0),
            span(r.span_secs)
        ),
        None if rows.is_empty() => "no container to judge".into(),
        None => "not enough history to fit a trend yet".into(),
    };
    TrendReport {
        window_secs: rule.window_secs,
        window_start: start,
        rows,
        series,
        verdict: Verdict::of(step, observed, outcome, offenders, notes),
    }
}

fn judge_one(rule: &TrendRule, h: &History, pts: &[(f64, u64)]) -> TrendRow {
    let latest_bytes = pts.last().map(|p| p.1);
    let ceiling = match (h.limit_bytes, rule.bar_mib) {
        (Some(l), _) => Some(("limit".to_string(), l)),
        (None, Some(bar)) => Some(("bar".to_string(), (bar * MIB) as u64)),
        (None, None) => None,
    };
    let span_secs = match (pts.first(), pts.last()) {
        (Some(a), Some(b)) => b.0 - a.0,
        _ => 0.0,
    };
    let mut row = TrendRow {
        name: h.name.clone(),
        service: h.service.clone(),
        samples: pts.len(),
        span_secs,
        latest_bytes,
        slope_mib_per_hour: None,
        r2: None,
        ceiling: ceiling.clone(),
        seconds_to_ceiling: None,
        line: None,
        outcome: Outcome::Unknown,
    };
    if pts.len() < rule.min_samples.max(2) as usize {
        return row;
    }
    let xy: Vec<(f64, f64)> = pts.iter().map(|(t, b)| (*t, *b as f64)).collect();
    let Some(f) = fit(&xy) else {
        return row;
    };
    let per_hour = f.slope * 3600.0 / MIB;
    row.slope_mib_per_hour = Some(per_hour);
    row.r2 = Some(f.r2);
    row.line = Some((f.intercept, f.slope));
    let now_t = rule.window_secs as f64;
    let fitted_now = f.intercept + f.slope * now_t;
    row.seconds_to_ceiling = ceiling.as_ref().and_then(|(_, c)| {
        let c = *c as f64;
        if fitted_now >= c {
            Some(0.0)
        } else if f.slope > 0.0 {
            Some((c - fitted_now) / f.slope)
        } else {
            None
        }
    });
    row.outcome = if per_hour < rule.max_growth_mib_per_hour {
        Outcome::Pass
    } else if f.r2 >= MIN_FIT_R2 {
        Outcome::Fail
    } else {
        Outcome::Warn
    };
    row
}

fn offender_reason(rule: &TrendRule, row: &TrendRow) -> Option<String> {
    let per_hour = row.slope_mib_per_hour?;
    let r2 = row.r2.unwrap_or(0.0);
    let eta = match (&row.ceiling, row.seconds_to_ceiling) {
        (Some((what, bytes)), Some(s)) if s <= 0.0 => {
            format!("; already at its {what} ({})", mib(*bytes))
        }
        (Some((what, bytes)), Some(s)) => {
            format!(
                "; reaches its {what} ({}) in about {}",
                mib(*bytes),
                span(s)
            )
        }
        _ => String::new(),
    };
    match row.outcome {
        Outcome::Fail => Some(format!(
            "grows {per_hour:+.1} MiB/hour (bar {} MiB/hour), steadily (R² {r2:.2}){eta}",
            rule.max_growth_mib_per_hour
        )),
        Outcome::Warn => Some(format!(
            "grows {per_hour:+.1} MiB/hour (bar {} MiB/hour), but unevenly (R² {r2:.2}): watch it longer{eta}",
            rule.max_growth_mib_per_hour
        )),
        _ => None,
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / MIB)
}

/// "45 s", "12 min", "3.5 h", "2.1 days".
pub fn span(secs: f64) -> String {
    let secs = secs.max(0.0);
    if secs < 90.0 {
        format!("{secs:.0} s")
    } else if secs < 90.0 * 60.0 {
        format!("{:.0} min", secs / 60.0)
    } else if secs < 48.0 * 3600.0 {
        format!("{:.1} h", secs / 3600.0)
    } else {
        format!("{:.1} days", secs / 86400.0)
    }
}

#[cfg(test)]
#[path = "trend_tests.rs"]
mod tests;
