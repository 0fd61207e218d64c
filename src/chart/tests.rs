//! Tests for the chart: render, decode the PNG with the `png` crate, and
//! look at the pixels where the layout says things must be.

use super::BarState::{Over, Unknown, Warn};
use super::*;
use std::ops::Range;

const M: u64 = 1024 * 1024;

fn bar(label: &str, usage_mib: Option<u64>, limit_mib: Option<u64>, state: BarState) -> Bar {
    Bar {
        label: label.into(),
        usage_bytes: usage_mib.map(|m| m * M),
        limit_bytes: limit_mib.map(|m| m * M),
        state,
    }
}

fn chart(bars: Vec<Bar>, threshold_mib: Option<f64>) -> MemoryChart {
    MemoryChart {
        title: "Memory".into(),
        bars,
        threshold_mib,
    }
}

/// The brief's example: ok under its limit, over with no limit, warn with
/// a limit far above the scale.
fn three() -> MemoryChart {
    chart(
        vec![
            bar("web", Some(120), Some(256), BarState::Ok),
            bar("db", Some(524), None, Over),
            bar("worker", Some(430), Some(8192), Warn),
        ],
        Some(500.0),
    )
}

fn many(n: usize) -> MemoryChart {
    let bars = (0..n)
        .map(|i| {
            bar(
                &format!("project-service-{i}"),
                Some(40 + 9 * i as u64),
                Some(600),
                BarState::Ok,
            )
        })
        .collect();
    chart(bars, Some(500.0))
}

/// A decoded chart, for pixel assertions (the trend chart's tests use it
/// too).
pub(in crate::chart) struct Img {
    pub(in crate::chart) w: i32,
    pub(in crate::chart) h: i32,
    px: Vec<u8>,
}

impl Img {
    pub(in crate::chart) fn at(&self, x: i32, y: i32) -> Rgb {
        let i = (y * self.w + x) as usize * 3;
        [self.px[i], self.px[i + 1], self.px[i + 2]]
    }

    /// Pixels of colour `c` in the box `xs` x `ys`.
    pub(in crate::chart) fn count(&self, xs: Range<i32>, ys: Range<i32>, c: Rgb) -> usize {
        let xs = xs.start.max(0)..xs.end.min(self.w);
        let ys = ys.start.max(0)..ys.end.min(self.h);
        ys.flat_map(|y| xs.clone().map(move |x| (x, y)))
            .filter(|&(x, y)| self.at(x, y) == c)
            .count()
    }

    /// The highest row in colour `c` of columns `xs`, from above the plot down.
    fn topmost(&self, xs: Range<i32>, c: Rgb) -> Option<i32> {
        (PLOT_TOP - 24..self.h).find(|&y| xs.clone().any(|x| self.at(x, y) == c))
    }
}

pub(in crate::chart) fn decode(bytes: &[u8]) -> Img {
    let mut d = png::Decoder::new(bytes);
    // Indexed colour, expanded to RGB for the checks.
    d.set_transformations(png::Transformations::EXPAND);
    let mut r = d.read_info().expect("a PNG header");
    let mut px = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut px).expect("PNG pixels");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    Img {
        w: info.width as i32,
        h: info.height as i32,
        px,
    }
}

fn render(c: &MemoryChart) -> (Img, Layout) {
    (decode(&render_png(c)), Layout::new(c))
}

/// Columns of bar `i` itself.
fn bar_cols(l: &Layout, i: usize) -> Range<i32> {
    l.center(i) - l.bar_w / 2..l.center(i) + l.bar_w / 2
}

#[test]
fn size_grows_with_the_number_of_bars() {
    let cases = [
        (0, 640),
        (1, 640),
        (3, 640),
        (12, 668),
        (50, 2340),
        (60, 2400),
    ];
    for (n, width) in cases.into_iter().chain([(500, 2400)]) {
        let img = decode(&render_png(&many(n)));
        assert_eq!((img.w, img.h), (width, 480), "{n} bars");
        assert_ne!(img.at(1, 1), [0, 0, 0], "light background");
    }
}

#[test]
fn scale_has_round_ticks_and_headroom() {
    // (largest value MiB, step MiB, steps)
    let cases = [
        (0.0, 1.0, 4),
        (100.0, 32.0, 4),
        (500.0, 128.0, 5),
        (524.0, 128.0, 5),
        (1000.0, 256.0, 5),
        (3000.0, 1024.0, 4),
    ];
    for (max, step, steps) in cases {
        assert_eq!(scale(max * MIB), (step * MIB, steps), "max {max} MiB");
    }
    for max in (0..80)
        .map(|k| 1.37f64.powi(k) * 1000.0)
        .chain([u64::MAX as f64])
    {
        let (step, steps) = scale(max);
        assert!((3..=5).contains(&steps), "{max}: {steps} steps");
        assert!(step * f64::from(steps) >= max * 1.1, "{max}: headroom");
        assert_eq!((step / MIB).log2().fract(), 0.0, "{max}: power-of-two step");
    }
    // The limit far above (8 GiB) does not set the scale.
    assert_eq!(Layout::new(&three()).top(), 640.0 * MIB);
}

#[test]
fn labels_and_sizes_are_formatted_compactly() {
    let ticks = [
        (0.0, "0"),
        (128.0, "128 MiB"),
        (1024.0, "1 GiB"),
        (1280.0, "1280 MiB"),
        (1536.0, "1.5 GiB"),
        (1048576.0, "1 TiB"),
        (2.0 * 1024f64.powi(4), "2 EiB"),
    ];
    for (mib, want) in ticks {
        assert_eq!(tick_label(mib * MIB), want);
    }
    let shorts = [
        (0, "0"),
        (5, "5B"),
        (512 * 1024, "512K"),
        (120 * M, "120M"),
        (524 * M, "524M"),
        (1536 * M, "1.5G"),
        (10240 * M, "10G"),
        (u64::MAX / 2, "8E"),
        (u64::MAX, "16E"),
    ];
    for (bytes, want) in shorts {
        assert_eq!(short_bytes(bytes), want);
    }
    let bars = [
        (500.0, "500 MiB bar"),
        (512.5, "512.5 MiB bar"),
        (2048.0, "2 GiB bar"),
    ];
    for (mib, want) in bars {
        assert_eq!(threshold_label(mib * MIB), want);
    }
}

#[test]
fn threshold_line_is_drawn_where_the_scale_puts_it() {
    for t in [100.0, 300.0, 500.0, 580.0] {
        let (img, l) = render(&chart(three().bars, Some(t)));
        let y = l.y_of(t * MIB);
        let plot = l.left + 1..l.right + 1;
        let span = (l.right - l.left) as usize;
        for row in [y - 1, y] {
            let n = img.count(plot.clone(), row..row + 1, THRESHOLD);
            assert!(n > span / 3, "{t} MiB: row {row} has {n} of {span}");
        }
        for row in [y - 3, y + 2] {
            let n = img.count(plot.clone(), row..row + 1, THRESHOLD);
            assert_eq!(n, 0, "{t}: 2 px thick");
        }
        let label = img.count(l.right + 1..img.w, y - 4..y + 4, THRESHOLD);
        assert!(label > 20, "{t}: label");
    }
    let (img, _) = render(&chart(three().bars, None));
    assert_eq!(img.count(0..img.w, 0..img.h, THRESHOLD), 0, "no line");
}

#[test]
fn bars_are_coloured_by_state_and_sized_by_usage() {
    let (img, l) = render(&three());
    let line = l.y_of(500.0 * MIB);
    let bars = [(120, OK), (524, OVER), (430, WARN)];
    for (i, (usage, colour)) in bars.into_iter().enumerate() {
        let x = l.center(i);
        let top = img.topmost(bar_cols(&l, i), colour).expect("bar drawn");
        assert_eq!(top, l.y_of((usage * M) as f64), "bar {i} height");
        assert_eq!(img.at(x, l.bottom - 1), colour, "bar {i} on the axis");
        let value = img.count(bar_cols(&l, i), top - 11..top - 2, TEXT);
        assert!(value > 20, "bar {i}: usage printed above it");
    }
    let top = |i, colour| img.topmost(bar_cols(&l, i), colour).unwrap();
    assert!(top(1, OVER) < line - 1, "over is above the bar");
    assert!(top(0, OK) > line, "ok is below the bar");
    assert!(top(2, WARN) > line, "warn is below the bar");
}

#[test]
fn missing_reading_is_a_hatched_stub_unlike_zero_usage() {
    let bars = vec![
        bar("none", None, None, Unknown),
        bar("zero", Some(0), None, BarState::Ok),
        bar("zero-unknown", Some(0), None, Unknown),
    ];
    let (img, l) = render(&chart(bars, Some(500.0)));
    let grey = img.count(bar_cols(&l, 0), l.bottom - STUB..l.bottom, UNKNOWN);
    let area = (l.bar_w * STUB) as usize;
    assert!(
        grey > area / 5 && grey < area * 3 / 4,
        "hatched: {grey}/{area}"
    );
    let above = l.bottom - STUB - 12..l.bottom - STUB;
    assert_eq!(img.count(bar_cols(&l, 0), PLOT_TOP..above.end, UNKNOWN), 0);
    assert!(
        img.count(bar_cols(&l, 0), above, MUTED) > 5,
        "a '?' above it"
    );
    for i in [1, 2] {
        let cols = bar_cols(&l, i);
        let drawn = img.count(cols.clone(), PLOT_TOP..l.bottom, OK)
            + img.count(cols.clone(), PLOT_TOP..l.bottom, UNKNOWN);
        assert_eq!(drawn, 0, "bar {i}: zero usage has no bar");
        let zero = img.count(cols, l.bottom - 12..l.bottom, TEXT);
        assert!(zero > 5, "bar {i}: '0' printed");
    }
}

#[test]
fn limit_marker_sits_at_the_limit_and_is_wider_than_the_bar() {
    let bars = vec![
        bar("a", Some(100), Some(256), BarState::Ok),
        bar("b", Some(100), None, BarState::Ok),
        bar("c", Some(300), Some(200), Over),
    ];
    let (img, l) = render(&chart(bars, Some(500.0)));
    for (i, limit) in [(0, 256), (2, 200)] {
        let (x, y) = (l.center(i), l.y_of((limit * M) as f64));
        assert_eq!(img.at(x, y), LIMIT, "bar {i}: marker at its limit");
        for side in [x - l.bar_w / 2 - 2, x + l.bar_w / 2 + 2] {
            assert_eq!(img.at(side, y), LIMIT, "bar {i}: wider than the bar");
        }
        assert_ne!(img.at(x, y + 3), LIMIT, "bar {i}: a tick, not a block");
    }
    let y = l.y_of(256.0 * MIB);
    assert!(
        img.count(bar_cols(&l, 0), y - 13..y - 3, LIMIT) > 20,
        "size"
    );
    let slot = l.center(1) - l.slot as i32 / 2..l.center(1) + l.slot as i32 / 2;
    assert_eq!(img.count(slot, PLOT_TOP - 24..img.h, LIMIT), 0, "no marker");
}

#[test]
fn off_scale_limit_is_pinned_to_the_top_with_a_caret() {
    let (img, l) = render(&three());
    let x = l.center(2);
    assert_eq!(img.at(x, PLOT_TOP), LIMIT, "marker at the top edge");
    assert_eq!(img.at(x, PLOT_TOP - 6), LIMIT, "caret above it");
    assert_eq!(img.at(x - 3, PLOT_TOP - 7), BG, "the caret narrows upward");
    assert_eq!(img.count(x..x + 1, PLOT_TOP + 2..l.bottom, LIMIT), 0);
    let size = img.count(bar_cols(&l, 2), PLOT_TOP - 21..PLOT_TOP - 11, LIMIT);
    assert!(size > 10, "size printed");
    // An in-scale limit has no caret.
    assert_ne!(img.at(l.center(0), PLOT_TOP - 6), LIMIT);
}

#[test]
fn same_input_gives_identical_bytes() {
    for c in [three(), many(60), chart(vec![], None)] {
        assert_eq!(render_png(&c), render_png(&c.clone()));
    }
    let mut other = three();
    other.bars[0].usage_bytes = Some(121 * M);
    assert_ne!(render_png(&three()), render_png(&other));
}

#[test]
fn title_is_drawn_with_the_bitmap_font() {
    let titled = |title: &str| {
        let mut c = three();
        c.title = title.into();
        render_png(&c)
    };
    let ink = |title: &str| {
        let img = decode(&titled(title));
        img.count(0..img.w, 6..26, TEXT)
    };
    assert_eq!(ink(""), 0);
    let m = font8x8::legacy::BASIC_LEGACY['M' as usize];
    let bits: u32 = m.iter().map(|b| b.count_ones()).sum();
    assert_eq!(ink("M"), bits as usize * 4, "one glyph at scale 2");
    assert!(ink("Memory on host") > ink("Memory"));
    assert_eq!(titled("café ☃"), titled("caf? ?"), "non-ASCII becomes '?'");
}

#[test]
fn names_go_flat_when_they_fit_and_upright_when_not() {
    let (img, l) = render(&three());
    assert!(matches!(l.names, Names::Flat(_)));
    for i in 0..3 {
        let slot = l.center(i) - 40..l.center(i) + 40;
        let (name, below) = (l.bottom + 8..l.bottom + 16, l.bottom + 16..img.h);
        assert!(img.count(slot.clone(), name, TEXT) > 10, "name {i}");
        assert_eq!(img.count(slot, below, TEXT), 0, "name {i}: one row");
    }
    let (img, l) = render(&many(60));
    assert_eq!(l.names, Names::Up(UP_CHARS));
    let label_rows = l.bottom + 8..l.bottom + 8 + GLYPH * UP_CHARS as i32;
    for i in 0..60 {
        let x = l.center(i);
        let ink = img.count(x - 4..x + 4, label_rows.clone(), TEXT);
        let low = img.count(x - 4..x + 4, label_rows.end - GLYPH..label_rows.end, TEXT);
        assert!(ink > 100 && low > 0, "name {i}: {UP_CHARS} glyphs upright");
        let gap = x + 5..l.center(i + 1) - 5;
        assert_eq!(img.count(gap, l.bottom + 1..img.h, TEXT), 0, "name {i}");
        let want = l.y_of((40 + 9 * i) as f64 * MIB);
        assert_eq!(img.topmost(bar_cols(&l, i), OK), Some(want), "bar {i}");
    }
    assert_eq!(Layout::new(&many(1000)).names, Names::Hidden);
}

#[test]
fn no_bars_draws_axes_and_a_note() {
    let (img, l) = render(&chart(vec![], Some(500.0)));
    let mid = (PLOT_TOP + l.bottom) / 2;
    let note = img.count(l.left..l.right, mid - 6..mid + 6, MUTED);
    assert!(note > 50, "'no containers'");
    let axis = img.count(l.left..l.left + 1, PLOT_TOP..l.bottom, AXIS);
    assert_eq!(axis, (l.bottom - PLOT_TOP) as usize);
    assert!(img.count(l.left..l.right, 0..img.h, THRESHOLD) > 100);
}

#[test]
fn extreme_and_odd_inputs_render() {
    let mut huge = bar("huge", None, None, Over);
    (huge.usage_bytes, huge.limit_bytes) = (Some(u64::MAX / 2), Some(u64::MAX));
    let mut cases = vec![
        chart(vec![huge.clone()], Some(500.0)),
        chart(vec![bar("zero", Some(0), Some(0), BarState::Ok)], None),
        chart(vec![bar("日本語のコンテナ", None, Some(1), Warn)], None),
        chart(
            vec![bar(&"x".repeat(500), Some(1), None, BarState::Ok)],
            Some(0.0),
        ),
        chart(vec![bar("", Some(3), None, Unknown)], Some(1.0)),
        many(1000),
        MemoryChart {
            title: "t".repeat(1000),
            ..many(2)
        },
    ];
    for t in [f64::NAN, f64::INFINITY, -5.0, 1e300, f64::MAX, 1e12] {
        cases.push(chart(three().bars, Some(t)));
    }
    for c in &cases {
        let img = decode(&render_png(c));
        assert_eq!(img.h, 480);
    }
    let (img, l) = render(&chart(vec![huge], Some(500.0)));
    let top = l.y_of((u64::MAX / 2) as f64);
    assert_eq!(img.topmost(bar_cols(&l, 0), OVER), Some(top));
    assert!(top > PLOT_TOP + 20, "headroom above the bar");
    assert_eq!(img.at(l.center(0), PLOT_TOP), LIMIT, "off-scale limit");
}
