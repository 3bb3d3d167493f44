//! Segments: shared rules of a flag set, published as its `$evaluators`
//! and used by flags through `$ref`. A segment write is validated against
//! every flag of the flag set, audited and versioned like a flag write.

use engine::evaluators::{EVALUATOR_REF_MESSAGE, ref_pointers};
use engine::{Diagnostic, Severity};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::Value;
use time::OffsetDateTime;

use super::audit::{self, Action, Entry, Subject};
use super::document::{check_change, document, set_rows};
use super::entity::segment;
use super::flag_sets::bump_version;
use super::{Actor, SegmentKey, Store, StoreError};

/// A segment as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentRecord {
    /// The flag set it belongs to.
    pub flag_set: String,
    /// Its key: what flags name in `{"$ref": key}`.
    pub key: String,
    /// The JSONLogic rule.
    pub definition: Value,
    /// Increases by one per change; writes name it.
    pub version: i64,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

impl Store {
    /// A flag set's segments, by key.
    pub async fn segments(&self, flag_set: &str) -> Result<Vec<SegmentRecord>, StoreError> {
        let set = self.flag_set(flag_set).await?;
        let set_id = self.flag_set_id(flag_set).await?;
        Ok(segment::Entity::find()
            .filter(segment::Column::FlagSetId.eq(set_id))
            .order_by_asc(segment::Column::Key)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| record(&set.key, m))
            .collect())
    }

    /// Creates (`expected_version` `None`) or replaces a segment. Refused,
    /// with nothing written, when the version is stale or any flag of the
    /// flag set would no longer compile.
    pub async fn write_segment(
        &self,
        actor: &Actor,
        flag_set: &str,
        key: impl TryInto<SegmentKey, Error = StoreError>,
        definition: Value,
        expected_version: Option<i64>,
    ) -> Result<SegmentRecord, StoreError> {
        let key = key.try_into()?;
        self.change_segment(actor, flag_set, &key, Some(definition), expected_version)
            .await
    }

    /// Deletes a segment; refused while a flag still refers to it.
    pub async fn delete_segment(
        &self,
        actor: &Actor,
        flag_set: &str,
        key: impl TryInto<SegmentKey, Error = StoreError>,
        expected_version: i64,
    ) -> Result<SegmentRecord, StoreError> {
        let key = key.try_into()?;
        self.change_segment(actor, flag_set, &key, None, Some(expected_version))
            .await
    }

    async fn change_segment(
        &self,
        actor: &Actor,
        flag_set: &str,
        key: &SegmentKey,
        definition: Option<Value>,
        expected_version: Option<i64>,
    ) -> Result<SegmentRecord, StoreError> {
        let key = key.as_str();
        if let Some(definition) = &definition {
            check_no_ref(key, definition)?;
        }
        let (txn, set) = self.begin_write_on(flag_set).await?;
        let (flags, segments) = set_rows(&txn, set.id).await?;
        let current = segments.iter().find(|s| s.key == key).cloned();
        match (&current, expected_version) {
            (Some(_), None) => {
                return Err(StoreError::AlreadyExists {
                    kind: "segment",
                    key: key.to_owned(),
                });
            }
            (None, Some(_)) => {
                return Err(StoreError::SegmentNotFound {
                    flag_set: flag_set.to_owned(),
                    key: key.to_owned(),
                });
            }
            (Some(segment), Some(expected)) if segment.version != expected => {
                return Err(StoreError::Conflict {
                    kind: "segment",
                    key: key.to_owned(),
                    expected,
                    actual: segment.version,
                });
            }
            _ => {}
        }
        let now = OffsetDateTime::now_utc();
        let mut after: Vec<segment::Model> =
            segments.iter().filter(|s| s.key != key).cloned().collect();
        let next = definition.as_ref().map(|definition| segment::Model {
            id: current.as_ref().map_or(0, |c| c.id),
            flag_set_id: set.id,
            key: key.to_owned(),
            definition: definition.clone(),
            version: current.as_ref().map_or(1, |c| c.version + 1),
            created_at: current.as_ref().map_or(now, |c| c.created_at),
            updated_at: now,
        });
        after.extend(next.clone());
        check_change(
            key,
            &document(&set, &flags, &segments),
            &document(&set, &flags, &after),
        )?;
        let saved = match (&current, next) {
            (None, Some(next)) => {
                segment::ActiveModel {
                    flag_set_id: Set(next.flag_set_id),
                    key: Set(next.key),
                    definition: Set(next.definition),
                    version: Set(next.version),
                    created_at: Set(next.created_at),
                    updated_at: Set(next.updated_at),
                    ..Default::default()
                }
                .insert(&txn)
                .await?
            }
            (Some(_), Some(next)) => {
                let mut active: segment::ActiveModel = next.clone().into();
                active.definition = Set(next.definition.clone());
                active.version = Set(next.version);
                active.updated_at = Set(next.updated_at);
                active.update(&txn).await?
            }
            (Some(current), None) => {
                segment::Entity::delete_by_id(current.id).exec(&txn).await?;
                current.clone()
            }
            (None, None) => {
                return Err(StoreError::SegmentNotFound {
                    flag_set: flag_set.to_owned(),
                    key: key.to_owned(),
                });
            }
        };
        bump_version(&txn, &set, now).await?;
        let action = match (&current, &definition) {
            (None, _) => Action::Create,
            (Some(_), Some(_)) => Action::Update,
            (Some(_), None) => Action::Delete,
        };
        let entry = Entry {
            flag_set_id: Some(set.id),
            subject: Subject::Segment,
            key,
            action,
            actor,
            version: Some(saved.version),
            before: current.as_ref().map(|c| c.definition.clone()),
            after: definition.clone(),
        };
        audit::record(&txn, entry, now).await?;
        txn.commit().await?;
        Ok(record(&set.key, saved))
    }

    async fn flag_set_id(&self, key: &str) -> Result<i64, StoreError> {
        super::entity::flag_set::Entity::find()
            .filter(super::entity::flag_set::Column::Key.eq(key))
            .one(&self.db)
            .await?
            .map(|s| s.id)
            .ok_or_else(|| StoreError::FlagSetNotFound {
                key: key.to_owned(),
            })
    }
}

/// Refuses a segment whose rule holds a `$ref` anywhere: segments are
/// plain rules, so they can never refer to each other or form a cycle
/// (flagd does not support references between shared evaluators either).
/// Each `$ref` is reported with its JSON pointer in the published document
/// (`/$evaluators/{key}/...`) and the message of the engine's warning.
pub(crate) fn check_no_ref(key: &str, definition: &Value) -> Result<(), StoreError> {
    let base = format!("/$evaluators/{}", engine::pointer::escape(key));
    let diagnostics: Vec<Diagnostic> = ref_pointers(definition, &base)
        .into_iter()
        .map(|pointer| Diagnostic {
            severity: Severity::Error,
            flag_key: None,
            pointer,
            message: EVALUATOR_REF_MESSAGE.to_owned(),
        })
        .collect();
    if diagnostics.is_empty() {
        Ok(())
    } else {
        Err(StoreError::SegmentRef {
            key: key.to_owned(),
            diagnostics,
        })
    }
}

fn record(flag_set: &str, model: segment::Model) -> SegmentRecord {
    SegmentRecord {
        flag_set: flag_set.to_owned(),
        key: model.key,
        definition: model.definition,
        version: model.version,
        updated_at: model.updated_at,
    }
}
