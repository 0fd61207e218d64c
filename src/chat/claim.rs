//! In a fleet, every interaction is answered by exactly one node: the one
//! whose claim in the database wins. Over the gateway the claim is made
//! under the lease's fencing token, so a node whose lease lapsed (a
//! partition, a pause) claims, and so answers, nothing more. A single bot
//! on the gateway claims nothing: it answers what it gets, with or without
//! its database. (Interactions POSTed to the bot are claimed by
//! `endpoint.rs`.)

use crate::app::App;
use std::time::Duration;

/// A claim must leave time to acknowledge within Discord's 3 s.
const BOUND: Duration = Duration::from_millis(1500);

/// Whether this node answers interaction `id`.
pub(super) async fn claim(app: &App, id: u64) -> bool {
    let fleet = &app.settings.fleet;
    if !fleet.enabled {
        return true;
    }
    // Only gateway interactions come here (the endpoint claims what comes
    // over HTTP): claimed under the lease's token.
    let Some(held) = app.lease.held() else {
        tracing::info!(
            interaction = id,
            "not answered: this node does not hold the gateway lease"
        );
        return false;
    };
    let token = Some(held.token);
    match tokio::time::timeout(BOUND, app.store.claim_interaction(id, &fleet.node, token)).await {
        Ok(Ok(true)) => true,
        Ok(Ok(false)) => {
            tracing::info!(
                interaction = id,
                "not answered: claimed by another node, or the lease moved on"
            );
            false
        }
        Ok(Err(e)) => {
            tracing::warn!(interaction = id, error = %crate::cause_chain(&e), "not answered: the claim could not be recorded");
            false
        }
        Err(_) => {
            tracing::warn!(
                interaction = id,
                "not answered: the database did not take the claim in time"
            );
            false
        }
    }
}
