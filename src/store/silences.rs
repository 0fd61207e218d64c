//! Silences: a service (or every service) whose alerts open no incident
//! and page nobody until the silence ends. Its end is handled by one bot
//! (claimed with `FOR UPDATE SKIP LOCKED` and a lease, confirmed once
//! done): said in the channel, and the alerts it held back that still fire
//! are handed on.

use super::{Store, StoreError};
use crate::core::text::storable;
use time::OffsetDateTime;

/// A silence as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence {
    pub id: i64,
    /// `None`: every service.
    pub service: Option<String>,
    pub reason: String,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub ends_at: OffsetDateTime,
    /// Ended early by hand: when and by whom.
    pub ended: Option<(OffsetDateTime, String)>,
}

const COLUMNS: &str = "id, service, reason, created_by, created_at, ends_at, ended_at, ended_by";

fn silence(r: &tokio_postgres::Row) -> Silence {
    Silence {
        id: r.get(0),
        service: r.get(1),
        reason: r.get(2),
        created_by: r.get(3),
        created_at: r.get(4),
        ends_at: r.get(5),
        ended: r
            .get::<_, Option<OffsetDateTime>>(6)
            .zip(r.get::<_, Option<String>>(7)),
    }
}

impl Store {
    /// Records a silence of `service` (`None`: all) until `ends_at`.
    pub async fn add_silence(
        &self,
        service: Option<&str>,
        reason: &str,
        by: &str,
        at: OffsetDateTime,
        ends_at: OffsetDateTime,
    ) -> Result<Silence, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                &format!(
                    "INSERT INTO silences (service, reason, created_by, created_at, ends_at)
                     VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
                ),
                &[&service, &storable(reason), &by, &at, &ends_at],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(silence(&row))
    }

    /// Silences in force at `now`, those ending first first.
    pub async fn active_silences(&self, now: OffsetDateTime) -> Result<Vec<Silence>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM silences
                     WHERE ended_at IS NULL AND ends_at > $1 ORDER BY ends_at, id"
                ),
                &[&now],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(rows.iter().map(silence).collect())
    }

    /// Ends silence `id` now, by hand; `None` if it is not in force.
    pub async fn end_silence(
        &self,
        id: i64,
        by: &str,
        at: OffsetDateTime,
    ) -> Result<Option<Silence>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "UPDATE silences SET ended_at = $3, ended_by = $2
                     WHERE id = $1 AND ended_at IS NULL AND ends_at > $3
                     RETURNING {COLUMNS}"
                ),
                &[&id, &by, &at],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(row.as_ref().map(silence))
    }

    /// Claims the silences that ended by `now` (expired, or ended by hand)
    /// and were not handled yet, for two minutes: each is returned to one
    /// bot, and to another only if that one did not confirm it in time
    /// ([`Store::silence_end_handled`]).
    pub async fn claim_ended_silences(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<Silence>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "UPDATE silences SET end_claimed_at = $1
                     WHERE id IN (SELECT id FROM silences
                                  WHERE NOT end_handled AND (ends_at <= $1 OR ended_at IS NOT NULL)
                                    AND (end_claimed_at IS NULL
                                         OR end_claimed_at < $1 - interval '120 seconds')
                                  FOR UPDATE SKIP LOCKED)
                     RETURNING {COLUMNS}"
                ),
                &[&now],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(rows.iter().map(silence).collect())
    }

    /// Confirms that a claimed silence's end was handled.
    pub async fn silence_end_handled(&self, id: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE silences SET end_handled = true WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(())
    }
}
