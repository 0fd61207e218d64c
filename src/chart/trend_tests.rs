//! Tests for the history chart: render, decode the PNG with the `png`
//! crate, and look at the pixels where the plot says things must be.

use super::super::{MIB, OK, UNKNOWN, WARN};
use super::*;
use crate::chart::memory::tests::{decode, Img};
use std::ops::Range;

const M: u64 = 1024 * 1024;

/// A series from (minutes into the window, MiB) samples and a trend in MiB
/// at the start and MiB per minute.
fn series(name: &str, pts: &[(f64, u64)], trend: Option<Pt>, state: BarState) -> TrendSeries {
    TrendSeries {
        label: name.into(),
        points: pts.iter().map(|&(m, mib)| (m * 60.0, mib * M)).collect(),
        trend: trend.map(|(at0, per_min)| (at0 * MIB, per_min * MIB / 60.0)),
        state,
    }
}

/// Half an hour: "web" climbing 4 MiB a minute from 200 MiB (warn), "db"
/// flat at 300 MiB (ok), and a 512 MiB limit.
fn rising() -> TrendChart {
    let web = (0..=30u32).map(|m| (f64::from(m), u64::from(200 + 4 * m + m % 3)));
    let db = (0..=30u32).map(|m| (f64::from(m), u64::from(300 + m % 4)));
    let (web, db): (Vec<_>, Vec<_>) = (web.collect(), db.collect());
    TrendChart {
        title: "Memory, last 30 min".into(),
        window_secs: 1800.0,
        series: vec![
            series("web", &web, Some((201.0, 4.0)), BarState::Warn),
            series("db", &db, Some((301.5, 0.0)), BarState::Ok),
        ],
        limit: Some(("limit 512 MiB".into(), 512 * M)),
    }
}

fn empty(series: Vec<TrendSeries>) -> TrendChart {
    TrendChart {
        title: "Memory".into(),
        window_secs: 1800.0,
        series,
        limit: None,
    }
}

impl Img {
    /// Mean row of the pixels in colour `c` in columns `xs` of the plot.
    fn mean_row(&self, p: &Plot, xs: Range<i32>, c: Rgb) -> Option<f64> {
        let hit = |y: i32| {
            xs.clone()
                .filter(move |&x| self.at(x, y) == c)
                .map(move |_| y)
        };
        let rows: Vec<f64> = (PLOT_TOP..p.bottom + 1)
            .flat_map(hit)
            .map(f64::from)
            .collect();
        (!rows.is_empty()).then(|| rows.iter().sum::<f64>() / rows.len() as f64)
    }
}

fn render(c: &TrendChart) -> (Img, Plot) {
    (decode(&render_trend_png(c)), Plot::new(c))
}

/// Whether `row` is within 2.5 px of the row the scale gives `mib`.
fn near(p: &Plot, row: f64, mib: f64) -> bool {
    (row - f64::from(p.y_of(mib * MIB))).abs() < 2.5
}

#[test]
fn output_is_an_800_by_480_png_and_the_same_for_the_same_input() {
    for c in [rising(), empty(vec![])] {
        let (img, _) = render(&c);
        assert_eq!((img.w, img.h, img.at(1, 1)), (800, 480, BG));
        assert_eq!(render_trend_png(&c), render_trend_png(&c.clone()));
    }
    let mut other = rising();
    other.series[0].points[3].1 += 40 * M;
    assert_ne!(render_trend_png(&rising()), render_trend_png(&other));
}

#[test]
fn rising_trend_is_dashed_in_its_state_colour_and_climbs() {
    let (img, p) = render(&rising());
    let left = img.mean_row(&p, p.left..p.left + 60, WARN).expect("start");
    let right = img.mean_row(&p, p.right - 60..p.right, WARN).expect("end");
    assert!(right < left - 50.0, "rows {left} then {right}: rises");
    // Where the fit puts it: 201 MiB + 4 MiB/min, mean over the first and
    // last 60 columns (3 min).
    assert!(near(&p, left, 205.0), "start row {left}");
    assert!(near(&p, right, 317.0), "end row {right}");
    // Dashed: some columns along it have none of it.
    let cols = p.left..p.right;
    let hit = |x: &i32| img.count(*x..*x + 1, PLOT_TOP..p.bottom, WARN) > 0;
    let (n, all) = (cols.clone().filter(hit).count(), cols.len());
    assert!(n > all / 2 && n < all * 9 / 10, "{n} of {all} columns");
    // The flat ok trend stays in one band of rows, at 301.5 MiB.
    let y = p.y_of(301.5 * MIB);
    assert!(img.count(cols.clone(), y - 1..y + 1, OK) > 200);
    assert_eq!(img.count(cols, PLOT_TOP..y - 3, OK), 0);
}

#[test]
fn series_are_polylines_in_palette_colours() {
    let (img, p) = render(&rising());
    let plot = (p.left..p.right + 1, PLOT_TOP..p.bottom + 1);
    for (i, mib) in [(0, 200.0), (1, 300.0)] {
        let n = img.count(plot.0.clone(), plot.1.clone(), PALETTE[i]);
        assert!(n > 400, "series {i}: {n} px");
        let row = img.mean_row(&p, p.left..p.left + 4, PALETTE[i]).unwrap();
        assert!(near(&p, row, mib), "series {i} starts at {mib} MiB");
    }
    // Nothing spills below the plot.
    assert_eq!(img.count(0..img.w, p.bottom + 1..img.h, PALETTE[0]), 0);
}

#[test]
fn limit_line_is_drawn_at_its_row_with_its_label() {
    let (img, p) = render(&rising());
    let y = p.y_of(512.0 * MIB);
    let (plot, span) = (p.left + 1..p.right + 1, (p.right - p.left) as usize);
    for row in [y - 1, y] {
        let n = img.count(plot.clone(), row..row + 1, THRESHOLD);
        assert!(n > span / 3, "row {row}: {n} of {span}");
    }
    for row in [y - 3, y + 2] {
        let n = img.count(plot.clone(), row..row + 1, THRESHOLD);
        assert_eq!(n, 0, "row {row}: the line is 2 px thick");
    }
    let label = img.count(p.right + 1..img.w, y - 4..y + 4, THRESHOLD);
    assert!(label > 40, "label: {label} px");
    let none = TrendChart {
        limit: None,
        ..rising()
    };
    let (img, _) = render(&none);
    assert_eq!(img.count(0..img.w, 0..img.h, THRESHOLD), 0);
}

#[test]
fn scale_takes_points_limit_and_trend_ends_up_to_twice_the_data() {
    let top = |c: &TrendChart| Plot::new(c).top() / MIB;
    let pts = [(0.0, 100), (30.0, 100)];
    let flat = |trend| empty(vec![series("a", &pts, trend, BarState::Ok)]);
    assert_eq!(top(&flat(None)), 128.0, "100 MiB and headroom");
    assert_eq!(top(&flat(Some((100.0, 0.0)))), 128.0);
    // This trend ends at 150 MiB at "now", so that is on the scale.
    assert_eq!(top(&flat(Some((90.0, 2.0)))), 192.0);
    // A steep one is capped at twice the data; a negative one counts as 0.
    assert_eq!(top(&flat(Some((100.0, 1e18)))), 256.0);
    assert_eq!(top(&flat(Some((-1e300, 0.0)))), 128.0);
    let mut limited = flat(Some((100.0, 1e18)));
    limited.limit = Some(("bar 500 MiB".into(), 500 * M));
    assert_eq!(top(&limited), 1280.0, "twice the limit, with headroom");
    assert_eq!(top(&rising()), 640.0);
}

#[test]
fn time_axis_counts_back_from_now_in_round_steps() {
    // (window seconds, tick labels, the last one)
    let cases = [
        (1800.0, 7, "-30 min"),
        (3600.0, 7, "-60 min"),
        (1000.0, 4, "-15 min"),
        (30.0, 7, "-30 s"),
        (86400.0, 5, "-24 h"),
    ];
    for (window, n, last) in cases {
        let p = Plot::new(&TrendChart {
            window_secs: window,
            ..empty(vec![])
        });
        let ticks = p.time_ticks();
        let labels: Vec<&str> = ticks.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!((labels.len(), labels[0], labels[n - 1]), (n, "now", last));
        assert_eq!(ticks[0].0, p.right, "now at the right edge");
    }
    assert_eq!(time_label(300.0, 300.0), "-5 min");
    let p = Plot::new(&rising());
    assert_eq!(
        p.time_ticks().last().unwrap().0,
        p.left,
        "start at the axis"
    );
    for w in [1.0, 7.0, 1e5, 1e10] {
        assert!(time_step(w) * 6.0 >= w, "{w}: at most 6 steps");
    }
}

#[test]
fn bad_windows_fall_back_to_the_samples_or_a_minute() {
    let mut c = rising();
    for w in [0.0, -5.0, f64::NAN, f64::INFINITY] {
        c.window_secs = w;
        assert_eq!(window_of(&c), 1800.0, "{w}: the samples' span");
    }
    c.series.clear();
    c.window_secs = f64::NAN;
    assert_eq!(window_of(&c), 60.0);
    c.window_secs = 1e-9;
    assert_eq!(window_of(&c), 1.0);
    c.window_secs = 1e300;
    assert_eq!(window_of(&c), MAX_WINDOW);
}

#[test]
fn no_samples_draws_axes_and_a_note() {
    let blank = TrendSeries {
        points: vec![(f64::NAN, 5 * M)],
        trend: None,
        ..rising().series[0].clone()
    };
    let unsampled = TrendChart {
        series: vec![blank.clone()],
        ..rising()
    };
    for c in [empty(vec![]), empty(vec![blank]), unsampled] {
        let (img, p) = render(&c);
        let mid = (PLOT_TOP + p.bottom) / 2;
        let note = img.count(p.left..p.right, mid - 6..mid + 6, MUTED);
        assert!(note > 50, "'no samples': {note} px");
        let axis = img.count(p.left..p.left + 1, PLOT_TOP..p.bottom, AXIS);
        assert_eq!(axis, (p.bottom - PLOT_TOP) as usize);
    }
    let (img, p) = render(&rising());
    let mid = (PLOT_TOP + p.bottom) / 2;
    let note = img.count(p.left..p.right, mid - 6..mid + 6, MUTED);
    assert_eq!(note, 0, "no note when there are samples");
}

#[test]
fn legend_shows_six_then_more() {
    let many = |n: usize| {
        let s = |i| series(&format!("svc-{i}"), &[(0.0, 10)], None, BarState::Unknown);
        empty((0..n).map(s).collect())
    };
    let more = |n| decode(&render_trend_png(&many(n))).count(0..800, 30..60, MUTED);
    assert_eq!(more(6), 0);
    assert!(more(7) > 30, "+2 more");
    let (img, _) = render(&many(9));
    for (i, colour) in PALETTE.iter().enumerate().take(5) {
        let (x, y) = legend_slot(i);
        assert!(
            img.count(x..x + 14, y + 3..y + 5, *colour) >= 28,
            "line {i}"
        );
        let swatch = img.count(x + 18..x + 28, y - 1..y + 9, UNKNOWN);
        assert_eq!(swatch, 100, "swatch {i}");
        assert!(img.count(x + 34..x + 100, y..y + 8, TEXT) > 30, "name {i}");
    }
}

#[test]
fn extreme_inputs_render_without_panicking() {
    let base = rising().series[0].clone();
    let odd = |points: Vec<(f64, u64)>, trend| {
        let s = TrendSeries {
            points,
            trend,
            ..base.clone()
        };
        empty(vec![s])
    };
    let long = (0..10_000u32).map(|i| (f64::from(i) * 0.18, u64::from(i * 7919 % 900) * M));
    let (inf, nan) = (f64::INFINITY, f64::NAN);
    let mut cases = vec![
        odd(vec![(0.0, M), (1800.0, 2 * M)], Some((0.0, 1e18))),
        odd(vec![(0.0, M)], Some((0.0, -1e18))),
        odd(vec![(nan, M), (5.0, u64::MAX)], Some((nan, 1.0))),
        odd(vec![(-1e308, 0), (1e308, u64::MAX)], Some((1.0, nan))),
        odd(vec![(inf, 1), (3.0, 3)], Some((inf, -inf))),
        odd(long.collect(), Some((450.0 * MIB, 0.0))),
        empty(vec![base.clone(); 200]),
        TrendChart {
            title: "t".repeat(1000),
            limit: Some(("l".repeat(500), u64::MAX)),
            ..rising()
        },
    ];
    for w in [0.0, nan, -1.0, 1e-300, 1e300, inf] {
        cases.push(TrendChart {
            window_secs: w,
            ..rising()
        });
    }
    for c in &cases {
        let img = decode(&render_trend_png(c));
        assert_eq!((img.w, img.h), (800, 480));
    }
    // The steep trend runs up the axis from the start and off the top.
    let (img, p) = render(&cases[0]);
    assert!(img.count(p.left..p.left + 2, p.bottom - 9..p.bottom, WARN) > 4);
    assert_eq!(img.count(p.left + 3..p.right, PLOT_TOP..p.bottom, WARN), 0);
}

#[test]
fn canvas_lines_are_clipped_bresenham_with_steady_dashes() {
    const INK: Rgb = [0, 0, 0];
    let inked = |c: &Canvas| {
        let all = (0..10).flat_map(|y| (0..10).map(move |x| (x, y)));
        all.filter(|&(x, y)| c.get(x, y) == Some(INK))
            .collect::<Vec<_>>()
    };
    let mut c = Canvas::new(10, 10, BG);
    c.line(9, 3, 0, 0, INK);
    let got = inked(&c);
    assert_eq!(got.len(), 10, "one pixel per column: {got:?}");
    assert!(got.contains(&(0, 0)) && got.contains(&(9, 3)), "ends drawn");
    let mut c = Canvas::new(10, 10, BG);
    c.dashed_line(-3, 5, 9, 5, (2, 2), INK);
    // Dashes start at x = -3, so those on the canvas are where they would be.
    assert_eq!(inked(&c), [(1, 5), (2, 5), (5, 5), (6, 5), (9, 5)]);
    let mut c = Canvas::new(10, 10, BG);
    c.line(i32::MIN, i32::MIN, i32::MAX, i32::MAX, INK);
    c.dashed_line(i32::MAX, 0, i32::MIN, 0, (i32::MAX, i32::MAX), INK);
    c.line(20, 20, 30, -40, INK);
    assert_eq!(c.get(5, 5), Some(INK));
    assert_eq!(
        inked(&c).len(),
        19,
        "the diagonal and row 0, sharing (0, 0)"
    );
}
