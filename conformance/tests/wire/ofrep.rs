//! OFREP on the wire: raw HTTP requests and a strict reading of the raw
//! responses, as the OFREP OpenAPI document (`ofrep/openapi.yaml`,
//! `POST /ofrep/v1/evaluate/flags/{key}`) defines them.

use anyhow::{Context as _, bail, ensure};
use serde_json::{Map, Value, json};

use crate::outcome::{FlagRequest, Outcome, has_type};

/// Error codes OFREP allows in a 400 body (`evaluationFailure.errorCode`).
const BAD_REQUEST_CODES: [&str; 4] = [
    "PARSE_ERROR",
    "TARGETING_KEY_MISSING",
    "INVALID_CONTEXT",
    "GENERAL",
];

/// Reasons OFREP allows in a 200 body. flagd also answers `DEFAULT` (a flag
/// with targeting that did not match), which the testbed expects, so it is
/// allowed too.
const SUCCESS_REASONS: [&str; 6] = [
    "STATIC",
    "TARGETING_MATCH",
    "SPLIT",
    "DISABLED",
    "UNKNOWN",
    "DEFAULT",
];

/// An HTTP client for one server's OFREP listener.
#[derive(Debug, Clone)]
pub struct OfrepClient {
    http: reqwest::Client,
    base: String,
}

impl OfrepClient {
    pub fn new(base: String) -> OfrepClient {
        OfrepClient {
            http: reqwest::Client::new(),
            base,
        }
    }

    /// Evaluates one flag and reads the response. A response that breaks
    /// the protocol is an error; a flag that fails to evaluate is not.
    pub async fn evaluate(
        &self,
        flag: &FlagRequest,
        context: &Map<String, Value>,
    ) -> anyhow::Result<Outcome> {
        let body = json!({ "context": context });
        let url = format!("{}/ofrep/v1/evaluate/flags/{}", self.base, flag.key);
        let response = self
            .http
            .post(&url)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status().as_u16();
        let text = response.text().await.context("reading the body")?;
        let exchange = format!("POST {url} {body} -> {status} {text}");
        read(flag, status, &text, exchange.clone()).with_context(|| exchange)
    }
}

/// Reads one response into evaluation details.
fn read(flag: &FlagRequest, status: u16, text: &str, exchange: String) -> anyhow::Result<Outcome> {
    let body: Value = serde_json::from_str(text).context("the body is not JSON")?;
    let Value::Object(body) = body else {
        bail!("the body is not a JSON object");
    };
    let metadata = match body.get("metadata") {
        None => Map::new(),
        Some(Value::Object(metadata)) => {
            ensure!(
                metadata
                    .values()
                    .all(|v| v.is_boolean() || v.is_string() || v.is_number()),
                "metadata values must be booleans, strings or numbers"
            );
            metadata.clone()
        }
        Some(_) => bail!("metadata is not an object"),
    };
    ensure!(
        body.get("key").and_then(Value::as_str) == Some(flag.key.as_str()),
        "the body's key is not {:?}",
        flag.key
    );
    let text_field = |name: &str| -> anyhow::Result<Option<String>> {
        match body.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => bail!("{name} is not a string"),
        }
    };
    match status {
        200 => {
            ensure!(
                body.get("errorCode").is_none(),
                "a 200 response carries an errorCode"
            );
            let reason = text_field("reason")?.context("a 200 response has no reason")?;
            ensure!(
                SUCCESS_REASONS.contains(&reason.as_str()),
                "reason {reason:?} is not a success reason"
            );
            let variant = text_field("variant")?;
            match body.get("value") {
                // `codeDefaultFlag`: the caller's default applies.
                None => Ok(Outcome {
                    value: flag.fallback.clone(),
                    variant,
                    reason: Some(reason),
                    error: None,
                    metadata,
                    exchange,
                }),
                // OFREP requests carry no type: a provider checks the value's
                // JSON type against the type the application asked for.
                Some(value) if !has_type(value, flag.ty) => Ok(Outcome::error(
                    flag,
                    "TYPE_MISMATCH",
                    format!("{value} is not a {}", flag.ty),
                    metadata,
                    exchange,
                )),
                Some(value) => Ok(Outcome {
                    value: value.clone(),
                    variant,
                    reason: Some(reason),
                    error: None,
                    metadata,
                    exchange,
                }),
            }
        }
        400 | 404 => {
            let code = text_field("errorCode")?.context("an error response has no errorCode")?;
            let allowed = if status == 404 {
                code == "FLAG_NOT_FOUND"
            } else {
                BAD_REQUEST_CODES.contains(&code.as_str())
            };
            ensure!(
                allowed,
                "errorCode {code:?} does not belong to status {status}"
            );
            ensure!(
                body.get("value").is_none(),
                "an error response carries a value"
            );
            let details = text_field("errorDetails")?.unwrap_or_default();
            Ok(Outcome::error(flag, &code, details, metadata, exchange))
        }
        other => bail!("unexpected status {other}"),
    }
}
