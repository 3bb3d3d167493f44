//! Sync sources, flagd-style: files (watched), HTTP(S) URLs (polled with
//! ETag) and gRPC sync from another flagd-compatible server, several at
//! once.
//!
//! Each source hands the text of its flag file to the [`Loader`], which
//! compiles it against that source's previous flag set (an invalid flag
//! keeps its last good version), assembles a snapshot of every source in
//! configured order (a later source wins for the same key), and publishes
//! it. A source that fails — unreachable, unparseable — changes nothing:
//! evaluation keeps serving the last good state, and the failure is logged
//! and counted in `/metrics`.

pub mod feed;
pub mod file;
pub mod grpc;
pub mod http;
pub mod redis;
pub mod spec;

use std::sync::Arc;

use tokio::sync::Mutex;

use engine::publication::{TIMING_TARGET, timestamp_micros};
use engine::{CompileOptions, Diagnostic, FlagSet, Format, Snapshot, SourceState};

use crate::server::Flags;

pub use spec::{SourceKind, SourceSpec, SpecError};

/// Compiles what sources deliver into published snapshots.
#[derive(Debug)]
pub struct Loader {
    flags: Arc<Flags>,
    options: CompileOptions,
    names: Vec<Arc<str>>,
    /// Each source's last good flag sets, in configured order. A file or
    /// URL delivers one flag set; a store-backed source (Redis, the
    /// embedded store) delivers one per flag set it holds.
    sets: Mutex<Vec<Option<Vec<SourceState>>>>,
}

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The text does not parse: the source keeps its last good state.
    #[error("{name}: {error}")]
    Parse {
        /// The source's name.
        name: Arc<str>,
        /// The parser's complaint.
        error: engine::ParseError,
    },
}

impl Loader {
    /// A loader for sources with these names, in precedence order.
    pub fn new(flags: Arc<Flags>, options: CompileOptions, names: Vec<Arc<str>>) -> Arc<Loader> {
        let sets = Mutex::new(vec![None; names.len()]);
        Arc::new(Loader {
            flags,
            options,
            names,
            sets,
        })
    }

    /// The shared server state.
    pub fn flags(&self) -> &Arc<Flags> {
        &self.flags
    }

    /// The name of source `index`.
    pub fn name(&self, index: usize) -> &str {
        self.names.get(index).map_or("", |n| n)
    }

    /// Loads a new state of source `index` from its text and publishes the
    /// resulting snapshot. Returns the diagnostics of flags that did not
    /// compile (and kept their last good version, if any).
    pub async fn load(
        &self,
        index: usize,
        text: &str,
        format: Format,
    ) -> Result<Vec<Diagnostic>, LoadError> {
        let name = self.names.get(index).cloned().unwrap_or_else(|| "".into());
        let (file, mut diagnostics) = match engine::model::parse(text, format) {
            Ok(parsed) => parsed,
            Err(error) => {
                self.failed(index, &error.to_string());
                return Err(LoadError::Parse { name, error });
            }
        };
        let mut sets = self.sets.lock().await;
        let previous = previous_set(sets.get(index), &name);
        let (set, more) = FlagSet::compile(&name, &file, &self.options, previous.as_deref());
        diagnostics.extend(more);
        if let Some(slot) = sets.get_mut(index) {
            *slot = Some(vec![SourceState {
                name: Arc::clone(&name),
                set: Arc::new(set),
            }]);
        }
        self.publish(sets, &name, diagnostics).await
    }

    /// Loads a new state of source `index` that holds several flag sets,
    /// each a flagd document with its own selector name, and publishes the
    /// resulting snapshot. The list replaces the source's previous one: a
    /// flag set missing from it is no longer served. A document that does
    /// not parse keeps that flag set's last good state.
    pub async fn load_sets(
        &self,
        index: usize,
        documents: Vec<(String, serde_json::Value)>,
    ) -> Result<Vec<Diagnostic>, LoadError> {
        let source = self.names.get(index).cloned().unwrap_or_else(|| "".into());
        let mut diagnostics = Vec::new();
        let mut sets = self.sets.lock().await;
        let mut next = Vec::with_capacity(documents.len());
        for (name, document) in documents {
            let name: Arc<str> = name.into();
            let previous = previous_set(sets.get(index), &name);
            match engine::model::from_value(document) {
                Ok((file, found)) => {
                    diagnostics.extend(found);
                    let (set, more) =
                        FlagSet::compile(&name, &file, &self.options, previous.as_deref());
                    diagnostics.extend(more);
                    next.push(SourceState {
                        name,
                        set: Arc::new(set),
                    });
                }
                Err(error) => {
                    self.failed(index, &format!("{name}: {error}"));
                    if let Some(set) = previous {
                        next.push(SourceState { name, set });
                    }
                }
            }
        }
        tracing::debug!(
            target: TIMING_TARGET,
            source = %source,
            compiled_us = timestamp_micros(),
            "Flag sets compiled."
        );
        if let Some(slot) = sets.get_mut(index) {
            *slot = Some(next);
        }
        self.publish(sets, &source, diagnostics).await
    }

    /// Replaces the SDK keys source `index` delivered with its flag sets.
    pub fn set_access(&self, index: usize, sets: Vec<(String, engine::publication::Access)>) {
        self.flags.sdk_keys().set(index, sets);
    }

    /// Publishes the snapshot of every source's current flag sets.
    async fn publish(
        &self,
        sets: tokio::sync::MutexGuard<'_, Vec<Option<Vec<SourceState>>>>,
        name: &Arc<str>,
        diagnostics: Vec<Diagnostic>,
    ) -> Result<Vec<Diagnostic>, LoadError> {
        let sources: Vec<SourceState> = sets.iter().flatten().flatten().cloned().collect();
        let all_loaded = sets.iter().all(Option::is_some);
        let changes = self.flags.publish(Snapshot::from_sources(sources)).await;
        tracing::debug!(
            target: TIMING_TARGET,
            source = %name,
            swapped_us = timestamp_micros(),
            "Snapshot swapped."
        );
        drop(sets);
        if !diagnostics.is_empty() {
            self.flags.metrics().diagnostics(name, diagnostics.len());
            for diagnostic in &diagnostics {
                tracing::warn!(source = %name, %diagnostic, "Invalid flag definition.");
            }
        }
        if !changes.is_empty() {
            tracing::info!(
                source = %name,
                added = changes.added.len(),
                changed = changes.changed.len(),
                removed = changes.removed.len(),
                version = %format!("{:016x}", changes.new_version),
                "Flags updated."
            );
        }
        if all_loaded && !self.flags.is_ready() {
            self.flags.set_ready();
            tracing::info!("Every source loaded; ready.");
        }
        Ok(diagnostics)
    }

    /// Records a failure of source `index`; its last good state stays.
    pub fn failed(&self, index: usize, error: &str) {
        let name = self.name(index);
        self.flags.metrics().sync_error(name);
        tracing::warn!(source = %name, %error, "Sync source failed; keeping its last good state.");
    }
}

/// The last good flag set named `name` in a source's slot.
fn previous_set(slot: Option<&Option<Vec<SourceState>>>, name: &str) -> Option<Arc<FlagSet>> {
    slot.and_then(Option::as_ref)
        .and_then(|states| states.iter().find(|s| &*s.name == name))
        .map(|s| Arc::clone(&s.set))
}
