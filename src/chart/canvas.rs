//! Drawing primitives for the chart: a pixel buffer with clipped
//! rectangles and lines, text from the embedded 8x8 bitmap font
//! (`font8x8`'s basic Latin table, compiled in), and PNG encoding.
//! Everything clips to the canvas, so callers may draw partly off it.
//!
//! Pixels are indices into a palette of the colours drawn (a chart uses a
//! dozen or two): a 2400x480 chart is 1.1 MB while it is drawn, not 3.5,
//! and encodes as a smaller indexed PNG. Reports are drawn for every
//! command, several at once, so this is the bot's largest transient
//! allocation.

use font8x8::legacy::BASIC_LEGACY;

/// An sRGB colour.
pub(super) type Rgb = [u8; 3];

/// An (x, y) pair in f64: a point before it is rounded to a pixel.
pub(super) type Pt = (f64, f64);

/// Side of one glyph, in pixels, at scale 1.
pub(super) const GLYPH: i32 = 8;

/// An image of palette indices, row-major.
pub(super) struct Canvas {
    width: i32,
    height: i32,
    /// Index into `palette` per pixel.
    px: Vec<u8>,
    /// The colours drawn so far, in first-use order; at most 256.
    palette: Vec<Rgb>,
}

impl Canvas {
    /// A canvas filled with `bg`. Sizes are clamped to at least 1x1.
    pub(super) fn new(width: u32, height: u32, bg: Rgb) -> Self {
        let (w, h) = (width.clamp(1, 1 << 14), height.clamp(1, 1 << 14));
        Canvas {
            width: w as i32,
            height: h as i32,
            px: vec![0; w as usize * h as usize],
            palette: vec![bg],
        }
    }

    /// The palette index of `c`, added when new. Past 256 colours (no
    /// chart has that many) the nearest one already there stands in.
    fn index(&mut self, c: Rgb) -> u8 {
        if let Some(i) = self.palette.iter().position(|p| *p == c) {
            return i as u8;
        }
        if self.palette.len() < 256 {
            self.palette.push(c);
            return (self.palette.len() - 1) as u8;
        }
        let distance = |p: &Rgb| -> i32 {
            (0..3)
                .map(|k| (i32::from(p[k]) - i32::from(c[k])).pow(2))
                .sum()
        };
        (0..self.palette.len())
            .min_by_key(|&i| distance(&self.palette[i]))
            .unwrap_or(0) as u8
    }

    /// The colour at (x, y), or None off the canvas.
    #[cfg(test)]
    pub(super) fn get(&self, x: i32, y: i32) -> Option<Rgb> {
        if x < 0 || y < 0 || x >= self.width || y >= self.height {
            return None;
        }
        let i = y as usize * self.width as usize + x as usize;
        Some(self.palette[usize::from(self.px[i])])
    }

    /// Fills the rectangle with top-left (x, y) and size w x h.
    pub(super) fn fill_rect(&mut self, x: i32, y: i32, w: i32, h: i32, c: Rgb) {
        let (x0, y0) = (x.max(0), y.max(0));
        let x1 = x.saturating_add(w).min(self.width);
        let y1 = y.saturating_add(h).min(self.height);
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        let i = self.index(c);
        for yy in y0..y1 {
            let row = yy as usize * self.width as usize;
            self.px[row + x0 as usize..row + x1 as usize].fill(i);
        }
    }

    /// Sets one pixel, if it is on the canvas.
    pub(super) fn set(&mut self, x: i32, y: i32, c: Rgb) {
        self.fill_rect(x, y, 1, 1, c);
    }

    /// A horizontal line from x0 to x1 inclusive, `thick` rows from y down.
    pub(super) fn hline(&mut self, x0: i32, x1: i32, y: i32, thick: i32, c: Rgb) {
        self.fill_rect(x0, y, x1 - x0 + 1, thick, c);
    }

    /// A vertical line from y0 to y1 inclusive.
    pub(super) fn vline(&mut self, x: i32, y0: i32, y1: i32, c: Rgb) {
        self.fill_rect(x, y0, 1, y1 - y0 + 1, c);
    }

    /// A dashed horizontal line from x0: `dash.0` pixels on, `dash.1` off.
    pub(super) fn dashed_hline(
        &mut self,
        x0: i32,
        x1: i32,
        y: i32,
        thick: i32,
        dash: (i32, i32),
        c: Rgb,
    ) {
        let mut x = x0;
        while x <= x1 {
            self.hline(x, (x + dash.0 - 1).min(x1), y, thick, c);
            x += dash.0 + dash.1;
        }
    }

    /// An outlined rectangle with diagonal hatching inside.
    pub(super) fn hatch_rect(&mut self, x: i32, y: i32, w: i32, h: i32, c: Rgb) {
        for yy in y..y + h {
            for xx in x..x + w {
                let edge = xx == x || xx == x + w - 1 || yy == y || yy == y + h - 1;
                if edge || (xx + yy).rem_euclid(4) == 0 {
                    self.set(xx, yy, c);
                }
            }
        }
    }

    /// A filled upward-pointing triangle with its tip at (cx, tip_y).
    pub(super) fn caret_up(&mut self, cx: i32, tip_y: i32, half: i32, c: Rgb) {
        for r in 0..=half {
            self.hline(cx - r, cx + r, tip_y + r, 1, c);
        }
    }

    /// A 1 px line from (x0, y0) to (x1, y1) inclusive (Bresenham).
    pub(super) fn line(&mut self, x0: i32, y0: i32, x1: i32, y1: i32, c: Rgb) {
        self.stroke((x0, y0), (x1, y1), None, c);
    }

    /// A dashed 1 px line from (x0, y0): `dash.0` steps on, `dash.1` off,
    /// counted along the longer axis so the dashes look alike at any slope.
    pub(super) fn dashed_line(
        &mut self,
        x0: i32,
        y0: i32,
        x1: i32,
        y1: i32,
        dash: (i32, i32),
        c: Rgb,
    ) {
        self.stroke((x0, y0), (x1, y1), Some(dash), c);
    }

    /// Bresenham from `a` to `b`, cut to the canvas first so that a far-off
    /// end costs nothing. Dashes are counted from `a`, so a cut line keeps
    /// the pattern it would have had uncut.
    fn stroke(&mut self, a: (i32, i32), b: (i32, i32), dash: Option<(i32, i32)>, c: Rgb) {
        let f = |(x, y): (i32, i32)| (f64::from(x), f64::from(y));
        let max = (f64::from(self.width - 1), f64::from(self.height - 1));
        let Some((p, q)) = clip_segment(f(a), f(b), (0.0, 0.0), max) else {
            return;
        };
        let px = |(x, y): (f64, f64)| (x.round() as i32, y.round() as i32);
        let (p, q) = (px(p), px(q));
        let (dx, dy) = ((q.0 - p.0).abs(), -(q.1 - p.1).abs());
        let (sx, sy) = ((q.0 - p.0).signum(), (q.1 - p.1).signum());
        // Each step moves one pixel along the longer axis; start the count
        // at the distance the cut skipped.
        let skipped = if dx >= -dy {
            i64::from(p.0) - i64::from(a.0)
        } else {
            i64::from(p.1) - i64::from(a.1)
        };
        let period = dash.map(|(on, off)| {
            let on = i64::from(on.max(1));
            (on, on + i64::from(off.max(0)))
        });
        let (mut x, mut y, mut k, mut err) = (p.0, p.1, skipped.abs(), dx + dy);
        loop {
            if period.is_none_or(|(on, len)| k % len < on) {
                self.set(x, y, c);
            }
            if (x, y) == q {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
            k += 1;
        }
    }

    /// Horizontal text with its top-left at (x, y); each font pixel is a
    /// `scale` x `scale` block. Characters outside printable ASCII are '?'.
    pub(super) fn text(&mut self, x: i32, y: i32, s: &str, scale: i32, c: Rgb) {
        for (k, ch) in s.chars().enumerate() {
            let gx = x + k as i32 * GLYPH * scale;
            for (row, bits) in glyph(ch).iter().enumerate() {
                for col in 0..GLYPH {
                    if bits >> col & 1 == 1 {
                        let (px, py) = (gx + col * scale, y + row as i32 * scale);
                        self.fill_rect(px, py, scale, scale, c);
                    }
                }
            }
        }
    }

    /// Text rotated 90 degrees counter-clockwise (reading bottom to top),
    /// scale 1, occupying columns x..x+8 and ending just above `bottom`.
    pub(super) fn text_up(&mut self, x: i32, bottom: i32, s: &str, c: Rgb) {
        for (k, ch) in s.chars().enumerate() {
            for (row, bits) in glyph(ch).iter().enumerate() {
                for col in 0..GLYPH {
                    if bits >> col & 1 == 1 {
                        self.set(x + row as i32, bottom - 1 - (k as i32 * GLYPH + col), c);
                    }
                }
            }
        }
    }

    /// Encodes the canvas as an 8-bit indexed PNG.
    pub(super) fn into_png(self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
        enc.set_color(png::ColorType::Indexed);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_palette(self.palette.concat());
        // Writing a well-formed indexed buffer into a Vec cannot fail: the
        // dimensions are non-zero, the buffer length matches them and
        // every index is within the palette.
        let mut writer = enc.write_header().expect("PNG header into a Vec");
        writer
            .write_image_data(&self.px)
            .expect("PNG data into a Vec");
        writer.finish().expect("PNG end into a Vec");
        out
    }
}

/// The 8 row bitmaps of `ch` (bit 0 is the leftmost pixel); '?' for
/// anything that is not printable ASCII.
fn glyph(ch: char) -> [u8; 8] {
    let ch = if ch == ' ' || ch.is_ascii_graphic() {
        ch
    } else {
        '?'
    };
    BASIC_LEGACY[ch as usize]
}

/// The part of the segment a-b inside the box `min`..=`max`, or None when
/// it misses or an end is not finite (Liang-Barsky).
pub(super) fn clip_segment(a: Pt, b: Pt, min: Pt, max: Pt) -> Option<(Pt, Pt)> {
    if ![a.0, a.1, b.0, b.1].iter().all(|v| v.is_finite()) {
        return None;
    }
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    let edges = [
        (-dx, a.0 - min.0),
        (dx, max.0 - a.0),
        (-dy, a.1 - min.1),
        (dy, max.1 - a.1),
    ];
    for (p, q) in edges {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else if p < 0.0 {
            t0 = t0.max(q / p);
        } else {
            t1 = t1.min(q / p);
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| (a.0 + t * dx, a.1 + t * dy);
    Some((at(t0), at(t1)))
}

/// Width in pixels of `s` drawn at `scale`.
pub(super) fn text_width(s: &str, scale: i32) -> i32 {
    s.chars().count() as i32 * GLYPH * scale
}

/// `s` cut to at most `max` characters, "..." standing for the cut part:
/// at the end, or in the middle when `middle` (so that both a shared prefix
/// and a distinguishing suffix such as "-2" survive). Just cut when `max` is
/// too small for the dots.
pub(super) fn fit(s: &str, max: usize, middle: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= max {
        return s.to_string();
    }
    if max <= 3 {
        return chars[..max].iter().collect();
    }
    let tail = if middle { max - 3 - (max - 3) / 2 } else { 0 };
    let head = &chars[..max - 3 - tail];
    let tail = &chars[chars.len() - tail..];
    head.iter().chain(&['.'; 3]).chain(tail).collect()
}

#[cfg(test)]
mod tests;
