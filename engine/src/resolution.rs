//! The outcome of evaluating a flag, with flagd's reasons and OpenFeature's
//! error codes.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::{Map, Value};

/// Why a value was chosen (OpenFeature's resolution reasons, as flagd uses them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// The flag has no targeting: its default variant.
    Static,
    /// The targeting rule chose a variant.
    TargetingMatch,
    /// The targeting rule returned null, or there is no variant to use: the
    /// default variant, or the caller's default if the flag has none. (The
    /// OFREP document's reason list lacks DEFAULT; flagd returns it, and so
    /// does Ensign.)
    Default,
    /// The flag is disabled: the caller's default.
    Disabled,
    /// Evaluation failed: see the error code.
    Error,
}

impl Reason {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Static => "STATIC",
            Reason::TargetingMatch => "TARGETING_MATCH",
            Reason::Default => "DEFAULT",
            Reason::Disabled => "DISABLED",
            Reason::Error => "ERROR",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// OpenFeature error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// No flag has the key.
    FlagNotFound,
    /// The flag's value is not of the requested type.
    TypeMismatch,
    /// The flag's definition could not be compiled.
    ParseError,
    /// The targeting key is required but missing.
    TargetingKeyMissing,
    /// The evaluation context is not usable (not an object, not JSON).
    InvalidContext,
    /// Anything else, e.g. a rule naming a variant the flag lacks.
    General,
}

impl ErrorCode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::FlagNotFound => "FLAG_NOT_FOUND",
            ErrorCode::TypeMismatch => "TYPE_MISMATCH",
            ErrorCode::ParseError => "PARSE_ERROR",
            ErrorCode::TargetingKeyMissing => "TARGETING_KEY_MISSING",
            ErrorCode::InvalidContext => "INVALID_CONTEXT",
            ErrorCode::General => "GENERAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value type a caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlagType {
    /// A JSON boolean.
    Boolean,
    /// A JSON string.
    String,
    /// A JSON number (flagd reads it as a float and truncates; Ensign accepts
    /// any number and leaves the conversion to the edge).
    Integer,
    /// A JSON number.
    Float,
    /// A JSON object.
    Object,
}

impl FlagType {
    /// Whether `value` is of this type.
    pub fn matches(self, value: &Value) -> bool {
        match self {
            FlagType::Boolean => value.is_boolean(),
            FlagType::String => value.is_string(),
            FlagType::Integer | FlagType::Float => value.is_number(),
            FlagType::Object => value.is_object(),
        }
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            FlagType::Boolean => "boolean",
            FlagType::String => "string",
            FlagType::Integer => "integer",
            FlagType::Float => "float",
            FlagType::Object => "object",
        }
    }
}

impl FromStr for FlagType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "boolean" | "bool" => Ok(FlagType::Boolean),
            "string" => Ok(FlagType::String),
            "integer" | "int" => Ok(FlagType::Integer),
            "float" | "number" | "double" => Ok(FlagType::Float),
            "object" | "json" => Ok(FlagType::Object),
            other => Err(format!(
                "unknown flag type {other:?} (expected boolean, string, integer, float or object)"
            )),
        }
    }
}

/// An evaluation error: a code and a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    /// The OpenFeature error code.
    pub code: ErrorCode,
    /// What went wrong, for logs and `errorDetails`.
    pub message: String,
}

/// The outcome of evaluating one flag. Borrows from the snapshot, so
/// resolving a static flag allocates nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution<'s> {
    /// The flag's key.
    pub key: &'s str,
    /// The resolved value, or `None` when the caller's default applies
    /// (disabled flag, no default variant, or an error).
    pub value: Option<&'s Value>,
    /// The chosen variant, if any.
    pub variant: Option<&'s str>,
    /// Why.
    pub reason: Reason,
    /// Set when `reason` is [`Reason::Error`].
    pub error: Option<EvalError>,
    /// Flag metadata, with the flag set's merged underneath.
    pub metadata: &'s Map<String, Value>,
    /// The experiment the flag's split serves (its `ensign.experiment`
    /// metadata), if any.
    pub experiment: Option<&'s str>,
    /// Whether the flag's `fractional` split picked the variant: the rule's
    /// result is what a `fractional` returned, reached through `if`
    /// branches only, so the caller is in the experiment's population.
    /// Worked out only for flags with an [`experiment`](Self::experiment),
    /// so that other flags pay nothing; always `false` for the others.
    pub bucketed: bool,
}

impl<'s> Resolution<'s> {
    /// An error resolution.
    pub fn error(
        key: &'s str,
        code: ErrorCode,
        message: String,
        metadata: &'s Map<String, Value>,
    ) -> Self {
        Resolution {
            key,
            value: None,
            variant: None,
            reason: Reason::Error,
            error: Some(EvalError { code, message }),
            metadata,
            experiment: None,
            bucketed: false,
        }
    }

    /// Checks the value against the requested type: a value of another type
    /// becomes a `TYPE_MISMATCH` error, as in flagd.
    pub fn expect_type(self, expected: FlagType) -> Self {
        match self.value {
            Some(value) if !expected.matches(value) => Resolution {
                value: None,
                variant: None,
                reason: Reason::Error,
                error: Some(EvalError {
                    code: ErrorCode::TypeMismatch,
                    message: format!(
                        "flag {:?} resolved to {}, not a {}",
                        self.key,
                        json_type_name(value),
                        expected.as_str()
                    ),
                }),
                bucketed: false,
                ..self
            },
            _ => self,
        }
    }

    /// The error code, if the evaluation failed.
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.error.as_ref().map(|e| e.code)
    }
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
