//! A fleet's approved actions on other hosts: the approval that completes
//! a request bound to another node leaves it unclaimed (`vote.rs`); the
//! node that owns the container claims it here and executes it as any
//! approved request, its claim renewed while it runs and reconciled by
//! that node alone if it dies. A job its node does not claim within
//! `fleet.job_claim_secs` is failed unrun by whichever node looks first.

use super::execute::{execute, time_span};
use super::record::announce;
use crate::app::App;
use crate::core::approval::RequestState;
use crate::store::StoreError;
use std::time::Duration;
use time::OffsetDateTime;

/// What one look for jobs did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Jobs {
    /// Claimed by this node and started.
    pub started: usize,
    /// Failed unrun: their node did not claim them in time.
    pub abandoned: usize,
}

/// Claims this node's waiting jobs and starts each (they run on their own
/// tasks, so a long restart does not hold up the next look), and fails
/// the jobs of nodes that did not claim theirs in time.
pub async fn jobs(app: &std::sync::Arc<App>) -> Result<Jobs, StoreError> {
    let mut done = Jobs::default();
    if let Some(node) = app.fleet_node() {
        let lease = Duration::from_secs(app.settings.approvals.lease_secs.max(1));
        let claimed = app
            .store
            .claim_jobs(node, &app.instance, time_span(lease))
            .await?;
        for req in claimed {
            tracing::info!(
                request = req.rule.id,
                node,
                "claimed an approved action for this host"
            );
            done.started += 1;
            let app = app.clone();
            tokio::spawn(async move { execute(&app, req).await });
        }
    }
    for mut req in app.store.fail_unclaimed_jobs().await? {
        done.abandoned += 1;
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
    Ok(done)
}
