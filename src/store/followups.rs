//! Follow-ups: prevention work an incident leaves behind, with an owner
//! and a due date, open until marked done.

use super::{Store, StoreError};
use crate::core::text::storable;
use time::{Date, OffsetDateTime};

/// A follow-up as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followup {
    pub id: i64,
    pub incident_id: i64,
    pub text: String,
    pub owner_id: u64,
    pub due_on: Date,
    pub done: bool,
}

const COLUMNS: &str = "id, incident_id, text, owner_id, due_on, state";

fn followup(r: &tokio_postgres::Row) -> Followup {
    Followup {
        id: r.get(0),
        incident_id: r.get(1),
        text: r.get(2),
        owner_id: r.get::<_, i64>(3) as u64,
        due_on: r.get(4),
        done: r.get::<_, String>(5) == "done",
    }
}

impl Store {
    pub async fn add_followup(
        &self,
        incident_id: i64,
        text: &str,
        owner: u64,
        due_on: Date,
        by: &str,
        at: OffsetDateTime,
    ) -> Result<Followup, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                &format!(
                    "INSERT INTO followups (incident_id, text, owner_id, due_on, state, created_by, created_at)
                     VALUES ($1, $2, $3, $4, 'open', $5, $6) RETURNING {COLUMNS}"
                ),
                &[&incident_id, &storable(text), &(owner as i64), &due_on, &by, &at],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(followup(&row))
    }

    /// Marks follow-up `id` done; `None` if there is no open one by that id.
    pub async fn finish_followup(
        &self,
        id: i64,
        by: &str,
        at: OffsetDateTime,
    ) -> Result<Option<Followup>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "UPDATE followups SET state = 'done', done_by = $2, done_at = $3
                     WHERE id = $1 AND state = 'open' RETURNING {COLUMNS}"
                ),
                &[&id, &by, &at],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(row.as_ref().map(followup))
    }

    /// An incident's follow-ups (`Some`), or every open one (`None`), the
    /// soonest due first.
    pub async fn followups(&self, incident_id: Option<i64>) -> Result<Vec<Followup>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM followups
                     WHERE CASE WHEN $1::bigint IS NULL THEN state = 'open' ELSE incident_id = $1 END
                     ORDER BY state = 'done', due_on, id"
                ),
                &[&incident_id],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(rows.iter().map(followup).collect())
    }
}
