//! Leases with fencing tokens (one holder of a singleton role, such as
//! the fleet's Discord gateway, at a time), and the one claim per
//! interaction that a lease's token fences.

use super::{Store, StoreError};
use std::time::Duration;

/// A lease held: the fencing token and how long it is good for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub token: i64,
    pub valid_for: Duration,
}

/// Who holds a lease now.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub node: Option<String>,
    pub token: i64,
    /// Negative once it lapsed.
    pub valid_secs: f64,
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Takes lease `name` for `node` (as process `instance`) for `ttl`, or
    /// renews it. `None`: another holds it. The token stays while the same
    /// process renews in time, and rises on any other change, so whatever
    /// the previous holder still sends under its token can be told apart.
    pub async fn take_lease(
        &self,
        name: &str,
        node: &str,
        instance: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "UPDATE leases SET
                     token = CASE WHEN holder = $2 AND instance = $3 AND expires_at > now()
                                  THEN token ELSE token + 1 END,
                     holder = $2, instance = $3,
                     expires_at = now() + $4 * interval '1 millisecond'
                 WHERE name = $1 AND (expires_at <= now() OR (holder = $2 AND instance = $3))
                 RETURNING token",
                &[&name, &node, &instance, &(ttl.as_millis() as f64)],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(row.map(|r| Lease {
            token: r.get(0),
            valid_for: ttl,
        }))
    }

    /// Gives lease `name` up at once (a clean stop), if this process holds
    /// it, so a standby need not wait for it to lapse.
    pub async fn release_lease(
        &self,
        name: &str,
        node: &str,
        instance: &str,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE leases SET expires_at = '-infinity'
                 WHERE name = $1 AND holder = $2 AND instance = $3",
                &[&name, &node, &instance],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(n == 1)
    }

    /// Who holds lease `name`.
    pub async fn lease_holder(&self, name: &str) -> Result<Holder, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT holder, token,
                        greatest(extract(epoch FROM expires_at - now()), -1e9)::float8
                 FROM leases WHERE name = $1",
                &[&name],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(Holder {
            node: row.get(0),
            token: row.get(1),
            valid_secs: row.get(2),
        })
    }

    /// Claims interaction `id` for `node`: true for the one claim that
    /// wins. Under the gateway lease (`token`), only while that token is
    /// still the lease's and unexpired, so a holder that lost the lease
    /// answers nothing more.
    pub async fn claim_interaction(
        &self,
        id: u64,
        node: &str,
        token: Option<i64>,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "INSERT INTO interactions (id, node, token)
                 SELECT $1, $2, $3
                 WHERE $3::bigint IS NULL OR EXISTS (
                     SELECT 1 FROM leases WHERE name = 'gateway' AND holder = $2
                     AND token = $3 AND expires_at > now())
                 ON CONFLICT (id) DO NOTHING
                 RETURNING id",
                &[&to_i64(id), &node, &token],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(row.is_some())
    }
}
