//! `/mem causes`: the measurements behind the root-cause ranking, taken
//! live: trends from the watcher's history (any container, and the worker
//! the runbook's worker action names), the largest jump of the other
//! containers, and the monitored database's connections.

use super::Probes;
use crate::appdb::AppDb;
use crate::core::causes::{rank, Measured, RankedCause};
use crate::core::runbook::{ActionEffect, Check, Runbook};
use crate::core::trend::{judge_trend, TrendRule};
use std::time::Duration;
use time::OffsetDateTime;

/// Measures and ranks the runbook's causes.
pub async fn ranked(p: &Probes<'_>, rb: &Runbook) -> Vec<RankedCause> {
    let m = measure(p, rb).await;
    let causes: Vec<_> = rb.causes.iter().map(|c| c.get_ref()).collect();
    rank(&causes, &m)
}

async fn measure(p: &Probes<'_>, rb: &Runbook) -> Measured {
    let mut m = Measured::default();
    if let Some(w) = p.watcher {
        trends(&mut m, w, rb).await;
    }
    m.connections = connections(p, rb).await;
    m
}

/// The trend evidence: the steepest container, the worker the runbook's
/// worker action names, and the largest single jump of the others.
async fn trends(m: &mut Measured, w: &crate::watch::Watcher, rb: &Runbook) {
    let now = OffsetDateTime::now_utc();
    let leak_step = rb
        .steps
        .iter()
        .map(|s| s.get_ref())
        .find(|s| matches!(s.check, Check::MemoryTrend { .. }));
    let worker_service = rb.actions.iter().find_map(|a| match &a.get_ref().effect {
        ActionEffect::RecreateWithCommand { service, .. } => Some(service.clone()),
        _ => None,
    });
    let Some(step) = leak_step else {
        return;
    };
    let Check::MemoryTrend {
        window_minutes,
        max_growth_mib_per_hour,
        min_samples,
    } = step.check
    else {
        unreachable!("found by its kind")
    };
    m.growth_bar = max_growth_mib_per_hour;
    let window = u64::from(window_minutes) * 60;
    let histories = w
        .history(None, now - time::Duration::seconds(window as i64))
        .await;
    let rule = TrendRule {
        window_secs: window,
        max_growth_mib_per_hour,
        min_samples,
        bar_mib: None,
    };
    let report = judge_trend(step, &rule, &histories, now);
    let best = |rows: Vec<&crate::core::trend::TrendRow>| {
        rows.into_iter()
            .filter_map(|r| Some((r.slope_mib_per_hour?, r.r2.unwrap_or(0.0), r.name.clone())))
            .max_by(|a, b| a.0.total_cmp(&b.0))
    };
    m.steepest = best(report.rows.iter().collect());
    m.worker = best(
        report
            .rows
            .iter()
            .filter(|r| r.service.is_some() && r.service == worker_service)
            .collect(),
    );
    m.largest_jump = histories
        .iter()
        .filter(|h| h.service.is_none() || h.service != worker_service)
        .filter_map(|h| {
            let jump = h
                .samples
                .windows(2)
                .map(|w| (w[1].1 as f64 - w[0].1 as f64) / (1024.0 * 1024.0))
                .fold(f64::NEG_INFINITY, f64::max);
            jump.is_finite().then(|| (jump, h.name.clone()))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
}

/// The connection evidence: (sessions, the bar, idle in a transaction,
/// the oldest of those in seconds), when the runbook has the step and the
/// monitored database answers.
async fn connections(p: &Probes<'_>, rb: &Runbook) -> Option<(usize, u32, usize, f64)> {
    let bar = rb.steps.iter().find_map(|s| match s.get_ref().check {
        Check::PgConnections {
            max_connections, ..
        } => Some(max_connections),
        _ => None,
    })?;
    p.app_db?;
    let timeout = Duration::from_secs(p.settings.docker.timeout_secs);
    let sessions = match AppDb::connect(p.app_db, timeout).await {
        Ok(db) => db.sessions().await,
        Err(e) => Err(e),
    };
    match sessions {
        Ok(snap) => {
            let idle: Vec<f64> = snap
                .sessions
                .iter()
                .filter(|s| s.state.starts_with("idle in transaction"))
                .map(|s| s.state_secs)
                .collect();
            let oldest = idle.iter().copied().fold(0.0, f64::max);
            Some((snap.sessions.len(), bar, idle.len(), oldest))
        }
        Err(e) => {
            tracing::warn!(error = %crate::cause_chain(&e), "no connection evidence");
            None
        }
    }
}
