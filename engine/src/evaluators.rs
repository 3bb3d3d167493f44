//! Shared evaluators (`$evaluators`): kept in declaration order, and
//! substituted for `{"$ref": name}` in one pass in that order, as flagd's
//! in-process evaluators do.
//!
//! flagd's JavaScript and Python evaluators replace the text
//! `{"$ref":"name"}` by each evaluator's rule, evaluator after evaluator in
//! declaration order, over the whole flag text, once. A reference inside
//! evaluator `b` is therefore resolved only when it names an evaluator
//! declared after `b` (whose turn comes after `b`'s rule was pasted); one
//! naming `b` itself or an evaluator declared before `b` stays in the text,
//! and the flag using it does not parse. A reference written in a flag
//! resolves to any evaluator. flagd's documentation does not support
//! references between evaluators at all, so each one is also reported as a
//! warning ([`Evaluators::ref_warnings`]).

use rustc_hash::FxHashMap;
use serde_json::{Map, Value};

use crate::diagnostic::{Diagnostic, Severity};

/// What is wrong with a `$ref` inside `$evaluators`: the message of the
/// warning [`Evaluators::ref_warnings`] gives, and of the error a store
/// gives for a segment (a stored evaluator) holding one.
pub const EVALUATOR_REF_MESSAGE: &str = "a shared evaluator (segment) that refers to another ($ref) is not supported by flagd: \
     only a reference to one declared later resolves";

/// The shared rules of a flag file, in declaration order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluators {
    entries: Vec<(String, Value)>,
    /// Position in `entries` by name. Names come from flag files, never
    /// from requests, so a fast non-keyed hash is safe here.
    positions: FxHashMap<String, usize>,
}

/// What a `$ref` names, seen from where it is written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RefTarget<'e> {
    /// An evaluator the reference resolves to.
    Resolved {
        /// Its position in declaration order.
        index: usize,
        /// Its rule.
        rule: &'e Value,
    },
    /// An evaluator declared at or before the one the reference is written
    /// in: its turn in the pass came before the reference was pasted, so
    /// the reference stays unresolved.
    NotLater {
        /// Its position in declaration order.
        index: usize,
    },
    /// No evaluator has that name.
    Unknown,
}

impl Evaluators {
    /// No evaluators.
    pub fn new() -> Self {
        Evaluators::default()
    }

    /// Adds an evaluator at the end. A name already present keeps its
    /// place and takes the new rule, as a JSON object's later duplicate
    /// member does in flagd's evaluators.
    pub fn insert(&mut self, name: String, rule: Value) {
        match self.positions.get(&name) {
            Some(&i) => {
                if let Some(entry) = self.entries.get_mut(i) {
                    entry.1 = rule;
                }
            }
            None => {
                self.positions.insert(name.clone(), self.entries.len());
                self.entries.push((name, rule));
            }
        }
    }

    /// The rule of an evaluator.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.position(name)
            .and_then(|i| self.entries.get(i))
            .map(|(_, rule)| rule)
    }

    /// An evaluator's position in declaration order.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.positions.get(name).copied()
    }

    /// The evaluator at a position in declaration order.
    pub fn get_index(&self, index: usize) -> Option<(&String, &Value)> {
        self.entries.get(index).map(|(name, rule)| (name, rule))
    }

    /// How many evaluators there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The evaluators in declaration order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }

    /// The names in declaration order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.iter().map(|(name, _)| name)
    }

    /// What `{"$ref": name}` names when written inside the evaluator at
    /// position `within`, or in a flag (`None`).
    pub fn target(&self, name: &str, within: Option<usize>) -> RefTarget<'_> {
        match (self.position(name), within) {
            (None, _) => RefTarget::Unknown,
            (Some(index), Some(within)) if index <= within => RefTarget::NotLater { index },
            (Some(index), _) => match self.entries.get(index) {
                Some((_, rule)) => RefTarget::Resolved { index, rule },
                None => RefTarget::Unknown,
            },
        }
    }

    /// `value` (a flag definition) after the one-pass substitution: every
    /// `{"$ref": name}` in it replaced by the named evaluator's rule, whose
    /// own references are replaced only where they name an evaluator
    /// declared after it; the others are left as written. Substitution
    /// stops at the nesting limit of documents ([`crate::MAX_DATA_DEPTH`]),
    /// so the result is always a readable document.
    pub fn substitute(&self, value: &Value) -> Value {
        self.substitute_within(value, None, 1)
    }

    fn substitute_within(&self, value: &Value, within: Option<usize>, depth: usize) -> Value {
        match value {
            Value::Object(map) if depth < crate::MAX_DATA_DEPTH => {
                if let (1, Some(Value::String(name))) = (map.len(), map.get("$ref"))
                    && let RefTarget::Resolved { index, rule } = self.target(name, within)
                {
                    return self.substitute_within(rule, Some(index), depth);
                }
                Value::Object(
                    map.iter()
                        .map(|(k, v)| (k.clone(), self.substitute_within(v, within, depth + 1)))
                        .collect(),
                )
            }
            Value::Array(items) if depth < crate::MAX_DATA_DEPTH => Value::Array(
                items
                    .iter()
                    .map(|v| self.substitute_within(v, within, depth + 1))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// A warning for every `$ref` member inside `$evaluators`, with its
    /// JSON pointer (`/$evaluators/{name}/.../$ref`), in declaration order.
    pub fn ref_warnings(&self) -> Vec<Diagnostic> {
        self.iter()
            .flat_map(|(name, rule)| {
                ref_pointers(
                    rule,
                    &format!("/$evaluators/{}", crate::pointer::escape(name)),
                )
            })
            .map(|pointer| Diagnostic {
                severity: Severity::Warning,
                flag_key: None,
                pointer,
                message: EVALUATOR_REF_MESSAGE.to_owned(),
            })
            .collect()
    }
}

/// The evaluators in declaration order, as `(name, rule)`.
#[derive(Debug, Clone)]
pub struct Iter<'e>(std::slice::Iter<'e, (String, Value)>);

impl<'e> Iterator for Iter<'e> {
    type Item = (&'e String, &'e Value);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(name, rule)| (name, rule))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'e> IntoIterator for &'e Evaluators {
    type Item = (&'e String, &'e Value);
    type IntoIter = Iter<'e>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl FromIterator<(String, Value)> for Evaluators {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        let mut evaluators = Evaluators::new();
        for (name, rule) in iter {
            evaluators.insert(name, rule);
        }
        evaluators
    }
}

impl From<Map<String, Value>> for Evaluators {
    /// The map's members in its own order (without serde_json's
    /// `preserve_order`, the order of their keys).
    fn from(map: Map<String, Value>) -> Self {
        map.into_iter().collect()
    }
}

/// The JSON pointer of every member named `$ref` in `rule`, whatever its
/// value or neighbours, each under `base`; a `$ref` member's own value is
/// not searched.
pub fn ref_pointers(rule: &Value, base: &str) -> Vec<String> {
    let mut found = Vec::new();
    collect_ref_pointers(rule, base, &mut found);
    found
}

fn collect_ref_pointers(value: &Value, pointer: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (name, child) in map {
                let pointer = format!("{pointer}/{}", crate::pointer::escape(name));
                if name == "$ref" {
                    found.push(pointer);
                } else {
                    collect_ref_pointers(child, &pointer, found);
                }
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                collect_ref_pointers(child, &format!("{pointer}/{index}"), found);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn evaluators(pairs: &[(&str, Value)]) -> Evaluators {
        pairs
            .iter()
            .map(|(name, rule)| ((*name).to_owned(), rule.clone()))
            .collect()
    }

    #[test]
    fn keeps_declaration_order_and_the_first_place_of_a_duplicate() {
        let mut e = evaluators(&[("z", json!(1)), ("a", json!(2))]);
        e.insert("z".into(), json!(3));
        let listed: Vec<(&str, &Value)> = e.iter().map(|(k, v)| (k.as_str(), v)).collect();
        assert_eq!(listed, [("z", &json!(3)), ("a", &json!(2))]);
        assert_eq!(e.position("a"), Some(1));
    }

    #[test]
    fn targets_follow_the_one_pass_rule() {
        let e = evaluators(&[("a", json!(1)), ("b", json!(2)), ("c", json!(3))]);
        let cases = [
            ("a", None, "resolved 0"),
            ("c", None, "resolved 2"),
            ("c", Some(1), "resolved 2"),
            ("b", Some(1), "not later 1"),
            ("a", Some(1), "not later 0"),
            ("x", None, "unknown"),
        ];
        for (name, within, expect) in cases {
            let got = match e.target(name, within) {
                RefTarget::Resolved { index, .. } => format!("resolved {index}"),
                RefTarget::NotLater { index } => format!("not later {index}"),
                RefTarget::Unknown => "unknown".to_owned(),
            };
            assert_eq!(got, expect, "{name} within {within:?}");
        }
    }

    #[test]
    fn ref_pointers_find_every_ref_member() {
        let rule = json!({"and": [{"$ref": "a"}, {"x/y": {"$ref": 3, "other": 1}}]});
        assert_eq!(
            ref_pointers(&rule, "/$evaluators/s"),
            [
                "/$evaluators/s/and/0/$ref",
                "/$evaluators/s/and/1/x~1y/$ref"
            ]
        );
    }
}
