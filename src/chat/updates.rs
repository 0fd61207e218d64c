//! Memory updates in open incidents' threads: every
//! `watch.thread_update_secs`, a short line from the live watcher (total,
//! the largest containers, how old the data is), so the people working an
//! incident see where memory goes without asking.

use super::handler::Handler;
use crate::chat::outgoing;
use crate::core::memory::{human_bytes, Reading};
use serenity::all::{ChannelId, Http};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Posts a short memory update in every open incident's thread each
/// `watch.thread_update_secs`.
pub(super) async fn update_loop(h: Arc<Handler>, http: Arc<Http>) {
    let secs = h.shared.settings.watch.thread_update_secs;
    if secs == 0 {
        return;
    }
    let every = Duration::from_secs(secs);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !h.shared.db_ready() {
            continue;
        }
        let open = match h.shared.store.unresolved_incidents().await {
            Ok(open) => open,
            Err(e) => {
                crate::metrics::global().postgres_error("unresolved_incidents");
                tracing::warn!(error = %crate::cause_chain(&e), "no memory updates this time");
                continue;
            }
        };
        let now = OffsetDateTime::now_utc();
        let text = memory_update(&h, now);
        for inc in open {
            // The first update comes an interval after the incident opened.
            let (Some(thread), true) = (inc.thread_id, now - inc.opened_at >= every) else {
                continue;
            };
            let msg = outgoing::post_text(&text);
            if let Err(e) = ChannelId::new(thread as u64).send_message(&http, msg).await {
                tracing::warn!(incident = inc.id, error = %e, "memory update not posted");
            }
        }
    }
}

/// "Memory update: total 1.2GiB (15.0% of host) · web-1 600MiB, …".
fn memory_update(h: &Handler, now: OffsetDateTime) -> String {
    let live = h.shared.watcher.live(now);
    let mut sampled: Vec<(&str, u64)> = live
        .snapshot
        .containers
        .iter()
        .filter_map(|c| match c.reading {
            Reading::Sampled { usage_bytes, .. } => Some((c.name.as_str(), usage_bytes)),
            _ => None,
        })
        .collect();
    if sampled.is_empty() {
        return "Memory update: no container of the watched project is running.".into();
    }
    sampled.sort_by_key(|s| std::cmp::Reverse(s.1));
    let total: u64 = sampled.iter().map(|s| s.1).sum();
    let host = live.snapshot.host_memory_bytes;
    let pct = if host > 0 {
        format!(" ({:.1}% of host)", total as f64 / host as f64 * 100.0)
    } else {
        String::new()
    };
    let top: Vec<String> = sampled
        .iter()
        .take(3)
        .map(|(n, b)| format!("{n} {}", human_bytes(*b)))
        .collect();
    let age = live
        .oldest_ms
        .map_or("some containers not sampled yet".into(), |ms| {
            format!("data {:.1} s old", ms as f64 / 1000.0)
        });
    format!(
        "Memory update: total {}{pct} · largest: {} · {age}",
        human_bytes(total),
        top.join(", ")
    )
}
