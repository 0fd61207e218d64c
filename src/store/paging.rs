//! Pages and their deliveries.
//!
//! A page is planned under its incident's row lock (`FOR UPDATE SKIP
//! LOCKED`): the page row, one delivery row per way it goes out, and the
//! incident's next page time are written in one transaction, so two bots
//! never plan the same page and a crash never leaves half a page. Each
//! delivery is then claimed with a lease, sent, and confirmed; a failed
//! one is retried with back-off, and failed for good after the configured
//! attempts.

use super::{Store, StoreError};
use crate::core::incident::State;
use time::OffsetDateTime;

/// An incident whose next page is due.
#[derive(Debug, Clone)]
pub struct DuePaging {
    pub incident_id: i64,
    pub runbook: String,
    pub severity: String,
    pub pages_sent: i32,
    /// The incident's lead, if one was named.
    pub lead_id: Option<u64>,
}

/// What to write for a due incident.
#[derive(Debug, Clone)]
pub enum Plan {
    /// A page to `role` (the roster's `user`, when it names one), going
    /// out by `media`; the next one at `next_at` (`None`: the last).
    Page {
        role: String,
        user: Option<u64>,
        media: Vec<&'static str>,
        next_at: Option<OffsetDateTime>,
    },
    /// No more pages (the cap, or no policy any more).
    Stop,
}

/// What planning did for one incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub incident_id: i64,
    /// The page's number (0: the first); `None` when paging stopped.
    pub seq: Option<i32>,
}

/// A claimed delivery, with what its message needs.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub medium: String,
    pub event: String,
    pub attempts: i32,
    pub page_id: i64,
    pub seq: i32,
    pub role: String,
    pub user_id: Option<u64>,
    pub severity: String,
    pub paged_at: OffsetDateTime,
    pub incident_id: i64,
}

/// A page as recorded, with how each of its deliveries went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRow {
    pub seq: i32,
    pub role: String,
    pub user_id: Option<u64>,
    pub severity: String,
    pub at: OffsetDateTime,
    /// (medium, event, state, attempts).
    pub deliveries: Vec<(String, String, String, i32)>,
}

/// Queues the paging service's acknowledge or resolve event for an
/// incident it was paged for (the latest page with a webhook trigger), in
/// the caller's transaction.
pub(super) async fn webhook_event(
    tx: &impl deadpool_postgres::GenericClient,
    incident_id: i64,
    to: State,
    at: OffsetDateTime,
) -> Result<u64, tokio_postgres::Error> {
    let event = match to {
        State::Acknowledged => "acknowledge",
        State::Resolved => "resolve",
        State::Open => return Ok(0),
    };
    tx.execute(
        "INSERT INTO page_deliveries (page_id, medium, event, state, next_try_at)
         SELECT p.id, 'webhook', $2, 'pending', $3 FROM pages p
         WHERE p.incident_id = $1 AND EXISTS (
             SELECT 1 FROM page_deliveries d
             WHERE d.page_id = p.id AND d.medium = 'webhook' AND d.event = 'trigger')
         ORDER BY p.seq DESC LIMIT 1
         ON CONFLICT DO NOTHING",
        &[&incident_id, &event, &at],
    )
    .await
}

impl Store {
    /// Starts paging an incident at `at` (once: an incident already paged
    /// or paging is left as it is).
    pub async fn start_paging(
        &self,
        incident_id: i64,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE incidents SET paging_next_at = $2
                 WHERE id = $1 AND state = 'open' AND paging_next_at IS NULL AND pages_sent = 0",
                &[&incident_id, &at],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(n == 1)
    }

    /// Plans the pages due at `now`: for each incident still open whose
    /// next page is due, `plan` says what to write.
    pub async fn plan_pages(
        &self,
        now: OffsetDateTime,
        plan: impl Fn(&DuePaging) -> Plan,
    ) -> Result<Vec<Planned>, StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| self.query_error(e))?;
        let due = tx
            .query(
                "SELECT id, runbook, severity, pages_sent, lead_id FROM incidents
                 WHERE paging_next_at <= $1 AND state = 'open'
                 ORDER BY paging_next_at FOR UPDATE SKIP LOCKED LIMIT 20",
                &[&now],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        let mut out = Vec::new();
        for row in due {
            let d = DuePaging {
                incident_id: row.get(0),
                runbook: row.get(1),
                severity: row.get(2),
                pages_sent: row.get(3),
                lead_id: row.get::<_, Option<i64>>(4).map(|u| u as u64),
            };
            let (seq, next_at) = match plan(&d) {
                Plan::Stop => (None, None),
                Plan::Page {
                    role,
                    user,
                    media,
                    next_at,
                } => {
                    let page: i64 = tx
                        .query_one(
                            "INSERT INTO pages (incident_id, seq, role, user_id, severity, at)
                             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                            &[
                                &d.incident_id,
                                &d.pages_sent,
                                &role,
                                &user.map(|u| u as i64),
                                &d.severity,
                                &now,
                            ],
                        )
                        .await
                        .map_err(|e| self.query_error(e))?
                        .get(0);
                    for medium in media {
                        tx.execute(
                            "INSERT INTO page_deliveries (page_id, medium, state, next_try_at)
                             VALUES ($1, $2, 'pending', $3)",
                            &[&page, &medium, &now],
                        )
                        .await
                        .map_err(|e| self.query_error(e))?;
                    }
                    (Some(d.pages_sent), next_at)
                }
            };
            tx.execute(
                "UPDATE incidents SET paging_next_at = $2,
                     pages_sent = pages_sent + CASE WHEN $3 THEN 1 ELSE 0 END
                 WHERE id = $1",
                &[&d.incident_id, &next_at, &seq.is_some()],
            )
            .await
            .map_err(|e| self.query_error(e))?;
            out.push(Planned {
                incident_id: d.incident_id,
                seq,
            });
        }
        tx.commit().await.map_err(|e| self.query_error(e))?;
        Ok(out)
    }

    /// Claims deliveries due at `now` (and claims older than `lease_secs`
    /// whose bot died while sending).
    pub async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_secs: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "WITH claimed AS (
                     UPDATE page_deliveries SET state = 'delivering', claimed_at = $1,
                         attempts = attempts + 1
                     WHERE id IN (SELECT id FROM page_deliveries
                                  WHERE (state = 'pending' AND next_try_at <= $1)
                                     OR (state = 'delivering'
                                         AND claimed_at < $1 - make_interval(secs => $2))
                                  ORDER BY next_try_at FOR UPDATE SKIP LOCKED LIMIT 20)
                     RETURNING id, page_id, medium, event, attempts)
                 SELECT c.id, c.medium, c.event, c.attempts, p.id, p.seq, p.role, p.user_id,
                        p.severity, p.at, p.incident_id
                 FROM claimed c JOIN pages p ON p.id = c.page_id
                 ORDER BY p.at, c.id",
                &[&now, &(lease_secs as f64)],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(rows
            .iter()
            .map(|r| Delivery {
                id: r.get(0),
                medium: r.get(1),
                event: r.get(2),
                attempts: r.get(3),
                page_id: r.get(4),
                seq: r.get(5),
                role: r.get(6),
                user_id: r.get::<_, Option<i64>>(7).map(|u| u as u64),
                severity: r.get(8),
                paged_at: r.get(9),
                incident_id: r.get(10),
            })
            .collect())
    }

    /// Records how a claimed delivery went: delivered, to be retried at
    /// `retry_at`, or (neither) failed for good.
    pub async fn finish_delivery(
        &self,
        id: i64,
        at: OffsetDateTime,
        result: Result<(), (&str, Option<OffsetDateTime>)>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let (state, error, retry) = match result {
            Ok(()) => ("delivered", None, None),
            Err((why, Some(retry))) => ("pending", Some(why), Some(retry)),
            Err((why, None)) => ("failed", Some(why), None),
        };
        client
            .execute(
                "UPDATE page_deliveries SET state = $2, error = $3,
                     next_try_at = coalesce($4, next_try_at),
                     delivered_at = CASE WHEN $2 = 'delivered' THEN $5::timestamptz ELSE NULL END
                 WHERE id = $1 AND state = 'delivering'",
                &[&id, &state, &error, &retry, &at],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    /// Records that a claimed delivery is not needed any more (`why`).
    pub async fn cancel_delivery(&self, id: i64, why: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE page_deliveries SET state = 'cancelled', error = $2
                 WHERE id = $1 AND state = 'delivering'",
                &[&id, &why],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    /// An incident's pages, first first, each with its deliveries.
    pub async fn pages(&self, incident_id: i64) -> Result<Vec<PageRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT p.seq, p.role, p.user_id, p.severity, p.at,
                        coalesce(array_agg(d.medium ORDER BY d.id) FILTER (WHERE d.id IS NOT NULL), '{}'),
                        coalesce(array_agg(d.event ORDER BY d.id) FILTER (WHERE d.id IS NOT NULL), '{}'),
                        coalesce(array_agg(d.state ORDER BY d.id) FILTER (WHERE d.id IS NOT NULL), '{}'),
                        coalesce(array_agg(d.attempts ORDER BY d.id) FILTER (WHERE d.id IS NOT NULL), '{}')
                 FROM pages p LEFT JOIN page_deliveries d ON d.page_id = p.id
                 WHERE p.incident_id = $1 GROUP BY p.id ORDER BY p.seq",
                &[&incident_id],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(rows
            .iter()
            .map(|r| {
                let media: Vec<String> = r.get(5);
                let events: Vec<String> = r.get(6);
                let states: Vec<String> = r.get(7);
                let attempts: Vec<i32> = r.get(8);
                PageRow {
                    seq: r.get(0),
                    role: r.get(1),
                    user_id: r.get::<_, Option<i64>>(2).map(|u| u as u64),
                    severity: r.get(3),
                    at: r.get(4),
                    deliveries: media
                        .into_iter()
                        .zip(events)
                        .zip(states)
                        .zip(attempts)
                        .map(|(((m, e), s), a)| (m, e, s, a))
                        .collect(),
                }
            })
            .collect())
    }

    /// Sets an incident's severity (and, while it pages, when the next
    /// page is due); `None` if the incident is resolved or gone.
    pub async fn set_severity(
        &self,
        incident_id: i64,
        severity: &str,
        next_page: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE incidents SET severity = $2, version = version + 1,
                     paging_next_at = CASE WHEN paging_next_at IS NULL THEN NULL
                                           ELSE coalesce($3, paging_next_at) END
                 WHERE id = $1 AND state <> 'resolved'",
                &[&incident_id, &severity, &next_page],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(n == 1)
    }

    /// When an incident's next page is due (`None`: it does not page).
    pub async fn paging_next(
        &self,
        incident_id: i64,
    ) -> Result<(Option<OffsetDateTime>, i32), StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT paging_next_at, pages_sent FROM incidents WHERE id = $1",
                &[&incident_id],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok((row.get(0), row.get(1)))
    }
}
