//! Approved actions as jobs for the node that owns their container (a
//! fleet): claimed once by that node with `FOR UPDATE SKIP LOCKED`, or,
//! when it does not claim them within the wait the approval gave it,
//! failed unrun by whichever node looks first. Both are one conditional
//! statement on `claimed_by IS NULL`, so a job is either run by its node
//! or failed, never both, never twice.

use super::approvals::{StoredRequest, COLUMNS};
use super::{Store, StoreError};

impl Store {
    /// Claims the approved jobs bound to `node` that nobody claimed yet,
    /// for `by` with `lease` (renewed while it runs, as any execution
    /// claim). Rows another node is deciding right now are skipped.
    pub async fn claim_jobs(
        &self,
        node: &str,
        by: &str,
        lease: time::Duration,
    ) -> Result<Vec<StoredRequest>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "UPDATE action_requests SET claimed_by = $2, claimed_at = now(),
                         lease_until = now() + make_interval(secs => $3)
                     WHERE id IN (
                         SELECT id FROM action_requests
                         WHERE state = 'approved' AND node = $1 AND claimed_by IS NULL
                           AND lease_until >= now()
                         FOR UPDATE SKIP LOCKED)
                     RETURNING {COLUMNS}"
                ),
                &[&node, &by, &lease.as_seconds_f64()],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        self.requests(&client, &rows).await
    }

    /// Fails the approved jobs whose node did not claim them in time:
    /// nothing ran (nobody claimed them), so failing them is safe, and a
    /// late claim finds them failed.
    pub async fn fail_unclaimed_jobs(&self) -> Result<Vec<StoredRequest>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "UPDATE action_requests SET state = 'failed', version = version + 1,
                         executed_at = now(),
                         outcome = 'host ' || node || '''s bot did not pick it up in time (it is down or cannot reach the database); nothing was run'
                     WHERE id IN (
                         SELECT id FROM action_requests
                         WHERE state = 'approved' AND node IS NOT NULL AND claimed_by IS NULL
                           AND lease_until < now()
                         FOR UPDATE SKIP LOCKED)
                     RETURNING {COLUMNS}"
                ),
                &[],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        self.requests(&client, &rows).await
    }
}
