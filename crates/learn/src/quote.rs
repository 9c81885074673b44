//! Bounded quoting of user-controlled text in error messages: a 20 MB CSV cell or 4,500 unknown names
//! must not become a 20 MB error line.

use std::borrow::Cow;
use std::fmt::Write as _;

/// The most characters of one value an error message quotes.
pub const MAX_QUOTED_CHARS: usize = 200;
/// The most names of a list an error message spells out.
pub const MAX_LISTED_NAMES: usize = 20;

/// `text` as is when it has at most [`MAX_QUOTED_CHARS`] characters and no control characters, else
/// its first [`MAX_QUOTED_CHARS`] characters followed by `…`, control characters escaped (`\n`), so a
/// quoted value never breaks the one line of an error.
pub fn clip(text: &str) -> Cow<'_, str> {
    clip_to(text, MAX_QUOTED_CHARS)
}

/// [`clip`] at `max_chars` characters instead of [`MAX_QUOTED_CHARS`] (e.g. a whole message).
pub fn clip_to(text: &str, max_chars: usize) -> Cow<'_, str> {
    let cut = text
        .char_indices()
        .nth(max_chars)
        .map_or(text.len(), |(i, _)| i);
    if cut == text.len() && !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(cut + 4);
    for c in text[..cut].chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if cut < text.len() {
        out.push('…');
    }
    Cow::Owned(out)
}

/// Names as `` `a`, `b`, `c` ``, each [`clip`]ped, at most [`MAX_LISTED_NAMES`] of them, then
/// `… (N more)`; `(none)` for an empty list.
pub fn names<S: AsRef<str>>(list: &[S]) -> String {
    if list.is_empty() {
        return "(none)".to_string();
    }
    let mut out = String::new();
    for (i, name) in list.iter().take(MAX_LISTED_NAMES).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "`{}`", clip(name.as_ref()));
    }
    if list.len() > MAX_LISTED_NAMES {
        let _ = write!(out, ", … ({} more)", list.len() - MAX_LISTED_NAMES);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_quoted_whole_and_long_text_is_cut_on_a_char_boundary() {
        assert_eq!(clip("cpu"), "cpu");
        let long = "é".repeat(5000);
        let c = clip(&long);
        assert_eq!(c.chars().count(), MAX_QUOTED_CHARS + 1);
        assert!(c.ends_with('…'));
        assert_eq!(clip("a\nb\r"), "a\\nb\\r");
    }

    #[test]
    fn long_lists_are_capped() {
        let many: Vec<String> = (0..4500).map(|i| format!("m{i}")).collect();
        let s = names(&many);
        assert!(s.starts_with("`m0`, `m1`"), "{s}");
        assert!(s.ends_with("… (4480 more)"), "{s}");
        assert!(s.len() < 400, "{}", s.len());
        assert_eq!(names::<String>(&[]), "(none)");
    }
}
