//! The runbook's verification checklist, judged: each item's observation
//! against its bar, and the list as a whole (all green means the incident
//! may be resolved). Pure: the orchestration (`verify`) gathers the
//! observations.

use super::verdict::Outcome;
use serde::Serialize;

/// One checklist item, judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemResult {
    pub id: String,
    /// The runbook's wording ("No OOM errors in logs").
    pub text: String,
    pub outcome: Outcome,
    /// What was seen, in one line.
    pub observed: String,
}

/// The checklist.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    pub items: Vec<ItemResult>,
    pub outcome: Outcome,
}

impl VerifyReport {
    pub fn new(items: Vec<ItemResult>) -> VerifyReport {
        let outcome = if items.is_empty() {
            Outcome::Unknown
        } else {
            items.iter().fold(Outcome::Pass, |o, i| o.worst(i.outcome))
        };
        VerifyReport { items, outcome }
    }

    /// Every item passed: the incident may be resolved.
    pub fn all_pass(&self) -> bool {
        self.outcome == Outcome::Pass
    }
}

/// One sign of an OOM kill.
#[derive(Debug, Clone, PartialEq)]
pub enum OomSign {
    /// `State.OOMKilled` on the container.
    Killed { container: String },
    /// An `oom` event from the engine since the start of the window.
    Event { container: String },
    /// Log lines matching a pattern of the runbook.
    Log {
        container: String,
        pattern: String,
        lines: usize,
        first: String,
    },
}

/// Lines of `lines` containing any of `patterns`: (pattern, count, first).
pub fn scan_logs(patterns: &[String], lines: &[String]) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    for p in patterns.iter().filter(|p| !p.is_empty()) {
        let hits: Vec<&String> = lines.iter().filter(|l| l.contains(p.as_str())).collect();
        if let Some(first) = hits.first() {
            out.push((p.clone(), hits.len(), super::text::clip(first.trim(), 160)));
        }
    }
    out
}

/// "No OOM errors": fails on any sign.
pub fn judge_oom(signs: &[OomSign], containers: usize) -> (Outcome, String) {
    if signs.is_empty() {
        return (
            Outcome::Pass,
            format!("no OOM kill, oom event or OOM message in {containers} container(s)"),
        );
    }
    let said: Vec<String> = signs
        .iter()
        .map(|s| match s {
            OomSign::Killed { container } => {
                format!("{container} was OOM-killed (State.OOMKilled)")
            }
            OomSign::Event { container } => {
                format!("the engine reported an OOM kill in {container}")
            }
            OomSign::Log {
                container,
                pattern,
                lines,
                first,
            } => format!("{container} logged '{pattern}' {lines}× (first: {first})"),
        })
        .collect();
    (Outcome::Fail, said.join("; "))
}

/// How an HTTP GET of the health URL went.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    NotConfigured,
    Answered { status: u16, latency_ms: u64 },
    Failed { reason: String },
}

/// "Application responsive": the expected status within the latency bar.
pub fn judge_http(
    probe: &Probe,
    url: &str,
    expected_status: u16,
    max_latency_ms: u32,
) -> (Outcome, String) {
    match probe {
        Probe::NotConfigured => (
            Outcome::Unknown,
            "no health URL is configured (verify.health_url), so it cannot be checked".into(),
        ),
        Probe::Failed { reason } => (Outcome::Fail, format!("GET {url} failed: {reason}")),
        Probe::Answered { status, latency_ms } => {
            let o = if *status != expected_status || *latency_ms > u64::from(max_latency_ms) {
                Outcome::Fail
            } else {
                Outcome::Pass
            };
            (
                o,
                format!(
                    "GET {url}: {status} in {latency_ms} ms (expected {expected_status} within {max_latency_ms} ms)"
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(outcome: Outcome) -> ItemResult {
        ItemResult {
            id: "x".into(),
            text: "x".into(),
            outcome,
            observed: String::new(),
        }
    }

    #[test]
    fn the_list_passes_only_when_every_item_does() {
        assert!(VerifyReport::new(vec![item(Outcome::Pass), item(Outcome::Pass)]).all_pass());
        for other in [Outcome::Warn, Outcome::Fail, Outcome::Unknown] {
            let r = VerifyReport::new(vec![item(Outcome::Pass), item(other)]);
            assert!(!r.all_pass(), "{other:?}");
        }
        assert!(!VerifyReport::new(vec![]).all_pass());
    }

    #[test]
    fn oom_signs_and_log_patterns() {
        let patterns = vec![
            "Out of memory".to_string(),
            "MemoryError".to_string(),
            String::new(),
        ];
        let lines: Vec<String> = [
            "ok",
            "Out of memory: Killed process 42",
            "fine",
            "Out of memory again",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let hits = scan_logs(&patterns, &lines);
        assert_eq!(
            hits,
            [(
                "Out of memory".to_string(),
                2,
                "Out of memory: Killed process 42".to_string()
            )]
        );
        assert_eq!(judge_oom(&[], 3).0, Outcome::Pass);
        let (o, said) = judge_oom(
            &[OomSign::Killed {
                container: "w-1".into(),
            }],
            3,
        );
        assert_eq!(o, Outcome::Fail);
        assert!(said.contains("w-1 was OOM-killed"));
    }

    #[test]
    fn http_probe_outcomes() {
        let url = "http://web/health";
        let cases = [
            (Probe::NotConfigured, Outcome::Unknown),
            (
                Probe::Failed {
                    reason: "connection refused".into(),
                },
                Outcome::Fail,
            ),
            (
                Probe::Answered {
                    status: 200,
                    latency_ms: 30,
                },
                Outcome::Pass,
            ),
            (
                Probe::Answered {
                    status: 503,
                    latency_ms: 30,
                },
                Outcome::Fail,
            ),
            (
                Probe::Answered {
                    status: 200,
                    latency_ms: 5000,
                },
                Outcome::Fail,
            ),
        ];
        for (probe, want) in cases {
            assert_eq!(judge_http(&probe, url, 200, 2000).0, want, "{probe:?}");
        }
    }
}
