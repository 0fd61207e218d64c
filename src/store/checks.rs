//! Scheduled re-runs of the verification checklist, and what a regression
//! does to a resolved incident (reopened, or a new one linked to it).
//!
//! Scheduling cancels the runs still waiting for the same incident in the
//! same transaction (a newer remedy supersedes them). Due runs are claimed
//! with `FOR UPDATE SKIP LOCKED` and a five-minute lease, so each runs on
//! one bot, and one whose bot died is run by another.

use super::incidents::{incident, insert_timeline, COLUMNS};
use super::{Store, StoreError};
use crate::core::incident::{Incident, TimelineEntry};
use time::OffsetDateTime;

/// A claimed run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCheck {
    pub id: i64,
    pub incident_id: i64,
    /// What it follows: an action's id, or `resolve`.
    pub after: String,
    pub from_at: OffsetDateTime,
    pub offset_minutes: i32,
}

/// A run as recorded: (minutes after, due, state, outcome).
pub type CheckRow = (i32, OffsetDateTime, String, Option<String>);

impl Store {
    /// Schedules runs of `incident`'s checklist at `runs` (minutes after,
    /// due time), following `after` at `from_at`; the runs still waiting
    /// are cancelled. Returns how many were cancelled.
    pub async fn schedule_checks(
        &self,
        incident_id: i64,
        after: &str,
        from_at: OffsetDateTime,
        runs: &[(u32, OffsetDateTime)],
    ) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| self.query_error(e))?;
        let cancelled = tx
            .execute(
                "UPDATE scheduled_checks SET state = 'cancelled'
                 WHERE incident_id = $1 AND state = 'pending'",
                &[&incident_id],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        for (minutes, due) in runs {
            tx.execute(
                "INSERT INTO scheduled_checks (incident_id, after, from_at, offset_minutes, due_at, state)
                 VALUES ($1, $2, $3, $4, $5, 'pending')",
                &[&incident_id, &after, &from_at, &(*minutes as i32), due],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        }
        tx.commit().await.map_err(|e| self.query_error(e))?;
        Ok(cancelled)
    }

    /// Claims the runs due at `now` (and runs claimed over five minutes
    /// ago whose bot never finished them).
    pub async fn claim_due_checks(&self, now: OffsetDateTime) -> Result<Vec<DueCheck>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "UPDATE scheduled_checks SET state = 'running', claimed_at = $1
                 WHERE id IN (SELECT id FROM scheduled_checks
                              WHERE (state = 'pending' AND due_at <= $1)
                                 OR (state = 'running' AND claimed_at < $1 - interval '300 seconds')
                              ORDER BY due_at FOR UPDATE SKIP LOCKED LIMIT 10)
                 RETURNING id, incident_id, after, from_at, offset_minutes",
                &[&now],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(rows
            .iter()
            .map(|r| DueCheck {
                id: r.get(0),
                incident_id: r.get(1),
                after: r.get(2),
                from_at: r.get(3),
                offset_minutes: r.get(4),
            })
            .collect())
    }

    /// Records a claimed run's result.
    pub async fn finish_check(
        &self,
        id: i64,
        outcome: &str,
        summary: &str,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE scheduled_checks SET state = 'done', outcome = $2, summary = $3
                 WHERE id = $1 AND state = 'running'",
                &[&id, &outcome, &summary],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    /// An incident's runs, in due order.
    pub async fn checks(&self, incident_id: i64) -> Result<Vec<CheckRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT offset_minutes, due_at, state, outcome FROM scheduled_checks
                 WHERE incident_id = $1 ORDER BY due_at, id",
                &[&incident_id],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect())
    }

    /// Reopens a resolved incident after a regression (`None` if it is not
    /// resolved): open again, its acknowledgement and resolution cleared,
    /// paging from `at`; "reopened" in its timeline.
    pub async fn reopen_incident(
        &self,
        id: i64,
        by: &str,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<Option<Incident>, StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| self.query_error(e))?;
        let row = tx
            .query_opt(
                &format!(
                    "UPDATE incidents SET state = 'open', version = version + 1,
                         acknowledged_at = NULL, acknowledged_by = NULL,
                         resolved_at = NULL, resolved_by = NULL, resolution = NULL,
                         paging_next_at = $2
                     WHERE id = $1 AND state = 'resolved' RETURNING {COLUMNS}"
                ),
                &[&id, &at],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let inc = incident(&row)?;
        insert_timeline(
            &tx,
            id,
            &TimelineEntry {
                at,
                actor: by.to_string(),
                kind: "reopened".into(),
                summary: reason.to_string(),
                outcome: None,
                link: None,
            },
        )
        .await
        .map_err(|e| self.query_error(e))?;
        tx.commit().await.map_err(|e| self.query_error(e))?;
        Ok(Some(inc))
    }

    /// Pages an open incident again from `at` (a regression while it is
    /// open): its next page is due then.
    pub async fn page_again(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE incidents SET paging_next_at = $2 WHERE id = $1 AND state = 'open'",
                &[&id, &at],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    /// Marks `id` as a regression of incident `of`.
    pub async fn link_regression(&self, id: i64, of: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE incidents SET regression_of = $2 WHERE id = $1",
                &[&id, &of],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(())
    }
}
