//! Reconciling execution claims whose executor is gone: an approved
//! request whose claim was not renewed (its bot crashed or lost its host)
//! or that outlived twice its action's time limit. Run on start and with
//! every expiry check. The bot inspects what the action left (did the
//! container start after the approval? is there a new container?), records
//! it as executed, failed or unknown, says so in the request's message and
//! thread, and the service is free for a new request.

use super::execute::{action_timeout, time_span};
use super::record::announce;
use crate::app::actions::containers_of;
use crate::app::App;
use crate::core::approval::reconcile::Seen;
use crate::core::approval::{reconcile, Observed, RequestState};
use crate::core::runbook::ActionEffect;
use crate::docker::{ContainerDetails, DockerError};
use crate::store::{StoreError, StoredRequest};
use std::time::Duration;
use time::OffsetDateTime;

/// Reconciles every stale claim this bot manages to take over; returns how
/// many it settled (a claim whose action may still be under way is looked
/// at again by a later sweep).
pub(super) async fn reconcile_stale(app: &App, now: OffsetDateTime) -> Result<usize, StoreError> {
    let lease = Duration::from_secs(app.settings.approvals.lease_secs.max(1));
    let stale = app
        .store
        .take_stale_claims(&app.instance, time_span(lease), app.fleet_node())
        .await?;
    let mut settled = 0;
    for req in stale {
        settled += usize::from(one(app, req, now).await?);
    }
    Ok(settled)
}

/// Whether the claim was settled.
async fn one(app: &App, mut req: StoredRequest, now: OffsetDateTime) -> Result<bool, StoreError> {
    let claimed_at = req.claimed_at.unwrap_or(req.rule.requested_at);
    let effect = app
        .runbooks
        .action(&req.runbook, &req.action)
        .map(|a| a.effect.clone());
    let limit = time_span(effect.as_ref().map_or(Duration::from_secs(60), |e| {
        action_timeout(e, &app.settings)
    }));
    let (state, outcome) = match observe(app, &req, effect.as_ref(), claimed_at).await {
        Ok(observed) => match reconcile(&observed, claimed_at) {
            // No trace of it yet, but the engine may still be carrying out
            // a call the dead executor made (a restart waits out its stop
            // timeout): only once that cannot be is "not done" the truth.
            (state, _) if state != RequestState::Executed && now - claimed_at < limit => {
                tracing::info!(
                    request = req.rule.id,
                    "a stopped executor's action may still be under way; looking again later"
                );
                return Ok(false);
            }
            judged => judged,
        },
        Err(e) => {
            if now - claimed_at < limit * 2 {
                // The engine may be back soon; the claim lapses again and
                // the next sweep looks again.
                tracing::warn!(request = req.rule.id, error = %crate::cause_chain(&e), "cannot inspect what a stopped executor left; trying again");
                return Ok(false);
            }
            (
                RequestState::Unknown,
                format!("the bot that was executing it stopped before recording the outcome, and the engine cannot be asked now ({})", e),
            )
        }
    };
    tracing::warn!(request = req.rule.id, claimed_at = ?req.claimed_at, state = state.as_str(), %outcome, "reconciled a claim whose executor is gone");
    let settled = app
        .store
        .finish_request(req.rule.id, state, &outcome, now, true)
        .await?;
    if settled {
        announce(app, &mut req, state, outcome, now).await;
    }
    Ok(settled)
}

/// What the action could have left behind, seen now.
async fn observe(
    app: &App,
    req: &StoredRequest,
    effect: Option<&ActionEffect>,
    claimed_at: OffsetDateTime,
) -> Result<Observed, DockerError> {
    Ok(match effect {
        Some(ActionEffect::RestartService { .. }) => Observed::Restart {
            container: app.engine.inspect(&req.container_id).await?.map(seen),
        },
        Some(ActionEffect::RecreateWithCommand { .. }) => {
            let old = app.engine.inspect(&req.container_id).await?.map(seen);
            let newer = containers_of(&app.engine, &app.scope, &req.service)
                .await?
                .into_iter()
                .filter(|c| {
                    c.id != req.container_id
                        && c.running
                        && c.started_at.is_some_and(|t| t >= claimed_at)
                })
                .map(seen)
                .collect();
            Observed::Recreate { old, newer }
        }
        _ => Observed::Unobservable,
    })
}

fn seen(c: ContainerDetails) -> Seen {
    Seen {
        name: c.name,
        running: c.running && !c.restarting,
        started_at: c.started_at,
    }
}
