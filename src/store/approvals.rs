//! Action requests and their votes.
//!
//! A vote is written together with the request's new state, conditionally
//! on the version it was decided on (`core::approval::vote`). The write that
//! moves a request from pending to approved is the claim to execute it: it
//! can succeed for one click only, whatever the number of clicks or bots.

use super::{Store, StoreError};
use crate::core::approval::{ActionRequest, RequestState, Vote};
use time::OffsetDateTime;
use tokio_postgres::Row;

/// What a new request records.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub runbook: String,
    pub action: String,
    pub service: String,
    pub container_id: String,
    pub container_name: String,
    pub target_summary: String,
    pub reason: String,
    pub requested_by: u64,
    pub requested_by_label: String,
    pub requested_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub approvals_needed: u32,
    pub incident_id: Option<i64>,
    /// What it does, in words ("restart web", "close …").
    pub title: String,
    /// Its typed parameters, as approved.
    pub params: serde_json::Value,
    /// The fleet node whose engine runs its container: only that node
    /// executes it (`None` outside a fleet, and for database actions).
    pub node: Option<String>,
}

/// A request as stored: the rules' view plus what it is about.
#[derive(Debug, Clone)]
pub struct StoredRequest {
    pub rule: ActionRequest,
    pub runbook: String,
    pub action: String,
    pub service: String,
    pub container_id: String,
    pub container_name: String,
    pub target_summary: String,
    pub reason: String,
    pub requested_by_label: String,
    pub channel_id: Option<i64>,
    pub message_id: Option<i64>,
    pub incident_id: Option<i64>,
    pub outcome: Option<String>,
    pub executed_at: Option<OffsetDateTime>,
    pub title: String,
    pub params: serde_json::Value,
    /// When the approval that claimed it for execution was written.
    pub claimed_at: Option<OffsetDateTime>,
    /// The fleet node that executes it (see [`NewRequest::node`]).
    pub node: Option<String>,
}

pub(super) const COLUMNS: &str =
    "id, state, version, requested_by, requested_at, expires_at, approvals_needed, \
     runbook, action, service, container_id, container_name, reason, requested_by_label, \
     channel_id, message_id, incident_id, outcome, executed_at, target_summary, title, params, \
     claimed_at, node";

impl Store {
    pub async fn create_request(&self, n: &NewRequest) -> Result<StoredRequest, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                &format!(
                    "INSERT INTO action_requests (runbook, action, service, container_id,
                         container_name, reason, requested_by, requested_by_label, requested_at,
                         expires_at, approvals_needed, state, incident_id, target_summary,
                         title, params, node)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12, $13,
                             $14, $15, $16)
                     RETURNING {COLUMNS}"
                ),
                &[
                    &n.runbook,
                    &n.action,
                    &n.service,
                    &n.container_id,
                    &n.container_name,
                    &n.reason,
                    &(n.requested_by as i64),
                    &n.requested_by_label,
                    &n.requested_at,
                    &n.expires_at,
                    &(n.approvals_needed as i32),
                    &n.incident_id,
                    &n.target_summary,
                    &n.title,
                    &n.params,
                    &n.node,
                ],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        request(&row, Vec::new())
    }

    pub async fn request(&self, id: i64) -> Result<Option<StoredRequest>, StoreError> {
        let client = self.client().await?;
        let Some(row) = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM action_requests WHERE id = $1"),
                &[&id],
            )
            .await
            .map_err(|e| self.query_error(e))?
        else {
            return Ok(None);
        };
        let votes = self.votes(&client, id).await?;
        request(&row, votes).map(Some)
    }

    pub async fn set_request_message(
        &self,
        id: i64,
        channel_id: u64,
        message_id: u64,
    ) -> Result<(), StoreError> {
        self.set_message("action_requests", id, channel_id, message_id)
            .await
    }

    /// Records where a row's chat message is: `table` is one of the bot's
    /// own tables with `channel_id` and `message_id` columns.
    pub(super) async fn set_message(
        &self,
        table: &'static str,
        id: i64,
        channel_id: u64,
        message_id: u64,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                &format!("UPDATE {table} SET channel_id = $2, message_id = $3 WHERE id = $1"),
                &[&id, &(channel_id as i64), &(message_id as i64)],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    /// Marks pending requests past their expiry as expired; returns them.
    pub async fn expire_due(&self, now: OffsetDateTime) -> Result<Vec<StoredRequest>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "UPDATE action_requests SET state = 'expired', version = version + 1
                     WHERE state = 'pending' AND expires_at <= $1 RETURNING {COLUMNS}"
                ),
                &[&now],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        self.requests(&client, &rows).await
    }

    /// Requests from rows of [`COLUMNS`], each with its votes.
    pub(super) async fn requests(
        &self,
        client: &impl deadpool_postgres::GenericClient,
        rows: &[Row],
    ) -> Result<Vec<StoredRequest>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let votes = self.votes(client, row.get(0)).await?;
            out.push(request(row, votes)?);
        }
        Ok(out)
    }

    /// The open (pending or approved) request for this action and service.
    pub async fn open_request(
        &self,
        action: &str,
        service: &str,
    ) -> Result<Option<i64>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT id FROM action_requests
                 WHERE action = $1 AND service = $2 AND state IN ('pending', 'approved')",
                &[&action, &service],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(row.map(|r| r.get(0)))
    }

    /// How many requests of an incident still wait for approval.
    pub async fn pending_requests(&self, incident_id: i64) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT count(*) FROM action_requests WHERE incident_id = $1 AND state = 'pending'",
                &[&incident_id],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(row.get(0))
    }

    pub(super) async fn votes(
        &self,
        client: &impl deadpool_postgres::GenericClient,
        id: i64,
    ) -> Result<Vec<Vote>, StoreError> {
        let rows = client
            .query(
                "SELECT user_id, label, approve, at FROM action_votes
                 WHERE request_id = $1 ORDER BY at, user_id",
                &[&id],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(rows
            .iter()
            .map(|r| Vote {
                user_id: r.get::<_, i64>(0) as u64,
                label: r.get(1),
                approve: r.get(2),
                at: r.get(3),
            })
            .collect())
    }
}

pub(super) fn request(r: &Row, votes: Vec<Vote>) -> Result<StoredRequest, StoreError> {
    let state: String = r.get(1);
    Ok(StoredRequest {
        rule: ActionRequest {
            id: r.get(0),
            state: RequestState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("request state '{state}'")))?,
            version: r.get(2),
            requested_by: r.get::<_, i64>(3) as u64,
            requested_at: r.get(4),
            expires_at: r.get(5),
            approvals_needed: r.get::<_, i32>(6) as u32,
            votes,
        },
        runbook: r.get(7),
        action: r.get(8),
        service: r.get(9),
        container_id: r.get(10),
        container_name: r.get(11),
        reason: r.get(12),
        requested_by_label: r.get(13),
        channel_id: r.get(14),
        message_id: r.get(15),
        incident_id: r.get(16),
        outcome: r.get(17),
        executed_at: r.get(18),
        target_summary: r.get(19),
        title: r.get(20),
        params: r.get(21),
        claimed_at: r.get(22),
        node: r.get(23),
    })
}
