//! The bot's own HighMemoryUsage alert: Prometheus's `for:` semantics over
//! the live samples.
//!
//! A condition that holds starts *pending*; it *fires* once it has held
//! without a break for `for_secs`; it *resolves* as soon as it no longer
//! holds. The caller feeds observations with `now` and acts on the
//! transitions that come back, so one sustained breach is one alert, not one
//! per sample.

use super::memory::MIB;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Names of the alerts the runbook declares and the bot understands.
pub const HIGH_MEMORY: &str = "HighMemoryUsage";
pub const OOM_KILLER: &str = "OomKiller";

/// Where an alert came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertSource {
    /// The bot's own evaluation of the live samples or engine events.
    Bot,
    /// Prometheus Alertmanager's webhook.
    Alertmanager,
}

impl AlertSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertSource::Bot => "bot",
            AlertSource::Alertmanager => "alertmanager",
        }
    }
}

/// An alert starting or stopping, whatever its source: both map to the
/// same incidents.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvent {
    /// `HighMemoryUsage` or `OomKiller`.
    pub name: String,
    pub firing: bool,
    /// Names this alert across repeats and sources
    /// ([`AlertEvent::fingerprint_of`]; `am:<fingerprint>` for an
    /// Alertmanager alert the bot cannot map).
    pub fingerprint: String,
    /// The Compose service it concerns; `None` for the project's total.
    pub service: Option<String>,
    /// The container, when the alert concerns one: (id, name).
    pub container: Option<(String, String)>,
    pub summary: String,
    pub source: AlertSource,
    pub at: OffsetDateTime,
}

impl AlertEvent {
    /// The one fingerprint of an alert, whichever source reports it: its
    /// name, the Compose project (`None`: every container is watched), the
    /// service (or [`TOTAL`]) and, in a fleet, the host. The bot's watcher
    /// and Alertmanager reporting the same condition give the same
    /// fingerprint, so they are one alert (`HighMemoryUsage/shop/web@web-2`).
    pub fn fingerprint_of(
        name: &str,
        project: Option<&str>,
        key: &str,
        host: Option<&str>,
    ) -> String {
        let base = format!("{name}/{}/{key}", project.unwrap_or("*"));
        match host {
            Some(host) => format!("{base}@{host}"),
            None => base,
        }
    }
}

/// The thresholds of a `high_memory` alert condition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HighMemory {
    pub process_max_mib: f64,
    pub total_max_percent: f64,
    pub for_secs: u32,
}

/// One evaluation's input: what each key measures now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// (key, bytes in use) per service (or container without a service).
    pub services: Vec<(String, u64)>,
    /// The containers together as a percent of host memory, when known.
    pub total_percent: Option<f64>,
}

/// The key under which the total is tracked.
pub const TOTAL: &str = "total";

/// A change of an alert's state that the caller must act on.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Firing { key: String, summary: String },
    Resolved { key: String },
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Pending { since: OffsetDateTime },
    Firing,
}

/// Alert state per key, kept between evaluations.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    states: BTreeMap<String, State>,
}

impl Tracker {
    /// Keys currently firing.
    pub fn firing(&self) -> impl Iterator<Item = &str> {
        self.states
            .iter()
            .filter(|(_, s)| **s == State::Firing)
            .map(|(k, _)| k.as_str())
    }

    /// Feeds one observation; returns what changed. A key that is not
    /// observed any more (its container went away) no longer breaches.
    pub fn evaluate(
        &mut self,
        rule: &HighMemory,
        obs: &Observation,
        now: OffsetDateTime,
    ) -> Vec<Transition> {
        let mut breaching: BTreeMap<String, String> = BTreeMap::new();
        for (key, bytes) in &obs.services {
            let mib = *bytes as f64 / MIB;
            if mib >= rule.process_max_mib {
                breaching.insert(
                    key.clone(),
                    format!(
                        "{key} uses {mib:.0} MiB, over the {} MiB bar",
                        rule.process_max_mib
                    ),
                );
            }
        }
        if let Some(pct) = obs.total_percent.filter(|p| *p >= rule.total_max_percent) {
            breaching.insert(
                TOTAL.to_string(),
                format!(
                    "the project's containers use {pct:.1}% of host memory, over the {}% bar",
                    rule.total_max_percent
                ),
            );
        }
        let mut out = Vec::new();
        // Whatever stopped breaching resolves (if it fired) or is forgotten.
        let cleared: Vec<String> = self
            .states
            .keys()
            .filter(|k| !breaching.contains_key(*k))
            .cloned()
            .collect();
        for key in cleared {
            if self.states.remove(&key) == Some(State::Firing) {
                out.push(Transition::Resolved { key });
            }
        }
        let hold = time::Duration::seconds(i64::from(rule.for_secs));
        for (key, summary) in breaching {
            let state = self
                .states
                .entry(key.clone())
                .or_insert(State::Pending { since: now });
            if let State::Pending { since } = state {
                if now - *since >= hold {
                    *state = State::Firing;
                    out.push(Transition::Firing { key, summary });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);
    const RULE: HighMemory = HighMemory {
        process_max_mib: 500.0,
        total_max_percent: 80.0,
        for_secs: 300,
    };

    fn at(secs: i64) -> OffsetDateTime {
        T0 + time::Duration::seconds(secs)
    }

    fn web(mib: u64) -> Observation {
        Observation {
            services: vec![("web".into(), mib << 20)],
            total_percent: Some(10.0),
        }
    }

    fn names(ts: &[Transition]) -> Vec<String> {
        ts.iter()
            .map(|t| match t {
                Transition::Firing { key, .. } => format!("firing {key}"),
                Transition::Resolved { key } => format!("resolved {key}"),
            })
            .collect()
    }

    #[test]
    fn fires_once_after_the_hold_and_resolves_when_clear() {
        let mut t = Tracker::default();
        // (second, MiB, transitions expected)
        let script: &[(i64, u64, &[&str])] = &[
            (0, 600, &[]),
            (120, 650, &[]),
            (299, 700, &[]),
            (300, 700, &["firing web"]),
            // Still over: no second alert.
            (360, 800, &[]),
            (900, 800, &[]),
            (960, 100, &["resolved web"]),
            (1000, 100, &[]),
        ];
        for (s, mib, want) in script {
            let got = names(&t.evaluate(&RULE, &web(*mib), at(*s)));
            assert_eq!(got, *want, "at {s}s with {mib} MiB");
        }
    }

    #[test]
    fn a_break_restarts_the_hold() {
        let mut t = Tracker::default();
        assert!(t.evaluate(&RULE, &web(600), at(0)).is_empty());
        assert!(t.evaluate(&RULE, &web(100), at(200)).is_empty());
        assert!(t.evaluate(&RULE, &web(600), at(250)).is_empty());
        // 300 s after the first breach, but only 100 s into this one.
        assert!(t.evaluate(&RULE, &web(600), at(350)).is_empty());
        assert_eq!(
            names(&t.evaluate(&RULE, &web(600), at(550))),
            ["firing web"]
        );
    }

    #[test]
    fn total_and_gone_containers() {
        let mut t = Tracker::default();
        let over = Observation {
            services: vec![("web".into(), 600 << 20), ("db".into(), 10 << 20)],
            total_percent: Some(85.0),
        };
        assert!(t.evaluate(&RULE, &over, at(0)).is_empty());
        let fired = names(&t.evaluate(&RULE, &over, at(300)));
        assert_eq!(fired, ["firing total", "firing web"]);
        assert_eq!(t.firing().collect::<Vec<_>>(), ["total", "web"]);
        // web is removed; the total drops.
        let after = Observation {
            services: vec![("db".into(), 10 << 20)],
            total_percent: Some(20.0),
        };
        assert_eq!(
            names(&t.evaluate(&RULE, &after, at(310))),
            ["resolved total", "resolved web"]
        );
        // Unknown host memory: the total is not judged.
        let unknown = Observation {
            services: vec![],
            total_percent: None,
        };
        assert!(t.evaluate(&RULE, &unknown, at(320)).is_empty());
    }

    #[test]
    fn zero_hold_fires_at_once() {
        let mut t = Tracker::default();
        let rule = HighMemory {
            for_secs: 0,
            ..RULE
        };
        assert_eq!(names(&t.evaluate(&rule, &web(600), at(0))), ["firing web"]);
    }
}
