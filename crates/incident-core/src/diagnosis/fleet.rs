//! A fleet's memory report: each host judged on its own (the runbook's
//! "total < 80%" is about one host's memory, the 500 MB bar about one
//! container), the whole as one verdict. A host whose data is missing or
//! too old is not judged: it is named, and the report cannot pass for it.

use super::{judge_memory, HostTotal, MemoryReport, MemoryRow, Offender, Outcome, Verdict};
use crate::memory::{MemorySnapshot, MIB};
use crate::runbook::{ContainerMemoryCheck, Step};

/// One host's part of the fleet, as its node last published it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSnapshot {
    pub host: String,
    pub snapshot: MemorySnapshot,
    /// Why its data is missing or too old to judge ("no data since 14:03
    /// UTC: its bot has not been heard from"), when it is.
    pub blind: Option<String>,
}

/// Judges every host of `hosts` as `judge_memory` judges one, and puts
/// them together: rows and offenders name their host, the outcome is the
/// worst, and a blind host makes it at least unknown.
pub fn judge_fleet(
    step: &Step,
    check: &ContainerMemoryCheck,
    hosts: &[HostSnapshot],
) -> MemoryReport {
    let mut rows: Vec<MemoryRow> = Vec::new();
    let mut totals = Vec::with_capacity(hosts.len());
    let mut offenders = Vec::new();
    let mut notes = Vec::new();
    let mut outcome = Outcome::Pass;
    let mut seen = Vec::new();
    for h in hosts {
        if let Some(why) = &h.blind {
            notes.push(format!("{}: {why}; its containers are left out", h.host));
            outcome = outcome.worst(Outcome::Unknown);
            totals.push(HostTotal {
                host: h.host.clone(),
                memory_bytes: h.snapshot.host_memory_bytes,
                total_usage_bytes: 0,
                percent_of_host: 0.0,
                containers: 0,
                outcome: Outcome::Unknown,
                blind: Some(why.clone()),
            });
            continue;
        }
        let r = judge_memory(step, check, &h.snapshot);
        outcome = outcome.worst(r.verdict.outcome);
        offenders.extend(r.verdict.offenders.into_iter().map(|o| Offender {
            name: format!("{} {}", h.host, o.name),
            ..o
        }));
        notes.extend(
            r.verdict
                .notes
                .into_iter()
                .map(|n| format!("{}: {n}", h.host)),
        );
        seen.push(format!(
            "{} {} ({:.1}%)",
            h.host,
            mib(r.total_usage_bytes),
            r.total_percent_of_host
        ));
        totals.push(HostTotal {
            host: h.host.clone(),
            memory_bytes: r.host_memory_bytes,
            total_usage_bytes: r.total_usage_bytes,
            percent_of_host: r.total_percent_of_host,
            containers: r.rows.len(),
            outcome: r.verdict.outcome,
            blind: None,
        });
        rows.extend(r.rows.into_iter().map(|row| MemoryRow {
            host: Some(h.host.clone()),
            ..row
        }));
    }
    if totals.iter().all(|t| t.blind.is_some()) {
        outcome = outcome.worst(Outcome::Unknown);
    }
    let memory: u64 = totals
        .iter()
        .filter(|t| t.blind.is_none())
        .map(|t| t.memory_bytes)
        .sum();
    let total: u64 = totals.iter().map(|t| t.total_usage_bytes).sum();
    let observed = observed(hosts.len(), &seen, &rows);
    MemoryReport {
        host_memory_bytes: memory,
        total_usage_bytes: total,
        total_percent_of_host: if memory > 0 {
            total as f64 / memory as f64 * 100.0
        } else {
            0.0
        },
        rows,
        hosts: totals,
        verdict: Verdict::of(step, observed, outcome, offenders, notes),
    }
}

/// "2 of 3 hosts: web-1 1.2 GiB (5.0%), web-2 …; largest rota-cc-web-1 on
/// web-1 at 523.0 MiB".
fn observed(hosts: usize, seen: &[String], rows: &[MemoryRow]) -> String {
    use crate::memory::Reading;
    let largest = rows
        .iter()
        .filter_map(|r| match r.sample.reading {
            Reading::Sampled { usage_bytes, .. } => Some((usage_bytes, r)),
            _ => None,
        })
        .max_by_key(|(bytes, _)| *bytes);
    let head = if seen.len() == hosts {
        format!("{hosts} host{}", if hosts == 1 { "" } else { "s" })
    } else {
        format!("{} of {hosts} hosts seen", seen.len())
    };
    match largest {
        Some((bytes, r)) => format!(
            "{head}: {}; largest {} on {} at {}",
            seen.join(", "),
            r.sample.name,
            r.host.as_deref().unwrap_or("?"),
            mib(bytes)
        ),
        None if seen.is_empty() => format!("{head}: no host could be measured"),
        None => format!(
            "{head}: {}; no container could be measured",
            seen.join(", ")
        ),
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{ContainerSample, Reading};
    use crate::runbook::Runbook;

    const GIB: u64 = 1 << 30;

    fn container(name: &str, mib: u64) -> ContainerSample {
        ContainerSample {
            name: name.into(),
            id: format!("{name}-id"),
            service: Some(name.into()),
            project: Some("shop".into()),
            reading: Reading::Sampled {
                usage_bytes: mib << 20,
                limit_bytes: None,
            },
            age_ms: Some(400),
        }
    }

    fn host(name: &str, memory_gib: u64, containers: Vec<ContainerSample>) -> HostSnapshot {
        HostSnapshot {
            host: name.into(),
            snapshot: MemorySnapshot {
                host_memory_bytes: memory_gib * GIB,
                containers,
            },
            blind: None,
        }
    }

    /// The shipped runbook's status step: < 500 MB per container, < 80% of
    /// host memory in total.
    fn check(hosts: &[HostSnapshot]) -> MemoryReport {
        let rb = Runbook::parse(include_str!("../../../../commands/mem.toml"), "mem.toml")
            .expect("the shipped runbook parses");
        let step = rb.step("status").unwrap();
        let crate::runbook::Check::ContainerMemory(c) = &step.check else {
            unreachable!()
        };
        judge_fleet(step, c, hosts)
    }

    #[test]
    fn each_host_is_judged_against_its_own_memory() {
        // 1000 MiB is 98% of a 1 GiB host but 6% of a 16 GiB one: the same
        // load fails on the small host only.
        let load = || {
            ["web", "worker", "db", "cache"]
                .map(|n| container(n, 250))
                .to_vec()
        };
        let r = check(&[host("small", 1, load()), host("big", 16, load())]);
        assert_eq!(r.verdict.outcome, Outcome::Fail);
        let small = &r.hosts[0];
        assert_eq!(
            (small.host.as_str(), small.outcome),
            ("small", Outcome::Fail)
        );
        assert_eq!(r.hosts[1].outcome, Outcome::Pass);
        assert!(
            r.verdict.offenders.iter().any(|o| o.name == "small total"),
            "{:?}",
            r.verdict.offenders
        );
        assert!(!r
            .verdict
            .offenders
            .iter()
            .any(|o| o.name.starts_with("big")));
        assert_eq!(r.rows.len(), 8);
        assert!(r.rows.iter().all(|row| row.host.is_some()));
        assert!(
            r.verdict.observed.starts_with("2 hosts: small 1000.0 MiB"),
            "{}",
            r.verdict.observed
        );
    }

    #[test]
    fn the_500_mb_bar_is_per_container_on_every_host() {
        let r = check(&[
            host("a", 16, vec![container("web", 100)]),
            host("b", 16, vec![container("web", 600)]),
        ]);
        assert_eq!(r.verdict.outcome, Outcome::Fail);
        assert_eq!(r.verdict.offenders.len(), 1);
        assert_eq!(r.verdict.offenders[0].name, "b web");
        assert!(
            r.verdict.observed.contains("largest web on b at 600.0 MiB"),
            "{}",
            r.verdict.observed
        );
    }

    #[test]
    fn a_blind_host_is_named_left_out_and_never_passes() {
        let mut blind = host("web-2", 16, vec![container("old", 900)]);
        blind.blind = Some("no data since 14:03 UTC".into());
        let r = check(&[host("web-1", 16, vec![container("web", 100)]), blind]);
        assert_eq!(r.verdict.outcome, Outcome::Unknown);
        assert_eq!(r.rows.len(), 1, "the blind host's old rows are not judged");
        assert!(r
            .verdict
            .notes
            .iter()
            .any(|n| n.starts_with("web-2: no data since 14:03 UTC")));
        assert!(
            r.verdict.observed.starts_with("1 of 2 hosts seen: web-1"),
            "{}",
            r.verdict.observed
        );
        assert_eq!(r.hosts[1].blind.as_deref(), Some("no data since 14:03 UTC"));
        // Its memory does not count toward the fleet's.
        assert_eq!(r.host_memory_bytes, 16 * GIB);
        // A failure elsewhere still shows as a failure.
        let mut blind = host("web-2", 16, vec![]);
        blind.blind = Some("x".into());
        let r = check(&[host("web-1", 16, vec![container("web", 700)]), blind]);
        assert_eq!(r.verdict.outcome, Outcome::Fail);
    }

    #[test]
    fn no_host_seen_is_unknown() {
        let mut a = host("a", 16, vec![]);
        a.blind = Some("x".into());
        let r = check(&[a]);
        assert_eq!(r.verdict.outcome, Outcome::Unknown);
        assert!(
            r.verdict.observed.contains("no host could be measured"),
            "{}",
            r.verdict.observed
        );
    }
}
