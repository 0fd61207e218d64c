//! What the bot knows, right now, about the parts it depends on: whether
//! its database has the schema and answers (probed every couple of
//! seconds, so `/readyz`, `/metrics` and every loop see an outage within
//! seconds, and see it end), and whether the Discord gateway session is up.
//!
//! The database supervisor lives here too: it applies the migrations
//! (retrying until the database answers), seeds the roster, then keeps
//! probing. Loops ask [`Health::db_ready`] before they touch the database,
//! so an outage costs one warning a minute, not one per tick.

use crate::core::throttle::Throttle;
use crate::store::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::watch;

/// How often the database is probed once it is up.
const PROBE_EVERY: Duration = Duration::from_secs(2);
/// A probe that takes longer than this counts as the database being down.
const PROBE_BOUND: Duration = Duration::from_secs(2);

/// Shared by every front end and loop.
pub struct Health {
    /// Migrations applied and the latest probe answered: what must be
    /// recorded can be. A watch channel, so a command can wait for it.
    db: watch::Sender<bool>,
    /// The gateway session is connected (serenity's shard stage).
    gateway: AtomicBool,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            db: watch::channel(false).0,
            gateway: AtomicBool::new(false),
        }
    }
}

impl Health {
    pub fn db_ready(&self) -> bool {
        *self.db.borrow()
    }

    /// Waits up to `max` for the database to be ready; true if it is.
    /// For a command that arrives while the database is still connecting.
    pub async fn wait_db(&self, max: Duration) -> bool {
        let mut rx = self.db.subscribe();
        tokio::time::timeout(max, rx.wait_for(|up| *up))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    fn set_db(&self, up: bool) {
        self.db
            .send_if_modified(|now| std::mem::replace(now, up) != up);
    }

    pub fn gateway_up(&self) -> bool {
        self.gateway.load(Ordering::Acquire)
    }

    pub fn set_gateway(&self, up: bool) {
        self.gateway.store(up, Ordering::Release);
    }
}

/// Brings the database up (migrations, roster seed) and then watches it,
/// for as long as the process runs. `roster` fills roles nobody holds yet.
pub async fn supervise_database(
    store: Store,
    health: std::sync::Arc<Health>,
    roster: Vec<(String, u64)>,
) {
    let mut delay = Duration::from_secs(1);
    let mut warn = Throttle::per_minute();
    loop {
        match store.migrate().await {
            Ok(applied) => {
                let now = OffsetDateTime::now_utc();
                for (role, user) in &roster {
                    if let Err(e) = store
                        .set_roster(role, *user, "configuration", now, true)
                        .await
                    {
                        tracing::warn!(role, error = %e, "could not seed the roster");
                    }
                }
                health.set_db(true);
                tracing::info!(database = %store.location(), ?applied, "database ready");
                break;
            }
            Err(e) => {
                if let Some(suppressed) = warn.allow(std::time::Instant::now()) {
                    tracing::warn!(
                        error = %crate::cause_chain(&e),
                        retry_in_secs = delay.as_secs(),
                        suppressed,
                        "cannot prepare the database; incidents and approvals are refused until it answers"
                    );
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
    probe_forever(&store, &health).await
}

/// Probes every [`PROBE_EVERY`]; says once when the database goes away
/// (and a minute later if it is still away), and once when it is back.
async fn probe_forever(store: &Store, health: &Health) {
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut down_since: Option<std::time::Instant> = None;
    let mut warn = Throttle::per_minute();
    loop {
        tick.tick().await;
        let probe = tokio::time::timeout(PROBE_BOUND, store.ping()).await;
        let now = std::time::Instant::now();
        match probe {
            Ok(Ok(())) => {
                if let Some(since) = down_since.take() {
                    tracing::info!(
                        database = %store.location(),
                        down_secs = since.elapsed().as_secs(),
                        "the database answers again"
                    );
                    warn = Throttle::per_minute();
                }
                health.set_db(true);
            }
            failed => {
                health.set_db(false);
                crate::metrics::global().postgres_error("probe");
                down_since.get_or_insert(now);
                if let Some(suppressed) = warn.allow(now) {
                    let why = match failed {
                        Ok(Err(e)) => crate::cause_chain(&e),
                        _ => format!("no answer within {} s", PROBE_BOUND.as_secs()),
                    };
                    tracing::warn!(
                        database = %store.location(),
                        error = %why,
                        suppressed,
                        "the database is unreachable; incidents and approvals wait or are refused"
                    );
                }
            }
        }
    }
}
