//! Snapshots: every flag set of every source, compiled, immutable, swapped
//! atomically under readers; selectors; and the diff between two snapshots
//! that drives change events.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;
use serde::Serialize;
use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::flagset::{CompileOptions, FlagEntry, FlagSet, empty_metadata};
use crate::hash::ContentHasher;
use crate::logic::Trace;
use crate::model::{self, FlagFile, Format, ParseError};
use crate::resolution::{ErrorCode, Resolution};

/// One source's contribution to a snapshot.
#[derive(Debug, Clone)]
pub struct SourceState {
    /// The source's name (a file path, URL, ...), usable as a selector.
    pub name: Arc<str>,
    /// Its compiled flag set.
    pub set: Arc<FlagSet>,
}

/// Picks the flags a client sees, as flagd's selectors do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Selector {
    /// Every flag set, merged by precedence.
    All,
    /// The flag sets with this `flagSetId`.
    FlagSetId(String),
    /// The flag set of one source.
    Source(String),
}

impl Selector {
    /// Parses flagd's selector syntax: `flagSetId=ID`, `source=NAME`, or a bare
    /// source name (flagd's older form). An empty string selects everything.
    pub fn parse(s: &str) -> Selector {
        let s = s.trim();
        if s.is_empty() {
            return Selector::All;
        }
        match s.split_once('=') {
            Some((k, v)) if k.trim() == "flagSetId" => Selector::FlagSetId(v.trim().to_owned()),
            Some((k, v)) if k.trim() == "source" => Selector::Source(v.trim().to_owned()),
            _ => Selector::Source(s.to_owned()),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::All => Ok(()),
            Selector::FlagSetId(id) => write!(f, "flagSetId={id}"),
            Selector::Source(s) => write!(f, "source={s}"),
        }
    }
}

/// A compiled, immutable state of all flags.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    sources: Vec<SourceState>,
    /// For every key, the index of the source whose flag wins (the last).
    merged: FxHashMap<Arc<str>, usize>,
    version: u64,
}

impl Snapshot {
    /// Assembles a snapshot from sources in precedence order (a later source
    /// wins for the same key).
    pub fn from_sources(sources: Vec<SourceState>) -> Snapshot {
        let mut merged = FxHashMap::default();
        let mut hasher = ContentHasher::default();
        for (i, source) in sources.iter().enumerate() {
            hasher.write_str(&source.name);
            hasher.write(&source.set.version().to_le_bytes());
            for key in source.set.keys() {
                if let Some(entry) = source.set.get(key) {
                    merged.insert(Arc::from(entry.key()), i);
                }
            }
        }
        Snapshot {
            sources,
            merged,
            version: hasher.finish(),
        }
    }

    /// Parses and compiles one flag file as the only source.
    pub fn from_text(
        name: &str,
        text: &str,
        format: Format,
        options: &CompileOptions,
    ) -> Result<(Snapshot, Vec<Diagnostic>), ParseError> {
        Snapshot::default().reload_source(name, text, format, options)
    }

    /// A new snapshot in which one source is replaced by a newly parsed file
    /// (or added at the end). Flags of that source that no longer compile keep
    /// their last good version.
    pub fn with_source(
        &self,
        name: &str,
        file: &FlagFile,
        options: &CompileOptions,
    ) -> (Snapshot, Vec<Diagnostic>) {
        let previous = self.sources.iter().find(|s| &*s.name == name);
        let (set, diagnostics) = FlagSet::compile(name, file, options, previous.map(|s| &*s.set));
        let set = Arc::new(set);
        let mut sources = self.sources.clone();
        match sources.iter_mut().find(|s| &*s.name == name) {
            Some(slot) => slot.set = set,
            None => sources.push(SourceState {
                name: name.into(),
                set,
            }),
        }
        (Snapshot::from_sources(sources), diagnostics)
    }

    /// Reloads one source from its text. A file that does not parse is an
    /// error and changes nothing: the caller keeps serving `self`, the last
    /// good state. Otherwise see [`Snapshot::with_source`].
    pub fn reload_source(
        &self,
        name: &str,
        text: &str,
        format: Format,
        options: &CompileOptions,
    ) -> Result<(Snapshot, Vec<Diagnostic>), ParseError> {
        let (file, mut diagnostics) = model::parse(text, format)?;
        let (snapshot, more) = self.with_source(name, &file, options);
        diagnostics.extend(more);
        Ok((snapshot, diagnostics))
    }

    /// The sources, in precedence order.
    pub fn sources(&self) -> &[SourceState] {
        &self.sources
    }

    /// Content version: equal snapshots have equal versions in every process.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The version as an HTTP entity tag (quoted).
    pub fn etag(&self) -> String {
        format!("\"{:016x}\"", self.version)
    }

    /// Finds the flag set that serves `key` under `selector`.
    pub fn flag_set_for(&self, key: &str, selector: &Selector) -> Option<&Arc<FlagSet>> {
        match selector {
            Selector::All => self
                .merged
                .get(key)
                .and_then(|&i| self.sources.get(i))
                .map(|s| &s.set),
            _ => self
                .sources
                .iter()
                .rev()
                .filter(|s| selects(selector, s))
                .find(|s| s.set.get(key).is_some())
                .map(|s| &s.set),
        }
    }

    /// The ids of the flag sets `selector` picks, each once, in precedence
    /// order.
    pub fn flag_set_ids(&self, selector: &Selector) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for source in self.sources.iter().filter(|s| selects(selector, s)) {
            if !ids.contains(&source.set.id()) {
                ids.push(source.set.id());
            }
        }
        ids
    }

    /// Every flag visible under `selector`, each from the flag set that wins it,
    /// sorted by key.
    pub fn visible(&self, selector: &Selector) -> Vec<(&Arc<FlagSet>, &FlagEntry)> {
        let selected = self.sources.iter().filter(|s| selects(selector, s));
        // One flag set, the usual case: its entries are already sorted and
        // there is nothing to merge.
        if let (Some(only), None) = (selected.clone().next(), selected.clone().nth(1)) {
            return only.set.entries().map(|entry| (&only.set, entry)).collect();
        }
        let mut winners: BTreeMap<&str, (&Arc<FlagSet>, &FlagEntry)> = BTreeMap::new();
        for source in selected {
            for entry in source.set.entries() {
                winners.insert(entry.key(), (&source.set, entry));
            }
        }
        winners.into_values().collect()
    }

    /// Evaluates one flag against a JSON context: looks up only what that flag
    /// reads.
    pub fn evaluate<'s>(
        &'s self,
        key: &'s str,
        selector: &Selector,
        context: &Value,
    ) -> Resolution<'s> {
        match self.flag_set_for(key, selector) {
            Some(set) => {
                let prepared = set.prepare_for(key, context);
                set.evaluate(key, &prepared)
            }
            None => not_found(key),
        }
    }

    /// Evaluates one flag against a context given as JSON text, parsing out
    /// only what that flag reads.
    pub fn evaluate_json<'s>(
        &'s self,
        key: &'s str,
        selector: &Selector,
        text: &str,
    ) -> Resolution<'s> {
        match self.flag_set_for(key, selector) {
            Some(set) => set.evaluate_json(key, text),
            None => match crate::extract::PathTrie::default().extract(text, 0) {
                Ok(_) => not_found(key),
                Err(error) => Resolution::error(
                    key,
                    ErrorCode::InvalidContext,
                    error.to_string(),
                    empty_metadata(),
                ),
            },
        }
    }

    /// Evaluates one flag and records its decision path.
    pub fn explain<'s>(
        &'s self,
        key: &'s str,
        selector: &Selector,
        context: &Value,
    ) -> (Resolution<'s>, Trace) {
        match self.flag_set_for(key, selector) {
            Some(set) => {
                let prepared = set.prepare_for(key, context);
                set.explain(key, &prepared)
            }
            None => (not_found(key), Trace::new()),
        }
    }

    /// Lists what changed from `self` to `newer`.
    pub fn diff(&self, newer: &Snapshot) -> Changes {
        let hashes = |s: &Snapshot| -> BTreeMap<String, u64> {
            s.visible(&Selector::All)
                .into_iter()
                .map(|(_, e)| (e.key().to_owned(), e.content_hash()))
                .collect()
        };
        let (old, new) = (hashes(self), hashes(newer));
        let mut changes = Changes {
            old_version: self.version,
            new_version: newer.version,
            ..Changes::default()
        };
        for (key, hash) in &new {
            match old.get(key) {
                None => changes.added.push(key.clone()),
                Some(h) if h != hash => changes.changed.push(key.clone()),
                Some(_) => {}
            }
        }
        changes.removed = old
            .keys()
            .filter(|k| !new.contains_key(*k))
            .cloned()
            .collect();
        changes
    }
}

fn selects(selector: &Selector, source: &SourceState) -> bool {
    match selector {
        Selector::All => true,
        Selector::FlagSetId(id) => source.set.id() == id,
        Selector::Source(name) => &*source.name == name,
    }
}

fn not_found(key: &str) -> Resolution<'_> {
    Resolution::error(
        key,
        ErrorCode::FlagNotFound,
        format!("flag {key:?} not found"),
        empty_metadata(),
    )
}

/// The flag keys that differ between two snapshots: the change event that
/// servers, SDK event streams and audit alerts consume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// Version before.
    #[serde(rename = "oldVersion")]
    pub old_version: u64,
    /// Version after.
    #[serde(rename = "newVersion")]
    pub new_version: u64,
    /// Keys that appeared.
    pub added: Vec<String>,
    /// Keys whose definition or metadata changed.
    pub changed: Vec<String>,
    /// Keys that disappeared.
    pub removed: Vec<String>,
}

impl Changes {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }

    /// Every changed key, sorted.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .added
            .iter()
            .chain(&self.changed)
            .chain(&self.removed)
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys
    }
}

/// The current snapshot, readable without locks and replaced atomically.
#[derive(Debug)]
pub struct SnapshotCell {
    current: ArcSwap<Snapshot>,
}

impl Default for SnapshotCell {
    fn default() -> Self {
        SnapshotCell::new(Snapshot::default())
    }
}

impl SnapshotCell {
    /// A cell holding `snapshot`.
    pub fn new(snapshot: Snapshot) -> Self {
        SnapshotCell {
            current: ArcSwap::from_pointee(snapshot),
        }
    }

    /// The current snapshot (a cheap, lock-free load).
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Replaces the snapshot and returns what changed.
    pub fn store(&self, snapshot: Snapshot) -> Changes {
        let new = Arc::new(snapshot);
        let old = self.current.swap(Arc::clone(&new));
        old.diff(&new)
    }
}
