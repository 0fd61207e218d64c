//! Escalations and the on-call roster.
//!
//! Due escalations are claimed with `FOR UPDATE SKIP LOCKED` and marked
//! delivering in the same statement, so two bots never claim the same one;
//! a delivered ping is confirmed (fired), one that could not be delivered is
//! released to be tried again, and one whose bot died mid-way is taken over
//! after a two-minute lease.

use super::{Store, StoreError};
use crate::core::escalation::Due;
use time::OffsetDateTime;

/// A claimed escalation, with what its ping needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub incident_id: i64,
    pub target: String,
    pub text: String,
    pub reason: Option<String>,
    pub due_at: OffsetDateTime,
    pub fired_at: OffsetDateTime,
}

pub(super) async fn insert(
    client: &impl deadpool_postgres::GenericClient,
    incident_id: i64,
    dues: &[Due],
    reason: Option<&str>,
) -> Result<u64, tokio_postgres::Error> {
    let mut added = 0;
    for d in dues {
        added += client
            .execute(
                "INSERT INTO escalations (incident_id, rule, target, text, reason, due_at, state)
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending')
                 ON CONFLICT (incident_id, rule) WHERE rule <> 'manual' DO NOTHING",
                &[
                    &incident_id,
                    &d.rule,
                    &d.target,
                    &d.text,
                    &reason,
                    &d.due_at,
                ],
            )
            .await?;
    }
    Ok(added)
}

impl Store {
    /// Schedules escalations for an incident (a rule at most once per
    /// incident). Returns how many were new.
    pub async fn schedule_escalations(
        &self,
        incident_id: i64,
        dues: &[Due],
        reason: Option<&str>,
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        insert(&client, incident_id, dues, reason)
            .await
            .map_err(|e| self.query_error(e))
    }

    /// Claims escalations due at `now` (and claims abandoned for two
    /// minutes by a bot that died while delivering): marks them delivering
    /// and returns them. `mark_delivered` confirms each.
    pub async fn claim_due_escalations(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<Claimed>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "UPDATE escalations SET state = 'delivering', fired_at = $1
                 WHERE id IN (SELECT id FROM escalations
                              WHERE (state = 'pending' AND due_at <= $1
                                     AND (retry_at IS NULL OR retry_at <= $1))
                                 OR (state = 'delivering' AND fired_at < $1 - interval '120 seconds')
                              ORDER BY due_at FOR UPDATE SKIP LOCKED LIMIT 20)
                 RETURNING id, incident_id, target, text, reason, due_at, fired_at",
                &[&now],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(rows
            .iter()
            .map(|r| Claimed {
                id: r.get(0),
                incident_id: r.get(1),
                target: r.get(2),
                text: r.get(3),
                reason: r.get(4),
                due_at: r.get(5),
                fired_at: r.get(6),
            })
            .collect())
    }

    /// Puts back an escalation whose ping could not be delivered, to be
    /// tried again at `retry_at` (not at once: a ping Discord refuses would
    /// otherwise be retried on every tick).
    pub async fn release_escalation(
        &self,
        id: i64,
        retry_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE escalations SET state = 'pending', fired_at = NULL, retry_at = $2
                 WHERE id = $1 AND state = 'delivering'",
                &[&id, &retry_at],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    /// Confirms a claimed escalation was delivered.
    pub async fn mark_delivered(&self, id: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE escalations SET state = 'fired' WHERE id = $1 AND state = 'delivering'",
                &[&id],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    /// Drops a claimed escalation that is no longer needed.
    pub async fn cancel_escalation(&self, id: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE escalations SET state = 'cancelled' WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    /// Roster roles already pinged for an incident, or about to be by hand
    /// (for manual escalation). Rules still waiting for their time do not
    /// count: nobody was told yet.
    pub async fn pinged_roles(&self, incident_id: i64) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT target FROM escalations WHERE incident_id = $1
                   AND (state IN ('fired', 'delivering') OR (state = 'pending' AND rule = 'manual'))",
                &[&incident_id],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// The roster: role → Discord user id.
    pub async fn roster(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT role, user_id FROM roster ORDER BY role", &[])
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
            .collect())
    }

    /// Sets who holds a roster role; `seed` only fills roles nobody holds.
    pub async fn set_roster(
        &self,
        role: &str,
        user_id: u64,
        by: &str,
        at: OffsetDateTime,
        seed: bool,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let sql = if seed {
            "INSERT INTO roster (role, user_id, set_by, set_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (role) DO NOTHING"
        } else {
            "INSERT INTO roster (role, user_id, set_by, set_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (role) DO UPDATE SET user_id = $2, set_by = $3, set_at = $4"
        };
        client
            .execute(sql, &[&role, &(user_id as i64), &by, &at])
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(())
    }
}
