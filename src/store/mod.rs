//! The bot's durable state in PostgreSQL: the only module that knows SQL.
//!
//! Incidents, their timelines and the audit log live here; anything that
//! must survive a restart is written before the bot acts on it. The pool
//! never blocks for long: every checkout and connection attempt is bounded,
//! so an unreachable database becomes a [`StoreError::Unavailable`] sentence
//! rather than a hung command. The connection URL (with its password) is a
//! `Secret` and is never logged; messages name only host, port and database.

mod alerts;
mod approvals;
mod audit;
mod checks;
mod claims;
mod escalations;
mod fleet;
mod followups;
mod incidents;
mod jobs;
mod leases;
mod migrate;
mod paging;
mod silences;
mod watch;

pub use alerts::{Fired, Firing, NewAlert, Resolved};
pub use approvals::{NewRequest, StoredRequest};
pub use audit::{AuditEntry, AuditRow};
pub use checks::{CheckRow, DueCheck};
pub use claims::Claim;
pub use escalations::Claimed;
pub use fleet::{Beat, Blind, Forget, NodeView, Published};
pub use followups::Followup;
pub use incidents::NewIncident;
pub use leases::{Holder, Lease};
pub use paging::{Delivery, DuePaging, PageRow, Plan, Planned};
pub use silences::Silence;
pub use watch::SamplePoint;

use crate::config::Secret;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::time::Duration;
use tokio_postgres::NoTls;

/// How long any database step may take before it is reported unavailable.
const BOUND: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// `host:port/dbname`, for messages; never the password.
    location: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DATABASE_URL is not a valid PostgreSQL URL: {0}")]
    BadUrl(String),
    #[error("the database at {location} is unreachable ({reason})")]
    Unavailable { location: String, reason: String },
    /// The database's own message stays in the cause chain (the log);
    /// people are told only that it refused.
    #[error("the database at {location} refused the request")]
    Query {
        location: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("the database holds a value this version does not understand: {0}")]
    Corrupt(String),
}

impl Store {
    /// Prepares a pool for `url`; connects lazily. Fails only on a bad URL.
    pub fn new(url: &Secret) -> Result<Store, StoreError> {
        let mut config: tokio_postgres::Config = url
            .expose()
            .parse()
            .map_err(|e: tokio_postgres::Error| StoreError::BadUrl(e.to_string()))?;
        config.connect_timeout(BOUND);
        config.application_name("incident-bot");
        let location = location(&config);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(8)
            .wait_timeout(Some(BOUND))
            .create_timeout(Some(BOUND))
            .recycle_timeout(Some(BOUND))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::BadUrl(e.to_string()))?;
        Ok(Store { pool, location })
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    /// Applies the embedded migrations that are not applied yet; returns
    /// their names.
    pub async fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut client = self.client().await?;
        migrate::apply(&mut client)
            .await
            .map_err(|e| self.query_error(e))
    }

    /// One round trip: does the database answer now?
    pub async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .simple_query("SELECT 1")
            .await
            .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| StoreError::Unavailable {
            location: self.location.clone(),
            reason: crate::cause_chain(&e),
        })
    }

    fn query_error(&self, e: tokio_postgres::Error) -> StoreError {
        // A dropped connection mid-query is unavailability, not a refusal.
        if e.is_closed() || e.as_db_error().is_none() {
            StoreError::Unavailable {
                location: self.location.clone(),
                reason: crate::cause_chain(&e),
            }
        } else {
            StoreError::Query {
                location: self.location.clone(),
                source: e,
            }
        }
    }
}

/// `host:port/dbname` of a connection config.
pub(crate) fn location(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}
