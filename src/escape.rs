//! Terminal-safe text: the one place that turns a string that came from the
//! input (entry names and link targets, tar header bytes, tags, config
//! values, a blob's JSON) into something a text output may print.
//!
//! What it owns: [`escape`], which makes control characters visible, and
//! [`clip`], which bounds how much of one value a message shows. Together,
//! as [`for_terminal`], they keep a hostile image from driving the terminal
//! (ESC/OSC sequences that recolour, retitle or hide text, a CR that
//! overwrites a line, a `\n` that forges one) and from turning one error
//! into a megabyte line (issue 14 item 10). What it does not do: escape for
//! a format with its own quoting (JSON, SARIF, JUnit XML are escaped by
//! their serializers) or decide what to print.
//!
//! The escapes are Rust's `char::escape_default` (`\n`, `\r`, `\t`,
//! `\u{1b}`), the same a `{:?}` would show, for every character of Unicode
//! category Cc (C0, DEL, C1) and for the invisible characters that reorder
//! or break a displayed line (the bidirectional controls of Unicode TR9 and
//! U+2028/U+2029), the "Trojan Source" set (CVE-2021-42574).
//!
//! Entry names and link targets arrive here already in the layer reader's
//! stored-name encoding (`layer::name_from_bytes`: a byte that is not UTF-8
//! as `\xNN`, a literal backslash as `\\`). This module leaves backslashes
//! alone, so a stored name is printed as stored, and its escapes cannot be
//! confused with the ones added here: a real backslash shows as `\\`, an
//! escape added here starts with a single one (`\n`, `\u{1b}`).

use std::borrow::Cow;

/// The longest error or warning line printed, in characters, before it is
/// clipped (a few screens; a real message is far shorter).
pub const MAX_LINE: usize = 4096;

/// The longest single input-derived value (a name, a tag, a rule id) a
/// message quotes, in characters.
pub const MAX_VALUE: usize = 256;

/// True for characters a terminal must not receive raw.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
                | '\u{2028}' | '\u{2029}'
        )
}

/// `text` with every control, bidirectional-control and line-separator
/// character escaped (`\u{1b}`, `\n`, `\u{202e}`); borrowed when there is
/// none.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `text` cut to at most `max` characters, saying how long it was:
/// `abc… (1048576 bytes in all)`.
pub fn clip(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}… ({} bytes in all)", &text[..cut], text.len())),
    }
}

/// [`escape`] then [`clip`]: what a text output prints of an input-derived
/// string (the escapes count towards `max`, so the printed width is bounded).
pub fn for_terminal(text: &str, max: usize) -> Cow<'_, str> {
    match escape(text) {
        Cow::Borrowed(b) => clip(b, max),
        Cow::Owned(o) => Cow::Owned(clip(&o, max).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // See: issue 14
    #[test]
    fn r14_escape_table() {
        // (what, input, shown)
        let cases = [
            (
                "plain text is untouched",
                "/opt/venv/bin/flake8",
                "/opt/venv/bin/flake8",
            ),
            ("non-ASCII letters are text", "/tmp/café", "/tmp/café"),
            (
                "a newline cannot forge a line",
                "a\nerror: forged",
                "a\\nerror: forged",
            ),
            ("a CR cannot overwrite the line", "x\rok", "x\\rok"),
            (
                "ESC (CSI colour) is shown",
                "\u{1b}[31mred",
                "\\u{1b}[31mred",
            ),
            (
                "OSC 8 / title sequences are shown",
                "\u{1b}]0;pwned\u{7}",
                "\\u{1b}]0;pwned\\u{7}",
            ),
            ("C1 CSI is shown", "\u{9b}31m", "\\u{9b}31m"),
            ("DEL is shown", "a\u{7f}", "a\\u{7f}"),
            (
                "bidi override is shown",
                "evil\u{202e}txt.sh",
                "evil\\u{202e}txt.sh",
            ),
            ("tab is shown", "a\tb", "a\\tb"),
        ];
        for (what, input, shown) in cases {
            assert_eq!(escape(input), shown, "{what}");
        }
    }

    // See: issue 14
    #[test]
    fn r14_clip_bounds_a_value() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("abcdef", 3), "abc… (6 bytes in all)");
        // Cut on a character boundary.
        assert_eq!(clip("ééé", 2), "éé… (6 bytes in all)");
        let huge = "\u{1b}".repeat(1 << 20);
        let shown = for_terminal(&huge, MAX_LINE);
        assert!(shown.chars().count() < MAX_LINE + 40, "{}", shown.len());
        assert!(!shown.contains('\u{1b}'));
    }
}
