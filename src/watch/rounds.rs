//! The watcher's sampling rounds: every `watch.sample_ms`, the latest
//! memory of every running tracked container, the kernel's rows recorded
//! at once and the stats API's (where the files are not reachable) read by
//! one background round at a time.

use super::Watcher;
use crate::core::memory::Reading;
use crate::docker::Listed;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Samples every tracked container each `watch.sample_ms`, one round at a
/// time: a slow round delays the next, it never piles rounds up. Runs
/// whether or not the engine's event stream is up: the kernel's files
/// need no engine.
pub(super) async fn sample(w: Arc<Watcher>) {
    let every = Duration::from_millis(w.settings.watch.sample_ms.max(100));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = w.kick.notified() => {}
        }
        let host = w.host_memory.load(Ordering::Acquire);
        if host == 0 {
            // The engine was never reached: nothing is tracked yet.
            continue;
        }
        let via = round(&w, w.cache.targets(), host).await;
        crate::metrics::global().memory_reads(via.kernel as u64, via.api as u64);
        if let Ok(mut last) = w.via.lock() {
            *last = via;
        }
        w.sampled.store(true, Ordering::Release);
        let done = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        w.last_round_ms.store(done as i64, Ordering::Release);
        w.progress.notify_waiters();
    }
}

/// Reads `targets` and records what was read; gone containers leave the
/// cache. The kernel's rows are recorded at once. Containers whose files
/// are not reachable are read through the stats API by one background
/// round at a time (`api_round`), so a slow engine never delays the
/// kernel's rows and rounds of API reads never pile up.
pub(super) async fn round(w: &Arc<Watcher>, targets: Vec<Listed>, host: u64) -> super::Via {
    if targets.is_empty() {
        return super::Via::default();
    }
    let started = std::time::Instant::now();
    let (rows, rest, via) = w.sampler.read_kernel_part(targets, host).await;
    record(w, rows, started);
    if !rest.is_empty() && !w.api_round.swap(true, Ordering::AcqRel) {
        let w = w.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let rows = w.sampler.read_api(rest, host).await;
            record(&w, rows, started);
            w.api_round.store(false, Ordering::Release);
        });
    }
    via
}

/// Records one round's readings, taken since `started`.
fn record(w: &Watcher, rows: Vec<(Listed, Reading)>, started: std::time::Instant) {
    let at = OffsetDateTime::now_utc();
    for (c, reading) in rows {
        match reading {
            // A container restarted while the round ran (same ID, seen
            // starting again) is not marked down by this stale view.
            Reading::Gone => w.cache.mark_down(&c.id, started, at),
            reading => w.cache.record(&c.id, reading, at),
        }
    }
}
