//! Reading a request context from JSON text, keeping only the paths the
//! rules read.
//!
//! A single-flag request needs a handful of values out of a context that may
//! have dozens of keys. [`PathTrie::extract`] walks the text once and builds
//! only the subtrees on the trie's paths; everything else is skipped by the
//! parser without being allocated.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::logic::Seg;

/// The set of paths to keep, as a trie of keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathTrie {
    children: HashMap<Box<str>, PathTrie>,
    /// Keep this whole subtree.
    whole: bool,
}

/// Why a context could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// Not JSON.
    #[error("the evaluation context is not valid JSON: {0}")]
    Syntax(String),
    /// JSON, but not an object.
    #[error("the evaluation context must be a JSON object")]
    NotAnObject,
}

impl PathTrie {
    /// Adds a path (its last segment's whole value is kept).
    pub(crate) fn insert(&mut self, path: &[Seg]) {
        let mut node = self;
        for seg in path {
            if node.whole {
                return;
            }
            node = node.children.entry(seg.key.clone()).or_default();
        }
        node.whole = true;
        node.children.clear();
    }

    /// Parses a context, keeping only the trie's paths.
    pub fn extract(&self, text: &str) -> Result<Value, ContextError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let value = RootSeed(self).deserialize(&mut de).map_err(classify)?;
        de.end().map_err(classify)?;
        Ok(value)
    }
}

/// Parses a whole context.
pub fn parse_context(text: &str) -> Result<Value, ContextError> {
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(ContextError::NotAnObject),
        Err(e) => Err(ContextError::Syntax(e.to_string())),
    }
}

fn classify(error: serde_json::Error) -> ContextError {
    if error.to_string().starts_with(NOT_OBJECT) {
        ContextError::NotAnObject
    } else {
        ContextError::Syntax(error.to_string())
    }
}

const NOT_OBJECT: &str = "evaluation context is not an object";

struct RootSeed<'t>(&'t PathTrie);

impl<'de> DeserializeSeed<'de> for RootSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        struct RootVisitor<'t>(&'t PathTrie);
        impl<'de> Visitor<'de> for RootVisitor<'_> {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
                TrieVisitor(self.0).visit_map(map)
            }
        }
        d.deserialize_map(RootVisitor(self.0))
            .map_err(|e: D::Error| {
                let text = e.to_string();
                if text.starts_with("invalid type") {
                    de::Error::custom(NOT_OBJECT)
                } else {
                    e
                }
            })
    }
}

struct TrieSeed<'t>(&'t PathTrie);

impl<'de> DeserializeSeed<'de> for TrieSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.0.whole {
            Value::deserialize(d)
        } else {
            d.deserialize_any(TrieVisitor(self.0))
        }
    }
}

struct TrieVisitor<'t>(&'t PathTrie);

impl<'de> Visitor<'de> for TrieVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(found) = map.next_key_seed(KeySeed(self.0))? {
            match found {
                Some((key, child)) => {
                    let value = map.next_value_seed(TrieSeed(child))?;
                    out.insert(key, value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        // Elements no path reads stay null: nothing looks at them.
        let mut out = Vec::new();
        let mut index = 0usize;
        loop {
            let child = self.0.children.get(index.to_string().as_str());
            let element = match child {
                Some(child) => seq.next_element_seed(TrieSeed(child))?,
                None => seq.next_element::<IgnoredAny>()?.map(|_| Value::Null),
            };
            match element {
                Some(value) => out.push(value),
                None => break,
            }
            index += 1;
        }
        Ok(Value::Array(out))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// Reads an object key and looks it up in the trie without allocating when
/// the key is not wanted.
struct KeySeed<'t>(&'t PathTrie);

impl<'de, 't> DeserializeSeed<'de> for KeySeed<'t> {
    type Value = Option<(String, &'t PathTrie)>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 't> Visitor<'de> for KeySeed<'t> {
    type Value = Option<(String, &'t PathTrie)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.children.get(v).map(|child| (v.to_owned(), child)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::split_path;
    use serde_json::json;

    fn trie(paths: &[&str]) -> PathTrie {
        let mut t = PathTrie::default();
        for p in paths {
            t.insert(&split_path(p));
        }
        t
    }

    #[test]
    fn keeps_only_wanted_paths() {
        let t = trie(&["user.name", "tags.1", "plan"]);
        let text = r#"{"user": {"name": "ada", "age": 36, "bio": "x"}, "tags": ["a", {"b": 1}],
                       "plan": {"tier": "pro"}, "noise": [1, 2, {"deep": true}]}"#;
        let got = t.extract(text).unwrap();
        assert_eq!(
            got,
            json!({"user": {"name": "ada"}, "tags": [null, {"b": 1}], "plan": {"tier": "pro"}})
        );
    }

    #[test]
    fn a_shorter_path_keeps_the_whole_subtree() {
        let t = trie(&["user.name", "user"]);
        let got = t
            .extract(r#"{"user": {"name": "ada", "age": 36}}"#)
            .unwrap();
        assert_eq!(got, json!({"user": {"name": "ada", "age": 36}}));
    }

    #[test]
    fn rejects_bad_contexts() {
        let t = trie(&["a"]);
        assert_eq!(t.extract("[1]"), Err(ContextError::NotAnObject));
        assert_eq!(t.extract("3"), Err(ContextError::NotAnObject));
        assert!(matches!(
            t.extract("{\"a\": "),
            Err(ContextError::Syntax(_))
        ));
        assert!(matches!(t.extract("{} x"), Err(ContextError::Syntax(_))));
        assert_eq!(parse_context("[]"), Err(ContextError::NotAnObject));
    }

    #[test]
    fn escaped_keys_are_matched() {
        let t = trie(&["a\"b"]);
        let got = t.extract(r#"{"a\"b": 1, "c": 2}"#).unwrap();
        assert_eq!(got, json!({"a\"b": 1}));
    }
}
