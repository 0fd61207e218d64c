//! The memory report's chart: one bar per container, coloured by state,
//! with the container's own limit as a marker and the runbook's bar as a
//! dashed line.

use super::canvas::{fit, text_width, Canvas, Rgb, GLYPH};
use super::{
    draw_y_ticks, scale, short_bytes, state_colour, threshold_label, tick_label, BarState, AXIS,
    BG, HEIGHT, LIMIT, MIB, MUTED, OK, OVER, PLOT_TOP, STUB, TEXT, THRESHOLD, UNKNOWN, UP_CHARS,
    WARN,
};

/// One container's bar.
#[derive(Debug, Clone)]
pub struct Bar {
    /// Container name, shown under the bar.
    pub label: String,
    /// Memory in use; None when there is no reading.
    pub usage_bytes: Option<u64>,
    /// The container's memory limit; None when it has none.
    pub limit_bytes: Option<u64>,
    pub state: BarState,
}

/// Everything one chart shows.
#[derive(Debug, Clone)]
pub struct MemoryChart {
    pub title: String,
    /// Bars, drawn left to right in this order.
    pub bars: Vec<Bar>,
    /// The runbook's per-container bar in MiB (e.g. 500), drawn as a line.
    pub threshold_mib: Option<f64>,
}

/// Renders `chart` as an RGB PNG, 480 px high and 640-2400 px wide.
pub fn render_png(chart: &MemoryChart) -> Vec<u8> {
    let l = Layout::new(chart);
    let mut c = Canvas::new(l.width as u32, HEIGHT as u32, BG);
    let title = fit(&chart.title, ((l.width - 24) / (2 * GLYPH)) as usize, false);
    c.text(12, 8, &title, 2, TEXT);
    draw_legend(&mut c, chart, &l);
    draw_axes(&mut c, &l);
    if chart.bars.is_empty() {
        let note = "no containers";
        let x = (l.left + l.right - text_width(note, 1)) / 2;
        c.text(x, (PLOT_TOP + l.bottom) / 2 - 4, note, 1, MUTED);
    }
    for (i, bar) in chart.bars.iter().enumerate() {
        draw_bar(&mut c, &l, i, bar);
    }
    if let Some(t) = l.threshold {
        let y = l.y_of(t);
        c.dashed_hline(l.left + 1, l.right, y - 1, 2, (8, 5), THRESHOLD);
        c.text(l.right + 6, y - 4, &threshold_label(t), 1, THRESHOLD);
    }
    for (i, bar) in chart.bars.iter().enumerate() {
        annotate_bar(&mut c, &l, i, bar);
    }
    c.into_png()
}

/// How container labels are drawn under the bars, with their max length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Names {
    Flat(usize),
    Up(usize),
    Hidden,
}

/// Where everything goes: plot box, y scale and bar slots.
#[derive(Debug)]
struct Layout {
    width: i32,
    /// Plot box: x of the y axis, right end, y of the baseline.
    left: i32,
    right: i32,
    bottom: i32,
    /// Y scale: `ticks` steps of `step` bytes from 0 to the plot top.
    step: f64,
    ticks: i32,
    slot: f64,
    bar_w: i32,
    names: Names,
    /// The runbook's bar in bytes, if given and sane.
    threshold: Option<f64>,
}

impl Layout {
    fn new(chart: &MemoryChart) -> Self {
        let n = chart.bars.len();
        let width = (140 + 44 * n.min(100) as i32).clamp(640, 2400);
        let threshold = chart
            .threshold_mib
            .map(|m| m * MIB)
            .filter(|b| b.is_finite() && *b >= 0.0 && *b <= u64::MAX as f64);
        let max_usage = chart.bars.iter().filter_map(|b| b.usage_bytes).max();
        let (step, ticks) = scale((max_usage.unwrap_or(0) as f64).max(threshold.unwrap_or(0.0)));
        let widest_tick = (0..=ticks)
            .map(|k| text_width(&tick_label(k as f64 * step), 1))
            .max()
            .unwrap_or(0);
        let left = widest_tick + 14;
        let right_label = threshold.map_or(0, |t| text_width(&threshold_label(t), 1) + 8);
        let right = width - 16 - right_label;
        let slot = (right - left) as f64 / n.max(1) as f64;
        let bar_w = (slot * 0.6).round().clamp(1.0, 56.0) as i32;
        let flat = ((slot as i32 - 4) / GLYPH).max(0) as usize;
        let longest = chart.bars.iter().map(|b| b.label.chars().count());
        let longest = longest.max().unwrap_or(0);
        let names = if longest <= flat || flat >= UP_CHARS {
            Names::Flat(flat)
        } else if slot >= 10.0 {
            Names::Up(longest.min(UP_CHARS))
        } else {
            Names::Hidden
        };
        let label_h = match names {
            Names::Flat(_) => GLYPH,
            Names::Up(k) => k as i32 * GLYPH,
            Names::Hidden => 0,
        };
        Layout {
            width,
            left,
            right,
            bottom: HEIGHT - 18 - label_h,
            step,
            ticks,
            slot,
            bar_w,
            names,
            threshold,
        }
    }

    /// Bytes at the top of the plot.
    fn top(&self) -> f64 {
        self.step * f64::from(self.ticks)
    }

    /// Row of `bytes` on the y scale (above the plot when off-scale).
    fn y_of(&self, bytes: f64) -> i32 {
        let h = f64::from(self.bottom - PLOT_TOP);
        self.bottom - (bytes / self.top() * h).round() as i32
    }

    /// Top row of a bar of `usage` bytes: at least 1 px high unless zero.
    fn bar_top(&self, usage: u64) -> i32 {
        let y = self.y_of(usage as f64);
        if usage > 0 {
            y.min(self.bottom - 1)
        } else {
            y
        }
    }

    /// Row of a limit marker, pinned to the plot top when off-scale.
    fn limit_y(&self, limit: u64) -> (i32, bool) {
        let off = limit as f64 > self.top();
        let y = if off {
            PLOT_TOP
        } else {
            self.y_of(limit as f64)
        };
        (y, off)
    }

    /// Centre column of bar `i`.
    fn center(&self, i: usize) -> i32 {
        self.left + ((i as f64 + 0.5) * self.slot).round() as i32
    }
}

fn draw_axes(c: &mut Canvas, l: &Layout) {
    let rows = (0..=l.ticks).map(|k| {
        let v = f64::from(k) * l.step;
        (v, l.y_of(v))
    });
    draw_y_ticks(c, l.left, l.right, rows);
    c.vline(l.left, PLOT_TOP, l.bottom, AXIS);
    c.hline(l.left, l.right, l.bottom, 1, AXIS);
}

/// The legend row under the title: a swatch and a word per key.
fn draw_legend(c: &mut Canvas, chart: &MemoryChart, l: &Layout) {
    let mut keys = vec![(0, "Ok"), (1, "Warn"), (2, "Over"), (3, "Unknown")];
    if chart.bars.iter().any(|b| b.usage_bytes.is_none()) {
        keys.push((4, "no reading"));
    }
    keys.push((5, "limit"));
    if l.threshold.is_some() {
        keys.push((6, "bar"));
    }
    let (mut x, y) = (12, 34);
    for (kind, word) in keys {
        match kind {
            0..=3 => c.fill_rect(x, y - 1, 10, 10, [OK, WARN, OVER, UNKNOWN][kind]),
            4 => c.hatch_rect(x, y - 1, 10, 10, UNKNOWN),
            5 => c.hline(x - 1, x + 11, y + 3, 3, LIMIT),
            _ => c.dashed_hline(x - 2, x + 13, y + 3, 2, (6, 3), THRESHOLD),
        }
        c.text(x + 16, y, word, 1, TEXT);
        x += 16 + text_width(word, 1) + 18;
    }
}

/// The bar (or no-reading stub) and its limit marker.
fn draw_bar(c: &mut Canvas, l: &Layout, i: usize, bar: &Bar) {
    let cx = l.center(i);
    let x = cx - l.bar_w / 2;
    match bar.usage_bytes {
        Some(u) => {
            let top = l.bar_top(u);
            c.fill_rect(x, top, l.bar_w, l.bottom - top, state_colour(bar.state));
        }
        None => c.hatch_rect(x, l.bottom - STUB, l.bar_w, STUB, UNKNOWN),
    }
    if let Some(limit) = bar.limit_bytes {
        let half = (l.bar_w / 2 + 5)
            .min(l.slot as i32 / 2 - 1)
            .max(l.bar_w / 2);
        let (y, off_scale) = l.limit_y(limit);
        c.hline(cx - half, cx + half, y - 1, 3, LIMIT);
        if off_scale {
            c.caret_up(cx, PLOT_TOP - 8, 4, LIMIT);
        }
    }
}

/// Centred text on a background patch, if it fits in `max_w` pixels.
fn label(c: &mut Canvas, cx: i32, y: i32, s: &str, max_w: i32, colour: Rgb) -> bool {
    let w = text_width(s, 1);
    if w > max_w {
        return false;
    }
    c.fill_rect(cx - w / 2 - 1, y - 1, w + 2, GLYPH + 2, BG);
    c.text(cx - w / 2, y, s, 1, colour);
    true
}

/// The bar's usage value, limit size and name, where there is room.
fn annotate_bar(c: &mut Canvas, l: &Layout, i: usize, bar: &Bar) {
    let cx = l.center(i);
    let room = l.slot as i32 - 2;
    let top = bar.usage_bytes.map_or(l.bottom - STUB, |u| l.bar_top(u));
    let marker = bar.limit_bytes.map(|b| (l.limit_y(b), b));
    // The value sits on the bar; if the limit marker is in the way, inside
    // the bar's top when it is tall enough, else above the marker.
    let mut vy = top - 3 - GLYPH;
    let mut limit_room = true;
    if let Some(((my, false), _)) = marker {
        if my >= top {
            limit_room = false; // inside the bar: the marker alone
        } else if my >= vy - 2 && l.bottom - top >= GLYPH + 8 {
            vy = top + 3;
        } else if my >= vy - 2 {
            vy = my - 4 - GLYPH;
            limit_room = false;
        }
    }
    match bar.usage_bytes {
        Some(u) => label(c, cx, vy, &short_bytes(u), room, TEXT),
        None => label(c, cx, vy, "?", room, MUTED),
    };
    if let Some(((my, off_scale), b)) = marker {
        let ly = if off_scale {
            PLOT_TOP - 20
        } else {
            my - 4 - GLYPH
        };
        if off_scale || limit_room {
            let size = short_bytes(b);
            let _ = [format!("limit {size}"), format!("lim {size}"), size]
                .iter()
                .any(|s| label(c, cx, ly, s, room, LIMIT));
        }
    }
    match l.names {
        Names::Flat(k) => {
            let s = fit(&bar.label, k, true);
            c.text(cx - text_width(&s, 1) / 2, l.bottom + 8, &s, 1, TEXT);
        }
        Names::Up(k) => {
            let s = fit(&bar.label, k, true);
            c.text_up(cx - GLYPH / 2, l.bottom + 8 + text_width(&s, 1), &s, TEXT);
        }
        Names::Hidden => {}
    }
}

#[cfg(test)]
#[path = "tests.rs"]
pub(super) mod tests;
