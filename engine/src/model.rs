//! Flag files in flagd's format, read as flagd reads them (JSON or YAML, with
//! `flags` as a map or an array), before any flag is compiled.

use std::fmt;

use serde::Deserializer;
use serde::de::value::SeqAccessDeserializer;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::diagnostic::{Diagnostic, Severity};
use crate::evaluators::Evaluators;

/// Largest flag file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;

/// Largest number of flags in one file.
pub const MAX_FLAGS: usize = 50_000;

/// Which flagd schema a file is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schema {
    /// `flagd.json`: what the flagd daemon accepts (`flags` as a map or an array).
    #[default]
    Flagd,
    /// `flags.json`: what flagd's in-process providers accept (`flags` as a map).
    Flags,
}

impl Schema {
    /// The schema a file's `$schema` names, if it names one of flagd's.
    pub fn from_schema_uri(uri: &str) -> Option<Schema> {
        let name = uri.rsplit('/').next().unwrap_or(uri);
        match name {
            "flagd.json" => Some(Schema::Flagd),
            "flags.json" => Some(Schema::Flags),
            _ => None,
        }
    }
}

/// Text format of a flag file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

impl Format {
    /// Guesses the format from a file name (`.yaml`/`.yml` are YAML).
    pub fn from_path(path: &str) -> Format {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Format::Yaml
        } else {
            Format::Json
        }
    }
}

/// A flag file that parsed: its flags, evaluators and flag-set metadata, not
/// yet compiled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlagFile {
    /// Flag definitions in file order, with the pointer of each.
    pub flags: Vec<RawFlag>,
    /// Shared rules for `$ref`, in declaration order.
    pub evaluators: Evaluators,
    /// Flag-set metadata (may carry `flagSetId`).
    pub metadata: Map<String, Value>,
    /// The schema named by `$schema`, or flagd's by default.
    pub schema: Schema,
}

/// One flag definition as written.
#[derive(Debug, Clone, PartialEq)]
pub struct RawFlag {
    /// The flag key.
    pub key: String,
    /// JSON pointer of the definition in its file.
    pub pointer: String,
    /// The definition object.
    pub definition: Value,
}

/// Why a flag file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text is not JSON (or YAML).
    #[error("{format} syntax error: {message}")]
    Syntax {
        /// "JSON" or "YAML".
        format: &'static str,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The document is not a flag file.
    #[error("{pointer}: {message}")]
    Shape {
        /// Where the problem is.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// The file is larger than [`MAX_FILE_BYTES`] or has more than [`MAX_FLAGS`] flags.
    #[error("flag file too large: {message}")]
    TooLarge {
        /// What limit was exceeded.
        message: String,
    },
    /// The document nests arrays and objects deeper than
    /// [`crate::MAX_DATA_DEPTH`] levels (the document itself is the first).
    #[error("flag file nested deeper than {limit} levels at {at}")]
    TooDeep {
        /// Where: the JSON pointer of the first array or object too deep, or
        /// the line and column where the parser stopped.
        at: String,
        /// The limit, [`crate::MAX_DATA_DEPTH`].
        limit: usize,
    },
}

impl ParseError {
    /// The error as a diagnostic (no flag key).
    pub fn to_diagnostic(&self) -> Diagnostic {
        let pointer = match self {
            ParseError::Shape { pointer, .. } => pointer.clone(),
            _ => String::new(),
        };
        let message = match self {
            ParseError::Shape { message, .. } => message.clone(),
            other => other.to_string(),
        };
        Diagnostic {
            severity: Severity::Error,
            flag_key: None,
            pointer,
            message,
        }
    }
}

/// Parses a flag file. Structural problems of single flags are not errors
/// here: they are found when the flag set is compiled, so that one bad flag
/// does not reject its neighbours.
pub fn parse(text: &str, format: Format) -> Result<(FlagFile, Vec<Diagnostic>), ParseError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(ParseError::TooLarge {
            message: format!("{} bytes, the limit is {MAX_FILE_BYTES}", text.len()),
        });
    }
    // Both parsers stop at their own recursion limit (serde_json's is
    // `MAX_DATA_DEPTH`, serde_yaml_ng's one more), long before the stack
    // is at risk; `from_value` checks the exact limit.
    let Document {
        root,
        evaluator_order,
    } = match format {
        Format::Json => serde_json::from_str(text).map_err(|e| {
            if is_recursion_limit(&e.to_string()) {
                too_deep(format!("line {}, column {}", e.line(), e.column()))
            } else {
                ParseError::Syntax {
                    format: "JSON",
                    message: e.to_string(),
                }
            }
        })?,
        Format::Yaml => {
            // libyaml's scanner takes time quadratic in the nesting of flow
            // collections (`[[[…`), so deep ones are refused before it runs.
            if let Some((line, column)) = yaml_flow_too_deep(text, crate::MAX_DATA_DEPTH) {
                return Err(too_deep(format!("line {line}, column {column}")));
            }
            serde_yaml_ng::from_str(text).map_err(|e| {
                if is_recursion_limit(&e.to_string()) {
                    too_deep(e.location().map_or_else(
                        || "an unknown position".to_owned(),
                        |at| format!("line {}, column {}", at.line(), at.column()),
                    ))
                } else {
                    ParseError::Syntax {
                        format: "YAML",
                        message: e.to_string(),
                    }
                }
            })?
        }
    };
    read(root, evaluator_order)
}

/// Reads a flag file from an already parsed document, refusing one nested
/// deeper than [`crate::MAX_DATA_DEPTH`] levels. A `Value` keeps no member
/// order, so `$evaluators` are taken in the order of their names: parse the
/// text with [`parse`] where evaluators refer to each other.
pub fn from_value(document: Value) -> Result<(FlagFile, Vec<Diagnostic>), ParseError> {
    read(document, None)
}

/// Reads a flag file from a parsed document whose `$evaluators` were
/// declared in `evaluator_order` (their names), or, when `None`, in the
/// order of their names.
fn read(
    document: Value,
    evaluator_order: Option<Vec<String>>,
) -> Result<(FlagFile, Vec<Diagnostic>), ParseError> {
    check_depth(&document)?;
    let Value::Object(mut root) = document else {
        return Err(ParseError::Shape {
            pointer: String::new(),
            message: "a flag file must be an object with a \"flags\" member".into(),
        });
    };
    let mut diagnostics = Vec::new();
    let schema = match root.get("$schema") {
        Some(Value::String(uri)) => Schema::from_schema_uri(uri).unwrap_or_default(),
        _ => Schema::default(),
    };
    let flags = match root.remove("flags") {
        Some(Value::Object(map)) => {
            if map.len() > MAX_FLAGS {
                return Err(too_many(map.len()));
            }
            map.into_iter()
                .map(|(key, definition)| RawFlag {
                    pointer: format!("/flags/{}", crate::pointer::escape(&key)),
                    key,
                    definition,
                })
                .collect()
        }
        Some(Value::Array(items)) => {
            if items.len() > MAX_FLAGS {
                return Err(too_many(items.len()));
            }
            if schema == Schema::Flags {
                diagnostics.push(Diagnostic {
                    severity: Severity::Warning,
                    flag_key: None,
                    pointer: "/flags".into(),
                    message: "flags.json requires \"flags\" to be an object; the array form is flagd.json's".into(),
                });
            }
            let mut flags = Vec::with_capacity(items.len());
            for (i, mut definition) in items.into_iter().enumerate() {
                let pointer = format!("/flags/{i}");
                let key = match definition.as_object_mut().and_then(|d| d.remove("key")) {
                    Some(Value::String(key)) if !key.is_empty() => key,
                    _ => {
                        diagnostics.push(Diagnostic {
                            severity: Severity::Error,
                            flag_key: None,
                            pointer: format!("{pointer}/key"),
                            message: "a flag in the array form needs a non-empty string \"key\""
                                .into(),
                        });
                        continue;
                    }
                };
                if flags.iter().any(|f: &RawFlag| f.key == key) {
                    diagnostics.push(Diagnostic {
                        severity: Severity::Warning,
                        flag_key: Some(key.clone()),
                        pointer: format!("{pointer}/key"),
                        message: "duplicate flag key; the later definition wins".into(),
                    });
                    flags.retain(|f: &RawFlag| f.key != key);
                }
                flags.push(RawFlag {
                    key,
                    pointer,
                    definition,
                });
            }
            flags
        }
        Some(_) => {
            return Err(ParseError::Shape {
                pointer: "/flags".into(),
                message: "\"flags\" must be an object or an array".into(),
            });
        }
        None => {
            return Err(ParseError::Shape {
                pointer: String::new(),
                message: "a flag file must have a \"flags\" member".into(),
            });
        }
    };
    let evaluators = match root.remove("$evaluators") {
        Some(Value::Object(mut map)) => match evaluator_order {
            Some(order) => {
                let mut evaluators: Evaluators = order
                    .into_iter()
                    .filter_map(|name| {
                        let rule = map.remove(&name)?;
                        Some((name, rule))
                    })
                    .collect();
                for (name, rule) in map {
                    evaluators.insert(name, rule);
                }
                evaluators
            }
            None => Evaluators::from(map),
        },
        None | Some(Value::Null) => Evaluators::new(),
        Some(_) => {
            return Err(ParseError::Shape {
                pointer: "/$evaluators".into(),
                message: "\"$evaluators\" must be an object of named rules".into(),
            });
        }
    };
    let metadata = match root.remove("metadata") {
        Some(Value::Object(map)) => map,
        None | Some(Value::Null) => Map::new(),
        Some(_) => {
            return Err(ParseError::Shape {
                pointer: "/metadata".into(),
                message: "\"metadata\" must be an object".into(),
            });
        }
    };
    Ok((
        FlagFile {
            flags,
            evaluators,
            metadata,
            schema,
        },
        diagnostics,
    ))
}

/// A parsed flag file, with the declaration order of its `$evaluators`,
/// which a `Value` (serde_json without `preserve_order`) does not keep.
#[derive(Debug)]
struct Document {
    root: Value,
    /// The names of `$evaluators`, in declaration order, when it is an
    /// object.
    evaluator_order: Option<Vec<String>>,
}

impl<'de> serde::Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (root, evaluator_order) = deserializer.deserialize_any(Ordered { root: true })?;
        Ok(Document {
            root,
            evaluator_order,
        })
    }
}

/// Reads any value as a `Value`, and an object's member names in order:
/// for the document (`root`), those of its `$evaluators` member; for
/// another object, its own.
#[derive(Debug, Clone, Copy)]
struct Ordered {
    root: bool,
}

impl<'de> DeserializeSeed<'de> for Ordered {
    type Value = (Value, Option<Vec<String>>);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Ordered {
    type Value = (Value, Option<Vec<String>>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        let mut order = Vec::new();
        while let Some(name) = access.next_key::<String>()? {
            let value = if self.root && name == "$evaluators" {
                let (value, evaluator_order) = access.next_value_seed(Ordered { root: false })?;
                order = evaluator_order.unwrap_or_default();
                value
            } else {
                access.next_value::<Value>()?
            };
            if !self.root && !map.contains_key(&name) {
                order.push(name.clone());
            }
            map.insert(name, value);
        }
        // A document without `$evaluators` (or with a non-object one) has
        // no order to keep.
        let keeps_order = !self.root || map.get("$evaluators").is_some_and(Value::is_object);
        Ok((Value::Object(map), keeps_order.then_some(order)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, access: A) -> Result<Self::Value, A::Error> {
        Ok((
            serde::Deserialize::deserialize(SeqAccessDeserializer::new(access))?,
            None,
        ))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok((Value::Bool(v), None))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok((Value::from(v), None))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok((Value::from(v), None))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok((Value::from(v), None))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok((Value::String(v.to_owned()), None))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok((Value::String(v), None))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok((Value::Null, None))
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok((Value::Null, None))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Where the flow collections (`[`, `{`) of a YAML text first nest deeper
/// than `limit`, as 1-based line and column, if they do. Brackets inside
/// quoted scalars and comments do not count; inside block and plain scalars
/// they do, so the count errs on the deep side only for texts with more
/// than `limit` unclosed brackets in their scalars.
fn yaml_flow_too_deep(text: &str, limit: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let (mut depth, mut line, mut line_start) = (0usize, 1usize, 0usize);
    // The last byte that was not a space or tab on this line, if any: a
    // quote opens a quoted scalar only where a node can start.
    let mut last: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\n' => {
                line += 1;
                line_start = i + 1;
                last = None;
            }
            b' ' | b'\t' | b'\r' => {}
            b'#' if i == line_start || matches!(bytes[i - 1], b' ' | b'\t') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' | b'\''
                if matches!(last, None | Some(b':' | b'-' | b'[' | b'{' | b',' | b'?')) =>
            {
                let quote = b;
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' if quote == b'"' => i += 1,
                        b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 1,
                        b'\n' => {
                            line += 1;
                            line_start = i + 1;
                        }
                        c if c == quote => break,
                        _ => {}
                    }
                    i += 1;
                }
                last = Some(quote);
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Some((line, i - line_start + 1));
                }
                last = Some(b);
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                last = Some(b);
            }
            other => last = Some(other),
        }
        i += 1;
    }
    None
}

/// Whether a parser's message is its recursion limit's.
fn is_recursion_limit(message: &str) -> bool {
    message.starts_with("recursion limit exceeded")
}

fn too_deep(at: String) -> ParseError {
    ParseError::TooDeep {
        at,
        limit: crate::MAX_DATA_DEPTH,
    }
}

/// The members of an array or object being walked.
enum Members<'v> {
    Array(std::iter::Enumerate<std::slice::Iter<'v, Value>>),
    Object(serde_json::map::Iter<'v>),
}

impl<'v> Members<'v> {
    fn of(value: &'v Value) -> Option<Self> {
        match value {
            Value::Array(items) => Some(Members::Array(items.iter().enumerate())),
            Value::Object(map) => Some(Members::Object(map.iter())),
            _ => None,
        }
    }

    /// The next member that is itself an array or object, with its key.
    fn next_container(&mut self) -> Option<(String, &'v Value)> {
        loop {
            let (key, value) = match self {
                Members::Array(items) => {
                    let (i, value) = items.next()?;
                    (i.to_string(), value)
                }
                Members::Object(members) => {
                    let (key, value) = members.next()?;
                    (crate::pointer::escape(key).into_owned(), value)
                }
            };
            if value.is_array() || value.is_object() {
                return Some((key, value));
            }
        }
    }
}

/// Refuses a document nested deeper than [`crate::MAX_DATA_DEPTH`], naming
/// the first array or object too deep. Walks without recursing.
fn check_depth(document: &Value) -> Result<(), ParseError> {
    let Some(root) = Members::of(document) else {
        return Ok(());
    };
    let mut stack = vec![root];
    let mut path: Vec<String> = Vec::new();
    while let Some(top) = stack.last_mut() {
        match top.next_container() {
            Some((key, child)) => {
                path.push(key);
                if stack.len() >= crate::MAX_DATA_DEPTH {
                    return Err(too_deep(format!("/{}", path.join("/"))));
                }
                if let Some(members) = Members::of(child) {
                    stack.push(members);
                }
            }
            None => {
                stack.pop();
                path.pop();
            }
        }
    }
    Ok(())
}

fn too_many(count: usize) -> ParseError {
    ParseError::TooLarge {
        message: format!("{count} flags, the limit is {MAX_FLAGS}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_map_and_array_forms_alike() {
        let map = r#"{"flags": {"a": {"state": "ENABLED"}}}"#;
        let array = r#"{"flags": [{"key": "a", "state": "ENABLED"}]}"#;
        let (from_map, d1) = parse(map, Format::Json).unwrap();
        let (from_array, d2) = parse(array, Format::Json).unwrap();
        assert!(d1.is_empty() && d2.is_empty());
        assert_eq!(from_map.flags[0].key, "a");
        assert_eq!(from_map.flags[0].definition, from_array.flags[0].definition);
        assert_eq!(from_array.flags[0].pointer, "/flags/0");
    }

    #[test]
    fn reads_yaml() {
        let yaml = "flags:\n  a:\n    state: ENABLED\n    variants: {on: true}\n";
        let (file, _) = parse(yaml, Format::Yaml).unwrap();
        assert_eq!(
            file.flags[0].definition["variants"]["on"],
            Value::Bool(true)
        );
    }

    #[test]
    fn rejects_what_is_not_a_flag_file() {
        let cases = [
            ("[]", "a flag file must be an object"),
            ("{}", "must have a \"flags\" member"),
            (r#"{"flags": 3}"#, "\"flags\" must be an object or an array"),
            ("{", "JSON syntax error"),
        ];
        for (text, expect) in cases {
            let err = parse(text, Format::Json).unwrap_err().to_string();
            assert!(err.contains(expect), "{text}: {err}");
        }
    }

    #[test]
    fn evaluators_keep_declaration_order_in_json_and_yaml() {
        let names = |text: &str, format: Format| -> Vec<String> {
            let (file, _) = parse(text, format).unwrap();
            file.evaluators.keys().cloned().collect()
        };
        let json = r#"{"$evaluators": {"z": 1, "a": {"k": 2}, "m": 3, "a": 4}, "flags": {}}"#;
        assert_eq!(names(json, Format::Json), ["z", "a", "m"]);
        let (file, _) = parse(json, Format::Json).unwrap();
        assert_eq!(file.evaluators.get("a"), Some(&Value::from(4)));
        let yaml = "flags: {}\n$evaluators:\n  z: 1\n  a: {k: 2}\n  m: 3\n";
        assert_eq!(names(yaml, Format::Yaml), ["z", "a", "m"]);
        // An already parsed document has no order left: names in order.
        let (file, _) = from_value(serde_json::from_str(json).unwrap()).unwrap();
        assert_eq!(file.evaluators.keys().collect::<Vec<_>>(), ["a", "m", "z"]);
        let err = parse(r#"{"$evaluators": [], "flags": {}}"#, Format::Json).unwrap_err();
        assert!(err.to_string().contains("must be an object"), "{err}");
    }

    #[test]
    fn array_form_is_a_warning_under_flags_schema() {
        let text = r#"{"$schema": "../flags.json", "flags": [{"key": "a"}]}"#;
        let (_, diagnostics) = parse(text, Format::Json).unwrap();
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].pointer, "/flags");
    }
}
