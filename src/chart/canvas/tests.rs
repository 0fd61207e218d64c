use super::*;

const BG: Rgb = [255, 255, 255];
const INK: Rgb = [0, 0, 0];

fn inked(c: &Canvas) -> Vec<(i32, i32)> {
    let mut v = Vec::new();
    for y in 0..c.height {
        for x in 0..c.width {
            if c.get(x, y) == Some(INK) {
                v.push((x, y));
            }
        }
    }
    v
}

#[test]
fn glyphs_come_from_the_font_and_non_ascii_is_a_question_mark() {
    assert_eq!(glyph('A'), BASIC_LEGACY[65]);
    assert_ne!(glyph('A'), [0; 8]);
    for odd in ['é', '\u{7}', '漢', '\n'] {
        assert_eq!(glyph(odd), BASIC_LEGACY['?' as usize], "{odd:?}");
    }
}

#[test]
fn text_draws_the_bitmap_at_scale() {
    for scale in [1, 2, 3] {
        let mut c = Canvas::new(40, 40, BG);
        c.text(4, 4, "A", scale, INK);
        let on: usize = glyph('A').iter().map(|b| b.count_ones() as usize).sum();
        assert_eq!(
            inked(&c).len(),
            on * (scale * scale) as usize,
            "scale {scale}"
        );
        // Bit 0 of a row is its leftmost pixel.
        let bits = glyph('A')[1];
        for col in 0..8 {
            let lit = c.get(4 + col * scale, 4 + scale) == Some(INK);
            assert_eq!(lit, bits >> col & 1 == 1, "scale {scale} col {col}");
        }
    }
}

#[test]
fn rotated_text_is_the_horizontal_text_turned_counter_clockwise() {
    let mut flat = Canvas::new(24, 24, BG);
    flat.text(0, 0, "Fj", 1, INK);
    let mut up = Canvas::new(24, 24, BG);
    up.text_up(0, 24, "Fj", INK);
    let mut turned: Vec<(i32, i32)> = inked(&flat).iter().map(|&(x, y)| (y, 23 - x)).collect();
    turned.sort_by_key(|&(x, y)| (y, x));
    assert!(!turned.is_empty());
    assert_eq!(inked(&up), turned);
}

#[test]
fn drawing_off_the_canvas_clips_instead_of_panicking() {
    let mut c = Canvas::new(10, 10, BG);
    c.fill_rect(-5, -5, 8, 8, INK);
    c.fill_rect(i32::MAX - 1, 3, i32::MAX, 2, INK);
    c.text(-20, 8, "clip", 2, INK);
    c.text_up(5, 100, "clip", INK);
    c.hatch_rect(-3, 4, 30, 30, INK);
    c.caret_up(9, -2, 6, INK);
    c.dashed_hline(-50, 50, 9, 2, (3, 2), INK);
    assert_eq!(c.get(0, 0), Some(INK));
    assert_eq!(c.get(10, 0), None);
}

#[test]
fn fit_truncates_with_dots() {
    // (text, max, middle, want)
    let cases = [
        ("web", 5, false, "web"),
        ("postgres", 8, true, "postgres"),
        ("postgres-1", 8, false, "postg..."),
        ("postgres-1", 8, true, "po...s-1"),
        ("shop-scheduler-1", 14, true, "shop-...uler-1"),
        ("abcdef", 3, true, "abc"),
        ("abcdef", 0, false, ""),
        ("ééééé", 4, false, "é..."),
        ("éééééx", 5, true, "é...x"),
    ];
    for (s, max, middle, want) in cases {
        assert_eq!(fit(s, max, middle), want, "fit({s:?}, {max}, {middle})");
    }
    assert_eq!(text_width("ab", 2), 32);
}

#[test]
fn png_round_trips() {
    let mut c = Canvas::new(3, 2, BG);
    c.set(1, 1, [1, 2, 3]);
    let bytes = c.into_png();
    let mut d = png::Decoder::new(&bytes[..]);
    d.set_transformations(png::Transformations::EXPAND);
    let mut r = d.read_info().unwrap();
    assert_eq!(r.info().color_type, png::ColorType::Indexed);
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (3, 2));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(&buf[12..15], &[1, 2, 3]);
    assert_eq!(&buf[0..3], &BG);
}

#[test]
fn past_256_colours_the_nearest_stands_in() {
    let mut c = Canvas::new(300, 1, [0, 0, 0]);
    for x in 1..300 {
        c.set(x, 0, [(x % 256) as u8, (x / 256) as u8, 7]);
    }
    assert_eq!(c.palette.len(), 256);
    // [43, 1, 7] came after the palette was full: the nearest colour
    // drawn before stands in for it.
    let got = c.get(300 - 1, 0).unwrap();
    assert!(got[2] == 7 && got != [43, 1, 7], "{got:?}");
    // Still a valid PNG.
    assert!(png::Decoder::new(&c.into_png()[..]).read_info().is_ok());
}
