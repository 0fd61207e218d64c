//! Alert state: one row per alert while it fires, whichever sources
//! report it (each is listed; it resolves when all of them have resolved
//! it), fired again in place when it flaps, held back while a silence
//! covers it, and linked to the incident it opened or joined.

use super::incidents::{incident, COLUMNS};
use super::{Store, StoreError};
use crate::core::incident::Incident;
use crate::core::text::storable;
use time::OffsetDateTime;

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
    /// It was firing already: a repeat of the same delivery, the same
    /// condition from another source, or (when counted) another
    /// occurrence.
    Already(Firing),
    /// It had resolved within the flap window: the same row fires again,
    /// counted.
    Flapped(Firing),
}

/// A firing alert as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Firing {
    pub id: i64,
    pub incident_id: Option<i64>,
    /// How many times it fired since it started (1: once).
    pub occurrences: i32,
    /// How many times it cleared and fired again.
    pub flaps: i32,
    pub started_at: OffsetDateTime,
    /// Its report message, once posted: (channel, message).
    pub message: Option<(i64, i64)>,
    /// When its report's chart was last drawn.
    pub chart_at: Option<OffsetDateTime>,
    /// The silence it fired under, if any.
    pub silenced_by: Option<i64>,
}

/// An alert that stopped firing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub id: i64,
    pub name: String,
    pub service: Option<String>,
    pub incident_id: Option<i64>,
    /// Other sources still report it: it keeps firing.
    pub still_firing: bool,
}

const FIRING: &str = "id, incident_id, occurrences, flaps, started_at, channel_id, message_id, chart_at, silenced_by";

fn firing(r: &tokio_postgres::Row) -> Firing {
    Firing {
        id: r.get(0),
        incident_id: r.get(1),
        occurrences: r.get(2),
        flaps: r.get(3),
        started_at: r.get(4),
        message: r.get::<_, Option<i64>>(5).zip(r.get::<_, Option<i64>>(6)),
        chart_at: r.get(7),
        silenced_by: r.get(8),
    }
}

impl Store {
    /// Records a firing alert from `a.source`: a new row; or, if it is
    /// firing already, the existing one with the source added
    /// (`occurrence`: another occurrence of the condition, another OOM
    /// kill, counted; otherwise a repeat, which changes nothing); or, if it
    /// resolved less than `flap` ago, that row firing again. One
    /// transaction under a lock on the fingerprint, so two deliveries at
    /// once make one alert.
    pub async fn fire_alert(
        &self,
        a: &NewAlert,
        occurrence: bool,
        flap: time::Duration,
    ) -> Result<Fired, StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| self.query_error(e))?;
        let q = |e| self.query_error(e);
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            &[&a.fingerprint],
        )
        .await
        .map_err(q)?;
        let again = tx
            .query_opt(
                &format!(
                    "UPDATE alerts SET occurrences = occurrences + CASE WHEN $2 THEN 1 ELSE 0 END,
                         last_at = CASE WHEN $2 THEN $3 ELSE last_at END,
                         sources = CASE WHEN $4 = ANY(sources) THEN sources
                                        ELSE array_append(sources, $4) END
                     WHERE fingerprint = $1 AND state = 'firing'
                     RETURNING {FIRING}"
                ),
                &[&a.fingerprint, &occurrence, &a.at, &a.source],
            )
            .await
            .map_err(q)?;
        let fired = if let Some(row) = again {
            Fired::Already(firing(&row))
        } else if let Some(row) = tx
            .query_opt(
                &format!(
                    "UPDATE alerts SET state = 'firing', resolved_at = NULL, flaps = flaps + 1,
                         occurrences = occurrences + 1, last_at = $3, sources = ARRAY[$4]
                     WHERE id = (SELECT id FROM alerts WHERE fingerprint = $1 AND state = 'resolved'
                                   AND resolved_at >= $2
                                 ORDER BY resolved_at DESC LIMIT 1)
                     RETURNING {FIRING}"
                ),
                &[&a.fingerprint, &(a.at - flap), &a.at, &a.source],
            )
            .await
            .map_err(q)?
        {
            Fired::Flapped(firing(&row))
        } else {
            let row = tx
                .query_one(
                    "INSERT INTO alerts (fingerprint, name, service, source, summary, state,
                                         started_at, last_at, sources)
                     VALUES ($1, $2, $3, $4, $5, 'firing', $6, $6, ARRAY[$4])
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
                .map_err(q)?;
            Fired::New { id: row.get(0) }
        };
        tx.commit().await.map_err(q)?;
        Ok(fired)
    }

    /// `source` no longer reports the alert: it resolves when no source
    /// does. `None` if it was not firing.
    pub async fn resolve_alert(
        &self,
        fingerprint: &str,
        source: &str,
        at: OffsetDateTime,
    ) -> Result<Option<Resolved>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "UPDATE alerts SET sources = array_remove(sources, $3),
                     state = CASE WHEN cardinality(array_remove(sources, $3)) = 0
                                  THEN 'resolved' ELSE state END,
                     resolved_at = CASE WHEN cardinality(array_remove(sources, $3)) = 0
                                        THEN $2::timestamptz ELSE NULL END
                 WHERE fingerprint = $1 AND state = 'firing'
                 RETURNING id, name, service, incident_id, state",
                &[&fingerprint, &at, &source],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(row.map(|r| Resolved {
            id: r.get(0),
            name: r.get(1),
            service: r.get(2),
            incident_id: r.get(3),
            still_firing: r.get::<_, String>(4) == "firing",
        }))
    }

    /// Marks an alert as held back by silence `silence`.
    pub async fn silence_alert(&self, id: i64, silence: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE alerts SET silenced_by = $2 WHERE id = $1",
                &[&id, &silence],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    /// Records that an alert's report chart was drawn at `at`.
    pub async fn set_chart_at(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute("UPDATE alerts SET chart_at = $2 WHERE id = $1", &[&id, &at])
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    /// Alerts still firing that silence `silence` held back (no incident):
    /// (id, name, service, summary, started_at).
    pub async fn held_back(
        &self,
        silence: i64,
    ) -> Result<Vec<(i64, String, Option<String>, String, OffsetDateTime)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, name, service, summary, started_at FROM alerts
                 WHERE silenced_by = $1 AND state = 'firing' AND incident_id IS NULL
                 ORDER BY id",
                &[&silence],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect())
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
                 WHERE state = 'firing' AND 'bot' = ANY(sources) AND name = $1",
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
