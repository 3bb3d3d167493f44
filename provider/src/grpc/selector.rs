//! Which flags a call sees: flagd's selector, read from the `Flagd-Selector`
//! request header (or, for sync, the deprecated request field), and the
//! metadata flagd reports for it.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value};
use tonic::metadata::MetadataMap;

use engine::Selector;

use crate::grpc::GrpcError;
use crate::server::Flags;

/// The request header carrying the selector (gRPC metadata keys are lower
/// case).
const HEADER: &str = "flagd-selector";

/// What an evaluation call may see: its selector and, for a client SDK
/// key, the flags it may evaluate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scope {
    /// The selector to evaluate under.
    pub(crate) selector: Selector,
    /// A client key's client-visible flags.
    pub(crate) visible: Option<Arc<HashSet<String>>>,
}

impl Scope {
    /// Whether the call may evaluate flag `key`.
    pub(crate) fn allows(&self, key: &str) -> bool {
        self.visible
            .as_ref()
            .is_none_or(|visible| visible.contains(key))
    }
}

/// The scope of an evaluation call: its selector, bound to the flag set of
/// its SDK key when the store's keys are in use.
pub(crate) fn scope(flags: &Flags, headers: &MetadataMap) -> Result<Scope, GrpcError> {
    bind(flags, headers, from_headers(headers)?)
}

/// The selector of a sync call, bound like an evaluation call's; client
/// keys (for browsers and apps) may not sync whole flag sets.
pub(crate) fn scope_for_sync(
    flags: &Flags,
    headers: &MetadataMap,
    field: &str,
) -> Result<Selector, GrpcError> {
    let scope = bind(flags, headers, for_sync(headers, field)?)?;
    if scope.visible.is_some() {
        return Err(GrpcError::Forbidden {
            reason: "client SDK keys cannot sync flag configurations".into(),
        });
    }
    Ok(scope.selector)
}

/// Checks the call's SDK key against the keys delivered with the flag
/// sets (none needed while no flag set has keys).
fn bind(flags: &Flags, headers: &MetadataMap, requested: Selector) -> Result<Scope, GrpcError> {
    let ring = flags.sdk_keys().ring();
    if ring.is_empty() {
        return Ok(Scope {
            selector: requested,
            visible: None,
        });
    }
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let presented = text("x-api-key").or_else(|| {
        let (scheme, token) = text("authorization")?.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    let Some(grant) = presented.and_then(|key| ring.lookup(key)) else {
        return Err(GrpcError::Unauthenticated);
    };
    let bound = Selector::FlagSetId(grant.flag_set.clone());
    if requested != Selector::All && requested != bound {
        return Err(GrpcError::Forbidden {
            reason: format!("the SDK key does not allow selector {requested}"),
        });
    }
    Ok(Scope {
        selector: bound,
        visible: grant.visible.clone(),
    })
}

/// The selector of an evaluation call: the header's, or every flag.
pub(crate) fn from_headers(headers: &MetadataMap) -> Result<Selector, GrpcError> {
    parse(&header(headers).unwrap_or_default())
}

/// The selector of a sync call: the header's if present (even empty), else
/// the request field's, as flagd's sync service reads it.
pub(crate) fn for_sync(headers: &MetadataMap, field: &str) -> Result<Selector, GrpcError> {
    match header(headers) {
        Some(expression) => parse(&expression),
        None => parse(field),
    }
}

/// What flagd reports about the selector in evaluation metadata: the
/// `flagSetId` or `source` it selects by.
pub(crate) fn metadata(selector: &Selector) -> Map<String, Value> {
    let mut map = Map::new();
    match selector {
        Selector::All => {}
        Selector::FlagSetId(id) if id.is_empty() => {}
        Selector::FlagSetId(id) => {
            map.insert("flagSetId".into(), Value::String(id.clone()));
        }
        Selector::Source(source) => {
            map.insert("source".into(), Value::String(source.clone()));
        }
    }
    map
}

fn header(headers: &MetadataMap) -> Option<String> {
    headers
        .get(HEADER)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

/// Parses flagd's selector syntax, refusing keys flagd refuses.
fn parse(expression: &str) -> Result<Selector, GrpcError> {
    if let Some((key, _)) = expression.split_once('=') {
        let key = key.trim();
        if key != "flagSetId" && key != "source" {
            return Err(GrpcError::InvalidSelector { key: key.into() });
        }
    }
    Ok(Selector::parse(expression))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(expression: &str, expected: Result<Selector, GrpcError>) {
        assert_eq!(parse(expression), expected);
    }

    #[test]
    fn parses_flagds_forms() {
        check("", Ok(Selector::All));
        check("flagSetId=shop", Ok(Selector::FlagSetId("shop".into())));
        check(
            "source=flags.json",
            Ok(Selector::Source("flags.json".into())),
        );
        check("flags.json", Ok(Selector::Source("flags.json".into())));
        check(
            "app=shop",
            Err(GrpcError::InvalidSelector { key: "app".into() }),
        );
    }

    #[test]
    fn sync_prefers_the_header() {
        let mut headers = MetadataMap::new();
        assert_eq!(
            for_sync(&headers, "source=b"),
            Ok(Selector::Source("b".into()))
        );
        headers.insert(HEADER, "source=a".parse().expect("ASCII"));
        assert_eq!(
            for_sync(&headers, "source=b"),
            Ok(Selector::Source("a".into()))
        );
    }
}
