//! Table-driven tests of the memory verdict: containers in, outcome and
//! offenders out.

use super::*;
use crate::memory::{ContainerSample, MemorySnapshot, Reading};
use crate::runbook::Check;

const MIB: u64 = 1 << 20;
const HOST: u64 = 4096 * MIB;

fn step() -> Step {
    Step {
        id: "status".into(),
        title: "Check current memory usage".into(),
        expected: "Total memory < 80%, individual processes < 500MB".into(),
        if_different: "Memory leak or excessive memory usage".into(),
        shell: vec![],
        check: Check::ContainerMemory(runbook_bars()),
    }
}

fn runbook_bars() -> ContainerMemoryCheck {
    ContainerMemoryCheck {
        process_max_mib: Some(500.0),
        total_max_percent: Some(80.0),
        warn_ratio: 0.8,
        limit_warn_percent: 90.0,
    }
}

/// A container: name, then usage and limit in MiB, or a non-reading.
enum C {
    Mib(&'static str, u64, Option<u64>),
    Gone(&'static str),
    Failed(&'static str),
}

fn snapshot(containers: &[C]) -> MemorySnapshot {
    let sample = |name: &str, reading| ContainerSample {
        name: name.into(),
        id: format!("id-{name}"),
        service: Some(name.trim_start_matches("rota-cc-").into()),
        project: Some("rota-cc".into()),
        reading,
        age_ms: None,
    };
    MemorySnapshot {
        host_memory_bytes: HOST,
        containers: containers
            .iter()
            .map(|c| match c {
                C::Mib(n, usage, limit) => sample(
                    n,
                    Reading::Sampled {
                        usage_bytes: usage * MIB,
                        limit_bytes: limit.map(|l| l * MIB),
                    },
                ),
                C::Gone(n) => sample(n, Reading::Gone),
                C::Failed(n) => sample(
                    n,
                    Reading::Failed {
                        reason: "no stats within 5s".into(),
                    },
                ),
            })
            .collect(),
    }
}

/// Judges `containers` against `bars`; expects the outcome and exactly the
/// offenders named (in order).
fn check(bars: ContainerMemoryCheck, containers: &[C], outcome: Outcome, offenders: &[&str]) {
    let report = judge_memory(&step(), &bars, &snapshot(containers));
    let v = &report.verdict;
    let names: Vec<&str> = v.offenders.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        (v.outcome, names.as_slice()),
        (outcome, offenders),
        "verdict: {v:#?}"
    );
    assert_eq!(
        v.conclusion.is_some(),
        outcome == Outcome::Fail,
        "the runbook's conclusion is quoted exactly when the check fails"
    );
    assert_eq!(
        report.rows.len(),
        containers.len(),
        "every container has a row"
    );
}

#[test]
fn memory_verdicts() {
    use C::*;
    let web = "rota-cc-web-1";
    let worker = "rota-cc-celery_worker-1";
    let bars = runbook_bars;
    check(
        bars(),
        &[Mib(web, 120, None), Mib(worker, 80, Some(512))],
        Outcome::Pass,
        &[],
    );
    // "individual processes < 500MB": 500 itself breaks it.
    check(
        bars(),
        &[Mib(web, 500, None), Mib(worker, 80, None)],
        Outcome::Fail,
        &[web],
    );
    check(
        bars(),
        &[Mib(web, 612, None), Mib(worker, 700, Some(1024))],
        Outcome::Fail,
        &[web, worker],
    );
    // At 80% of the bar: an early warning, not the runbook's conclusion.
    check(bars(), &[Mib(web, 420, None)], Outcome::Warn, &[web]);
    // Close to its own limit: the OOM killer's line, even when far below 500.
    check(
        bars(),
        &[Mib(worker, 240, Some(256))],
        Outcome::Warn,
        &[worker],
    );
    // The total against host memory (4 GiB here): 3300 MiB is over 80%.
    let many: Vec<C> = (0..11).map(|_| Mib(web, 300, None)).collect();
    check(bars(), &many, Outcome::Fail, &["total"]);
    // A container that could not be read makes an otherwise good report
    // unknown, but never hides a known failure.
    check(
        bars(),
        &[Mib(web, 100, None), Failed(worker)],
        Outcome::Unknown,
        &[],
    );
    check(
        bars(),
        &[Mib(web, 900, None), Failed(worker)],
        Outcome::Fail,
        &[web],
    );
    // One that vanished mid-way is reported, not judged.
    check(
        bars(),
        &[Mib(web, 100, None), Gone(worker)],
        Outcome::Pass,
        &[],
    );
    check(bars(), &[Gone(worker)], Outcome::Unknown, &[]);
    // A verification item that only cares about the total.
    let total_only = ContainerMemoryCheck {
        process_max_mib: None,
        ..bars()
    };
    check(total_only, &[Mib(web, 900, None)], Outcome::Pass, &[]);
}

#[test]
fn without_host_memory_the_total_is_unknown_not_passed() {
    let mut snap = snapshot(&[C::Mib("rota-cc-web-1", 100, None)]);
    snap.host_memory_bytes = 0;
    let report = judge_memory(&step(), &runbook_bars(), &snap);
    assert_eq!(report.verdict.outcome, Outcome::Unknown);
    assert!(report.verdict.notes[0].contains("did not report host memory"));
}

#[test]
fn the_report_carries_numbers_and_the_runbook_words() {
    let report = judge_memory(
        &step(),
        &runbook_bars(),
        &snapshot(&[
            C::Mib("rota-cc-web-1", 612, None),
            C::Mib("rota-cc-celery_worker-1", 64, Some(256)),
            C::Gone("rota-cc-beat-1"),
        ]),
    );
    assert_eq!(report.total_usage_bytes, 676 * MIB);
    assert!((report.total_percent_of_host - 676.0 / 4096.0 * 100.0).abs() < 1e-9);
    assert_eq!(report.rows[1].percent_of_limit, Some(25.0));
    assert_eq!(
        report.rows[0].percent_of_limit, None,
        "no limit, no percent"
    );
    let v = &report.verdict;
    assert_eq!(
        v.expected,
        "Total memory < 80%, individual processes < 500MB"
    );
    assert_eq!(
        v.conclusion.as_deref(),
        Some("Memory leak or excessive memory usage")
    );
    assert!(
        v.observed.contains("largest rota-cc-web-1 at 612.0 MiB"),
        "{}",
        v.observed
    );
    assert!(v.offenders[0].reason.contains("500 MiB bar"));
    assert_eq!(v.notes.len(), 1);
    assert!(v.notes[0].contains("rota-cc-beat-1"));
}

#[test]
fn exit_codes_follow_the_monitoring_convention() {
    let codes: Vec<u8> = [
        Outcome::Pass,
        Outcome::Warn,
        Outcome::Fail,
        Outcome::Unknown,
    ]
    .iter()
    .map(|o| o.exit_code())
    .collect();
    assert_eq!(codes, [0, 1, 2, 3]);
    assert_eq!(Outcome::Warn.worst(Outcome::Unknown), Outcome::Unknown);
    assert_eq!(Outcome::Unknown.worst(Outcome::Fail), Outcome::Fail);
    assert_eq!(Outcome::Fail.worst(Outcome::Warn), Outcome::Fail);
}
