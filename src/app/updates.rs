//! Memory updates in open incidents' threads: every
//! `watch.thread_update_secs`, a short line from the live watcher (total,
//! the largest containers, how old the data is), so the people working an
//! incident see where memory goes without asking.

use super::App;
use crate::core::memory::{human_bytes, Reading};
use crate::render::Message;
use crate::store::StoreError;
use std::time::Duration;
use time::OffsetDateTime;

/// Posts the update in the thread of every open incident that has been
/// open for at least one interval `every` (the first update comes an
/// interval after the incident opened). Returns how many were posted.
pub async fn tick(app: &App, now: OffsetDateTime, every: Duration) -> Result<usize, StoreError> {
    let open = app.store.unresolved_incidents().await.inspect_err(|_| {
        crate::metrics::global().postgres_error("unresolved_incidents");
    })?;
    let text = memory_update(app, now);
    let mut posted = 0;
    for inc in open {
        let (Some(thread), true) = (inc.thread_id, now - inc.opened_at >= every) else {
            continue;
        };
        match app
            .chat
            .post(thread as u64, &Message::text(text.clone()))
            .await
        {
            Ok(_) => posted += 1,
            Err(e) => tracing::warn!(incident = inc.id, error = %e, "memory update not posted"),
        }
    }
    Ok(posted)
}

/// "Memory update: total 1.2GiB (15.0% of host) · web-1 600MiB, …".
fn memory_update(app: &App, now: OffsetDateTime) -> String {
    let live = app.watcher.live(now);
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
