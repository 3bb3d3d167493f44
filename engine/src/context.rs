//! Evaluation contexts: the paths a flag set's rules read, and a request
//! context prepared once so that every `var` is an index, not a lookup.

use std::collections::HashMap;

use serde_json::Value;

use crate::logic::{Seg, Val};

/// Index of an interned root-level variable path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotId(pub(crate) u32);

/// The context key OpenFeature uses for the targeting key.
pub const TARGETING_KEY: &str = "targetingKey";

/// The root-level variable paths read by the rules of one flag set.
///
/// Slot 0 is always `targetingKey` (the shorthand `fractional` reads it).
#[derive(Debug, Clone)]
pub struct PathTable {
    paths: Vec<Box<[Seg]>>,
    names: Vec<Box<str>>,
    index: HashMap<Box<str>, SlotId>,
}

impl Default for PathTable {
    fn default() -> Self {
        let mut table = PathTable {
            paths: Vec::new(),
            names: Vec::new(),
            index: HashMap::new(),
        };
        table.intern(TARGETING_KEY);
        table
    }
}

impl PathTable {
    /// The slot of `targetingKey`.
    pub const TARGETING_KEY: SlotId = SlotId(0);

    /// Interns a dotted path and returns its slot.
    pub fn intern(&mut self, dotted: &str) -> SlotId {
        if let Some(id) = self.index.get(dotted) {
            return *id;
        }
        let id = SlotId(u32::try_from(self.paths.len()).unwrap_or(u32::MAX));
        self.paths.push(split_path(dotted));
        self.names.push(dotted.into());
        self.index.insert(dotted.into(), id);
        id
    }

    /// Number of interned paths.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether no path is interned (never true: `targetingKey` always is).
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The segments of a slot's path.
    pub(crate) fn path(&self, slot: SlotId) -> &[Seg] {
        self.paths.get(slot.0 as usize).map_or(&[], |p| p)
    }

    /// A trie of the given slots' paths, for reading only those out of
    /// context text.
    pub fn trie(&self, slots: &[SlotId]) -> crate::extract::PathTrie {
        let mut trie = crate::extract::PathTrie::default();
        for slot in slots {
            trie.insert(self.path(*slot), *slot);
        }
        trie.number();
        trie
    }

    /// The dotted path of a slot.
    pub fn name(&self, slot: SlotId) -> &str {
        self.names.get(slot.0 as usize).map_or("", |s| s)
    }

    /// Looks every slot up in `context` (all of them, for bulk evaluation).
    pub fn prepare<'c>(&self, context: &'c Value) -> Prepared<'c> {
        let slots = self
            .paths
            .iter()
            .map(|path| lookup_path(context, path).map(Val::from_json))
            .collect();
        Prepared {
            root: context,
            slots,
            timestamp: None,
        }
    }

    /// Looks up only the given slots (a single-flag evaluation reads only
    /// what that flag's rules read).
    pub fn prepare_only<'c>(&self, context: &'c Value, only: &[SlotId]) -> Prepared<'c> {
        let mut slots = vec![None; self.paths.len()];
        for id in only {
            if let (Some(slot), Some(path)) =
                (slots.get_mut(id.0 as usize), self.paths.get(id.0 as usize))
            {
                *slot = lookup_path(context, path).map(Val::from_json);
            }
        }
        Prepared {
            root: context,
            slots,
            timestamp: None,
        }
    }
}

/// A request context with every interned path already looked up.
///
/// It borrows the caller's context (a JSON object), so preparing costs one
/// lookup per slot and no copies.
#[derive(Debug, Clone)]
pub struct Prepared<'c> {
    pub(crate) root: &'c Value,
    pub(crate) slots: Vec<Option<Val<'c>>>,
    pub(crate) timestamp: Option<i64>,
}

static EMPTY_OBJECT: std::sync::LazyLock<Value> =
    std::sync::LazyLock::new(|| Value::Object(serde_json::Map::new()));

impl<'c> Prepared<'c> {
    /// A context made of slot values read straight from JSON text (see
    /// [`crate::extract::PathTrie::extract`]), with the arrays and objects
    /// read into slots lent from `composites`; only for rules that read
    /// nothing but their slots.
    pub fn from_extracted(
        mut slots: Vec<Option<Val<'c>>>,
        composites: &'c [(usize, Value)],
    ) -> Self {
        for (slot, value) in composites {
            if let Some(cell) = slots.get_mut(*slot) {
                *cell = Some(Val::from_json(value));
            }
        }
        Prepared {
            root: &EMPTY_OBJECT,
            slots,
            timestamp: None,
        }
    }

    /// Sets the value of `$flagd.timestamp` (seconds since the Unix epoch).
    /// Without it, evaluation reads the system clock when a rule asks.
    pub fn with_timestamp(mut self, unix_seconds: i64) -> Self {
        self.timestamp = Some(unix_seconds);
        self
    }

    /// The context this was prepared from.
    pub fn root(&self) -> &'c Value {
        self.root
    }

    pub(crate) fn slot(&self, id: SlotId) -> Option<&Val<'c>> {
        self.slots.get(id.0 as usize).and_then(Option::as_ref)
    }
}

/// Splits a dotted JSONLogic path into segments.
pub(crate) fn split_path(dotted: &str) -> Box<[Seg]> {
    if dotted.is_empty() {
        return Box::new([]);
    }
    dotted.split('.').map(Seg::new).collect()
}

/// Follows a path from the root context; `None` when a segment is absent.
pub(crate) fn lookup_path<'c>(root: &'c Value, path: &[Seg]) -> Option<&'c Value> {
    let mut current = root;
    for seg in path {
        current = step(current, seg)?;
    }
    Some(current)
}

/// Follows one segment into an object or array.
pub(crate) fn step<'v>(value: &'v Value, seg: &Seg) -> Option<&'v Value> {
    match value {
        Value::Object(map) => map.get(&*seg.key),
        Value::Array(items) => seg.index.and_then(|i| items.get(i)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slots_are_looked_up_once() {
        let mut table = PathTable::default();
        let user_name = table.intern("user.name");
        let first_tag = table.intern("tags.0");
        assert_eq!(table.intern("user.name"), user_name);
        let ctx = json!({"targetingKey": "k", "user": {"name": "ada"}, "tags": ["x"]});
        let prepared = table.prepare(&ctx);
        let s = |v: &'static str| Some(Val::Str(v.into()));
        assert_eq!(prepared.slot(PathTable::TARGETING_KEY).cloned(), s("k"));
        assert_eq!(prepared.slot(user_name).cloned(), s("ada"));
        assert_eq!(prepared.slot(first_tag).cloned(), s("x"));
        let only = table.prepare_only(&ctx, &[user_name]);
        assert_eq!(only.slot(user_name).cloned(), s("ada"));
        assert_eq!(only.slot(first_tag), None);
    }
}
