//! A fleet's approved actions on other hosts: the approval that completes
//! a request bound to another node leaves it unclaimed (`vote.rs`); the
//! node that owns the container claims it here and executes it as any
//! approved request, its claim renewed while it runs and reconciled by
//! that node alone if it dies. A job its node does not claim within
//! `fleet.job_claim_secs` is failed unrun by whichever node's expiry check
//! looks first.

use super::execute::{execute, time_span};
use super::record::announce;
use crate::app::App;
use crate::core::approval::RequestState;
use crate::store::StoreError;
use std::time::Duration;
use time::OffsetDateTime;

/// Claims this node's waiting jobs and starts each (they run on their own
/// tasks, so a long restart does not hold up the next look); returns how
/// many it started.
pub async fn jobs(app: &std::sync::Arc<App>) -> Result<usize, StoreError> {
    let Some(node) = app.fleet_node() else {
        return Ok(0);
    };
    let lease = Duration::from_secs(app.settings.approvals.lease_secs.max(1));
    let claimed = app
        .store
        .claim_jobs(node, &app.instance, time_span(lease))
        .await?;
    let started = claimed.len();
    for req in claimed {
        tracing::info!(
            request = req.rule.id,
            node,
            "claimed an approved action for this host"
        );
        let app = app.clone();
        tokio::spawn(async move { execute(&app, req).await });
    }
    Ok(started)
}

/// Fails the jobs of nodes that did not claim theirs in time (with the
/// expiry check), and says so; returns how many.
pub(super) async fn abandoned(app: &App) -> Result<usize, StoreError> {
    let failed = app.store.fail_unclaimed_jobs().await?;
    let n = failed.len();
    for mut req in failed {
        let outcome = req.outcome.clone().unwrap_or_default();
        tracing::warn!(request = req.rule.id, node = ?req.node, "an approved action was not picked up by its host; failed unrun");
        announce(
            app,
            &mut req,
            RequestState::Failed,
            outcome,
            OffsetDateTime::now_utc(),
        )
        .await;
    }
    Ok(n)
}
