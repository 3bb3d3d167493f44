//! A flag set's rows as one flagd document, and validation of a change by
//! compiling that document with the engine.

use std::collections::BTreeMap;

use engine::flagset::FlagSet;
use engine::model::from_value;
use engine::{
    CompileOptions, Diagnostic, EXPERIMENT_KEY, FLAG_SET_ID_KEY, FRACTIONAL_VERSION_KEY, Severity,
};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use serde_json::{Map, Value};

use super::StoreError;
use super::entity::{flag, flag_set, segment};

/// The flags and segments of flag set `set_id`, read in the writer's
/// transaction (after `lock_flag_set` or `Store::begin_write_on`), as every
/// write checks them.
pub(crate) async fn set_rows(
    txn: &DatabaseTransaction,
    set_id: i64,
) -> Result<(Vec<flag::Model>, Vec<segment::Model>), StoreError> {
    let flags = flag::Entity::find()
        .filter(flag::Column::FlagSetId.eq(set_id))
        .all(txn)
        .await?;
    let segments = segment::Entity::find()
        .filter(segment::Column::FlagSetId.eq(set_id))
        .all(txn)
        .await?;
    Ok((flags, segments))
}

/// The flagd JSON document of a flag set: its live (not archived) flags,
/// its segments as `$evaluators`, and its metadata with `flagSetId` (the
/// flag set's key) and the `fractional` override. This is what is published
/// and what writes are validated against.
pub(crate) fn document(
    set: &flag_set::Model,
    flags: &[flag::Model],
    segments: &[segment::Model],
) -> Value {
    let mut metadata = match &set.metadata {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    metadata.insert(FLAG_SET_ID_KEY.into(), Value::String(set.key.clone()));
    if let Some(version) = &set.fractional {
        metadata.insert(
            FRACTIONAL_VERSION_KEY.into(),
            Value::String(version.clone()),
        );
    }
    let mut live: Vec<&flag::Model> = flags.iter().filter(|f| !f.archived).collect();
    live.sort_by(|a, b| a.key.cmp(&b.key));
    let flags: Map<String, Value> = live
        .into_iter()
        .map(|f| {
            let mut definition = f.definition.clone();
            if let Some(experiment) = set.tracked.get(&f.key) {
                track(&mut definition, experiment);
            }
            (f.key.clone(), definition)
        })
        .collect();
    let mut document = Map::new();
    document.insert("flags".into(), Value::Object(flags));
    if !segments.is_empty() {
        let mut sorted: Vec<&segment::Model> = segments.iter().collect();
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        let evaluators: Map<String, Value> = sorted
            .into_iter()
            .map(|s| (s.key.clone(), s.definition.clone()))
            .collect();
        document.insert("$evaluators".into(), Value::Object(evaluators));
    }
    document.insert("metadata".into(), Value::Object(metadata));
    Value::Object(document)
}

/// Marks a flag definition as exposure-tracked for `experiment`: its
/// metadata's [`EXPERIMENT_KEY`], which wins over one written by hand.
fn track(definition: &mut Value, experiment: &Value) {
    let Value::Object(definition) = definition else {
        return;
    };
    // Metadata that is not an object is the compiler's to report.
    if let Value::Object(metadata) = definition
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()))
    {
        metadata.insert(EXPERIMENT_KEY.into(), experiment.clone());
    }
}

/// Everything the engine finds wrong with `document` (errors and warnings).
pub(crate) fn diagnostics(document: &Value) -> Vec<Diagnostic> {
    match from_value(document.clone()) {
        Ok((file, mut found)) => {
            let (_, compiled) = FlagSet::compile("store", &file, &CompileOptions::default(), None);
            found.extend(compiled);
            found
        }
        Err(error) => vec![error.to_diagnostic()],
    }
}

/// The error diagnostics of `document`: what holds a flag set back from
/// publication (warnings do not; they were refused when written, and a row
/// edited by hand is published if it still compiles).
pub fn publication_errors(document: &Value) -> Vec<Diagnostic> {
    diagnostics(document)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect()
}

/// One finding of the document after a change, and whether the change
/// introduces it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// What the compiler found.
    pub diagnostic: Diagnostic,
    /// Whether the document before the change lacked it, or had it only as
    /// a milder finding (a warning that grew into an error).
    pub new: bool,
}

/// Everything the compiler finds in `after`, each marked new or not
/// against `before`, in the compiler's order. `before` is compiled only
/// when `after` has findings, as a clean result needs no comparison. This
/// is what decides, for every write, which findings the write adds.
pub(crate) fn findings(before: &Value, after: &Value) -> Vec<Finding> {
    let found = diagnostics(after);
    if found.is_empty() {
        return Vec::new();
    }
    let mut known: BTreeMap<(Option<String>, String, String), Severity> = BTreeMap::new();
    for d in diagnostics(before) {
        let severity = known
            .entry((d.flag_key, d.pointer, d.message))
            .or_insert(d.severity);
        *severity = (*severity).max(d.severity);
    }
    found
        .into_iter()
        .map(|d| {
            let finding = (d.flag_key.clone(), d.pointer.clone(), d.message.clone());
            let new = known.get(&finding).is_none_or(|&was| was < d.severity);
            Finding { diagnostic: d, new }
        })
        .collect()
}

/// Refuses a change that introduces a diagnostic: `after` may keep the
/// findings `before` already had (a row edited by hand in SQL, say), but
/// may add none, warnings included, since a flag that violates flagd's
/// schema must not be stored either. A finding that grows from a warning
/// into an error is new: the kill switch turns a broken rule's error into a
/// warning (the flag is disabled), and enabling the flag again turns it
/// back, which must be refused until the rule is repaired.
///
/// Returns the errors `after` keeps, which hold it back from publication.
pub(crate) fn check_change(
    key: &str,
    before: &Value,
    after: &Value,
) -> Result<Vec<Diagnostic>, StoreError> {
    let (new, kept): (Vec<Finding>, Vec<Finding>) =
        findings(before, after).into_iter().partition(|f| f.new);
    if new.is_empty() {
        Ok(kept
            .into_iter()
            .map(|f| f.diagnostic)
            .filter(|d| d.severity == Severity::Error)
            .collect())
    } else {
        Err(StoreError::Invalid {
            key: key.to_owned(),
            diagnostics: new.into_iter().map(|f| f.diagnostic).collect(),
        })
    }
}

/// Checks one flag definition on its own, as the admin API's validation
/// endpoint and importers do before touching the store.
pub fn validate_definition(key: &str, definition: &Value) -> Result<(), StoreError> {
    let mut flags = Map::new();
    flags.insert(key.to_owned(), definition.clone());
    let mut document = Map::new();
    document.insert("flags".into(), Value::Object(flags));
    let found = diagnostics(&Value::Object(document));
    if found.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            key: key.to_owned(),
            diagnostics: found,
        })
    }
}
