//! Importing a flagd flag file into a flag set, as one validated, audited
//! commit. (Exporting is [`Store::document`].)

use sea_orm::{ActiveModelTrait, Set};
use serde_json::Value;
use time::OffsetDateTime;

use super::audit::{self, Action, Entry, Subject};
use super::document::{check_change, document, set_rows};
use super::entity::{flag, segment};
use super::flag_sets::bump_version;
use super::flags::audited;
use super::segments::check_no_ref;
use super::{Actor, FlagKey, SegmentKey, Store, StoreError};

/// What an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Flags that did not exist (or were archived) before.
    pub created: Vec<String>,
    /// Flags whose definition changed.
    pub updated: Vec<String>,
    /// Flags already identical.
    pub unchanged: Vec<String>,
    /// Segments (from `$evaluators`) created or changed.
    pub segments: Vec<String>,
    /// The flag set's version after the import (unchanged if nothing was).
    pub version: i64,
}

impl Store {
    /// Imports the flags and `$evaluators` of a flagd flag file (JSON value)
    /// into flag set `flag_set`: new flags are created, existing ones
    /// replaced, flags the file does not name are left alone. The whole
    /// import is one commit, refused as a whole if anything in it is
    /// invalid: a diagnostic, a key the store-key rule refuses, or a
    /// segment written with a `$ref`.
    pub async fn import_flag_set(
        &self,
        actor: &Actor,
        flag_set: &str,
        file: Value,
    ) -> Result<ImportSummary, StoreError> {
        let (parsed, diagnostics) =
            engine::model::from_value(file).map_err(|error| StoreError::Invalid {
                key: flag_set.to_owned(),
                diagnostics: vec![error.to_diagnostic()],
            })?;
        // The store-key rule, which flagd's schema does not have: an
        // import is a store write like any other.
        for raw in &parsed.flags {
            FlagKey::new(raw.key.as_str())?;
        }
        for key in parsed.evaluators.keys() {
            SegmentKey::new(key.as_str())?;
        }
        if !diagnostics.is_empty() {
            return Err(StoreError::Invalid {
                key: flag_set.to_owned(),
                diagnostics,
            });
        }
        let (txn, set) = self.begin_write_on(flag_set).await?;
        let (flags, segments) = set_rows(&txn, set.id).await?;
        let now = OffsetDateTime::now_utc();
        let mut summary = ImportSummary::default();

        let mut next_flags = flags.clone();
        let mut flag_writes = Vec::new();
        for raw in &parsed.flags {
            match next_flags.iter_mut().find(|f| f.key == raw.key) {
                Some(existing) if !existing.archived && existing.definition == raw.definition => {
                    summary.unchanged.push(raw.key.clone());
                }
                Some(existing) => {
                    let before = existing.clone();
                    if existing.archived {
                        summary.created.push(raw.key.clone());
                    } else {
                        summary.updated.push(raw.key.clone());
                    }
                    existing.definition = raw.definition.clone();
                    existing.archived = false;
                    existing.version += 1;
                    existing.updated_at = now;
                    flag_writes.push((Some(before), existing.clone()));
                }
                None => {
                    let created = flag::Model {
                        id: 0,
                        flag_set_id: set.id,
                        key: raw.key.clone(),
                        definition: raw.definition.clone(),
                        version: 1,
                        client_visible: false,
                        locked: false,
                        archived: false,
                        created_at: now,
                        updated_at: now,
                    };
                    summary.created.push(raw.key.clone());
                    next_flags.push(created.clone());
                    flag_writes.push((None, created));
                }
            }
        }
        let mut next_segments = segments.clone();
        let mut segment_writes = Vec::new();
        for (key, definition) in &parsed.evaluators {
            match next_segments.iter_mut().find(|s| &s.key == key) {
                Some(existing) if &existing.definition == definition => {}
                Some(existing) => {
                    let before = std::mem::replace(&mut existing.definition, definition.clone());
                    existing.version += 1;
                    existing.updated_at = now;
                    summary.segments.push(key.clone());
                    segment_writes.push((Some(before), existing.clone()));
                }
                None => {
                    let created = segment::Model {
                        id: 0,
                        flag_set_id: set.id,
                        key: key.clone(),
                        definition: definition.clone(),
                        version: 1,
                        created_at: now,
                        updated_at: now,
                    };
                    summary.segments.push(key.clone());
                    next_segments.push(created.clone());
                    segment_writes.push((None, created));
                }
            }
        }
        for (_, segment) in &segment_writes {
            check_no_ref(&segment.key, &segment.definition)?;
        }
        if flag_writes.is_empty() && segment_writes.is_empty() {
            summary.version = set.version;
            return Ok(summary);
        }
        check_change(
            flag_set,
            &document(&set, &flags, &segments),
            &document(&set, &next_flags, &next_segments),
        )?;

        for (before, model) in segment_writes {
            let mut active = segment::ActiveModel {
                flag_set_id: Set(model.flag_set_id),
                key: Set(model.key.clone()),
                definition: Set(model.definition.clone()),
                version: Set(model.version),
                created_at: Set(model.created_at),
                updated_at: Set(model.updated_at),
                ..Default::default()
            };
            if before.is_some() {
                active.id = Set(model.id);
                active.update(&txn).await?;
            } else {
                active.insert(&txn).await?;
            }
            let entry = Entry {
                flag_set_id: Some(set.id),
                subject: Subject::Segment,
                key: &model.key,
                action: Action::Import,
                actor,
                version: Some(model.version),
                before,
                after: Some(model.definition.clone()),
            };
            audit::record(&txn, entry, now).await?;
        }
        for (before, model) in flag_writes {
            let mut active = flag::ActiveModel {
                flag_set_id: Set(model.flag_set_id),
                key: Set(model.key.clone()),
                definition: Set(model.definition.clone()),
                version: Set(model.version),
                client_visible: Set(model.client_visible),
                locked: Set(model.locked),
                archived: Set(model.archived),
                created_at: Set(model.created_at),
                updated_at: Set(model.updated_at),
                ..Default::default()
            };
            if let Some(before) = &before {
                active.id = Set(before.id);
                active.update(&txn).await?;
            } else {
                active.insert(&txn).await?;
            }
            let entry = Entry {
                flag_set_id: Some(set.id),
                subject: Subject::Flag,
                key: &model.key,
                action: Action::Import,
                actor,
                version: Some(model.version),
                before: before.as_ref().map(audited),
                after: Some(audited(&model)),
            };
            audit::record(&txn, entry, now).await?;
        }
        summary.version = bump_version(&txn, &set, now).await?;
        txn.commit().await?;
        Ok(summary)
    }
}
