//! The fleet's use cases (`fleet.enabled`): this node's heartbeat and
//! latest samples published for the others (and those of the engines it
//! watches from afar), blind spots said once, and the gateway lease that
//! lets exactly one node hold the Discord session.
//!
//! Each is one step a loop repeats (`app::loops`) and tests call directly.

use super::App;
use crate::store::{Beat, StoreError};
use crate::watch::Watcher;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::time::Instant;

/// The lease the Discord gateway session is held under.
pub const GATEWAY: &str = "gateway";

/// This process's hold on the gateway lease: `Some` while it may run the
/// gateway session. Chat watches it to open and close the session.
#[derive(Debug)]
pub struct GatewayLease {
    held: watch::Sender<Option<Held>>,
    /// Set on a clean stop: the lease is given up and not taken again.
    stopping: std::sync::atomic::AtomicBool,
}

/// The lease as this process holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// The fencing token every claim made under it shows.
    pub token: i64,
    /// Until when this process may act on it (monotonic): the database's
    /// expiry minus a margin, counted from before the request was sent.
    pub until: Instant,
}

impl Default for GatewayLease {
    fn default() -> Self {
        GatewayLease {
            held: watch::channel(None).0,
            stopping: Default::default(),
        }
    }
}

impl GatewayLease {
    /// The lease, if held and still good now.
    pub fn held(&self) -> Option<Held> {
        (*self.held.borrow()).filter(|h| Instant::now() < h.until)
    }

    /// Changes of the hold, for the gateway runner.
    pub fn subscribe(&self) -> watch::Receiver<Option<Held>> {
        self.held.subscribe()
    }

    fn set(&self, to: Option<Held>) {
        self.held.send_if_modified(|now| {
            let changed = now.map(|h| h.token) != to.map(|h| h.token);
            *now = to;
            changed
        });
    }
}

impl App {
    /// This node's name, in a fleet.
    pub fn fleet_node(&self) -> Option<&str> {
        self.settings
            .fleet
            .enabled
            .then_some(self.settings.fleet.node.as_str())
    }

    /// Whether this node executes `req`: it is bound to no node, or to
    /// this one.
    pub fn owns(&self, req: &crate::store::StoredRequest) -> bool {
        req.node.is_none() || req.node.as_deref() == self.fleet_node()
    }

    /// What this node is in the fleet: `gateway`, `standby` or `http`.
    pub fn fleet_role(&self) -> &'static str {
        match self.settings.fleet.interactions {
            crate::config::Interactions::Http => "http",
            crate::config::Interactions::Gateway if self.lease.held().is_some() => "gateway",
            crate::config::Interactions::Gateway => "standby",
        }
    }
}

/// How often a standby looks whether the gateway lease is free, and a
/// holder renews it: a third of the lease.
pub fn lease_period(app: &App) -> Duration {
    Duration::from_secs(app.settings.fleet.lease_secs.max(3)) / 3
}

/// One step of the lease: take or renew it. A holder that cannot renew
/// keeps it only until its margin runs out, then lets go (the session
/// closes), so two sessions never overlap.
pub async fn lease_step(app: &App) -> Result<bool, StoreError> {
    let ttl = Duration::from_secs(app.settings.fleet.lease_secs.max(3));
    // A renewal that lands late must not extend what this process
    // believes: count from before the request, minus a fifth for the
    // gateway to close in time.
    if app
        .lease
        .stopping
        .load(std::sync::atomic::Ordering::Acquire)
    {
        return Ok(false);
    }
    let asked = Instant::now();
    let node = &app.settings.fleet.node;
    match app
        .store
        .take_lease(GATEWAY, node, &app.instance, ttl)
        .await
    {
        Ok(Some(_))
            if app
                .lease
                .stopping
                .load(std::sync::atomic::Ordering::Acquire) =>
        {
            // Taken while stopping: give it back.
            let _ = app.store.release_lease(GATEWAY, node, &app.instance).await;
            Ok(false)
        }
        Ok(Some(lease)) => {
            let until = asked + lease.valid_for - lease.valid_for / 5;
            if app.lease.held().is_none() {
                tracing::info!(node = %node, token = lease.token, "holding the gateway lease");
            }
            app.lease.set(Some(Held {
                token: lease.token,
                until,
            }));
            Ok(true)
        }
        Ok(None) => {
            if app.lease.held().is_some() {
                tracing::warn!(node = %node, "the gateway lease went to another node");
            }
            app.lease.set(None);
            Ok(false)
        }
        Err(e) => {
            if app.lease.held().is_none() {
                app.lease.set(None);
            }
            Err(e)
        }
    }
}

/// Lets the lease go at once (a clean stop), so a standby takes over
/// without waiting for it to lapse.
pub async fn release(app: &App) {
    app.lease
        .stopping
        .store(true, std::sync::atomic::Ordering::Release);
    app.lease.set(None);
    let node = &app.settings.fleet.node;
    if let Err(e) = app.store.release_lease(GATEWAY, node, &app.instance).await {
        tracing::warn!(error = %crate::cause_chain(&e), "the gateway lease was not given up; it lapses by itself");
    }
}

/// One publish: this node's heartbeat and latest samples. When the node
/// had been reported blind and its data is fresh again, says so in the
/// incident channel.
pub async fn publish(app: &App) -> Result<(), StoreError> {
    let node = app.settings.fleet.node.clone();
    publish_as(app, &app.watcher, &node, app.fleet_role()).await
}

/// One publish of an engine this node watches from afar (`fleet.remote`),
/// as node `node`.
pub async fn publish_remote(app: &App, watcher: &Watcher, node: &str) -> Result<(), StoreError> {
    publish_as(app, watcher, node, REMOTE).await
}

/// The role of an engine watched from afar: no bot runs beside it, so
/// nothing is executed there.
pub const REMOTE: &str = "remote";

async fn publish_as(
    app: &App,
    watcher: &Watcher,
    node: &str,
    role: &str,
) -> Result<(), StoreError> {
    let now = OffsetDateTime::now_utc();
    let status = watcher.status();
    let live = watcher.live(now);
    let engine_error = status.engine_down.as_ref().map(|e| e.to_string());
    let via = if status.via.api > 0 {
        "stats_api"
    } else {
        "kernel"
    };
    let beat = Beat {
        node,
        instance: &app.instance,
        host_memory_bytes: status.host_memory_bytes,
        via,
        engine_error: engine_error.as_deref(),
        role,
    };
    let fresh = Duration::from_millis(app.settings.fleet.publish_ms.max(100)) * 3;
    let published = app
        .store
        .publish(&beat, &live.snapshot.containers, fresh)
        .await?;
    if let Some(other) = published.clash {
        tracing::warn!(node = %beat.node, other = %other, "another bot publishes under this node's name; give each host its own fleet.node");
    }
    if let Some(since) = published.back_from {
        let message = crate::render::fleet::back(beat.node, since, now);
        post(app, &message).await;
    }
    Ok(())
}

/// One look for nodes gone blind: each is claimed by exactly one node and
/// said once in the incident channel. Returns how many were said.
pub async fn blind_spots(app: &App) -> Result<usize, StoreError> {
    let after = Duration::from_secs(app.settings.fleet.blind_after_secs.max(1));
    let blind = app.store.claim_blind(after).await?;
    for b in &blind {
        tracing::warn!(node = %b.node, since = %b.since, bot_alive = b.bot_alive, "a node of the fleet is blind");
        let message =
            crate::render::fleet::blind(&b.node, b.since, b.bot_alive, b.engine_error.as_deref());
        post(app, &message).await;
        app.audit_bot(
            OffsetDateTime::now_utc(),
            "fleet blind spot".into(),
            Some(b.node.clone()),
            format!("no data since {}", b.since),
        )
        .await;
    }
    Ok(blind.len())
}

async fn post(app: &App, message: &crate::render::Message) {
    if let Err(e) = app.chat.post(app.incident_channel(), message).await {
        tracing::warn!(error = %e, "a fleet message was not delivered");
    }
}
