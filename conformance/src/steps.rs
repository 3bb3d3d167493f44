//! What the testbed's "given" steps mean, shared by every runner: the flag a
//! scenario asks for and the evaluation context it builds (OpenFeature spec
//! 1.3: flag evaluation with a key, a default value and a context). Each
//! runner keeps its own step attributes, bound to its own world.

use serde_json::{Map, Value};

use crate::typed::{ValueError, ValueType, unescape_quotes};

/// The flag a scenario asks for.
#[derive(Debug, Clone)]
pub struct FlagRequest {
    /// The type it is asked as.
    pub ty: ValueType,
    /// Its key.
    pub key: String,
    /// The caller's default.
    pub fallback: Value,
}

impl FlagRequest {
    /// `a <Type>-flag with key "<key>" and a default value "<fallback>"`.
    pub fn new(ty: &str, key: String, fallback: &str) -> Result<FlagRequest, ValueError> {
        let ty: ValueType = ty.parse()?;
        let fallback = ty.parse(&unescape_quotes(fallback))?;
        Ok(FlagRequest { ty, key, fallback })
    }
}

/// `a context containing a targeting key with value "<value>"`.
pub fn targeting_key(context: &mut Map<String, Value>, value: &str) {
    context.insert(
        "targetingKey".to_owned(),
        Value::String(unescape_quotes(value).into_owned()),
    );
}

/// `a context containing a key "<key>", with type "<type>" and with value
/// "<value>"`. Backslash sequences such as `A\u0000B` stay literal (no
/// Cucumber implementation unescapes them, and the v3 fractional examples
/// expect the buckets of the literal text), and so does the string "null".
pub fn context_value(
    context: &mut Map<String, Value>,
    key: String,
    ty: &str,
    value: &str,
) -> Result<(), ValueError> {
    let ty: ValueType = ty.parse()?;
    context.insert(key, ty.parse(&unescape_quotes(value))?);
    Ok(())
}

/// `a context containing a nested property with outer key "<outer>" and
/// inner key "<inner>", with value "<value>"`.
pub fn nested_property(
    context: &mut Map<String, Value>,
    outer: String,
    inner: String,
    value: &str,
) {
    let mut nested = Map::new();
    nested.insert(inner, Value::String(unescape_quotes(value).into_owned()));
    context.insert(outer, Value::Object(nested));
}
