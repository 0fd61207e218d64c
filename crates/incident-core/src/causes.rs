//! The runbook's root-cause table, ranked by live evidence: each row's
//! evidence kind is measured (leak trend, connections, a worker's growth,
//! jumps of the web container, cache growth where measurable), scored from
//! 0 (nothing seen) to 1 (the bar is crossed), and the table sorted by
//! score, then by the runbook's likelihood. Pure: the measurements come in.

use super::runbook::{Cause, Evidence, Likelihood};
use serde::Serialize;

/// What was measured for each kind of evidence; `None` when it could not
/// be measured here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    /// Steepest growth of any container (MiB/hour, fit R², container).
    pub steepest: Option<(f64, f64, String)>,
    /// The trend bar (MiB/hour) from the runbook's leak step.
    pub growth_bar: f64,
    /// The worker service's growth (MiB/hour, R², container).
    pub worker: Option<(f64, f64, String)>,
    /// Largest rise between two consecutive samples of the web service
    /// (MiB, container).
    pub largest_jump: Option<(f64, String)>,
    /// Open connections, the bar, idle-in-transaction sessions, and the
    /// oldest of those in seconds.
    pub connections: Option<(usize, u32, usize, f64)>,
}

/// A jump of this many MiB between two samples scores 1.
pub const JUMP_MIB: f64 = 50.0;

/// One ranked row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedCause {
    pub id: String,
    pub cause: String,
    pub likelihood: String,
    pub score: f64,
    /// What the live evidence says, in one line.
    pub evidence: String,
    pub confirm: String,
    pub resolution: String,
}

fn trend_score(slope: f64, r2: f64, bar: f64) -> f64 {
    if slope <= 0.0 || bar <= 0.0 {
        0.0
    } else {
        (slope / bar).min(1.0) * r2.clamp(0.0, 1.0)
    }
}

fn likelihood_rank(l: Likelihood) -> u8 {
    match l {
        Likelihood::High => 2,
        Likelihood::Medium => 1,
        Likelihood::Low => 0,
    }
}

/// Scores and sorts the causes, best-supported first.
pub fn rank(causes: &[&Cause], m: &Measured) -> Vec<RankedCause> {
    let mut rows: Vec<(RankedCause, u8)> = causes
        .iter()
        .map(|c| {
            let (score, evidence) = match c.evidence {
                Evidence::MemoryTrend => match &m.steepest {
                    Some((slope, r2, name)) => (
                        trend_score(*slope, *r2, m.growth_bar),
                        format!("steepest growth: {name} at {slope:+.1} MiB/hour (R² {r2:.2}; bar {} MiB/hour)", m.growth_bar),
                    ),
                    None => (0.0, "not enough memory history yet to see a trend".into()),
                },
                Evidence::WorkerGrowth => match &m.worker {
                    Some((slope, r2, name)) => (
                        trend_score(*slope, *r2, m.growth_bar),
                        format!("worker {name} at {slope:+.1} MiB/hour (R² {r2:.2})"),
                    ),
                    None => (0.0, "no worker history to judge".into()),
                },
                Evidence::StepJumps => match &m.largest_jump {
                    Some((mib, name)) => (
                        (mib / JUMP_MIB).clamp(0.0, 1.0),
                        format!("largest jump of {name}: {mib:+.1} MiB between two samples ({JUMP_MIB} MiB counts as a jump)"),
                    ),
                    None => (0.0, "no web container history to look for jumps".into()),
                },
                Evidence::ConnectionCount => match m.connections {
                    Some((open, bar, idle, oldest)) => (
                        (open as f64 / f64::from(bar.max(1))).min(1.0),
                        format!(
                            "{open} connections (bar {bar}); {idle} idle in a transaction{}",
                            if idle > 0 { format!(", oldest {oldest:.0} s") } else { String::new() }
                        ),
                    ),
                    None => (0.0, "the application's database is not configured or not reachable".into()),
                },
                Evidence::CacheGrowth => (
                    0.0,
                    "not measurable here: the bot sees container memory, not cache sizes".into(),
                ),
            };
            (
                RankedCause {
                    id: c.id.clone(),
                    cause: c.cause.clone(),
                    likelihood: format!("{:?}", c.likelihood).to_lowercase(),
                    score,
                    evidence,
                    confirm: c.confirm.clone(),
                    resolution: c.resolution.clone(),
                },
                likelihood_rank(c.likelihood),
            )
        })
        .collect();
    rows.sort_by(|a, b| {
        b.0.score
            .total_cmp(&a.0.score)
            .then_with(|| b.1.cmp(&a.1))
            .then_with(|| a.0.id.cmp(&b.0.id))
    });
    rows.into_iter().map(|(r, _)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runbook::Runbook;

    fn causes() -> Runbook {
        Runbook::parse(include_str!("../../../commands/mem.toml"), "mem.toml").unwrap()
    }

    fn order(m: &Measured) -> Vec<String> {
        let rb = causes();
        let cs: Vec<&Cause> = rb.causes.iter().map(|c| c.get_ref()).collect();
        rank(&cs, m).into_iter().map(|r| r.id).collect()
    }

    #[test]
    fn evidence_decides_and_likelihood_breaks_ties() {
        // Nothing measured: the runbook's likelihood order.
        let nothing = Measured {
            growth_bar: 50.0,
            ..Default::default()
        };
        assert_eq!(order(&nothing)[0], "large-result-sets");
        // A steady leak.
        let leak = Measured {
            steepest: Some((500.0, 0.99, "web-1".into())),
            growth_bar: 50.0,
            ..Default::default()
        };
        assert_eq!(order(&leak)[0], "memory-leak");
        // Connections at the bar, memory flat.
        let pool = Measured {
            steepest: Some((0.1, 0.1, "web-1".into())),
            growth_bar: 50.0,
            connections: Some((98, 100, 12, 900.0)),
            ..Default::default()
        };
        assert_eq!(order(&pool)[0], "connection-pool");
        // A worker that grows more steadily than anything else.
        let worker = Measured {
            steepest: Some((60.0, 0.3, "web-1".into())),
            worker: Some((400.0, 0.95, "worker-1".into())),
            growth_bar: 50.0,
            ..Default::default()
        };
        assert_eq!(order(&worker)[0], "celery-references");
        // Big jumps of web.
        let jumps = Measured {
            largest_jump: Some((120.0, "web-1".into())),
            growth_bar: 50.0,
            ..Default::default()
        };
        assert_eq!(order(&jumps)[0], "large-result-sets");
    }

    #[test]
    fn shrinking_and_noise_score_nothing() {
        assert_eq!(trend_score(-100.0, 1.0, 50.0), 0.0);
        assert_eq!(trend_score(100.0, 0.0, 50.0), 0.0);
        assert!((trend_score(25.0, 1.0, 50.0) - 0.5).abs() < 1e-9);
    }
}
