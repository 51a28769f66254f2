//! Bounded free text (errors, steps, details).

/// The most characters (Unicode scalar values, as SQLite's `length()` counts them) an error,
/// step or detail text may hold. Longer text is truncated on write; the schema checks it too.
pub const MAX_TEXT_CHARS: usize = 2000;

/// The first `max` characters of `text`, cut at a character boundary (never inside a
/// multibyte character).
pub fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((cut, _)) => &text[..cut],
        None => text,
    }
}

/// `text` bounded to [`MAX_TEXT_CHARS`], as stored.
pub(crate) fn bounded(text: &str) -> &str {
    truncate_chars(text, MAX_TEXT_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(truncate_chars("boom", 10), "boom");
        assert_eq!(truncate_chars("", 0), "");
        assert_eq!(truncate_chars("abc", 3), "abc");
    }

    #[test]
    fn cuts_count_characters_not_bytes() {
        // 'é' is 2 bytes, '🦀' is 4: a byte cut at 3 would split the crab.
        assert_eq!(truncate_chars("é🦀x", 2), "é🦀");
        assert_eq!(truncate_chars("é🦀x", 1), "é");
        assert_eq!(truncate_chars("🦀🦀", 0), "");
    }
}
