//! The gateway session of a fleet's node: open only while the node holds
//! the gateway lease, closed before the lease can lapse (the lease's own
//! margin), opened again (with a new client) when the lease comes back.
//! A clean stop gives the lease up at once, so a standby takes over
//! without waiting for it to lapse.

use super::{ChatStartError, Gateway};
use crate::app::{fleet, App};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Why a session ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Stop,
    LeaseGone,
    SessionEnded,
}

pub(super) async fn under_lease(
    mut gateway: Gateway,
    app: Arc<App>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ChatStartError> {
    let mut changes = app.lease.subscribe();
    tokio::pin!(stop);
    loop {
        // Standby until the lease is held.
        let held = loop {
            if let Some(h) = app.lease.held() {
                break h;
            }
            tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = changes.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        };
        let mut client = match gateway.client.take() {
            Some(c) => c,
            None => super::client(&gateway.settings, &gateway.app).await?,
        };
        let shards = client.shard_manager.clone();
        let mut session = tokio::spawn(async move { client.start().await });
        tracing::info!(token = held.token, "gateway session opened under the lease");
        let end = hold(&app, held, &mut changes, &mut session, &mut stop).await;
        shards.shutdown_all().await;
        if end != End::SessionEnded {
            let _ = session.await;
        }
        app.health.set_gateway(false);
        match end {
            End::Stop => {
                fleet::release(&app).await;
                return Ok(());
            }
            End::LeaseGone => {
                tracing::warn!("gateway session closed: the lease is no longer this node's")
            }
            End::SessionEnded => {
                tracing::warn!("the gateway session ended; opening another while the lease holds");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Keeps the session while the lease with `held`'s token holds.
async fn hold(
    app: &App,
    mut held: fleet::Held,
    changes: &mut tokio::sync::watch::Receiver<Option<fleet::Held>>,
    session: &mut tokio::task::JoinHandle<Result<(), serenity::Error>>,
    stop: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> End {
    loop {
        tokio::select! {
            _ = stop.as_mut() => return End::Stop,
            result = &mut *session => {
                if let Ok(Err(e)) = result {
                    tracing::error!(error = %e, "the gateway session failed");
                }
                return End::SessionEnded;
            }
            // Renewals move `until` without a change notification; a
            // lapse is noticed here even when no step ran.
            _ = tokio::time::sleep_until(held.until) => {}
            _ = changes.changed() => {}
        }
        match app.lease.held() {
            Some(h) if h.token == held.token => held = h,
            _ => return End::LeaseGone,
        }
    }
}
