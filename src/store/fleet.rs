//! The fleet's shared view, in the one database every node shares: each
//! node's heartbeat and latest samples, and blind spots said once (leases
//! and interaction claims are in `leases.rs`).
//!
//! Times that matter across nodes are this database's: a node publishes
//! its samples' ages and the database turns them into times, so the hosts'
//! clocks need not agree.

use super::{Store, StoreError};
use crate::core::memory::{ContainerSample, Reading};
use crate::core::text::storable;
use std::time::Duration;
use time::OffsetDateTime;

/// What a node says of itself each time it publishes.
#[derive(Debug, Clone)]
pub struct Beat<'a> {
    pub node: &'a str,
    /// `host:pid:start` of the publishing process.
    pub instance: &'a str,
    pub host_memory_bytes: u64,
    /// How its memory is read: `kernel` or `stats_api`.
    pub via: &'a str,
    /// Why its engine is not followed, while it is not: its rows are then
    /// as old as they say, and it counts toward a blind spot.
    pub engine_error: Option<&'a str>,
    /// `gateway`, `standby` or `http`.
    pub role: &'a str,
}

/// What publishing found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The node had been reported blind since then; it is seen again now.
    pub back_from: Option<OffsetDateTime>,
    /// Another process published under this node's name last, while still
    /// fresh: two bots configured as one node.
    pub clash: Option<String>,
}

/// A node as the fleet sees it, on the database's clock.
#[derive(Debug, Clone)]
pub struct NodeView {
    pub name: String,
    pub host_memory_bytes: u64,
    pub via: Option<String>,
    pub engine_error: Option<String>,
    pub role: String,
    /// Its latest publish, and the latest with its engine followed.
    pub seen_at: OffsetDateTime,
    pub data_at: Option<OffsetDateTime>,
    /// Seconds since `seen_at` and since `data_at`.
    pub silent_secs: f64,
    pub stale_secs: Option<f64>,
    /// Its latest samples, each with its age now.
    pub containers: Vec<ContainerSample>,
}

/// What forgetting a node came to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Forget {
    Forgotten,
    /// It published this recently: its bot still runs.
    StillHeard {
        silent_secs: f64,
    },
    Unknown,
}

/// A node gone blind, claimed for reporting by exactly one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blind {
    pub node: String,
    /// The last fresh data (its last publish when it never had any).
    pub since: OffsetDateTime,
    /// Its bot is still heard from (so its engine is what is away), and
    /// why the engine is away.
    pub bot_alive: bool,
    pub engine_error: Option<String>,
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Text as the database can hold it (NUL escaped), owned.
fn owned(s: &str) -> String {
    storable(s).into_owned()
}

fn to_u64(n: Option<i64>) -> Option<u64> {
    n.map(|n| u64::try_from(n).unwrap_or(0))
}

impl Store {
    /// Publishes `beat` and `rows` (the node's latest samples, each with
    /// its age), replacing what the node published before, in one
    /// transaction.
    pub async fn publish(
        &self,
        beat: &Beat<'_>,
        rows: &[ContainerSample],
        fresh_within: Duration,
    ) -> Result<Published, StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| self.query_error(e))?;
        let error = beat.engine_error.map(storable);
        // `old` is the row in the statement's snapshot (who published
        // before); whether a blind spot ends is read from the row the
        // update locked (`back_from`), which a claim made a moment ago
        // has already changed.
        let row = tx
            .query_one(
                "WITH old AS (SELECT instance, blind_since, seen_at FROM nodes WHERE name = $1)
                 INSERT INTO nodes AS n (name, instance, host_memory_bytes, via, engine_error, role, seen_at, data_at)
                 VALUES ($1, $2, $3, $4, $5, $6, now(), CASE WHEN $5::text IS NULL THEN now() END)
                 ON CONFLICT (name) DO UPDATE SET
                     instance = EXCLUDED.instance, host_memory_bytes = EXCLUDED.host_memory_bytes,
                     via = EXCLUDED.via, engine_error = EXCLUDED.engine_error, role = EXCLUDED.role,
                     seen_at = now(), data_at = COALESCE(EXCLUDED.data_at, n.data_at),
                     blind_since = CASE WHEN EXCLUDED.data_at IS NULL THEN n.blind_since END,
                     back_from = CASE WHEN EXCLUDED.data_at IS NOT NULL THEN n.blind_since END
                 RETURNING n.back_from,
                           (SELECT instance FROM old WHERE seen_at > now() - $7 * interval '1 millisecond')",
                &[
                    &storable(beat.node),
                    &storable(beat.instance),
                    &to_i64(beat.host_memory_bytes),
                    &beat.via,
                    &error,
                    &beat.role,
                    &(fresh_within.as_millis() as f64),
                ],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        let back_from: Option<OffsetDateTime> = match beat.engine_error {
            None => row.get(0),
            Some(_) => None,
        };
        let last: Option<String> = row.get(1);
        self.replace_samples(&tx, beat.node, rows).await?;
        tx.commit().await.map_err(|e| self.query_error(e))?;
        Ok(Published {
            back_from,
            clash: last.filter(|i| i != beat.instance),
        })
    }

    async fn replace_samples(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        node: &str,
        rows: &[ContainerSample],
    ) -> Result<(), StoreError> {
        let ids: Vec<&str> = rows.iter().map(|c| c.id.as_str()).collect();
        tx.execute(
            "DELETE FROM node_samples WHERE node = $1 AND NOT (container_id = ANY($2))",
            &[&node, &ids],
        )
        .await
        .map_err(|e| self.query_error(e))?;
        let names: Vec<String> = rows.iter().map(|c| owned(&c.name)).collect();
        let services: Vec<Option<String>> = rows
            .iter()
            .map(|c| c.service.as_deref().map(owned))
            .collect();
        let projects: Vec<Option<String>> = rows
            .iter()
            .map(|c| c.project.as_deref().map(owned))
            .collect();
        let mut states = Vec::with_capacity(rows.len());
        let mut usage = Vec::with_capacity(rows.len());
        let mut limits = Vec::with_capacity(rows.len());
        let mut reasons = Vec::with_capacity(rows.len());
        for c in rows {
            let (state, u, l, why) = match &c.reading {
                Reading::Sampled {
                    usage_bytes,
                    limit_bytes,
                } => (
                    "sampled",
                    Some(to_i64(*usage_bytes)),
                    limit_bytes.map(to_i64),
                    None,
                ),
                Reading::Gone => ("gone", None, None, None),
                Reading::Failed { reason } => ("failed", None, None, Some(owned(reason))),
            };
            states.push(state);
            usage.push(u);
            limits.push(l);
            reasons.push(why);
        }
        let ages: Vec<Option<f64>> = rows.iter().map(|c| c.age_ms.map(|a| a as f64)).collect();
        tx.execute(
            "INSERT INTO node_samples AS s (node, container_id, container, service, project, state, usage_bytes, limit_bytes, reason, at)
             SELECT $1, id, name, service, project, state, usage, lim, reason,
                    CASE WHEN age IS NOT NULL THEN now() - age * interval '1 millisecond' END
             FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::float8[])
                  AS r (id, name, service, project, state, usage, lim, reason, age)
             ON CONFLICT (node, container_id) DO UPDATE SET
                 container = EXCLUDED.container, service = EXCLUDED.service, project = EXCLUDED.project,
                 state = EXCLUDED.state, usage_bytes = EXCLUDED.usage_bytes, limit_bytes = EXCLUDED.limit_bytes,
                 reason = EXCLUDED.reason, at = EXCLUDED.at",
            &[&node, &ids, &names, &services, &projects, &states, &usage, &limits, &reasons, &ages],
        )
        .await
        .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    /// Every node with its latest samples, by name.
    pub async fn fleet(&self) -> Result<Vec<NodeView>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT n.name, n.host_memory_bytes, n.via, n.engine_error, n.role, n.seen_at, n.data_at,
                        extract(epoch FROM now() - n.seen_at)::float8,
                        extract(epoch FROM now() - n.data_at)::float8,
                        s.container_id, s.container, s.service, s.project, s.state,
                        s.usage_bytes, s.limit_bytes, s.reason,
                        (extract(epoch FROM now() - s.at) * 1000)::float8
                 FROM nodes n LEFT JOIN node_samples s ON s.node = n.name
                 ORDER BY n.name, s.container",
                &[],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        let mut out: Vec<NodeView> = Vec::new();
        for r in rows {
            let name: String = r.get(0);
            if out.last().is_none_or(|n| n.name != name) {
                out.push(NodeView {
                    name,
                    host_memory_bytes: to_u64(r.get(1)).unwrap_or(0),
                    via: r.get(2),
                    engine_error: r.get(3),
                    role: r.get(4),
                    seen_at: r.get(5),
                    data_at: r.get(6),
                    silent_secs: r.get(7),
                    stale_secs: r.get(8),
                    containers: Vec::new(),
                });
            }
            let Some(id) = r.get::<_, Option<String>>(9) else {
                continue;
            };
            let reading = match r.get::<_, String>(13).as_str() {
                "sampled" => Reading::Sampled {
                    usage_bytes: to_u64(r.get(14)).unwrap_or(0),
                    limit_bytes: to_u64(r.get(15)),
                },
                "gone" => Reading::Gone,
                _ => Reading::Failed {
                    reason: r.get::<_, Option<String>>(16).unwrap_or_default(),
                },
            };
            let age: Option<f64> = r.get(17);
            let node = out.last_mut().expect("pushed above");
            node.containers.push(ContainerSample {
                name: r.get(10),
                id,
                service: r.get(11),
                project: r.get(12),
                reading,
                age_ms: age.map(|a| a.max(0.0) as u64),
            });
        }
        Ok(out)
    }

    /// The fleet's OOM kills since `since`, as their nodes raised them:
    /// (host, service or container) of each OomKiller alert whose latest
    /// kill is that recent, whichever its state now.
    pub async fn fleet_ooms_since(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT fingerprint FROM alerts
                 WHERE (source = 'bot' OR 'bot' = ANY(sources)) AND name = 'OomKiller'
                   AND coalesce(last_at, started_at) >= $1",
                &[&since],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        // `OomKiller/<project>/<key>@<host>`: a fleet node's own alert.
        Ok(rows
            .iter()
            .filter_map(|r| {
                let fingerprint: String = r.get(0);
                let rest = fingerprint.strip_prefix("OomKiller/")?;
                let (_project, rest) = rest.split_once('/')?;
                let (key, host) = rest.rsplit_once('@')?;
                Some((host.to_string(), key.to_string()))
            })
            .collect())
    }

    /// Forgets node `name` (a host taken out of the fleet) and its
    /// samples, unless it published within `quiet_for`: a node still heard
    /// from would only come back.
    pub async fn forget_node(&self, name: &str, quiet_for: Duration) -> Result<Forget, StoreError> {
        let client = self.client().await?;
        let deleted = client
            .execute(
                "DELETE FROM nodes WHERE name = $1
                   AND seen_at < now() - $2 * interval '1 millisecond'",
                &[&name, &(quiet_for.as_millis() as f64)],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        if deleted == 1 {
            return Ok(Forget::Forgotten);
        }
        let silent: Option<f64> = client
            .query_opt(
                "SELECT extract(epoch FROM now() - seen_at)::float8 FROM nodes WHERE name = $1",
                &[&name],
            )
            .await
            .map_err(|e| self.query_error(e))?
            .map(|r| r.get(0));
        Ok(match silent {
            Some(secs) => Forget::StillHeard { silent_secs: secs },
            None => Forget::Unknown,
        })
    }

    /// The fleet's node names, sorted (what `host:` offers).
    pub async fn node_names(&self) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT name FROM nodes ORDER BY name", &[])
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Nodes without fresh data for `after` that were not reported yet,
    /// each claimed for reporting by exactly one caller.
    pub async fn claim_blind(&self, after: Duration) -> Result<Vec<Blind>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "UPDATE nodes SET blind_since = coalesce(data_at, seen_at)
                 WHERE blind_since IS NULL
                   AND coalesce(data_at, '-infinity') < now() - $1 * interval '1 millisecond'
                 RETURNING name, blind_since,
                           seen_at > now() - $1 * interval '1 millisecond', engine_error",
                &[&(after.as_millis() as f64)],
            )
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(rows
            .iter()
            .map(|r| Blind {
                node: r.get(0),
                since: r.get(1),
                bot_alive: r.get(2),
                engine_error: r.get(3),
            })
            .collect())
    }

    /// Forgets claims of interactions older than `before`.
    pub async fn prune_interactions(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM interactions WHERE at < $1", &[&before])
            .await
            .map_err(|e| self.query_error(e))
    }
}
