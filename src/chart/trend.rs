//! Memory-history chart: one line per container showing its memory over a
//! recent window, its fitted trend dashed across the whole window in the
//! colour of the container's state, and an optional limit line, rendered
//! as a PNG for the bot to attach to a message.
//!
//! Pure like the bar chart beside it: values in, PNG bytes out, the same
//! bitmap font and y scale, and byte-identical output for the same input.
//! Bad numbers (NaN, infinities, absurd slopes, a zero window) are clipped
//! or skipped; nothing here panics on its input.

use super::canvas::{clip_segment, fit, text_width, Canvas, Pt, Rgb, GLYPH};
use super::{
    draw_y_ticks, scale, state_colour, tick_label, BarState, AXIS, BG, GRID, MUTED, TEXT, THRESHOLD,
};

#[cfg(test)]
#[path = "trend_tests.rs"]
mod tests;

/// One container's memory over the window.
#[derive(Debug, Clone)]
pub struct TrendSeries {
    /// Container name, for the legend.
    pub label: String,
    /// (seconds since the window's start, bytes in use), in time order.
    pub points: Vec<(f64, u64)>,
    /// The fitted line, if any: bytes at t = 0 and bytes per second.
    pub trend: Option<(f64, f64)>,
    /// Colour of the series' trend line and legend swatch.
    pub state: BarState,
}

/// Everything one history chart shows.
#[derive(Debug, Clone)]
pub struct TrendChart {
    pub title: String,
    /// Length of the window in seconds: the x axis runs from 0 (its start)
    /// to this ("now"), labelled as time before now.
    pub window_secs: f64,
    /// Series, drawn in this order, each in the next palette colour.
    pub series: Vec<TrendSeries>,
    /// A horizontal limit line: its label (e.g. "limit 512 MiB") and bytes.
    pub limit: Option<(String, u64)>,
}

const WIDTH: i32 = 800;
const HEIGHT: i32 = 480;
/// Top edge of the plot; above it are the title and two legend rows.
const PLOT_TOP: i32 = 72;
/// Legend entries that fit (3 columns, 2 rows), the last one becoming
/// "+N more" when there are more series than that.
const LEGEND_SLOTS: usize = 6;
const LEGEND_COLS: i32 = 3;
/// Characters of the limit line's label, printed right of the plot.
const LIMIT_CHARS: usize = 20;
/// The longest window the x axis takes (about 300 years); longer ones are
/// nonsense and would only make the tick search long.
const MAX_WINDOW: f64 = 1e10;
/// How far off the plot, in pixels, a point may be placed before it is
/// pulled in; keeps the clipping arithmetic finite for absurd values.
const FAR: f64 = 1e12;

/// Series line colours, in order, then round again. None is a state colour,
/// so a series' own line is never mistaken for a trend.
const PALETTE: [Rgb; 6] = [
    [31, 119, 180],
    [148, 103, 189],
    [23, 170, 190],
    [140, 86, 75],
    [214, 96, 178],
    [120, 120, 30],
];

/// Renders `chart` as an 800 x 480 RGB PNG.
pub fn render_trend_png(chart: &TrendChart) -> Vec<u8> {
    let p = Plot::new(chart);
    let mut c = Canvas::new(WIDTH as u32, HEIGHT as u32, BG);
    let title = fit(&chart.title, ((WIDTH - 24) / (2 * GLYPH)) as usize, false);
    c.text(12, 8, &title, 2, TEXT);
    draw_legend(&mut c, chart);
    draw_axes(&mut c, &p);
    for (i, s) in chart.series.iter().enumerate() {
        draw_series(&mut c, &p, s, PALETTE[i % PALETTE.len()]);
    }
    // Trends go over every series so that no other line hides one.
    for s in &chart.series {
        if let Some((v0, v1)) = s.trend.and_then(|t| trend_ends(t, p.window)) {
            let (a, b) = ((0.0, v0), (p.window, v1));
            p.segment(&mut c, a, b, Some((7, 4)), state_colour(s.state));
        }
    }
    if let Some((label, bytes)) = &p.limit {
        let y = p.y_of(*bytes);
        c.dashed_hline(p.left + 1, p.right, y - 1, 2, (8, 5), THRESHOLD);
        c.text(p.right + 6, y - 4, label, 1, THRESHOLD);
    }
    if chart.series.iter().all(|s| samples(s).next().is_none()) {
        let note = "no samples";
        let w = text_width(note, 1);
        let (x, y) = ((p.left + p.right - w) / 2, (PLOT_TOP + p.bottom) / 2 - 4);
        // On a patch of background, so that a trend or limit line crossing
        // the middle does not strike through it.
        c.fill_rect(x - 2, y - 2, w + 4, GLYPH + 4, BG);
        c.text(x, y, note, 1, MUTED);
    }
    c.into_png()
}

/// Where everything goes: plot box, y scale and time axis.
#[derive(Debug)]
struct Plot {
    /// Plot box: x of the y axis, right end ("now"), y of the baseline.
    left: i32,
    right: i32,
    bottom: i32,
    /// Y scale: `ticks` steps of `step` bytes from 0 to the plot top.
    step: f64,
    ticks: i32,
    /// Seconds from the left edge to the right.
    window: f64,
    /// The limit line's label, cut to fit, and its bytes.
    limit: Option<(String, f64)>,
}

impl Plot {
    fn new(chart: &TrendChart) -> Self {
        let window = window_of(chart);
        let limit = chart
            .limit
            .as_ref()
            .map(|(s, b)| (fit(s, LIMIT_CHARS, false), *b as f64));
        let data = chart.series.iter().flat_map(samples).map(|(_, v)| v);
        let data = data.fold(limit.as_ref().map_or(0.0, |l| l.1), f64::max);
        // A trend counts towards the scale, but only up to twice the data:
        // a steep extrapolation would otherwise squash the samples flat.
        let trends = chart
            .series
            .iter()
            .filter_map(|s| trend_ends(s.trend?, window));
        let trends = trends
            .flat_map(|(a, b)| [a, b])
            .map(|v| v.clamp(0.0, 2.0 * data));
        let (step, ticks) = scale(trends.fold(data, f64::max));
        let widest_tick = (0..=ticks)
            .map(|k| text_width(&tick_label(f64::from(k) * step), 1))
            .max()
            .unwrap_or(0);
        let right_label = limit.as_ref().map_or(0, |l| text_width(&l.0, 1) + 8);
        Plot {
            left: widest_tick + 14,
            right: WIDTH - 16 - right_label,
            bottom: HEIGHT - 18 - GLYPH,
            step,
            ticks,
            window,
            limit,
        }
    }

    /// Bytes at the top of the plot.
    fn top(&self) -> f64 {
        self.step * f64::from(self.ticks)
    }

    /// Column of `secs` since the window's start, unrounded.
    fn x_at(&self, secs: f64) -> f64 {
        let x = f64::from(self.left) + secs / self.window * f64::from(self.right - self.left);
        x.clamp(-FAR, FAR)
    }

    /// Row of `bytes`, unrounded (above the plot when off-scale).
    fn y_at(&self, bytes: f64) -> f64 {
        let y = f64::from(self.bottom) - bytes / self.top() * f64::from(self.bottom - PLOT_TOP);
        y.clamp(-FAR, FAR)
    }

    /// Pixel row of `bytes` on the y scale.
    fn y_of(&self, bytes: f64) -> i32 {
        self.y_at(bytes).round() as i32
    }

    /// A 2 px line between two (seconds, bytes) points, cut to the plot in
    /// f64 first so that an end far off the plot keeps its true slope.
    fn segment(&self, c: &mut Canvas, a: Pt, b: Pt, dash: Option<(i32, i32)>, colour: Rgb) {
        let (a, b) = (
            (self.x_at(a.0), self.y_at(a.1)),
            (self.x_at(b.0), self.y_at(b.1)),
        );
        // The second stroke goes right of a steep first one and above a
        // shallow one, so the box leaves a column on the right and a row at
        // the top; the axis column stays in, as a trend starts on it.
        let min = (f64::from(self.left), f64::from(PLOT_TOP + 1));
        let max = (f64::from(self.right - 1), f64::from(self.bottom));
        let Some((a, b)) = clip_segment(a, b, min, max) else {
            return;
        };
        let px = |(x, y): Pt| (x.round() as i32, y.round() as i32);
        let ((x0, y0), (x1, y1)) = (px(a), px(b));
        let (ox, oy) = if (x1 - x0).abs() >= (y1 - y0).abs() {
            (0, -1)
        } else {
            (1, 0)
        };
        for (ox, oy) in [(0, 0), (ox, oy)] {
            match dash {
                Some(d) => c.dashed_line(x0 + ox, y0 + oy, x1 + ox, y1 + oy, d, colour),
                None => c.line(x0 + ox, y0 + oy, x1 + ox, y1 + oy, colour),
            }
        }
    }

    /// The x-axis ticks: column and label, from "now" back to the start.
    fn time_ticks(&self) -> Vec<(i32, String)> {
        let step = time_step(self.window);
        let n = (self.window / step * (1.0 + 1e-9)).floor() as i32;
        (0..=n)
            .map(|k| {
                let ago = f64::from(k) * step;
                (
                    self.x_at(self.window - ago).round() as i32,
                    time_label(ago, step),
                )
            })
            .collect()
    }
}

/// The series' samples that can be placed: finite times, bytes as f64.
fn samples(s: &TrendSeries) -> impl Iterator<Item = Pt> + '_ {
    s.points
        .iter()
        .filter(|(t, _)| t.is_finite())
        .map(|&(t, v)| (t, v as f64))
}

/// The window in seconds: as given when it is a usable length, else the
/// span of the samples, else a minute; then at least a second.
fn window_of(chart: &TrendChart) -> f64 {
    let w = chart.window_secs;
    let w = if w.is_finite() && w > 0.0 {
        w
    } else {
        chart
            .series
            .iter()
            .flat_map(samples)
            .map(|(t, _)| t)
            .fold(0.0, f64::max)
    };
    if w > 0.0 {
        w.clamp(1.0, MAX_WINDOW)
    } else {
        60.0
    }
}

/// The trend's bytes at the window's start and end, or None when it is not
/// a line (NaN). Infinities become huge but finite, so clipping still works.
fn trend_ends((at0, per_sec): (f64, f64), window: f64) -> Option<(f64, f64)> {
    let end = at0 + per_sec * window;
    if at0.is_nan() || end.is_nan() {
        return None;
    }
    Some((at0.clamp(-1e300, 1e300), end.clamp(-1e300, 1e300)))
}

/// The x-axis step in seconds: a round number of seconds, minutes, hours
/// or days giving at most 6 steps across `window`.
fn time_step(window: f64) -> f64 {
    const STEPS: [f64; 18] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        10800.0, 21600.0, 43200.0, 86400.0,
    ];
    let mut step = STEPS
        .into_iter()
        .find(|s| window / s <= 6.0)
        .unwrap_or(86400.0);
    while window / step > 6.0 {
        step *= 2.0;
    }
    step
}

/// A time label `ago` seconds before now, in the step's unit: minutes as a
/// rule ("-30 min"), seconds or hours only for very short or long windows.
fn time_label(ago: f64, step: f64) -> String {
    if ago <= 0.0 {
        "now".into()
    } else if step < 60.0 {
        format!("-{ago:.0} s")
    } else if step < 3600.0 {
        format!("-{:.0} min", ago / 60.0)
    } else {
        format!("-{:.0} h", ago / 3600.0)
    }
}

fn draw_axes(c: &mut Canvas, p: &Plot) {
    let rows = (0..=p.ticks).map(|k| {
        let v = f64::from(k) * p.step;
        (v, p.y_of(v))
    });
    draw_y_ticks(c, p.left, p.right, rows);
    for (x, s) in p.time_ticks() {
        if x > p.left {
            c.vline(x, PLOT_TOP, p.bottom - 1, GRID);
        }
        c.vline(x, p.bottom + 1, p.bottom + 4, AXIS);
        c.text(x - text_width(&s, 1) / 2, p.bottom + 8, &s, 1, TEXT);
    }
    c.vline(p.left, PLOT_TOP, p.bottom, AXIS);
    c.hline(p.left, p.right, p.bottom, 1, AXIS);
}

/// Top-left of legend slot `i`: three columns, two rows under the title.
fn legend_slot(i: usize) -> (i32, i32) {
    let col_w = (WIDTH - 24) / LEGEND_COLS;
    let (col, row) = (i as i32 % LEGEND_COLS, i as i32 / LEGEND_COLS);
    (12 + col * col_w, 34 + row * 16)
}

/// Per series: a sample of its line, a swatch of its state (the trend's
/// colour) and its name; "+N more" in the last slot when they do not fit.
fn draw_legend(c: &mut Canvas, chart: &TrendChart) {
    let n = chart.series.len();
    let shown = if n > LEGEND_SLOTS {
        LEGEND_SLOTS - 1
    } else {
        n
    };
    let chars = ((WIDTH - 24) / LEGEND_COLS - 44) / GLYPH;
    for (i, s) in chart.series.iter().take(shown).enumerate() {
        let (x, y) = legend_slot(i);
        c.hline(x, x + 13, y + 3, 2, PALETTE[i % PALETTE.len()]);
        c.fill_rect(x + 18, y - 1, 10, 10, state_colour(s.state));
        c.text(x + 34, y, &fit(&s.label, chars as usize, true), 1, TEXT);
    }
    if n > shown {
        let (x, y) = legend_slot(shown);
        c.text(x, y, &format!("+{} more", n - shown), 1, MUTED);
    }
}

/// The series as a polyline through its samples; a lone sample as a dot,
/// since a line needs two.
fn draw_series(c: &mut Canvas, p: &Plot, s: &TrendSeries, colour: Rgb) {
    let mut prev = None;
    let mut count = 0;
    for pt in samples(s) {
        if let Some(a) = prev {
            p.segment(c, a, pt, None, colour);
        }
        prev = Some(pt);
        count += 1;
    }
    if let (Some((t, v)), 1) = (prev, count) {
        let (x, y) = (p.x_at(t).round() as i32, p.y_of(v));
        if (p.left..=p.right).contains(&x) && (PLOT_TOP..=p.bottom).contains(&y) {
            c.fill_rect(x - 2, y - 2, 5, 5, colour);
        }
    }
}
