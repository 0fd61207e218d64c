//! Incidents and their timelines.
//!
//! Lifecycle writes are conditional on the incident's version (`UPDATE …
//! WHERE version = $n`) and go in one transaction with their timeline entry:
//! the decision comes from `core::incident::decide`, and if anyone changed
//! the incident in between, the write does nothing and the caller decides
//! again on fresh data.

use super::{Store, StoreError};
use crate::core::incident::{Change, Incident, State, TimelineEntry};
use crate::core::text::storable;
use time::OffsetDateTime;
use tokio_postgres::Row;

/// What opening an incident needs.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub runbook: String,
    pub title: String,
    pub severity: String,
    pub estimated_ttr_minutes: i32,
    pub opened_by: String,
    pub opened_at: OffsetDateTime,
    pub channel_id: i64,
    /// Escalations computed from the runbook in force now; kept with the
    /// incident so later runbook changes do not rewrite its policy.
    pub escalations: Vec<crate::core::escalation::Due>,
}

pub(super) const COLUMNS: &str =
    "id, runbook, title, severity, estimated_ttr_minutes, state, version, \
     opened_at, opened_by, acknowledged_at, acknowledged_by, resolved_at, resolved_by, \
     resolution, channel_id, thread_id, lead_id";

impl Store {
    /// Opens an incident and records "opened" as its first timeline entry.
    pub async fn open_incident(&self, n: &NewIncident) -> Result<Incident, StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| self.query_error(e))?;
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO incidents (runbook, title, severity, estimated_ttr_minutes, state,
                         opened_at, opened_by, channel_id)
                     VALUES ($1, $2, $3, $4, 'open', $5, $6, $7) RETURNING {COLUMNS}"
                ),
                &[
                    &n.runbook,
                    &n.title,
                    &n.severity,
                    &n.estimated_ttr_minutes,
                    &n.opened_at,
                    &n.opened_by,
                    &n.channel_id,
                ],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        let inc = incident(&row)?;
        insert_timeline(
            &tx,
            inc.id,
            &TimelineEntry {
                at: n.opened_at,
                actor: n.opened_by.clone(),
                kind: "opened".into(),
                summary: n.title.clone(),
                outcome: None,
                link: None,
            },
        )
        .await
        .map_err(|e| self.query_error(e))?;
        super::escalations::insert(&tx, inc.id, &n.escalations, None)
            .await
            .map_err(|e| self.query_error(e))?;
        tx.commit().await.map_err(|e| self.query_error(e))?;
        Ok(inc)
    }

    pub async fn set_thread(&self, id: i64, thread_id: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE incidents SET thread_id = $2 WHERE id = $1",
                &[&id, &thread_id],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    pub async fn incident(&self, id: i64) -> Result<Option<Incident>, StoreError> {
        self.one(
            &format!("SELECT {COLUMNS} FROM incidents WHERE id = $1"),
            id,
        )
        .await
    }

    pub async fn incident_by_thread(&self, thread_id: i64) -> Result<Option<Incident>, StoreError> {
        self.one(
            &format!("SELECT {COLUMNS} FROM incidents WHERE thread_id = $1"),
            thread_id,
        )
        .await
    }

    /// Incidents not yet resolved, oldest first.
    pub async fn unresolved_incidents(&self) -> Result<Vec<Incident>, StoreError> {
        self.many(
            &format!(
                "SELECT {COLUMNS} FROM incidents WHERE state <> 'resolved' ORDER BY opened_at, id"
            ),
            i64::MAX,
        )
        .await
    }

    /// The most recent incidents, newest first.
    pub async fn recent_incidents(&self, limit: i64) -> Result<Vec<Incident>, StoreError> {
        self.many(
            &format!("SELECT {COLUMNS} FROM incidents ORDER BY opened_at DESC, id DESC LIMIT $1"),
            limit,
        )
        .await
    }

    /// Writes `change` if the incident is still at `version`, with its
    /// timeline entry, in one transaction. `Ok(None)`: someone else changed
    /// it first; nothing was written.
    pub async fn apply_change(
        &self,
        id: i64,
        version: i32,
        change: &Change,
    ) -> Result<Option<Incident>, StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| self.query_error(e))?;
        let sql = match change.to {
            State::Acknowledged => format!(
                "UPDATE incidents SET state = 'acknowledged', version = version + 1,
                     acknowledged_at = $3, acknowledged_by = $4, paging_next_at = NULL
                 WHERE id = $1 AND version = $2 RETURNING {COLUMNS}"
            ),
            State::Resolved => format!(
                "UPDATE incidents SET state = 'resolved', version = version + 1,
                     resolved_at = $3, resolved_by = $4, resolution = $5, paging_next_at = NULL
                 WHERE id = $1 AND version = $2 RETURNING {COLUMNS}"
            ),
            State::Open => {
                return Err(StoreError::Corrupt(
                    "an incident cannot be changed back to open".into(),
                ))
            }
        };
        let rows = match change.to {
            State::Resolved => {
                tx.query(
                    &sql,
                    &[&id, &version, &change.at, &change.by, &change.summary],
                )
                .await
            }
            _ => {
                tx.query(&sql, &[&id, &version, &change.at, &change.by])
                    .await
            }
        }
        .map_err(|e| self.query_error(e))?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let inc = incident(row)?;
        if inc.state == State::Resolved {
            // Resolving ends the escalations still waiting.
            tx.execute(
                "UPDATE escalations SET state = 'cancelled' WHERE incident_id = $1 AND state = 'pending'",
                &[&id],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        }
        // Acknowledging stops the repeated pages (the rows above); a paging
        // service that was paged is told too, in the same transaction.
        super::paging::webhook_event(&tx, id, change.to, change.at)
            .await
            .map_err(|e| self.query_error(e))?;
        insert_timeline(
            &tx,
            id,
            &TimelineEntry {
                at: change.at,
                actor: change.by.clone(),
                kind: change.to.as_str().to_string(),
                summary: change.summary.clone().unwrap_or_default(),
                outcome: None,
                link: None,
            },
        )
        .await
        .map_err(|e| self.query_error(e))?;
        tx.commit().await.map_err(|e| self.query_error(e))?;
        Ok(Some(inc))
    }

    pub async fn append_timeline(&self, id: i64, e: &TimelineEntry) -> Result<(), StoreError> {
        let client = self.client().await?;
        insert_timeline(&client, id, e)
            .await
            .map_err(|err| self.query_error(err))
    }

    /// Names the lead of incident `id`; the lead before, if the incident
    /// is not resolved (`Err(())`: resolved or gone).
    pub async fn set_lead(
        &self,
        id: i64,
        lead: u64,
    ) -> Result<Result<Option<u64>, ()>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "UPDATE incidents i SET lead_id = $2, version = i.version + 1
                 FROM (SELECT lead_id FROM incidents WHERE id = $1 FOR UPDATE) before
                 WHERE i.id = $1 AND i.state <> 'resolved'
                 RETURNING before.lead_id",
                &[&id, &(lead as i64)],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(match row {
            Some(r) => Ok(r.get::<_, Option<i64>>(0).map(|u| u as u64)),
            None => Err(()),
        })
    }

    /// The thread's header message of incident `id`, once posted.
    pub async fn header_message(&self, id: i64) -> Result<Option<i64>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT header_message_id FROM incidents WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(row.and_then(|r| r.get(0)))
    }

    /// Records incident `id`'s header message (only the first one posted
    /// counts: `false` if another bot's was recorded first).
    pub async fn set_header_message(&self, id: i64, message: i64) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE incidents SET header_message_id = $2 WHERE id = $1 AND header_message_id IS NULL",
                &[&id, &message],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(n == 1)
    }

    /// Whether incident `id`'s timeline has an entry of `kind` with `link`.
    pub async fn timeline_has(&self, id: i64, kind: &str, link: &str) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM timeline WHERE incident_id = $1 AND kind = $2 AND link = $3)",
                &[&id, &kind, &link],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(row.get(0))
    }

    pub async fn timeline(&self, id: i64) -> Result<Vec<TimelineEntry>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT at, actor, kind, summary, outcome, link FROM timeline
                 WHERE incident_id = $1 ORDER BY at, id",
                &[&id],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(rows
            .iter()
            .map(|r| TimelineEntry {
                at: r.get(0),
                actor: r.get(1),
                kind: r.get(2),
                summary: r.get(3),
                outcome: r.get(4),
                link: r.get(5),
            })
            .collect())
    }

    async fn one(&self, sql: &str, key: i64) -> Result<Option<Incident>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(sql, &[&key])
            .await
            .map_err(|e| self.query_error(e))?;
        row.as_ref().map(incident).transpose()
    }

    async fn many(&self, sql: &str, limit: i64) -> Result<Vec<Incident>, StoreError> {
        let client = self.client().await?;
        let rows = if sql.contains("$1") {
            client.query(sql, &[&limit]).await
        } else {
            client.query(sql, &[]).await
        }
        .map_err(|e| self.query_error(e))?;
        rows.iter().map(incident).collect()
    }
}

pub(super) async fn insert_timeline(
    client: &impl deadpool_postgres::GenericClient,
    id: i64,
    e: &TimelineEntry,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO timeline (incident_id, at, actor, kind, summary, outcome, link)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &id,
                &e.at,
                &storable(&e.actor),
                &e.kind,
                // Summaries quote alerts and people's words.
                &storable(&e.summary),
                &e.outcome,
                &e.link,
            ],
        )
        .await
        .map(|_| ())
}

pub(super) fn incident(r: &Row) -> Result<Incident, StoreError> {
    let state: String = r.get(5);
    Ok(Incident {
        id: r.get(0),
        runbook: r.get(1),
        title: r.get(2),
        severity: r.get(3),
        estimated_ttr_minutes: r.get(4),
        state: State::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("incident state '{state}'")))?,
        version: r.get(6),
        opened_at: r.get(7),
        opened_by: r.get(8),
        acknowledged_at: r.get(9),
        acknowledged_by: r.get(10),
        resolved_at: r.get(11),
        resolved_by: r.get(12),
        resolution: r.get(13),
        channel_id: r.get(14),
        thread_id: r.get(15),
        lead_id: r.get::<_, Option<i64>>(16).map(|u| u as u64),
    })
}
