//! The live cache: per container, the latest memory sample and a bounded,
//! down-sampled history, in a `DashMap` so the sampling rounds write and the
//! commands, alert evaluation and scrapes read without one global lock.

use crate::core::memory::{ContainerSample, MemorySnapshot, Reading};
use crate::core::trend::History;
use crate::store::SamplePoint;
use dashmap::DashMap;
use std::collections::VecDeque;
use time::OffsetDateTime;

/// One watched container.
#[derive(Debug)]
pub struct Tracked {
    pub id: String,
    pub name: String,
    pub service: Option<String>,
    pub project: Option<String>,
    /// The latest reading and when it arrived; `None` until the first.
    pub latest: Option<(Reading, OffsetDateTime)>,
    /// The container's own limit, from its latest sample.
    pub limit_bytes: Option<u64>,
    /// (when, bytes in use), oldest first, one point per history step.
    pub history: VecDeque<(OffsetDateTime, u64)>,
    /// When it was last seen starting (monotonic): a reading taken before
    /// that is of an earlier life of the container.
    started_at: std::time::Instant,
}

/// The cache: container id → [`Tracked`].
pub struct Cache {
    map: DashMap<String, Tracked>,
    step: time::Duration,
    keep: time::Duration,
}

/// A snapshot of the cache, each row with its age, and the spread of ages.
#[derive(Debug, Clone)]
pub struct Live {
    pub snapshot: MemorySnapshot,
    /// Age of the oldest sample; `None` when a container has none yet.
    pub oldest_ms: Option<u64>,
    /// Age of the newest sample (0 when there is none).
    pub newest_ms: u64,
}

impl Cache {
    pub fn new(step_secs: u64, keep_minutes: u64) -> Cache {
        Cache {
            map: DashMap::new(),
            step: time::Duration::seconds(step_secs.max(1) as i64),
            keep: time::Duration::minutes(keep_minutes.max(1) as i64),
        }
    }

    /// Starts tracking a container; false if it is tracked already.
    pub fn insert(
        &self,
        id: &str,
        name: &str,
        service: Option<String>,
        project: Option<String>,
    ) -> bool {
        use dashmap::mapref::entry::Entry;
        match self.map.entry(id.to_string()) {
            Entry::Occupied(mut o) => {
                // Seen starting (or running, by a re-list): a row marked
                // down is sampled again.
                let t = o.get_mut();
                t.started_at = std::time::Instant::now();
                if matches!(t.latest, Some((Reading::Gone, _))) {
                    t.latest = None;
                }
                false
            }
            Entry::Vacant(v) => {
                v.insert(Tracked {
                    id: id.to_string(),
                    name: name.to_string(),
                    service,
                    project,
                    latest: None,
                    limit_bytes: None,
                    history: VecDeque::new(),
                    started_at: std::time::Instant::now(),
                });
                true
            }
        }
    }

    /// Every tracked container that runs, to be sampled.
    pub fn targets(&self) -> Vec<crate::docker::Listed> {
        self.map
            .iter()
            .filter(|t| !matches!(t.latest, Some((Reading::Gone, _))))
            .map(|t| crate::docker::Listed {
                id: t.id.clone(),
                name: t.name.clone(),
                service: t.service.clone(),
                project: t.project.clone(),
            })
            .collect()
    }

    /// Marks a container as not running (its row stays, saying so, until
    /// the engine removes it or a re-list no longer shows it), unless it
    /// started again after `read_since`: then the reading is of its
    /// earlier life.
    pub fn mark_down(&self, id: &str, read_since: std::time::Instant, at: OffsetDateTime) {
        if let Some(mut t) = self.map.get_mut(id) {
            if t.started_at < read_since {
                t.latest = Some((Reading::Gone, at));
            }
        }
    }

    /// Stops tracking a container.
    pub fn remove(&self, id: &str) -> bool {
        self.map.remove(id).is_some()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.map.contains_key(id)
    }

    /// Seconds since the latest sample of `id` arrived.
    pub fn age(&self, id: &str, now: OffsetDateTime) -> Option<f64> {
        let t = self.map.get(id)?;
        let (_, at) = t.latest.as_ref()?;
        Some((now - *at).as_seconds_f64().max(0.0))
    }

    pub fn ids(&self) -> Vec<String> {
        self.map.iter().map(|t| t.key().clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Records a reading taken at `at`. A history point is added when the
    /// last one is at least a step old; points older than the kept span go.
    pub fn record(&self, id: &str, reading: Reading, at: OffsetDateTime) {
        let Some(mut t) = self.map.get_mut(id) else {
            return;
        };
        if let Reading::Sampled {
            usage_bytes,
            limit_bytes,
        } = &reading
        {
            t.limit_bytes = *limit_bytes;
            let due = t
                .history
                .back()
                .is_none_or(|(last, _)| at - *last >= self.step);
            if due {
                t.history.push_back((at, *usage_bytes));
            }
            let oldest = at - self.keep;
            while t.history.front().is_some_and(|(when, _)| *when < oldest) {
                t.history.pop_front();
            }
        }
        t.latest = Some((reading, at));
    }

    /// Every container's latest reading, sorted by name. A container with
    /// no sample yet is a `Failed` row, and makes the snapshot not fresh.
    pub fn live(&self, host_memory_bytes: u64, now: OffsetDateTime) -> Live {
        let mut oldest_ms = Some(0u64);
        let mut newest_ms: Option<u64> = None;
        let mut containers: Vec<ContainerSample> = self
            .map
            .iter()
            .map(|t| {
                let (reading, age_ms) = match &t.latest {
                    // Known not to run (an event or a read said so): not
                    // sampled any more, so it has no age to count.
                    Some((Reading::Gone, _)) => (Reading::Gone, None),
                    Some((r, at)) => {
                        let age = (now - *at).whole_milliseconds().max(0) as u64;
                        oldest_ms = oldest_ms.map(|o| o.max(age));
                        newest_ms = Some(newest_ms.map_or(age, |n| n.min(age)));
                        (r.clone(), Some(age))
                    }
                    None => {
                        oldest_ms = None;
                        let reason = "no sample yet".into();
                        (Reading::Failed { reason }, None)
                    }
                };
                ContainerSample {
                    name: t.name.clone(),
                    id: t.id.clone(),
                    service: t.service.clone(),
                    project: t.project.clone(),
                    reading,
                    age_ms,
                }
            })
            .collect();
        containers.sort_by(|a, b| a.name.cmp(&b.name));
        Live {
            snapshot: MemorySnapshot {
                host_memory_bytes,
                containers,
            },
            oldest_ms,
            newest_ms: newest_ms.unwrap_or(0),
        }
    }

    /// In-memory history of the containers of `service` (all when `None`)
    /// from `since` on, with the container id.
    pub fn histories(
        &self,
        service: Option<&str>,
        since: OffsetDateTime,
    ) -> Vec<(String, History)> {
        let mut out: Vec<(String, History)> = self
            .map
            .iter()
            .filter(|t| service.is_none() || t.service.as_deref() == service)
            .map(|t| {
                (
                    t.id.clone(),
                    History {
                        name: t.name.clone(),
                        service: t.service.clone(),
                        limit_bytes: t.limit_bytes,
                        samples: t
                            .history
                            .iter()
                            .filter(|(at, _)| *at >= since)
                            .copied()
                            .collect(),
                    },
                )
            })
            .collect();
        out.sort_by(|a, b| a.1.name.cmp(&b.1.name));
        out
    }

    /// The newest history point of every container, for recording, as
    /// node `node`'s (in a fleet).
    pub fn newest_points(&self, node: Option<&str>) -> Vec<SamplePoint> {
        self.map
            .iter()
            .filter_map(|t| {
                let (at, usage_bytes) = *t.history.back()?;
                Some(SamplePoint {
                    container_id: t.id.clone(),
                    container: t.name.clone(),
                    service: t.service.clone(),
                    at,
                    usage_bytes,
                    limit_bytes: t.limit_bytes,
                    node: node.map(String::from),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    fn sampled(mib: u64) -> Reading {
        Reading::Sampled {
            usage_bytes: mib << 20,
            limit_bytes: None,
        }
    }

    #[test]
    fn history_is_down_sampled_and_bounded() {
        let cache = Cache::new(10, 1);
        assert!(cache.insert("a", "web-1", Some("web".into()), None));
        assert!(!cache.insert("a", "web-1", Some("web".into()), None));
        // A sample a second for three minutes.
        for s in 0..180 {
            cache.record("a", sampled(s), T0 + time::Duration::seconds(s as i64));
        }
        let h = &cache.histories(Some("web"), T0)[0].1;
        // One point per 10 s, only the last minute kept.
        assert!((6..=7).contains(&h.samples.len()), "{}", h.samples.len());
        assert!(h
            .samples
            .windows(2)
            .all(|w| w[1].0 - w[0].0 >= time::Duration::seconds(10)));
        assert!(cache.histories(Some("db"), T0).is_empty());
    }

    #[test]
    fn freshness_is_the_oldest_sample() {
        let cache = Cache::new(1, 5);
        cache.insert("a", "a", None, None);
        cache.insert("b", "b", None, None);
        let now = T0 + time::Duration::seconds(3);
        // b has no sample: not fresh at all.
        cache.record("a", sampled(1), T0 + time::Duration::seconds(2));
        assert_eq!(cache.live(1 << 30, now).oldest_ms, None);
        cache.record("b", sampled(1), T0);
        let live = cache.live(1 << 30, now);
        assert_eq!(live.oldest_ms, Some(3000));
        assert_eq!(live.snapshot.containers.len(), 2);
        // A container known to be down keeps its row, with no age: it
        // is not stale data.
        cache.mark_down("b", std::time::Instant::now(), T0);
        let live = cache.live(1 << 30, now);
        assert_eq!(live.oldest_ms, Some(1000));
        let b = &live.snapshot.containers[1];
        assert_eq!((&b.reading, b.age_ms), (&Reading::Gone, None));
        assert!(cache.remove("b"));
        assert_eq!(cache.live(1 << 30, now).oldest_ms, Some(1000));
        // Readings for containers not tracked are dropped.
        cache.record("zzz", sampled(1), now);
        assert_eq!(cache.len(), 1);
    }
}
