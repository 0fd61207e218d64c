//! Unauthenticated refusals, audited in aggregate.
//!
//! Anyone who reaches the HTTP port can send requests without the token.
//! Each is refused and counted in `/metrics` at once, but the audit log is
//! append-only and can never be pruned, so a row per refusal would let a
//! stranger grow it without bound. Instead each interval writes one row per
//! source address and reason, with the count. The map is bounded too:
//! past [`MAX_SOURCES`] sources, the rest share one row.

use crate::store::{AuditEntry, Store};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;
use time::OffsetDateTime;

/// Distinct sources remembered per interval; more are counted together.
const MAX_SOURCES: usize = 1024;
/// The source of the rest, past [`MAX_SOURCES`].
const OTHERS: &str = "other sources";

/// (source, reason) → how many, since `since`.
#[derive(Default)]
pub struct Refusals {
    inner: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    since: Option<OffsetDateTime>,
    counts: BTreeMap<(String, &'static str), u64>,
}

impl Refusals {
    /// Counts one refusal of `source` for `reason`.
    pub fn count(&self, source: Option<IpAddr>, reason: &'static str, now: OffsetDateTime) {
        let Ok(mut w) = self.inner.lock() else {
            return;
        };
        w.since.get_or_insert(now);
        let mut key = (
            source.map_or_else(|| "unknown".to_string(), |ip| ip.to_string()),
            reason,
        );
        if !w.counts.contains_key(&key) && w.counts.len() >= MAX_SOURCES {
            key.0 = OTHERS.to_string();
        }
        *w.counts.entry(key).or_insert(0) += 1;
    }

    /// Writes one audit row per source and reason counted since the last
    /// flush. If the database cannot take them, they stay and are written
    /// with the next flush: counted, never lost while the bot runs.
    pub async fn flush(&self, store: &Store, now: OffsetDateTime) {
        let (since, counts) = match self.inner.lock() {
            Ok(mut w) => (w.since.take(), std::mem::take(&mut w.counts)),
            Err(_) => return,
        };
        let Some(since) = since else {
            return;
        };
        let mut left = BTreeMap::new();
        for ((source, reason), n) in counts {
            let entry = AuditEntry {
                at: since,
                actor: format!("http:{source}"),
                action: "POST /alertmanager".into(),
                target: None,
                result: format!(
                    "refused {n} request(s) between {} and {}: {reason}",
                    crate::core::incident::stamp(since),
                    crate::core::incident::stamp(now)
                ),
                detail: Some(serde_json::json!({ "source": source, "count": n })),
            };
            if let Err(e) = store.audit(&entry).await {
                crate::metrics::global().postgres_error("audit");
                tracing::warn!(error = %crate::cause_chain(&e), "refusals not audited yet; kept for the next interval");
                left.insert((source, reason), n);
            }
        }
        if left.is_empty() {
            return;
        }
        if let Ok(mut w) = self.inner.lock() {
            w.since = Some(w.since.map_or(since, |s| s.min(since)));
            for (key, n) in left {
                let key = if w.counts.contains_key(&key) || w.counts.len() < MAX_SOURCES {
                    key
                } else {
                    (OTHERS.to_string(), key.1)
                };
                *w.counts.entry(key).or_insert(0) += n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn sources_are_bounded() {
        let r = Refusals::default();
        let now = datetime!(2026-03-01 12:00 UTC);
        for i in 0..(MAX_SOURCES as u32 + 500) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            r.count(Some(ip), "wrong token", now);
        }
        r.count(Some(IpAddr::from([10, 0, 0, 0])), "wrong token", now);
        let w = r.inner.lock().unwrap();
        assert_eq!(w.counts.len(), MAX_SOURCES + 1);
        assert_eq!(w.counts[&(OTHERS.to_string(), "wrong token")], 500);
        assert_eq!(w.counts[&("10.0.0.0".to_string(), "wrong token")], 2);
    }
}
