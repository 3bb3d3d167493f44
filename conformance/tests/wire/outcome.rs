//! What one evaluation through a client produced, in the terms the testbed's
//! steps check (OpenFeature spec 1.4: evaluation details).

use serde_json::{Map, Value};

use conformance::typed::ValueType;

pub use conformance::steps::FlagRequest;

/// Evaluation details as an application would see them: the value with the
/// fallback already applied, as an OpenFeature SDK applies it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub value: Value,
    pub variant: Option<String>,
    pub reason: Option<String>,
    /// The OpenFeature error code and message.
    pub error: Option<(String, String)>,
    pub metadata: Map<String, Value>,
    /// What crossed the wire (or what the client returned), for messages.
    pub exchange: String,
}

impl Outcome {
    /// The details of a failed evaluation: the fallback, reason `ERROR`.
    pub fn error(
        flag: &FlagRequest,
        code: &str,
        message: String,
        metadata: Map<String, Value>,
        exchange: String,
    ) -> Outcome {
        Outcome {
            value: flag.fallback.clone(),
            variant: None,
            reason: Some("ERROR".to_owned()),
            error: Some((code.to_owned(), message)),
            metadata,
            exchange,
        }
    }

    /// A one-line account for assertion messages.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "value {}, reason {}, variant {:?}",
            self.value,
            self.reason.as_deref().unwrap_or("(none)"),
            self.variant
        );
        if let Some((code, message)) = &self.error {
            text.push_str(&format!(", error {code}: {message}"));
        }
        text.push_str(&format!("; {}", self.exchange));
        text
    }
}

/// Whether a JSON value is of the type a typed evaluation asks for, judged as
/// an OpenFeature provider for a type-less protocol (OFREP) must judge it.
pub fn has_type(value: &Value, ty: ValueType) -> bool {
    match ty {
        ValueType::Boolean => value.is_boolean(),
        ValueType::String => value.is_string(),
        // JSON has one number type; an integer is a number without a
        // fractional part.
        ValueType::Integer => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        ValueType::Float => value.is_number(),
        ValueType::Object => value.is_object() || value.is_array(),
    }
}
