//! Execution claims of approved requests: the approval that completes a
//! request claims it for one bot (with the rate limit checked in the same
//! transaction), the executor renews its lease while it works, a claim
//! whose executor is gone is taken over for reconciliation, and the
//! outcome is recorded once (the executor's own outcome may still replace
//! a reconciler's judgement; nothing else changes a finished request).

use super::approvals::{request, COLUMNS};
use super::{Store, StoreError, StoredRequest};
use crate::core::approval::{RequestState, Vote};
use crate::core::text::storable;
use time::OffsetDateTime;

/// The execution claim written with the approval that completes a request.
#[derive(Debug, Clone)]
pub struct Claim {
    /// Which bot process executes it (for the audit log and the lease).
    pub by: String,
    /// How long the claim holds without being renewed.
    pub lease: time::Duration,
    /// The longest the action may take; a claim older than twice this is
    /// reconciled whatever its lease says.
    pub timeout: time::Duration,
    /// The runbook's per-hour limit of this action on this service, checked
    /// in the same transaction as the claim.
    pub rate_limit_per_hour: Option<u32>,
    /// In a fleet, the claiming bot's node: a request bound to another
    /// node is approved unclaimed, for that node to claim within `wait`
    /// (`Store::claim_jobs`), or to fail unrun after it.
    pub node: Option<String>,
    pub wait: time::Duration,
}

impl Store {
    /// When `service`'s restarts by `action` ran (or were approved to run,
    /// counted as now), since `since`: what the rate limit counts.
    /// `except` leaves out the request being executed itself.
    pub async fn restarts_since(
        &self,
        action: &str,
        service: &str,
        since: OffsetDateTime,
        except: Option<i64>,
    ) -> Result<Vec<OffsetDateTime>, StoreError> {
        let client = self.client().await?;
        recent_runs(&client, action, service, since, except.unwrap_or(0))
            .await
            .map_err(|e| self.query_error(e))
    }

    /// Records `vote` and moves the request to `to`, if it is still pending
    /// at `version`. `Ok(None)`: someone else changed it first.
    ///
    /// Moving to approved is the execution claim: it is written with
    /// `claim` (who executes, the lease, the deadline), and the action's
    /// rate limit is checked in the same transaction under a lock per
    /// action and service, so two bots can never both claim past it. A
    /// request over the limit is recorded as failed with the sentence that
    /// says why, and is not to be executed.
    pub async fn record_vote(
        &self,
        id: i64,
        version: i32,
        vote: &Vote,
        to: RequestState,
        claim: Option<&Claim>,
    ) -> Result<Option<StoredRequest>, StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| self.query_error(e))?;
        let mut to = to;
        let mut outcome: Option<String> = None;
        if let (RequestState::Approved, Some(limit)) =
            (to, claim.and_then(|c| c.rate_limit_per_hour))
        {
            let Some(over) = self.over_rate_limit(&tx, id, limit, vote.at).await? else {
                return Ok(None);
            };
            if let Err(sentence) = over {
                to = RequestState::Failed;
                outcome = Some(sentence);
            }
        }
        let claiming = to == RequestState::Approved;
        let (by, lease_secs, deadline_secs) = match claim {
            Some(c) if claiming => (
                Some(c.by.clone()),
                c.lease.as_seconds_f64(),
                (c.timeout * 2_i32).as_seconds_f64(),
            ),
            _ => (None, 0.0, 0.0),
        };
        // A request bound to another node is left for that node to claim.
        let node = claim.and_then(|c| c.node.clone());
        let wait_secs = claim.map_or(0.0, |c| c.wait.as_seconds_f64());
        let bound: Option<String> = tx
            .query_opt("SELECT node FROM action_requests WHERE id = $1", &[&id])
            .await
            .map_err(|e| self.query_error(e))?
            .and_then(|r| r.get(0));
        let own = bound.is_none() || bound == node;
        let Some(row) = tx
            .query_opt(
                &format!(
                    "UPDATE action_requests SET state = $3, version = version + 1,
                         outcome = coalesce($4, outcome),
                         executed_at = CASE WHEN $4::text IS NULL THEN executed_at ELSE now() END,
                         claimed_at = CASE WHEN $5 AND $10 THEN now() ELSE claimed_at END,
                         claimed_by = CASE WHEN $5 AND $10 THEN $6 ELSE claimed_by END,
                         lease_until = CASE WHEN $5 AND $10 THEN now() + make_interval(secs => $7)
                                            WHEN $5 THEN now() + make_interval(secs => $9)
                                       ELSE lease_until END,
                         -- a job left for its node may be claimed up to
                         -- its wait later: its deadline counts from then
                         deadline_at = CASE WHEN $5 AND $10 THEN now() + make_interval(secs => $8)
                                            WHEN $5 THEN now() + make_interval(secs => $8::float8 + $9::float8)
                                       ELSE deadline_at END
                     WHERE id = $1 AND version = $2 AND state = 'pending' AND expires_at > now()
                     RETURNING {COLUMNS}"
                ),
                &[
                    &id,
                    &version,
                    &to.as_str(),
                    &outcome,
                    &claiming,
                    &by,
                    &lease_secs,
                    &deadline_secs,
                    &wait_secs,
                    &own,
                ],
            )
            .await
            .map_err(|e| self.query_error(e))?
        else {
            return Ok(None);
        };
        self.insert_vote(&tx, id, vote).await?;
        let votes = self.votes(&tx, id).await?;
        tx.commit().await.map_err(|e| self.query_error(e))?;
        request(&row, votes).map(Some)
    }

    async fn insert_vote(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        id: i64,
        vote: &Vote,
    ) -> Result<(), StoreError> {
        tx.execute(
            "INSERT INTO action_votes (request_id, user_id, label, approve, at)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &id,
                &(vote.user_id as i64),
                &vote.label,
                &vote.approve,
                &vote.at,
            ],
        )
        .await
        .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    /// Whether approving request `id` now stays within its action's
    /// per-hour limit on its service, checked under a lock per action and
    /// service so two bots can never both claim past it. `Ok(None)`: the
    /// request is gone; the inner `Err` is the sentence that says why not.
    async fn over_rate_limit(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        id: i64,
        limit: u32,
        now: OffsetDateTime,
    ) -> Result<Option<Result<(), String>>, StoreError> {
        let Some(row) = tx
            .query_opt(
                "SELECT action, service FROM action_requests WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(|e| self.query_error(e))?
        else {
            return Ok(None);
        };
        let (action, service): (String, String) = (row.get(0), row.get(1));
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('rate:' || $1 || '/' || $2))",
            &[&action, &service],
        )
        .await
        .map_err(|e| self.query_error(e))?;
        let recent = recent_runs(tx, &action, &service, now - time::Duration::hours(1), id)
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(Some(crate::core::approval::within_rate_limit(
            &service, &recent, limit, now,
        )))
    }

    /// Extends the lease of a claim this bot (`by`) holds; false when the
    /// claim is no longer its own (reconciled by another bot meanwhile).
    pub async fn renew_claim(
        &self,
        id: i64,
        by: &str,
        lease: time::Duration,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE action_requests SET lease_until = now() + make_interval(secs => $3)
                 WHERE id = $1 AND state = 'approved' AND claimed_by = $2",
                &[&id, &by, &lease.as_seconds_f64()],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(n == 1)
    }

    /// Takes over claims whose executor is gone: approved requests whose
    /// lease lapsed or whose deadline passed. Each is re-claimed by `by`
    /// for `lease` in the same statement (rows another bot is taking over
    /// right now are skipped), so one bot reconciles each.
    /// In a fleet, only `node`'s own requests (and those bound to no
    /// node) are taken: only the engine that ran an action can tell what
    /// it did. A request nobody claimed yet is not stale: see `jobs.rs`.
    pub async fn take_stale_claims(
        &self,
        by: &str,
        lease: time::Duration,
        node: Option<&str>,
    ) -> Result<Vec<StoredRequest>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "UPDATE action_requests SET claimed_by = $1,
                         lease_until = now() + make_interval(secs => $2)
                     WHERE id IN (
                         SELECT id FROM action_requests
                         WHERE state = 'approved'
                           AND (lease_until IS NULL OR lease_until < now() OR deadline_at < now())
                           -- unclaimed and bound to a node: a job waiting
                           -- for its node (jobs.rs), not a lost executor
                           AND (node IS NULL OR (node = $3 AND claimed_by IS NOT NULL))
                         FOR UPDATE SKIP LOCKED)
                     RETURNING {COLUMNS}"
                ),
                &[&by, &lease.as_seconds_f64(), &node],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        self.requests(&client, &rows).await
    }

    /// Records how an approved request ended. `reconciled`: judged by a
    /// bot that inspected what was left rather than seen by the executor.
    /// The executor's own outcome may still replace a reconciled one (it
    /// saw what happened); nothing else changes a finished request.
    /// Returns whether it was written.
    pub async fn finish_request(
        &self,
        id: i64,
        state: RequestState,
        outcome: &str,
        at: OffsetDateTime,
        reconciled: bool,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE action_requests SET state = $2, outcome = $3, executed_at = $4,
                     version = version + 1,
                     reconciled_at = CASE WHEN $5 THEN now() ELSE NULL END
                 WHERE id = $1 AND (state = 'approved'
                     OR (NOT $5 AND reconciled_at IS NOT NULL AND state IN ('failed', 'unknown')))",
                &[&id, &state.as_str(), &storable(outcome), &at, &reconciled],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(n == 1)
    }
}

/// What the rate limit counts: runs that happened (executed, or possibly
/// happened: unknown) since `since`, and claims executing now.
pub(super) async fn recent_runs(
    client: &impl deadpool_postgres::GenericClient,
    action: &str,
    service: &str,
    since: OffsetDateTime,
    except: i64,
) -> Result<Vec<OffsetDateTime>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT coalesce(executed_at, now()) FROM action_requests
             WHERE action = $1 AND service = $2 AND id <> $4
               AND (state = 'approved'
                    OR (state IN ('executed', 'unknown') AND executed_at >= $3))",
            &[&action, &service, &since, &except],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
