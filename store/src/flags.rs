//! Flag writes: create, update, edit (kill switch and the like), archive,
//! restore and roll back, each one validated, audited and versioned in one
//! transaction.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::Value;
use time::OffsetDateTime;

use super::audit::{self, Action, Entry, Subject};
use super::document::{Finding, check_change, document, findings, set_rows};
use super::entity::{audit_event, flag, flag_set};
use super::flag_sets::bump_version;
use super::promotion::PromotedFrom;
use super::tokens::{access_of, sdk_tokens};
use super::{Actor, Document, FlagKey, FlagRecord, Store, StoreError};

/// The content of a flag write.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagInput {
    /// The flagd definition: `state`, `variants`, `defaultVariant`, and
    /// optionally `targeting` and `metadata`.
    pub definition: Value,
    /// Whether client SDK keys may evaluate the flag (unchanged when `None`;
    /// `false` for a new flag).
    pub client_visible: Option<bool>,
    /// Whether changes to the flag raise an alert (unchanged when `None`;
    /// `false` for a new flag).
    pub locked: Option<bool>,
}

/// What a write does to a flag.
pub enum FlagChange<'a> {
    /// Creates the flag; its key must be free.
    Create(FlagInput),
    /// Replaces the flag's definition at `expected_version`.
    Update {
        /// The version the writer read.
        expected_version: i64,
        /// The new content.
        input: FlagInput,
    },
    /// Changes the current definition with `edit`, recorded as `action`.
    /// Without an expected version it applies to whatever is current, as a
    /// kill switch must.
    Edit {
        /// The version the writer read, if it cares.
        expected_version: Option<i64>,
        /// The audit action ([`Action::Kill`], [`Action::SetDefaultVariant`],
        /// ...).
        action: Action,
        /// The change, applied to the current definition.
        edit: &'a (dyn Fn(&mut Value) -> Result<(), StoreError> + Send + Sync),
    },
    /// Archives the flag: it stays in the history but is no longer served.
    Archive {
        /// The version the writer read.
        expected_version: i64,
    },
    /// Serves an archived flag again, with the definition and settings it
    /// had when it was archived. A flag that is not archived is refused
    /// ([`StoreError::NotArchived`]).
    Restore {
        /// The version the writer read.
        expected_version: i64,
    },
    /// Copies another flag set's flag here (see [`Store::promote_flag`]):
    /// creates it when `expected_version` is `None` (the key must be free),
    /// or replaces it at that version, serving an archived one again.
    Promote {
        /// The target's version the writer read; `None`: no such flag.
        expected_version: Option<i64>,
        /// The source's definition and client visibility.
        input: FlagInput,
        /// Where it comes from, recorded in the audit event's `after`.
        from: PromotedFrom,
    },
    /// Restores the definition the flag had at `version`.
    Rollback {
        /// The version the writer read.
        expected_version: i64,
        /// The version to go back to.
        to_version: i64,
    },
}

impl std::fmt::Debug for FlagChange<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlagChange")
            .field("action", &self.action())
            .field("expected_version", &self.expected_version())
            .finish_non_exhaustive()
    }
}

impl FlagChange<'_> {
    /// The audit action this change is recorded as.
    pub fn action(&self) -> Action {
        match self {
            FlagChange::Create(_) => Action::Create,
            FlagChange::Update { .. } => Action::Update,
            FlagChange::Edit { action, .. } => *action,
            FlagChange::Archive { .. } => Action::Archive,
            FlagChange::Restore { .. } => Action::Restore,
            FlagChange::Rollback { .. } => Action::Rollback,
            FlagChange::Promote { .. } => Action::Promote,
        }
    }

    fn expected_version(&self) -> Option<i64> {
        match self {
            FlagChange::Create(_) => None,
            FlagChange::Update {
                expected_version, ..
            }
            | FlagChange::Archive { expected_version }
            | FlagChange::Restore { expected_version }
            | FlagChange::Rollback {
                expected_version, ..
            } => Some(*expected_version),
            FlagChange::Edit {
                expected_version, ..
            }
            | FlagChange::Promote {
                expected_version, ..
            } => *expected_version,
        }
    }
}

impl Store {
    /// Applies `change` to flag `key` of flag set `flag_set` in one
    /// transaction: validates the resulting flag set with the engine's
    /// compiler, writes the flag, appends the audit event and bumps the flag
    /// set's version. On any error nothing is written. `key` is a
    /// [`FlagKey`], or text that must make one (`INVALID_KEY` otherwise).
    pub async fn write_flag(
        &self,
        actor: &Actor,
        flag_set: &str,
        key: impl TryInto<FlagKey, Error = StoreError>,
        change: FlagChange<'_>,
    ) -> Result<FlagRecord, StoreError> {
        let key: FlagKey = key.try_into()?;
        let (txn, set) = self.begin_write_on(flag_set).await?;
        // The flag set's SDK keys, read on another connection beside the
        // transaction once it holds the flag set's lock. Creating or
        // revoking a key takes that lock too, so the read sees every key
        // change committed before this write, and the publisher gets this
        // version's access without reading it after the commit.
        let tokens = sdk_tokens(&self.db, set.id);
        let write = write_locked(txn, &set, flag_set, actor, key.as_str(), change);
        let (written, tokens) = futures::join!(write, tokens);
        let Written {
            saved,
            version,
            content,
            errors,
            client_visible,
        } = written?;
        // The write has committed: without its keys the document is only
        // left to the publisher to read.
        if let Ok(tokens) = tokens {
            let document = Document {
                version,
                content,
                errors,
                access: access_of(tokens, client_visible),
            };
            self.committed.record(&set.key, document);
        }
        Ok(FlagRecord::from_model(&set.key, saved))
    }
}

/// What a flag write committed.
struct Written {
    saved: flag::Model,
    /// The flag set's new version.
    version: i64,
    /// The flag set's document at that version, and its errors.
    content: Value,
    errors: Vec<engine::Diagnostic>,
    /// The flag set's client-visible live flags at that version, in key
    /// order.
    client_visible: Vec<String>,
}

/// The body of [`Store::write_flag`], in `txn`, which holds flag set `set`'s
/// lock; commits `txn` when it succeeds.
async fn write_locked(
    txn: DatabaseTransaction,
    set: &flag_set::Model,
    flag_set: &str,
    actor: &Actor,
    key: &str,
    change: FlagChange<'_>,
) -> Result<Written, StoreError> {
    let (flags, segments) = set_rows(&txn, set.id).await?;
    let current = flags.iter().find(|f| f.key == key).cloned();
    let action = change.action();
    match (&current, change.expected_version()) {
        (Some(_), None) if matches!(change, FlagChange::Create(_) | FlagChange::Promote { .. }) => {
            return Err(StoreError::AlreadyExists {
                kind: "flag",
                key: key.to_owned(),
            });
        }
        (Some(flag), Some(expected)) if flag.version != expected => {
            return Err(StoreError::Conflict {
                kind: "flag",
                key: key.to_owned(),
                expected,
                actual: flag.version,
            });
        }
        (None, _) if !creates(&change) => {
            return Err(StoreError::FlagNotFound {
                flag_set: flag_set.to_owned(),
                key: key.to_owned(),
            });
        }
        _ => {}
    }
    let now = OffsetDateTime::now_utc();
    let mut next = match &current {
        Some(flag) => flag.clone(),
        None => draft(set.id, key, now),
    };
    let mut promoted_from = None;
    match change {
        FlagChange::Promote { input, from, .. } => {
            next.definition = input.definition;
            next.client_visible = input.client_visible.unwrap_or(next.client_visible);
            next.archived = false;
            promoted_from = Some(from);
        }
        FlagChange::Create(input) | FlagChange::Update { input, .. } => {
            next.definition = input.definition;
            next.client_visible = input.client_visible.unwrap_or(next.client_visible);
            next.locked = input.locked.unwrap_or(next.locked);
            next.archived = false;
        }
        FlagChange::Edit { edit, .. } => {
            if next.archived {
                return Err(StoreError::FlagNotFound {
                    flag_set: flag_set.to_owned(),
                    key: key.to_owned(),
                });
            }
            edit(&mut next.definition)?;
        }
        FlagChange::Archive { .. } => next.archived = true,
        FlagChange::Restore { .. } => {
            if !next.archived {
                return Err(StoreError::NotArchived {
                    flag_set: flag_set.to_owned(),
                    key: key.to_owned(),
                });
            }
            next.archived = false;
        }
        FlagChange::Rollback { to_version, .. } => {
            next.definition = definition_at(&txn, set, key, to_version).await?;
            next.archived = false;
        }
    }
    check_object(&next.definition)?;
    next.version += 1;
    next.updated_at = now;
    let after = replaced(&flags, &next);
    let content = document(set, &after, &segments);
    let errors = check_change(key, &document(set, &flags, &segments), &content)?;
    let mut client_visible: Vec<String> = after
        .iter()
        .filter(|f| f.client_visible && !f.archived)
        .map(|f| f.key.clone())
        .collect();
    client_visible.sort();
    let saved = save(&txn, current.as_ref(), next).await?;
    let version = bump_version(&txn, set, now).await?;
    let entry = Entry {
        flag_set_id: Some(set.id),
        subject: Subject::Flag,
        key,
        action,
        actor,
        version: Some(saved.version),
        before: current.as_ref().map(audited),
        after: Some(match promoted_from {
            Some(from) => {
                let mut after = audited(&saved);
                after["promotedFrom"] = serde_json::json!({
                    "flagSet": from.flag_set,
                    "version": from.version,
                });
                after
            }
            None => audited(&saved),
        }),
    };
    audit::record(&txn, entry, now).await?;
    txn.commit().await?;
    Ok(Written {
        saved,
        version,
        content,
        errors,
        client_visible,
    })
}

impl Store {
    /// A dry run of a write of `definition` to flag `key` (an update, or a
    /// create when there is no such flag): what the engine's compiler says
    /// about the flag set's document with this definition in its place,
    /// without writing anything. Answers the findings about this flag and
    /// any other the change introduces, each marked new or not as
    /// [`Store::write_flag`] decides it (a write is refused when any is
    /// new); findings elsewhere that the flag set already had are left
    /// out. The flag counts as live, as a write makes it, even when it is
    /// archived now. The key and the definition's shape are checked as a
    /// write checks them.
    pub async fn check_flag(
        &self,
        flag_set: &str,
        key: impl TryInto<FlagKey, Error = StoreError>,
        definition: Value,
    ) -> Result<Vec<Finding>, StoreError> {
        let key: FlagKey = key.try_into()?;
        let key = key.as_str();
        check_object(&definition)?;
        let (set, flags, segments) = self.snapshot(flag_set).await?;
        if set.archived {
            // As a write finds it (`lock_flag_set`).
            return Err(StoreError::FlagSetNotFound {
                key: flag_set.to_owned(),
            });
        }
        let mut next = match flags.iter().find(|f| f.key == key) {
            Some(flag) => flag.clone(),
            None => draft(set.id, key, OffsetDateTime::now_utc()),
        };
        next.definition = definition;
        next.archived = false;
        let before = document(&set, &flags, &segments);
        let after = document(&set, &replaced(&flags, &next), &segments);
        Ok(findings(&before, &after)
            .into_iter()
            .filter(|f| f.new || f.diagnostic.flag_key.as_deref() == Some(key))
            .collect())
    }
}

/// Whether `change` may find no flag: a creation, or a promotion that
/// expects none.
fn creates(change: &FlagChange<'_>) -> bool {
    matches!(
        change,
        FlagChange::Create(_)
            | FlagChange::Promote {
                expected_version: None,
                ..
            }
    )
}

/// A flag not stored yet, without a definition.
fn draft(set_id: i64, key: &str, now: OffsetDateTime) -> flag::Model {
    flag::Model {
        id: 0,
        flag_set_id: set_id,
        key: key.to_owned(),
        definition: Value::Null,
        version: 0,
        client_visible: false,
        locked: false,
        archived: false,
        created_at: now,
        updated_at: now,
    }
}

/// `flags` with `next` in place of the flag of its key, or added.
fn replaced(flags: &[flag::Model], next: &flag::Model) -> Vec<flag::Model> {
    let mut after: Vec<flag::Model> = flags
        .iter()
        .filter(|f| f.key != next.key)
        .cloned()
        .collect();
    after.push(next.clone());
    after
}

/// Refuses a definition that is not a JSON object, before compiling.
fn check_object(definition: &Value) -> Result<(), StoreError> {
    if definition.is_object() {
        Ok(())
    } else {
        Err(StoreError::InvalidInput {
            what: "flag definition",
            reason: "must be a JSON object".into(),
        })
    }
}

/// Inserts the new flag or updates the current one, re-checking the version
/// in the `UPDATE` itself.
async fn save(
    txn: &DatabaseTransaction,
    current: Option<&flag::Model>,
    next: flag::Model,
) -> Result<flag::Model, StoreError> {
    let Some(current) = current else {
        let model = flag::ActiveModel {
            flag_set_id: Set(next.flag_set_id),
            key: Set(next.key),
            definition: Set(next.definition),
            version: Set(next.version),
            client_visible: Set(next.client_visible),
            locked: Set(next.locked),
            archived: Set(next.archived),
            created_at: Set(next.created_at),
            updated_at: Set(next.updated_at),
            ..Default::default()
        };
        return Ok(model.insert(txn).await?);
    };
    let updated = flag::Entity::update_many()
        .set(flag::ActiveModel {
            definition: Set(next.definition.clone()),
            version: Set(next.version),
            client_visible: Set(next.client_visible),
            locked: Set(next.locked),
            archived: Set(next.archived),
            updated_at: Set(next.updated_at),
            ..Default::default()
        })
        .filter(flag::Column::Id.eq(current.id))
        .filter(flag::Column::Version.eq(current.version))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(StoreError::Conflict {
            kind: "flag",
            key: next.key,
            expected: current.version,
            actual: current.version + 1,
        });
    }
    Ok(next)
}

/// The definition flag `key` had at `version`, from the audit trail: the
/// latest change made through Ensign that produced that version.
async fn definition_at(
    txn: &DatabaseTransaction,
    set: &flag_set::Model,
    key: &str,
    version: i64,
) -> Result<Value, StoreError> {
    let event = audit_event::Entity::find()
        .filter(audit_event::Column::FlagSetId.eq(set.id))
        .filter(audit_event::Column::SubjectKind.eq(Subject::Flag.as_str()))
        .filter(audit_event::Column::SubjectKey.eq(key))
        .filter(audit_event::Column::Version.eq(version))
        .filter(audit_event::Column::OutOfBand.eq(false))
        .order_by_desc(audit_event::Column::Id)
        .one(txn)
        .await?;
    event
        .and_then(|e| e.after)
        .and_then(|after| after.get("definition").cloned())
        .ok_or_else(|| StoreError::VersionNotFound {
            key: key.to_owned(),
            version,
        })
}

/// A flag as the audit trail records it: its definition and settings.
pub(crate) fn audited(flag: &flag::Model) -> Value {
    serde_json::json!({
        "definition": flag.definition,
        "clientVisible": flag.client_visible,
        "locked": flag.locked,
        "archived": flag.archived,
    })
}

impl FlagRecord {
    pub(crate) fn from_model(flag_set: &str, model: flag::Model) -> FlagRecord {
        FlagRecord {
            flag_set: flag_set.to_owned(),
            key: model.key,
            definition: model.definition,
            version: model.version,
            client_visible: model.client_visible,
            locked: model.locked,
            archived: model.archived,
            created_at: model.created_at,
            updated_at: model.updated_at,
        }
    }
}
