//! Text from the agent or the server, made safe to show to a person.
//!
//! A command the user is asked to approve must read exactly as it runs.
//! Control characters (a terminal's escape sequences, a carriage return that
//! overwrites what came before), bidirectional overrides that reorder what is
//! drawn, and zero-width or tag characters that hide text are replaced by a
//! visible escape (`\u{202e}` is shown as the six characters `\u202e`).
//! Newlines and tabs are kept: they are how multi-line commands read.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every invisible or misleading character replaced by a visible
/// escape (`\u001b`, `\u202e`, `\u{e0041}`); newlines and tabs are kept.
/// Borrowed when there was nothing to replace.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if needs_escape(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether `c` is shown as an escape by [`visible`].
pub fn needs_escape(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        // C0 controls, DEL and C1 controls (ESC starts ANSI sequences; C1's
        // CSI U+009B is a one-character ESC [ for some terminals).
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        // Soft hyphen, Arabic letter mark, Mongolian vowel separator.
        '\u{ad}' | '\u{61c}' | '\u{180e}' => true,
        // Zero-width space/non-joiner/joiner, LRM, RLM.
        '\u{200b}'..='\u{200f}' => true,
        // Line and paragraph separators, bidi embeddings and overrides
        // (U+202A–202E).
        '\u{2028}'..='\u{202e}' => true,
        // Word joiner, invisible operators, bidi isolates (U+2066–2069),
        // deprecated format characters.
        '\u{2060}'..='\u{206f}' => true,
        // Byte-order mark / zero-width no-break space.
        '\u{feff}' => true,
        // Interlinear annotation and object replacement controls.
        '\u{fff9}'..='\u{fffb}' => true,
        // Tag characters: invisible ASCII look-alikes.
        '\u{e0000}'..='\u{e007f}' => true,
        _ => false,
    }
}

fn push_escape(out: &mut String, c: char) {
    let code = c as u32;
    if code <= 0xffff {
        let _ = write!(out, "\\u{code:04x}");
    } else {
        let _ = write!(out, "\\u{{{code:x}}}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let text = "git status\n\techo done — ünïcödé ✓";
        assert!(matches!(visible(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn ansi_escape_and_carriage_return_become_visible() {
        assert_eq!(
            visible("echo hi\u{1b}[2K\rrm -rf ~"),
            "echo hi\\u001b[2K\\u000drm -rf ~"
        );
        assert_eq!(visible("\u{9b}31m"), "\\u009b31m");
        assert_eq!(visible("a\u{7f}b\u{0}"), "a\\u007fb\\u0000");
    }

    #[test]
    fn bidi_overrides_and_isolates_become_visible() {
        assert_eq!(visible("ls \u{202e}txt.exe"), "ls \\u202etxt.exe");
        for c in ['\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}'] {
            assert!(needs_escape(c), "{:x}", c as u32);
        }
        for c in ['\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'] {
            assert!(needs_escape(c), "{:x}", c as u32);
        }
    }

    #[test]
    fn zero_width_and_tag_characters_become_visible() {
        assert_eq!(visible("r\u{200b}m"), "r\\u200bm");
        assert_eq!(visible("\u{feff}x"), "\\ufeffx");
        assert_eq!(visible("a\u{e0041}"), "a\\u{e0041}");
    }

    #[test]
    fn newlines_and_tabs_are_kept() {
        assert_eq!(visible("a\n\tb"), "a\n\tb");
    }
}
