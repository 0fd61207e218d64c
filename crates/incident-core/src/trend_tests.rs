//! The trend maths and the leak verdict, table-driven.

use super::*;
use crate::runbook::Check;
use time::macros::datetime;

const MIB_U: u64 = 1 << 20;
const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

fn step() -> Step {
    Step {
        id: "leaks".into(),
        title: "Check for memory leaks".into(),
        expected: "Stable memory usage".into(),
        if_different: "Memory leak detected".into(),
        shell: vec![],
        check: Check::MemoryTrend {
            window_minutes: 30,
            max_growth_mib_per_hour: 50.0,
            min_samples: 10,
        },
    }
}

fn rule() -> TrendRule {
    TrendRule {
        window_secs: 1800,
        max_growth_mib_per_hour: 50.0,
        min_samples: 10,
        bar_mib: Some(500.0),
    }
}

/// A container sampled every `every` seconds up to NOW, `n` samples, with
/// memory (MiB) given by `f(i)`.
fn history(
    name: &str,
    n: usize,
    every: i64,
    limit: Option<u64>,
    f: impl Fn(usize) -> f64,
) -> History {
    History {
        name: name.into(),
        service: Some("web".into()),
        limit_bytes: limit.map(|l| l * MIB_U),
        samples: (0..n)
            .map(|i| {
                let at = NOW - time::Duration::seconds(every * (n - 1 - i) as i64);
                (at, (f(i) * MIB) as u64)
            })
            .collect(),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6 * b.abs().max(1.0)
}

#[test]
fn fit_recovers_an_exact_line() {
    // y = 3 + 2t, with timestamps the size of Unix seconds: centring keeps
    // the digits.
    let base = 1.7e9;
    let pts: Vec<(f64, f64)> = (0..50)
        .map(|i| (base + i as f64, 3.0 + 2.0 * (base + i as f64)))
        .collect();
    let f = fit(&pts).unwrap();
    assert!(close(f.slope, 2.0), "{f:?}");
    assert!(close(f.r2, 1.0), "{f:?}");
}

#[test]
fn fit_edge_cases() {
    type Case<'a> = (&'a [(f64, f64)], Option<(f64, f64)>);
    let cases: &[Case] = &[
        (&[], None),
        (&[(1.0, 5.0)], None),
        // All at one instant: no line.
        (&[(1.0, 5.0), (1.0, 7.0)], None),
        // Flat: slope 0, a perfect fit.
        (&[(0.0, 5.0), (1.0, 5.0), (2.0, 5.0)], Some((0.0, 1.0))),
        (&[(0.0, f64::NAN), (1.0, 5.0)], None),
        // Noise around a flat line: no slope, poor fit.
        (
            &[(0.0, 1.0), (1.0, -1.0), (2.0, 1.0), (3.0, -1.0), (4.0, 1.0)],
            Some((0.0, 0.0)),
        ),
    ];
    for (pts, want) in cases {
        let got = fit(pts).map(|f| (f.slope, f.r2));
        match (got, want) {
            (None, None) => {}
            (Some((s, r)), Some((ws, wr))) => {
                assert!(close(s, *ws), "{pts:?}: slope {s}");
                assert!((r - wr).abs() < 0.05, "{pts:?}: r2 {r}");
            }
            _ => panic!("{pts:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn verdicts() {
    // (what, history, outcome)
    let cases = vec![
        (
            "flat",
            history("flat", 60, 30, None, |_| 200.0),
            Outcome::Pass,
        ),
        // 1 MiB per 30 s = 120 MiB/hour, steadily.
        (
            "leak",
            history("leak", 60, 30, None, |i| 100.0 + i as f64),
            Outcome::Fail,
        ),
        // Under the bar: 0.2 MiB per 30 s = 24 MiB/hour.
        (
            "slow",
            history("slow", 60, 30, None, |i| 100.0 + 0.2 * i as f64),
            Outcome::Pass,
        ),
        // Shrinking is stable enough.
        (
            "shrink",
            history("shrink", 60, 30, None, |i| 400.0 - i as f64),
            Outcome::Pass,
        ),
        // Too few samples: cannot say.
        (
            "young",
            history("young", 5, 30, None, |i| 100.0 + 10.0 * i as f64),
            Outcome::Unknown,
        ),
        // Growth, but a saw-tooth around it: a warning, not a leak.
        (
            "noisy",
            history("noisy", 60, 30, None, |i| {
                100.0 + i as f64 + if i % 2 == 0 { 80.0 } else { -80.0 }
            }),
            Outcome::Warn,
        ),
    ];
    for (what, h, want) in cases {
        let r = judge_trend(&step(), &rule(), &[h], NOW);
        assert_eq!(r.verdict.outcome, want, "{what}: {:?}", r.rows[0]);
        assert_eq!(
            r.verdict.conclusion.as_deref(),
            (want == Outcome::Fail).then_some("Memory leak detected"),
            "{what}"
        );
    }
}

#[test]
fn projection_to_limit_or_bar() {
    // 1 MiB per 30 s from 100 MiB: at NOW the line is at 159 MiB; a 256 MiB
    // limit is 97 MiB away at 2 MiB/min ≈ 48.5 min.
    let h = history("web-1", 60, 30, Some(256), |i| 100.0 + i as f64);
    let r = judge_trend(&step(), &rule(), &[h], NOW);
    let row = &r.rows[0];
    assert_eq!(row.ceiling.as_ref().unwrap().0, "limit");
    let eta = row.seconds_to_ceiling.unwrap();
    assert!((eta - 97.0 * 30.0).abs() < 1.0, "{eta}");
    assert!(
        r.verdict.offenders[0].reason.contains("reaches its limit"),
        "{:?}",
        r.verdict.offenders
    );
    assert!(close(row.slope_mib_per_hour.unwrap(), 120.0));

    // No limit: projected against the 500 MiB bar.
    let h = history("web-1", 60, 30, None, |i| 100.0 + i as f64);
    let row = judge_trend(&step(), &rule(), &[h], NOW).rows[0].clone();
    assert_eq!(row.ceiling, Some(("bar".into(), 500 * MIB_U)));
    // Flat: never reaches it.
    let h = history("web-1", 60, 30, None, |_| 100.0);
    assert_eq!(
        judge_trend(&step(), &rule(), &[h], NOW).rows[0].seconds_to_ceiling,
        None
    );
    // Already over it.
    let h = history("web-1", 60, 30, None, |i| 600.0 + i as f64);
    assert_eq!(
        judge_trend(&step(), &rule(), &[h], NOW).rows[0].seconds_to_ceiling,
        Some(0.0)
    );
}

#[test]
fn samples_outside_the_window_are_ignored() {
    // Two hours of history whose first 90 minutes grow; the last 30 are flat.
    let h = history("web-1", 240, 30, None, |i| {
        if i < 180 {
            i as f64
        } else {
            180.0
        }
    });
    let r = judge_trend(&step(), &rule(), &[h], NOW);
    // The window includes its start: 30 minutes of 30 s steps, both ends.
    assert_eq!(r.rows[0].samples, 61);
    assert_eq!(r.verdict.outcome, Outcome::Pass, "{:?}", r.rows[0]);
    // Chart points are relative to the window's start.
    assert!(r.series[0].iter().all(|(t, _)| (0.0..=1800.0).contains(t)));
}

#[test]
fn the_worst_container_decides_and_nothing_is_unknown() {
    let flat = history("a", 60, 30, None, |_| 100.0);
    let leak = history("b", 60, 30, None, |i| 100.0 + i as f64);
    let r = judge_trend(&step(), &rule(), &[flat, leak], NOW);
    assert_eq!(r.verdict.outcome, Outcome::Fail);
    assert_eq!(r.verdict.offenders.len(), 1);
    assert_eq!(r.verdict.offenders[0].name, "b");
    assert!(
        r.verdict.observed.starts_with("steepest: b"),
        "{}",
        r.verdict.observed
    );
    let none = judge_trend(&step(), &rule(), &[], NOW);
    assert_eq!(none.verdict.outcome, Outcome::Unknown);
}
