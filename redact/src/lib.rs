//! Hides the secrets that URLs carry (credentials, query values, webhook
//! paths) before a URL reaches a log line, a metric label, an error
//! message or an API answer. Pure string functions: no parsing crate, no
//! I/O, and no input on which they fail, so every crate can call them on
//! whatever text it was given as a URL.
//!
//! The form kept is the URL's shape: scheme, host, port and path stay;
//! the userinfo (user and password) becomes `***@`, every query value (and
//! every query item without `=`) becomes `***` while the keys stay, and the
//! fragment is dropped. When the text is ambiguous (an `@` in a path, a
//! password holding `/`, `?` or `#` unescaped), more is hidden rather than
//! less.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

/// What a hidden part is replaced with.
pub const MASK: &str = "***";

/// `text` with its userinfo, query values and fragment hidden:
/// `postgres://ensign:secret@db:5432/flags?sslmode=require&password=x`
/// becomes `postgres://***@db:5432/flags?sslmode=***&password=***`.
pub fn url(text: &str) -> String {
    let parts = Parts::of(text);
    let mut out = String::with_capacity(text.len());
    out.push_str(parts.scheme);
    if parts.userinfo {
        out.push_str(MASK);
        out.push('@');
    }
    match parts.authority {
        Some(authority) if valid_authority(authority) => out.push_str(authority),
        Some(_) => out.push_str(MASK),
        None => {}
    }
    out.push_str(parts.path);
    if let Some(query) = parts.query {
        out.push('?');
        for (i, item) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match item.split_once('=') {
                Some((key, _)) => {
                    out.push_str(key);
                    out.push('=');
                    out.push_str(MASK);
                }
                None if item.is_empty() => {}
                None => out.push_str(MASK),
            }
        }
    }
    out
}

/// Only `scheme://host[:port]` of `text`, for URLs whose path is a secret
/// too (webhook URLs, such as Slack's, carry their token in the path):
/// `https://hooks.example:8443/services/T0/B0/XYZ?x=1` becomes
/// `https://hooks.example:8443`. Text without `scheme://host` becomes
/// `***`.
pub fn origin(text: &str) -> String {
    let parts = Parts::of(text);
    match parts.authority {
        Some(authority) if !authority.is_empty() && valid_authority(authority) => {
            format!("{}{authority}", parts.scheme)
        }
        _ => MASK.to_owned(),
    }
}

/// A URL cut into the pieces that are kept or hidden.
struct Parts<'a> {
    /// `scheme://`, `scheme:` or "".
    scheme: &'a str,
    /// Whether userinfo (hidden) preceded the host.
    userinfo: bool,
    /// `host[:port]` after `scheme://` (without userinfo); `None` for text
    /// without `//`.
    authority: Option<&'a str>,
    /// Up to the query or the fragment.
    path: &'a str,
    /// Between `?` and the fragment.
    query: Option<&'a str>,
}

impl<'a> Parts<'a> {
    fn of(text: &'a str) -> Parts<'a> {
        let (scheme, rest, hierarchical) = match scheme_len(text) {
            Some(len) if text[len..].starts_with("://") => {
                (&text[..len + 3], &text[len + 3..], true)
            }
            Some(len) => (&text[..=len], &text[len + 1..], false),
            None => ("", text, false),
        };
        // Userinfo ends at the last `@` before the query or fragment, so a
        // password holding `/` or `@` is hidden whole.
        let before_query = rest.find(['?', '#']).unwrap_or(rest.len());
        let at = rest[..before_query].rfind('@');
        if hierarchical {
            let after = at.map_or(rest, |at| &rest[at + 1..]);
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            let (path, query) = path_and_query(&after[end..]);
            Parts {
                scheme,
                userinfo: at.is_some(),
                authority: Some(&after[..end]),
                path,
                query,
            }
        } else {
            // No authority (`sqlite:ensign.db`, `host:port`): an `@` still
            // ends credentials, and the "scheme" before it may be a user.
            let (scheme, after) = match at {
                Some(at) => ("", &rest[at + 1..]),
                None => (scheme, rest),
            };
            let (path, query) = path_and_query(after);
            Parts {
                scheme,
                userinfo: at.is_some(),
                authority: None,
                path,
                query,
            }
        }
    }
}

/// The length of a leading `scheme` (RFC 3986: a letter, then letters,
/// digits, `+`, `-`, `.`) that a `:` follows.
fn scheme_len(text: &str) -> Option<usize> {
    let colon = text.find(':')?;
    let scheme = &text[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(colon)
}

/// Splits `rest` (what follows the authority) into the path and the query;
/// the fragment is dropped.
fn path_and_query(rest: &str) -> (&str, Option<&str>) {
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    }
}

/// Whether `authority` is `host`, `host:digits` or `[v6]:digits`. Anything
/// else (`user:pa` left over from a password holding `?` or `#`) may be a
/// secret and is hidden.
fn valid_authority(authority: &str) -> bool {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((address, rest)) => {
                if !address
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '%'))
                {
                    return false;
                }
                match rest {
                    "" => return true,
                    _ => ("", rest.strip_prefix(':').unwrap_or("x")),
                }
            }
            None => return false,
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, port),
            None => (authority, ""),
        }
    };
    !host.contains(['[', ']', ' ']) && port.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expect: &str) {
        assert_eq!(url(input), expect, "url({input:?})");
    }

    #[test]
    fn userinfo_is_hidden_whole() {
        check(
            "postgres://ensign:secret@db:5432/flags",
            "postgres://***@db:5432/flags",
        );
        check("postgres://ensign@db/flags", "postgres://***@db/flags");
        check("redis://:secret@cache:6379/2", "redis://***@cache:6379/2");
        check("rediss://token@cache", "rediss://***@cache");
        check(
            "redis://default:secret@cache:6379/2",
            "redis://***@cache:6379/2",
        );
        check(
            "https://user:pass@config.example/flags.json",
            "https://***@config.example/flags.json",
        );
        check(
            "postgres://u%40x:p%3Ass%2F@db/flags",
            "postgres://***@db/flags",
        );
        check("postgres://u:p@ss@db/flags", "postgres://***@db/flags");
        check("postgres://u:p/ss@db/flags", "postgres://***@db/flags");
        check("postgres://:@db/flags", "postgres://***@db/flags");
    }

    #[test]
    fn query_values_are_hidden_and_keys_kept() {
        check(
            "postgres://u:p@h/db?sslmode=require&password=x",
            "postgres://***@h/db?sslmode=***&password=***",
        );
        check("postgres://h/db?password=x", "postgres://h/db?password=***");
        check("https://h/flags.json?token", "https://h/flags.json?***");
        check(
            "https://h/flags.json?a=1&&b=",
            "https://h/flags.json?a=***&&b=***",
        );
        check("https://h/flags.json?", "https://h/flags.json?");
        check(
            "redis://cache:6379?prefix=ensign",
            "redis://cache:6379?prefix=***",
        );
        check(
            "postgres:///db?host=/run/postgresql&password=x",
            "postgres:///db?host=***&password=***",
        );
    }

    #[test]
    fn fragments_are_dropped() {
        check("https://h/flags.json#secret", "https://h/flags.json");
        check(
            "https://h/flags.json?a=1#secret",
            "https://h/flags.json?a=***",
        );
    }

    #[test]
    fn what_holds_no_secret_is_unchanged() {
        check("postgres://db/flags", "postgres://db/flags");
        check(
            "https://config.example:8443/a/b.json",
            "https://config.example:8443/a/b.json",
        );
        check("grpc://flags.internal:8015", "grpc://flags.internal:8015");
        check("redis://[::1]:6379/0", "redis://[::1]:6379/0");
        check(
            "http://[fe80::1%25eth0]/flags.json",
            "http://[fe80::1%25eth0]/flags.json",
        );
        check("unix:///run/ensign.sock", "unix:///run/ensign.sock");
        check("file:flags/base.json", "file:flags/base.json");
        check("sqlite:ensign.db", "sqlite:ensign.db");
        check("sqlite::memory:", "sqlite::memory:");
        check("store:default", "store:default");
        check("", "");
    }

    #[test]
    fn ipv6_and_unix_sockets_keep_their_shape() {
        check("redis://:pw@[::1]:6379", "redis://***@[::1]:6379");
        check(
            "postgres://u:p@[2001:db8::1]:5432/db",
            "postgres://***@[2001:db8::1]:5432/db",
        );
        check(
            "redis+unix:///tmp/redis.sock?db=0&pass=secret",
            "redis+unix:///tmp/redis.sock?db=***&pass=***",
        );
        check("unix://u:p@/run/redis.sock", "unix://***@/run/redis.sock");
        check(
            "postgres://u:p@%2Frun%2Fpostgresql/db",
            "postgres://***@%2Frun%2Fpostgresql/db",
        );
    }

    #[test]
    fn text_without_scheme_or_authority() {
        check("sqlite:ensign.db?mode=rwc", "sqlite:ensign.db?mode=***");
        check(
            "sqlite:/data/ensign.db?mode=rwc&key=x",
            "sqlite:/data/ensign.db?mode=***&key=***",
        );
        check("cache:6379", "cache:6379");
        check("user:secret@cache:6379/0", "***@cache:6379/0");
        check("secret@cache", "***@cache");
        check("flags.json?token=x", "flags.json?token=***");
    }

    #[test]
    fn ambiguous_text_hides_more() {
        // A password holding `?` or `#` unescaped: what is left where the
        // host should be is not a host, so it goes too.
        check("postgres://u:ab?cd@db/flags", "postgres://***?***");
        check("postgres://u:p#ss@db/flags", "postgres://***");
        // An `@` in a path is taken for the end of credentials.
        check(
            "https://registry.example/@scope/pkg",
            "https://***@scope/pkg",
        );
    }

    #[test]
    fn garbage_leaks_nothing_and_never_panics() {
        check("not a url", "not a url");
        check("://", "://");
        check("a://b:c:d@", "a://***@");
        check("a://[::1", "a://***");
        check("@@@", "***@");
        check("http://h:port/x", "http://***/x");
        // Not a scheme (a non-ASCII letter): credentials still end at `@`.
        check(
            "h\u{e9}llo://\u{e9}:\u{e9}@\u{e9}?\u{e9}=\u{e9}",
            "***@\u{e9}?\u{e9}=***",
        );
        for text in [
            "?",
            "#",
            ":",
            "::",
            "a:",
            "[",
            "]",
            "@",
            "a@b?c@d#e@f",
            "//@",
            "\u{0}",
        ] {
            let _ = url(text);
            let _ = origin(text);
        }
    }

    #[test]
    fn origins_keep_scheme_host_and_port() {
        let cases = [
            (
                "https://hooks.slack.com/services/T0/B0/XYZ",
                "https://hooks.slack.com",
            ),
            (
                "https://u:p@hooks.example:8443/p/q?token=x#f",
                "https://hooks.example:8443",
            ),
            ("http://[::1]:9000/hook", "http://[::1]:9000"),
            ("http://127.0.0.1:1/hook", "http://127.0.0.1:1"),
            ("https://hooks.example?token=x", "https://hooks.example"),
            ("sqlite:ensign.db", "***"),
            ("not a url", "***"),
            ("https:///path", "***"),
            ("https://u:ab?cd@h/x", "***"),
        ];
        for (input, expect) in cases {
            assert_eq!(origin(input), expect, "origin({input:?})");
        }
    }
}
