//! The live watcher's records: the down-sampled memory history (so `/mem
//! leaks` survives restarts). Alert state is in `alerts.rs`.

use super::{Store, StoreError};
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
}
