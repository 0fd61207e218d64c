//! Small text rules shared by every front end.

/// `s` cut to at most `max` characters, ending in `…` when cut. Chat
/// platforms reject over-long fields outright, so everything that goes there
/// passes through this.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// `s` as PostgreSQL can store it: text and jsonb cannot hold a NUL
/// character, so it is written as the visible escape `\0`. Everything
/// else is kept, so what is stored is what arrived.
pub fn storable(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') {
        std::borrow::Cow::Owned(s.replace('\0', "\\0"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// The first control character in `s` other than a newline or tab, if any:
/// free text from people never needs one, and some (NUL) cannot even be
/// stored.
pub fn control_char(s: &str) -> Option<char> {
    s.chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\t'))
}

#[cfg(test)]
mod tests {
    use super::{clip, control_char, storable};

    #[test]
    fn nul_is_stored_as_a_visible_escape() {
        assert_eq!(storable("plain"), "plain");
        assert_eq!(storable("a\0b\0"), "a\\0b\\0");
        assert_eq!(control_char("ok\tline\nnext"), None);
        assert_eq!(control_char("bell\u{7}"), Some('\u{7}'));
        assert_eq!(control_char("nul\0"), Some('\0'));
    }

    #[test]
    fn clips_by_characters_not_bytes() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("ééééé", 3), "éé…");
        assert_eq!(clip("x", 0), "…");
    }
}
