//! Reading an OFREP request: the flag key from the path, the body within its
//! size limit and content type, and the `context` member out of it.

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::server::ofrep::error::OfrepError;

/// Longest flag key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 512;

/// The parts of a request body OFREP defines.
#[derive(Debug, Deserialize)]
struct RequestBody<'a> {
    /// The evaluation context, kept as text: a single evaluation reads only
    /// what its flag needs out of it.
    #[serde(borrow, default)]
    context: Option<&'a RawValue>,
}

/// Decodes the flag key from its percent-encoded path segment and checks
/// that it can name a flag: non-empty, UTF-8, no control characters (a
/// flagd key matches `^.{1,}$`), at most [`MAX_KEY_BYTES`].
pub fn flag_key(segment: &str) -> Result<String, OfrepError> {
    let invalid = |why| OfrepError::InvalidKey {
        key: segment.to_owned(),
        why,
    };
    let raw = segment.as_bytes();
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'%' {
            let hex = raw
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| invalid("malformed percent-encoding"))?;
            bytes.push(hex);
            i += 3;
        } else {
            bytes.push(b);
            i += 1;
        }
    }
    let key = String::from_utf8(bytes).map_err(|_| invalid("not UTF-8"))?;
    if key.is_empty() {
        return Err(invalid("empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(invalid("longer than 512 bytes"));
    }
    if key.chars().any(char::is_control) {
        return Err(invalid("contains a control character"));
    }
    Ok(key)
}

/// Checks the content type: `application/json`, parameters allowed.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), OfrepError> {
    let essence = content_type
        .and_then(|ct| ct.split(';').next())
        .map(str::trim);
    match essence {
        Some(e) if e.eq_ignore_ascii_case("application/json") => Ok(()),
        _ => Err(OfrepError::UnsupportedMediaType {
            received: content_type.map(str::to_owned),
        }),
    }
}

/// Collects a body of at most `limit` bytes. A declared length over the
/// limit is refused before anything is read; a body without one is
/// refused as soon as it passes the limit.
pub async fn collect<S, B, E>(
    declared: Option<u64>,
    body: S,
    limit: usize,
) -> Result<Bytes, OfrepError>
where
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: std::fmt::Display,
{
    let too_large = OfrepError::PayloadTooLarge { limit };
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large);
    }
    let mut out = BytesMut::with_capacity(declared.map_or(0, |n| n as usize));
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| OfrepError::InvalidContext {
            details: format!("the request body could not be read: {e}"),
        })?;
        if out.len() + chunk.remaining() > limit {
            return Err(too_large);
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            out.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(out.freeze())
}

/// The context of a body shaped as SDKs send it, `{"context": {...}}`,
/// cut out without parsing: the text between `{"context":` and the body's
/// last `}`, if it starts as an object. It is the context only if it is a
/// JSON object by itself (with another member after the context it is
/// not), which the reader of the context finds out; `None` for any other
/// body.
pub fn enveloped_context(body: &[u8]) -> Option<&str> {
    // JSON's whitespace, not Unicode's.
    const WS: [char; 4] = [' ', '\t', '\n', '\r'];
    let text = std::str::from_utf8(body).ok()?;
    let rest = text.trim_start_matches(WS).strip_prefix('{')?;
    let rest = rest.trim_start_matches(WS).strip_prefix("\"context\"")?;
    let rest = rest.trim_start_matches(WS).strip_prefix(':')?;
    let context = rest.trim_matches(WS).strip_suffix('}')?;
    context.starts_with('{').then_some(context)
}

/// Reads the `context` member's text out of a body. A body without
/// `context` (or with `null`) evaluates against an empty context: the
/// browser OFREP provider omits it when it has none.
pub fn context_text(body: &[u8]) -> Result<&str, OfrepError> {
    let text = std::str::from_utf8(body).map_err(|e| OfrepError::InvalidContext {
        details: format!("the request body is not UTF-8: {e}"),
    })?;
    if !text.trim_start().starts_with('{') {
        return Err(OfrepError::InvalidContext {
            details: "the request body must be a JSON object such as {\"context\": {...}}"
                .to_owned(),
        });
    }
    let request: RequestBody<'_> =
        serde_json::from_str(text).map_err(|e| OfrepError::InvalidContext {
            details: format!("the request body is not valid JSON: {e}"),
        })?;
    match request.context.map(RawValue::get) {
        None | Some("null") => Ok("{}"),
        Some(context) if context.starts_with('{') => Ok(context),
        Some(_) => Err(OfrepError::InvalidContext {
            details: "the evaluation context must be a JSON object".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn key(segment: &str, expect: Result<&str, &str>) {
        let got = flag_key(segment).map_err(|e| e.to_string());
        assert_eq!(got.as_deref().map_err(String::as_str), expect);
    }

    #[test]
    fn flag_keys_are_decoded_and_checked() {
        key("new-checkout", Ok("new-checkout"));
        key("with%20space", Ok("with space"));
        key("caf%C3%A9", Ok("café"));
        key("a%2Fb", Ok("a/b"));
        key("", Err("flag key \"\" is not valid: empty"));
        key(
            "bad%zz",
            Err("flag key \"bad%zz\" is not valid: malformed percent-encoding"),
        );
        key(
            "bad%4",
            Err("flag key \"bad%4\" is not valid: malformed percent-encoding"),
        );
        key("%FF", Err("flag key \"%FF\" is not valid: not UTF-8"));
        key(
            "line%0Abreak",
            Err("flag key \"line%0Abreak\" is not valid: contains a control character"),
        );
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(flag_key(&long).is_err());
        assert!(flag_key(&long[1..]).is_ok());
    }

    #[test]
    fn content_types() {
        assert!(check_content_type(Some("application/json")).is_ok());
        assert!(check_content_type(Some("Application/JSON; charset=utf-8")).is_ok());
        for bad in [
            None,
            Some("text/plain"),
            Some("application/jsonx"),
            Some(""),
        ] {
            let err = check_content_type(bad);
            assert_eq!(
                err.map_err(|e| e.status().as_u16()),
                Err(415),
                "content type {bad:?}"
            );
        }
    }

    #[track_caller]
    fn context(body: &[u8], expect: Result<&str, &str>) {
        let got = context_text(body).map_err(|e| e.to_string());
        match (&got, expect) {
            (Ok(got), Ok(want)) => assert_eq!(got, &want),
            (Err(got), Err(want)) => assert!(got.contains(want), "{got:?} lacks {want:?}"),
            _ => panic!("{body:?}: got {got:?}, expected {expect:?}"),
        }
    }

    #[test]
    fn contexts_are_read_from_bodies() {
        context(br#"{"context":{"a":1}}"#, Ok(r#"{"a":1}"#));
        context(br#"{"context":null}"#, Ok("{}"));
        context(b"{}", Ok("{}"));
        context(br#"{"context":{},"extra":true}"#, Ok("{}"));
        context(br#"{"context":[1]}"#, Err("must be a JSON object"));
        context(br#"{"context":"x"}"#, Err("must be a JSON object"));
        context(b"[]", Err("must be a JSON object such as"));
        context(b"", Err("must be a JSON object such as"));
        context(br#"{"context":{"a":}"#, Err("not valid JSON"));
        context(b"{\"context\":{\"a\":\"\xff\"}}", Err("not UTF-8"));
        // Nesting limits are enforced where the context is read (see the
        // OFREP integration tests): the raw text is not walked here.
    }

    #[test]
    fn enveloped_contexts_are_cut_out_as_they_stand() {
        fn cut(body: &str) -> Option<&str> {
            enveloped_context(body.as_bytes())
        }
        assert_eq!(cut(r#"{"context":{"a":1}}"#), Some(r#"{"a":1}"#));
        assert_eq!(
            cut(" {\n \"context\" :\t{\"a\": [1]} }\r\n"),
            Some(r#"{"a": [1]} "#)
        );
        // Not the context alone, or not a whole one: its reader refuses
        // these, and the body is then read properly.
        assert_eq!(cut(r#"{"context":{},"x":{}}"#), Some(r#"{},"x":{}"#));
        assert_eq!(cut(r#"{"context":{}"#), Some("{"));
        for other in [
            r#"{"x":1,"context":{}}"#,
            r#"{"context":null}"#,
            r#"{"context":[1]}"#,
            "{}",
            "\u{a0}{\"context\":{}}",
        ] {
            assert_eq!(cut(other), None, "{other}");
        }
        assert_eq!(enveloped_context(b"{\"context\":{\"a\":\"\xff\"}}"), None);
    }

    #[tokio::test]
    async fn bodies_are_bounded() {
        let chunks = |parts: Vec<&'static [u8]>| {
            futures::stream::iter(
                parts
                    .into_iter()
                    .map(|p| Ok::<_, warp::Error>(Bytes::from(p))),
            )
        };
        let ok = collect(None, chunks(vec![b"{\"con", b"text\":{}}"]), 64).await;
        assert_eq!(ok.as_deref(), Ok(&b"{\"context\":{}}"[..]));
        let over = collect(None, chunks(vec![b"0123456789", b"0123456789"]), 15).await;
        assert_eq!(over, Err(OfrepError::PayloadTooLarge { limit: 15 }));
        let declared = collect(Some(100), chunks(vec![b"{}"]), 15).await;
        assert_eq!(declared, Err(OfrepError::PayloadTooLarge { limit: 15 }));
    }
}
