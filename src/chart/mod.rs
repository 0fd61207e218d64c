//! Memory-report chart: one bar per container showing its memory usage,
//! coloured by state, with each container's own limit as a marker and the
//! runbook's per-container bar as a dashed line, rendered as a PNG for the
//! bot to attach to a message.
//!
//! Pure: values in, PNG bytes out. No I/O and no system fonts (text comes
//! from the `font8x8` bitmap font compiled into the binary); the same input
//! always gives byte-identical output.

mod canvas;
mod memory;
mod trend;

use canvas::{fit, text_width, Canvas, Rgb};
pub use memory::*;
pub use trend::*;

/// How a container stands; picks its bar's colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarState {
    Ok,
    Warn,
    Over,
    Unknown,
}

const HEIGHT: i32 = 480;
const MIB: f64 = 1024.0 * 1024.0;
/// Top edge of the plot; above it are the title, legend and off-scale limits.
const PLOT_TOP: i32 = 72;
/// Characters of a rotated container label.
const UP_CHARS: usize = 14;
/// Height of the hatched stub drawn for a bar with no reading.
const STUB: i32 = 18;

const BG: Rgb = [255, 255, 255];
const TEXT: Rgb = [33, 33, 33];
const MUTED: Rgb = [110, 110, 110];
const AXIS: Rgb = [90, 90, 90];
const GRID: Rgb = [228, 228, 228];
const OK: Rgb = [46, 160, 67];
const WARN: Rgb = [232, 160, 12];
const OVER: Rgb = [222, 60, 50];
const UNKNOWN: Rgb = [165, 165, 165];
const LIMIT: Rgb = [30, 36, 84];
const THRESHOLD: Rgb = [176, 0, 0];

/// A y scale over 0..=`max_bytes` with headroom: (step, steps) where the step
/// is a power of two from 1 MiB up and there are 3-5 steps (4-6 ticks).
fn scale(max_bytes: f64) -> (f64, i32) {
    let need = (max_bytes * 1.1).max(4.0 * MIB);
    let mut step = MIB;
    while need / step > 5.0 {
        step *= 2.0;
    }
    (step, (need / step).ceil() as i32)
}

/// `v` with at most one decimal, without a trailing ".0".
fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

/// A y-axis label: "0", "384 MiB", "1 GiB", "1.5 GiB", "1280 MiB".
fn tick_label(bytes: f64) -> String {
    if bytes <= 0.0 {
        return "0".into();
    }
    let units = ["MiB", "GiB", "TiB", "PiB", "EiB"];
    for (k, unit) in units.iter().enumerate().rev() {
        let v = bytes / MIB / 1024f64.powi(k as i32);
        if v >= 1.0 && (v * 10.0).fract() == 0.0 {
            return format!("{} {unit}", trim(v));
        }
    }
    format!("{} MiB", trim(bytes / MIB))
}

/// A short size for a bar: "0", "512K", "120M", "1.5G", "8E".
fn short_bytes(bytes: u64) -> String {
    if bytes == 0 {
        return "0".into();
    }
    let mut v = bytes as f64;
    let units = ["B", "K", "M", "G", "T", "P", "E"];
    let mut k = 0;
    while v >= 999.5 && k + 1 < units.len() {
        v /= 1024.0;
        k += 1;
    }
    let num = if k > 0 && v < 9.95 {
        trim(v)
    } else {
        format!("{v:.0}")
    };
    format!("{num}{}", units[k])
}

/// The threshold line's label, e.g. "500 MiB bar".
fn threshold_label(bytes: f64) -> String {
    let mib = bytes / MIB;
    let size = if mib >= 1024.0 && (mib / 1024.0 * 10.0).fract() == 0.0 {
        format!("{} GiB", trim(mib / 1024.0))
    } else {
        format!("{} MiB", trim(mib))
    };
    fit(&format!("{size} bar"), 20, false)
}

/// The y axis's ticks: at each `(bytes, row)` a grid line (but on the
/// baseline), a tick mark and the label, for a plot from `left` to `right`.
fn draw_y_ticks(c: &mut Canvas, left: i32, right: i32, rows: impl Iterator<Item = (f64, i32)>) {
    for (v, y) in rows {
        if v > 0.0 {
            c.hline(left + 1, right, y, 1, GRID);
        }
        c.hline(left - 4, left - 1, y, 1, AXIS);
        let s = tick_label(v);
        c.text(left - 6 - text_width(&s, 1), y - 4, &s, 1, TEXT);
    }
}

fn state_colour(s: BarState) -> Rgb {
    match s {
        BarState::Ok => OK,
        BarState::Warn => WARN,
        BarState::Over => OVER,
        BarState::Unknown => UNKNOWN,
    }
}
