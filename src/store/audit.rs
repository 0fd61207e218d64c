//! The append-only audit log: who did what, when, with what result. Rows
//! are only ever inserted (a trigger refuses updates and deletes).

use super::{Store, StoreError};
use crate::core::text::storable;
use serde::Serialize;
use time::OffsetDateTime;

/// What to record.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: OffsetDateTime,
    /// `<@discord id>`, `cli:<user>`, or a system actor.
    pub actor: String,
    /// The command or event, e.g. `/mem status`.
    pub action: String,
    /// What it concerned (an incident, a container), if anything.
    pub target: Option<String>,
    /// `ok`, `refused: …`, `failed: …`, or an outcome such as `fail`.
    pub result: String,
    pub detail: Option<serde_json::Value>,
}

/// A recorded row.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub result: String,
    pub detail: Option<serde_json::Value>,
}

impl Store {
    /// Appends a row. Whatever bytes the entry holds, it is written: what
    /// PostgreSQL cannot store (NUL) is escaped, so a refusal of hostile
    /// input is never lost for the very bytes that made it hostile.
    pub async fn audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        let client = self.client().await?;
        let target = e.target.as_deref().map(storable);
        let detail = e.detail.clone().map(storable_json);
        client
            .execute(
                "INSERT INTO audit_log (at, actor, action, target, result, detail)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &e.at,
                    &storable(&e.actor),
                    &storable(&e.action),
                    &target,
                    &storable(&e.result),
                    &detail,
                ],
            )
            .await
            .map_err(|err| self.query_error(err))?;
        Ok(())
    }

    /// Rows at or after `since`, oldest first.
    pub async fn audit_since(&self, since: OffsetDateTime) -> Result<Vec<AuditRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, at, actor, action, target, result, detail
                 FROM audit_log WHERE at >= $1 ORDER BY at, id",
                &[&since],
            )
            .await
            .map_err(|err| self.query_error(err))?;
        Ok(rows
            .iter()
            .map(|r| AuditRow {
                id: r.get(0),
                at: r.get(1),
                actor: r.get(2),
                action: r.get(3),
                target: r.get(4),
                result: r.get(5),
                detail: r.get(6),
            })
            .collect())
    }
}

/// A JSON value with every string (keys too) made storable.
fn storable_json(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(storable(&s).into_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(storable_json).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (storable(&k).into_owned(), storable_json(v)))
                .collect(),
        ),
        other => other,
    }
}
