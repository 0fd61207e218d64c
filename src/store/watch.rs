//! The live watcher's records: the down-sampled memory history (so `/mem
//! leaks` survives restarts) and alert state, one row per firing alert,
//! linked to the incident it opened or joined.

use super::incidents::{incident, COLUMNS};
use super::{Store, StoreError};
use crate::core::incident::Incident;
use crate::core::text::storable;
use time::OffsetDateTime;

/// One recorded point of a container's memory.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplePoint {
    pub container_id: String,
    pub container: String,
    pub service: Option<String>,
    pub at: OffsetDateTime,
    pub usage_bytes: u64,
    pub limit_bytes: Option<u64>,
    /// The fleet node whose host runs the container (`None`: a single
    /// bot's).
    pub node: Option<String>,
}

/// An alert that started firing.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub fingerprint: String,
    pub name: String,
    pub service: Option<String>,
    /// `bot` or `alertmanager`.
    pub source: String,
    pub summary: String,
    pub at: OffsetDateTime,
}

/// What recording a firing alert found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    /// A new alert row; it has no incident yet.
    New { id: i64 },
    /// It was firing already: a repeat of the same delivery, or (when
    /// counted) another occurrence of the same condition.
    Already(Firing),
}

/// A firing alert as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Firing {
    pub id: i64,
    pub incident_id: Option<i64>,
    /// How many times it fired since it started (1: once).
    pub occurrences: i32,
    pub started_at: OffsetDateTime,
    /// Its report message, once posted: (channel, message).
    pub message: Option<(i64, i64)>,
}

/// An alert that stopped firing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub id: i64,
    pub name: String,
    pub service: Option<String>,
    pub incident_id: Option<i64>,
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Records points; a point already recorded (same container and time)
    /// is skipped. One statement, however many points.
    pub async fn record_samples(&self, points: &[SamplePoint]) -> Result<u64, StoreError> {
        if points.is_empty() {
            return Ok(0);
        }
        let ids: Vec<&str> = points.iter().map(|p| p.container_id.as_str()).collect();
        let names: Vec<&str> = points.iter().map(|p| p.container.as_str()).collect();
        let services: Vec<Option<&str>> = points.iter().map(|p| p.service.as_deref()).collect();
        let ats: Vec<OffsetDateTime> = points.iter().map(|p| p.at).collect();
        let usage: Vec<i64> = points.iter().map(|p| to_i64(p.usage_bytes)).collect();
        let limits: Vec<Option<i64>> = points.iter().map(|p| p.limit_bytes.map(to_i64)).collect();
        let nodes: Vec<Option<&str>> = points.iter().map(|p| p.node.as_deref()).collect();
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO memory_samples (container_id, container, service, at, usage_bytes, limit_bytes, node)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[], $6::bigint[], $7::text[])
                 ON CONFLICT DO NOTHING",
                &[&ids, &names, &services, &ats, &usage, &limits, &nodes],
            )
            .await
            .map_err(|e| self.query_error(e))
    }

    /// Recorded points at or after `since`, of one service or of all,
    /// ordered by container and time.
    pub async fn samples_since(
        &self,
        service: Option<&str>,
        since: OffsetDateTime,
    ) -> Result<Vec<SamplePoint>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT container_id, container, service, at, usage_bytes, limit_bytes, node
                 FROM memory_samples
                 WHERE at >= $1 AND ($2::text IS NULL OR service = $2)
                 ORDER BY container_id, at",
                &[&since, &service],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(rows
            .iter()
            .map(|r| SamplePoint {
                container_id: r.get(0),
                container: r.get(1),
                service: r.get(2),
                at: r.get(3),
                usage_bytes: r.get::<_, i64>(4).max(0) as u64,
                limit_bytes: r.get::<_, Option<i64>>(5).map(|l| l.max(0) as u64),
                node: r.get(6),
            })
            .collect())
    }

    /// Deletes recorded points older than `before`; returns how many.
    pub async fn prune_samples(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM memory_samples WHERE at < $1", &[&before])
            .await
            .map_err(|e| self.query_error(e))
    }

    /// Records a firing alert: a new row, or, if it is firing already, the
    /// existing one. `occurrence`: this firing is another occurrence of the
    /// condition (another OOM kill), counted on the existing row; otherwise
    /// a repeat delivery, which changes nothing.
    pub async fn fire_alert(&self, a: &NewAlert, occurrence: bool) -> Result<Fired, StoreError> {
        let client = self.client().await?;
        let inserted = client
            .query_opt(
                "INSERT INTO alerts (fingerprint, name, service, source, summary, state, started_at,
                                     last_at)
                 VALUES ($1, $2, $3, $4, $5, 'firing', $6, $6)
                 ON CONFLICT (fingerprint) WHERE state = 'firing' DO NOTHING
                 RETURNING id",
                &[
                    &a.fingerprint,
                    &a.name,
                    &a.service.as_deref().map(storable),
                    &a.source,
                    &storable(&a.summary),
                    &a.at,
                ],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        if let Some(row) = inserted {
            return Ok(Fired::New { id: row.get(0) });
        }
        let row = client
            .query_one(
                "UPDATE alerts SET occurrences = occurrences + CASE WHEN $2 THEN 1 ELSE 0 END,
                     last_at = CASE WHEN $2 THEN $3 ELSE last_at END
                 WHERE fingerprint = $1 AND state = 'firing'
                 RETURNING id, incident_id, occurrences, started_at, channel_id, message_id",
                &[&a.fingerprint, &occurrence, &a.at],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(Fired::Already(Firing {
            id: row.get(0),
            incident_id: row.get(1),
            occurrences: row.get(2),
            started_at: row.get(3),
            message: row
                .get::<_, Option<i64>>(4)
                .zip(row.get::<_, Option<i64>>(5)),
        }))
    }

    /// Where an alert's report was posted, so later occurrences update it.
    pub async fn set_alert_message(
        &self,
        id: i64,
        channel_id: u64,
        message_id: u64,
    ) -> Result<(), StoreError> {
        self.set_message("alerts", id, channel_id, message_id).await
    }

    pub async fn link_alert(&self, id: i64, incident_id: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE alerts SET incident_id = $2 WHERE id = $1",
                &[&id, &incident_id],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    /// Marks a firing alert resolved; `None` if it was not firing.
    pub async fn resolve_alert(
        &self,
        fingerprint: &str,
        at: OffsetDateTime,
    ) -> Result<Option<Resolved>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "UPDATE alerts SET state = 'resolved', resolved_at = $2
                 WHERE fingerprint = $1 AND state = 'firing'
                 RETURNING id, name, service, incident_id",
                &[&fingerprint, &at],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(row.map(|r| Resolved {
            id: r.get(0),
            name: r.get(1),
            service: r.get(2),
            incident_id: r.get(3),
        }))
    }

    /// The open incident an alert for `service` joins: one already holding
    /// an alert of that service first, else the newest one not tied to
    /// another service (opened by hand, or by a project-wide alert). For
    /// the project's total (`None`), the newest open incident.
    pub async fn incident_for_service(
        &self,
        service: Option<&str>,
    ) -> Result<Option<Incident>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM incidents i
             WHERE state <> 'resolved' AND (
                 $1::text IS NULL
                 OR EXISTS (SELECT 1 FROM alerts a WHERE a.incident_id = i.id AND a.service = $1)
                 OR NOT EXISTS (SELECT 1 FROM alerts a WHERE a.incident_id = i.id AND a.service IS NOT NULL))
             ORDER BY EXISTS (SELECT 1 FROM alerts a WHERE a.incident_id = i.id AND a.service = $1) DESC,
                      opened_at DESC, id DESC
             LIMIT 1"
        );
        let row = client
            .query_opt(&sql, &[&service])
            .await
            .map_err(|e| self.query_error(e))?;
        row.as_ref().map(incident).transpose()
    }

    /// The bot's own firing alerts named `name`: (fingerprint, latest
    /// occurrence). A restarted watcher picks up where it left off.
    pub async fn firing_bot_alerts(
        &self,
        name: &str,
    ) -> Result<Vec<(String, OffsetDateTime)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT fingerprint, coalesce(last_at, started_at) FROM alerts
                 WHERE state = 'firing' AND source = 'bot' AND name = $1",
                &[&name],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Firing alerts per name, for /metrics.
    pub async fn firing_alert_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT name, count(*) FROM alerts WHERE state = 'firing' GROUP BY name ORDER BY name",
                &[],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get::<_, i64>(1).max(0) as u64))
            .collect())
    }
}
