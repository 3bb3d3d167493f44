//! Which flags a call sees: flagd's selector, read from the `Flagd-Selector`
//! request header (or, for sync, the deprecated request field), and the
//! metadata flagd reports for it.

use serde_json::{Map, Value};
use tonic::Request;
use tonic::metadata::MetadataMap;

use engine::Selector;

use crate::grpc::GrpcError;
use crate::server::Flags;
use crate::server::admission::{Admission, Credentials, Grant};

/// The request header carrying the selector (gRPC metadata keys are lower
/// case).
const HEADER: &str = "flagd-selector";

/// The grant of an evaluation call: its selector, bound to the key's when
/// keys are in use, through the server's one admission path.
pub(crate) fn scope<T>(
    flags: &Flags,
    admission: &Admission,
    request: &Request<T>,
) -> Result<Grant, GrpcError> {
    let requested = from_headers(request.metadata())?;
    admit(flags, admission, request, requested)
}

/// The selector of a sync call, admitted like an evaluation call; client
/// keys (for browsers and apps) may not sync whole flag sets.
pub(crate) fn scope_for_sync<T>(
    flags: &Flags,
    admission: &Admission,
    request: &Request<T>,
    field: &str,
) -> Result<Selector, GrpcError> {
    let requested = for_sync(request.metadata(), field)?;
    Ok(admit(flags, admission, request, requested)?.for_sync()?)
}

/// Admits a call by its `x-api-key` or `authorization: Bearer …` metadata
/// and its peer's address.
fn admit<T>(
    flags: &Flags,
    admission: &Admission,
    request: &Request<T>,
    requested: Selector,
) -> Result<Grant, GrpcError> {
    let headers = request.metadata();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let credentials = Credentials {
        api_key: text("x-api-key"),
        authorization: text("authorization"),
        peer: request.remote_addr().map(|addr| addr.ip()),
    };
    Ok(admission.admit(&flags.sdk_keys().ring(), credentials, Some(requested))?)
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
