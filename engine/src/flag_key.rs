//! The rule for keys that a store writes (flag keys and segment keys), which
//! is narrower than flagd's: flagd's schema accepts any non-empty key, so
//! flag files keep that rule, and only keys written to a store (and
//! `ensign validate`'s warnings) use this one.
//!
//! A stored key is shown in the admin API, the dashboard and the audit
//! trail, so it must look like what it is: no character that is invisible
//! or changes how the text around it is displayed.

use std::fmt;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// The longest stored key, in bytes of UTF-8.
pub const MAX_STORE_KEY_BYTES: usize = 255;

/// Why a key cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key is empty.
    #[error("is empty")]
    Empty,
    /// The key is longer than [`MAX_STORE_KEY_BYTES`].
    #[error("is {len} bytes long, more than {MAX_STORE_KEY_BYTES}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The key starts or ends with white space.
    #[error("starts or ends with white space")]
    SurroundingWhitespace,
    /// The key holds a character that is invisible or reorders the text
    /// around it.
    #[error("contains U+{:04X} ({kind}) at byte {at}", u32::from(*.character))]
    Invisible {
        /// The character.
        character: char,
        /// Its byte offset in the key.
        at: usize,
        /// Its kind.
        kind: InvisibleKind,
    },
}

/// The kinds of characters a stored key may not hold: Unicode general
/// categories Cc, Cf, Zl and Zp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvisibleKind {
    /// A C0 or C1 control character (Cc): tab, line feed, NUL, DEL, ...
    Control,
    /// A format character (Cf): bidirectional overrides, embeddings and
    /// isolates, zero-width spaces and joiners, the byte order mark, the
    /// soft hyphen, tag characters, ...
    Format,
    /// U+2028 LINE SEPARATOR (Zl).
    LineSeparator,
    /// U+2029 PARAGRAPH SEPARATOR (Zp).
    ParagraphSeparator,
}

impl fmt::Display for InvisibleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvisibleKind::Control => "a control character",
            InvisibleKind::Format => "a format character such as a bidirectional override",
            InvisibleKind::LineSeparator => "a line separator",
            InvisibleKind::ParagraphSeparator => "a paragraph separator",
        })
    }
}

/// Checks a key that is about to be stored: 1 to [`MAX_STORE_KEY_BYTES`]
/// bytes, no surrounding white space, and no control (Cc), format (Cf),
/// line separator (Zl) or paragraph separator (Zp) character anywhere.
///
/// ```
/// use engine::flag_key::{KeyError, check_store_key};
///
/// assert_eq!(check_store_key("new-checkout"), Ok(()));
/// assert_eq!(check_store_key("clé à molette"), Ok(()));
/// assert!(matches!(
///     check_store_key("admin\u{202e}txt.exe"),
///     Err(KeyError::Invisible { at: 5, .. })
/// ));
/// ```
pub fn check_store_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > MAX_STORE_KEY_BYTES {
        return Err(KeyError::TooLong { len: key.len() });
    }
    for (at, character) in key.char_indices() {
        let kind = match character.general_category() {
            GeneralCategory::Control => InvisibleKind::Control,
            GeneralCategory::Format => InvisibleKind::Format,
            GeneralCategory::LineSeparator => InvisibleKind::LineSeparator,
            GeneralCategory::ParagraphSeparator => InvisibleKind::ParagraphSeparator,
            _ => continue,
        };
        return Err(KeyError::Invisible {
            character,
            at,
            kind,
        });
    }
    if key.starts_with(char::is_whitespace) || key.ends_with(char::is_whitespace) {
        return Err(KeyError::SurroundingWhitespace);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(key: &str, expect: Result<(), &str>) {
        let found = check_store_key(key).map_err(|e| e.to_string());
        assert_eq!(found, expect.map_err(str::to_owned), "{key:?}");
    }

    #[test]
    fn visible_keys_are_accepted() {
        check("banner", Ok(()));
        check("a", Ok(()));
        check("new-checkout.v2_final", Ok(()));
        check("with space inside", Ok(()));
        check("ünïcode-clé", Ok(()));
        check("日本語のフラグ", Ok(()));
        check("emoji-🚀", Ok(()));
        check("עברית", Ok(()));
        check(&"k".repeat(255), Ok(()));
        check(&"é".repeat(127), Ok(()));
    }

    #[test]
    fn length_is_counted_in_bytes() {
        check("", Err("is empty"));
        check(&"k".repeat(256), Err("is 256 bytes long, more than 255"));
        check(&"é".repeat(128), Err("is 256 bytes long, more than 255"));
    }

    #[test]
    fn surrounding_white_space_is_refused() {
        check(" padded", Err("starts or ends with white space"));
        check("padded ", Err("starts or ends with white space"));
        check("\u{a0}nbsp", Err("starts or ends with white space"));
        check(
            "ideographic\u{3000}",
            Err("starts or ends with white space"),
        );
        check(" ", Err("starts or ends with white space"));
    }

    #[test]
    fn control_characters_are_refused() {
        check(
            "tab\there",
            Err("contains U+0009 (a control character) at byte 3"),
        );
        check("\n", Err("contains U+000A (a control character) at byte 0"));
        check(
            "nul\0",
            Err("contains U+0000 (a control character) at byte 3"),
        );
        check(
            "del\u{7f}",
            Err("contains U+007F (a control character) at byte 3"),
        );
        check(
            "c1\u{85}",
            Err("contains U+0085 (a control character) at byte 2"),
        );
        check(
            "c1\u{9b}x",
            Err("contains U+009B (a control character) at byte 2"),
        );
    }

    #[test]
    fn format_characters_are_refused() {
        let format = "a format character such as a bidirectional override";
        for (key, code, at) in [
            ("admin\u{202e}txt.exe", 0x202E, 5),
            ("\u{202a}lre", 0x202A, 0),
            ("\u{202b}rle", 0x202B, 0),
            ("\u{202c}pdf", 0x202C, 0),
            ("\u{202d}lro", 0x202D, 0),
            ("x\u{2066}lri", 0x2066, 1),
            ("x\u{2067}rli", 0x2067, 1),
            ("x\u{2068}fsi", 0x2068, 1),
            ("x\u{2069}pdi", 0x2069, 1),
            ("zero\u{200b}width", 0x200B, 4),
            ("zw\u{200c}nj", 0x200C, 2),
            ("zw\u{200d}j", 0x200D, 2),
            ("lrm\u{200e}", 0x200E, 3),
            ("rlm\u{200f}", 0x200F, 3),
            ("\u{feff}bom", 0xFEFF, 0),
            ("soft\u{ad}hyphen", 0xAD, 4),
            ("alm\u{61c}", 0x61C, 3),
            ("word\u{2060}joiner", 0x2060, 4),
            ("tag\u{e0041}", 0xE0041, 3),
        ] {
            check(
                key,
                Err(&format!("contains U+{code:04X} ({format}) at byte {at}")),
            );
        }
    }

    #[test]
    fn line_and_paragraph_separators_are_refused() {
        check(
            "line\u{2028}separator",
            Err("contains U+2028 (a line separator) at byte 4"),
        );
        check(
            "paragraph\u{2029}separator",
            Err("contains U+2029 (a paragraph separator) at byte 9"),
        );
    }

    #[test]
    fn the_first_problem_is_reported() {
        // An invisible character wins over the white space around it, so
        // that the message names the character a reader cannot see.
        check(
            " \u{200b}",
            Err("contains U+200B (a format character such as a bidirectional override) at byte 1"),
        );
    }
}
