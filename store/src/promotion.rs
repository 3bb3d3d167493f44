//! Promotion between flag sets: two flag sets compared flag by flag, and a
//! flag's definition copied from one to the other (staging to production)
//! as one audited write of the target.

use std::collections::BTreeMap;

use serde_json::Value;

use super::flags::{FlagChange, FlagInput};
use super::{Actor, FlagRecord, Store, StoreError};

/// One flag key of two compared flag sets.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparedFlag {
    /// The flag's key.
    pub key: String,
    /// The flag in the first flag set, when it is live there.
    pub from: Option<FlagRecord>,
    /// The flag in the second flag set, live or archived.
    pub to: Option<FlagRecord>,
    /// What differs, in this order: the definition's top-level fields
    /// (`state`, `variants`, `defaultVariant`, `targeting`, `metadata`, or
    /// any other), then `clientVisible` and `archived`; empty when the
    /// flag is the same in both. A flag missing from one side differs by
    /// every field the other has.
    pub differences: Vec<String>,
}

/// Where a promoted flag came from, as its audit event records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotedFrom {
    /// The source flag set's key.
    pub flag_set: String,
    /// The source flag's version that was copied.
    pub version: i64,
}

/// The definition fields compared first, in the order flagd writes them.
const FIELDS: [&str; 5] = [
    "state",
    "variants",
    "defaultVariant",
    "targeting",
    "metadata",
];

impl Store {
    /// Compares flag sets `from` and `to`, by key: every flag live in
    /// either (a key archived in `to` shows there as archived, since a
    /// promotion serves it again), in key order.
    pub async fn compare_flag_sets(
        &self,
        from: &str,
        to: &str,
    ) -> Result<Vec<ComparedFlag>, StoreError> {
        let (from_set, from_flags, _) = self.snapshot(from).await?;
        let (to_set, to_flags, _) = self.snapshot(to).await?;
        let mut rows: BTreeMap<String, (Option<FlagRecord>, Option<FlagRecord>)> = BTreeMap::new();
        for model in from_flags.into_iter().filter(|f| !f.archived) {
            let key = model.key.clone();
            rows.entry(key).or_default().0 = Some(FlagRecord::from_model(&from_set.key, model));
        }
        for model in to_flags {
            let record = FlagRecord::from_model(&to_set.key, model);
            match rows.get_mut(&record.key) {
                Some(row) => row.1 = Some(record),
                None if !record.archived => {
                    rows.insert(record.key.clone(), (None, Some(record)));
                }
                None => {}
            }
        }
        Ok(rows
            .into_iter()
            .map(|(key, (from, to))| ComparedFlag {
                differences: differences(from.as_ref(), to.as_ref()),
                key,
                from,
                to,
            })
            .collect())
    }

    /// Copies flag `key` of flag set `from`, as it is at `from_version`,
    /// into flag set `to`: its definition and whether client keys may
    /// evaluate it (the target keeps its own `locked`). With
    /// `expected_version` the target's flag is replaced at that version
    /// (an archived one is served again); without it the key must be free
    /// in the target. One write of the target, validated by the engine's
    /// compiler against the target's segments and audited as `promote`
    /// with the source's flag set and version.
    pub async fn promote_flag(
        &self,
        actor: &Actor,
        from: &str,
        to: &str,
        key: &str,
        from_version: i64,
        expected_version: Option<i64>,
    ) -> Result<FlagRecord, StoreError> {
        if from == to {
            return Err(StoreError::InvalidInput {
                what: "promotion",
                reason: format!("flag set {from:?} is both the source and the target"),
            });
        }
        let source = self.flag(from, key).await?;
        if source.archived {
            return Err(StoreError::FlagNotFound {
                flag_set: from.to_owned(),
                key: key.to_owned(),
            });
        }
        if source.version != from_version {
            return Err(StoreError::Conflict {
                kind: "flag",
                key: key.to_owned(),
                expected: from_version,
                actual: source.version,
            });
        }
        let change = FlagChange::Promote {
            expected_version,
            input: FlagInput {
                definition: source.definition,
                client_visible: Some(source.client_visible),
                locked: None,
            },
            from: PromotedFrom {
                flag_set: from.to_owned(),
                version: source.version,
            },
        };
        self.write_flag(actor, to, key, change).await
    }
}

/// What differs between a flag in two flag sets (see
/// [`ComparedFlag::differences`]).
fn differences(from: Option<&FlagRecord>, to: Option<&FlagRecord>) -> Vec<String> {
    let field =
        |flag: Option<&FlagRecord>, name: &str| flag.and_then(|f| f.definition.get(name)).cloned();
    let mut names: Vec<String> = FIELDS.iter().map(|name| (*name).to_owned()).collect();
    for flag in [from, to].into_iter().flatten() {
        if let Value::Object(fields) = &flag.definition {
            for name in fields.keys() {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
    }
    let mut differ: Vec<String> = names
        .into_iter()
        .filter(|name| field(from, name) != field(to, name))
        .collect();
    let setting = |get: fn(&FlagRecord) -> bool| from.map(get) != to.map(get);
    if setting(|f| f.client_visible) {
        differ.push("clientVisible".into());
    }
    if setting(|f| f.archived) {
        differ.push("archived".into());
    }
    differ
}
