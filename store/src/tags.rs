//! Flag tags: the one reading of a definition's `metadata.tags`, a string
//! of comma-separated tags (flagd's metadata values are strings, numbers
//! or booleans, so tags cannot be an array).
//!
//! The SQL of the tag filter and of the tag list (`queries.rs`) split the
//! same string on the same comma and trim the same characters, bound from
//! [`WHITESPACE`], so that the database and [`of`] agree on every tag.

use serde_json::Value;

/// The characters trimmed off each tag: Unicode's `White_Space`, the set
/// that Rust's `char::is_whitespace` tests (tab, line feed, vertical tab,
/// form feed, carriage return, space, next line, no-break space and the
/// other spaces and separators). PostgreSQL's `btrim` and SQLite's `trim`
/// take it as their set of characters to trim.
pub(crate) const WHITESPACE: &str = "\u{9}\u{a}\u{b}\u{c}\u{d}\u{20}\u{85}\u{a0}\u{1680}\
     \u{2000}\u{2001}\u{2002}\u{2003}\u{2004}\u{2005}\u{2006}\u{2007}\u{2008}\u{2009}\u{200a}\
     \u{2028}\u{2029}\u{202f}\u{205f}\u{3000}";

/// The tags of a flag definition: its `metadata.tags` string split on
/// commas (see [`split`]); none when `tags` is missing or not a string.
pub(crate) fn of(definition: &Value) -> Vec<String> {
    match definition.pointer("/metadata/tags") {
        Some(Value::String(tags)) => split(tags),
        _ => Vec::new(),
    }
}

/// The tags of a `tags` string: the pieces between commas, each trimmed of
/// [`WHITESPACE`], empty pieces dropped, a repeated tag kept only where it
/// first appears. Tags compare exactly (case counts).
pub(crate) fn split(tags: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for tag in tags.split(',').map(trim) {
        if !tag.is_empty() && !found.iter().any(|t| t == tag) {
            found.push(tag.to_owned());
        }
    }
    found
}

/// Whether some `tags` string holds `tag`: a tag is never empty, holds no
/// comma and neither starts nor ends with [`WHITESPACE`].
pub(crate) fn is_tag(tag: &str) -> bool {
    !tag.is_empty() && !tag.contains(',') && trim(tag) == tag
}

fn trim(piece: &str) -> &str {
    piece.trim_matches(|c| WHITESPACE.contains(c))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn whitespace_is_unicode_white_space() {
        let listed: Vec<char> = WHITESPACE.chars().collect();
        let white: Vec<char> = (char::MIN..=char::MAX)
            .filter(|c| c.is_whitespace())
            .collect();
        assert_eq!(listed, white);
    }

    #[track_caller]
    fn check(tags: &str, expect: &[&str]) {
        assert_eq!(split(tags), expect, "{tags:?}");
        for tag in expect {
            assert!(is_tag(tag), "{tag:?}");
        }
    }

    #[test]
    fn tags_are_split_on_commas_and_trimmed() {
        check("checkout, payments", &["checkout", "payments"]);
        check("checkout", &["checkout"]);
        check("", &[]);
        check(" , ,, ", &[]);
        check(",a,", &["a"]);
        check("  a b  ,c", &["a b", "c"]);
        check("b, a, b,a", &["b", "a"]);
        check("Beta, beta", &["Beta", "beta"]);
        check("\ta\n,\u{a0}b\u{3000}", &["a", "b"]);
        check("\u{200b}a", &["\u{200b}a"]);
        check("50%, a_b, a\\b, \"q\"", &["50%", "a_b", "a\\b", "\"q\""]);
        check("é, 日本", &["é", "日本"]);
    }

    #[test]
    fn only_a_string_holds_tags() {
        let with = |tags: Value| json!({"state": "ENABLED", "metadata": {"tags": tags}});
        assert_eq!(of(&with(json!("a, b"))), ["a", "b"]);
        for tags in [json!(["a"]), json!(1), json!(true), json!(null), json!({})] {
            assert!(of(&with(tags.clone())).is_empty(), "{tags}");
        }
        assert!(of(&json!({"metadata": {"owner": "a"}})).is_empty());
        assert!(of(&json!({"metadata": ["tags"]})).is_empty());
        assert!(of(&json!({})).is_empty());
    }

    #[test]
    fn impossible_tags_are_told_apart() {
        for tag in ["", " a", "a ", "a,b", ",", "\u{a0}a"] {
            assert!(!is_tag(tag), "{tag:?}");
        }
        for tag in ["a", "a b", "%", "\u{200b}"] {
            assert!(is_tag(tag), "{tag:?}");
        }
    }
}
