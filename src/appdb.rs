//! The monitored application's PostgreSQL (not the bot's own database):
//! reading its sessions for step 4, and closing idle ones for the approved
//! `close-idle` action. Its URL is a secret from the environment
//! (`MONITORED_DATABASE_URL` or `MONITORED_DATABASE_URL_FILE`).
//!
//! Each use opens one short-lived connection, bounded by a timeout: the bot
//! must never hold a slot in a pool that may be exhausted already.

use crate::config::Secret;
use crate::core::connections::{ConnectionSnapshot, Session};
use std::time::Duration;
use tokio_postgres::NoTls;

#[derive(Debug, thiserror::Error)]
pub enum AppDbError {
    #[error("no monitored database is configured: set MONITORED_DATABASE_URL (or MONITORED_DATABASE_URL_FILE) to the application's PostgreSQL")]
    NotConfigured,
    #[error("MONITORED_DATABASE_URL is not a valid PostgreSQL URL")]
    BadUrl,
    #[error("the application's database at {location} is unreachable ({reason})")]
    Unreachable { location: String, reason: String },
    #[error("the application's database at {location} did not answer within {secs}s")]
    Timeout { location: String, secs: u64 },
    #[error("the application's database at {location} refused the query: {source}")]
    Query {
        location: String,
        #[source]
        source: tokio_postgres::Error,
    },
}

/// A connection to the monitored database.
pub struct AppDb {
    client: tokio_postgres::Client,
    location: String,
    timeout: Duration,
}

/// A session closed (or not) by `terminate_idle`.
#[derive(Debug, Clone, PartialEq)]
pub struct Closed {
    pub pid: i32,
    pub application: String,
    pub user: String,
    pub state: String,
    pub idle_secs: f64,
    pub terminated: bool,
}

impl AppDb {
    /// Connects within `timeout`. Only host, port and database name ever
    /// appear in messages.
    pub async fn connect(url: Option<&Secret>, timeout: Duration) -> Result<AppDb, AppDbError> {
        let url = url.ok_or(AppDbError::NotConfigured)?;
        let mut config: tokio_postgres::Config =
            url.expose().parse().map_err(|_| AppDbError::BadUrl)?;
        config.connect_timeout(timeout);
        config.application_name("incident-bot");
        let location = crate::store::location(&config);
        let connecting = config.connect(NoTls);
        let (client, connection) = match tokio::time::timeout(timeout, connecting).await {
            Err(_) => {
                return Err(AppDbError::Timeout {
                    location,
                    secs: timeout.as_secs(),
                })
            }
            Ok(Err(e)) => {
                return Err(AppDbError::Unreachable {
                    location,
                    reason: crate::cause_chain(&e),
                })
            }
            Ok(Ok(pair)) => pair,
        };
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "monitored database connection ended");
            }
        });
        Ok(AppDb {
            client,
            location,
            timeout,
        })
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, AppDbError> {
        match tokio::time::timeout(self.timeout, self.client.query(sql, params)).await {
            Err(_) => Err(AppDbError::Timeout {
                location: self.location.clone(),
                secs: self.timeout.as_secs(),
            }),
            Ok(r) => r.map_err(|source| AppDbError::Query {
                location: self.location.clone(),
                source,
            }),
        }
    }

    /// Client sessions on the application's database other than the bot's
    /// own, `max_connections`, and client sessions on the whole server
    /// (what counts against `max_connections`).
    pub async fn sessions(&self) -> Result<ConnectionSnapshot, AppDbError> {
        let max = self
            .query(
                "SELECT current_setting('max_connections')::int,
                        (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')",
                &[],
            )
            .await?;
        let max_connections = max.first().map_or(0, |r| r.get::<_, i32>(0).max(0) as u32);
        let server_sessions = max
            .first()
            .map_or(0, |r| r.get::<_, i64>(1).max(0) as usize);
        let rows = self
            .query(
                "SELECT a.pid, coalesce(a.state, ''), coalesce(a.application_name, ''),
                        coalesce(a.usename::text, ''),
                        coalesce(host(a.client_addr), 'local'),
                        coalesce(extract(epoch FROM now() - a.state_change)::float8, 0),
                        extract(epoch FROM now() - a.xact_start)::float8,
                        coalesce(r.rolsuper, false)
                 FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.rolname = a.usename
                 WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
                   AND a.datname = current_database()
                 ORDER BY a.pid",
                &[],
            )
            .await?;
        Ok(ConnectionSnapshot {
            max_connections,
            server_sessions,
            sessions: rows
                .iter()
                .map(|r| Session {
                    pid: r.get(0),
                    state: r.get(1),
                    application: r.get(2),
                    user: r.get(3),
                    client: r.get(4),
                    state_secs: r.get(5),
                    transaction_secs: r.get(6),
                    superuser: r.get(7),
                    own: false,
                })
                .collect(),
        })
    }

    /// Terminates sessions on the application's database idle in a
    /// transaction (and, with `include_idle`, plain idle ones) for at least
    /// `older_than`, never the bot's own or a superuser's. The conditions are checked again in the same statement
    /// that terminates, so a session that got busy since it was listed is
    /// left alone.
    pub async fn terminate_idle(
        &self,
        older_than: Duration,
        include_idle: bool,
    ) -> Result<Vec<Closed>, AppDbError> {
        let secs = older_than.as_secs_f64();
        let rows = self
            .query(
                "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.usename::text, ''),
                        a.state, extract(epoch FROM now() - a.state_change)::float8,
                        pg_terminate_backend(a.pid)
                 FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename
                 WHERE a.backend_type = 'client backend'
                   AND a.pid <> pg_backend_pid()
                   AND a.datname = current_database()
                   AND NOT r.rolsuper
                   AND (a.state IN ('idle in transaction', 'idle in transaction (aborted)')
                        OR ($2 AND a.state = 'idle'))
                   AND now() - a.state_change >= make_interval(secs => $1)
                 ORDER BY a.state_change",
                &[&secs, &include_idle],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Closed {
                pid: r.get(0),
                application: r.get(1),
                user: r.get(2),
                state: r.get(3),
                idle_secs: r.get(4),
                terminated: r.get(5),
            })
            .collect())
    }
}
