//! The audit trail's one writer: every audited change goes through
//! [`record`], inside the caller's transaction, with a typed [`Entry`].
//! The diff is computed here, and only here, so every row follows the same
//! rules.
//!
//! Two other places write `audit_events` rows, on purpose: store copy
//! (which moves rows as they are) and the PostgreSQL trigger that audits
//! edits made by hand in SQL (`migrations`). A tidy test fails when a row
//! is built anywhere else.

use std::fmt;

use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde_json::Value;
use time::OffsetDateTime;

use crate::entity::audit_event;
use crate::{Actor, StoreError};

/// What an audit entry is about: the `subject_kind` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A flag set's own settings.
    FlagSet,
    /// A flag (in-band, or out-of-band through the trigger).
    Flag,
    /// A segment (a shared rule).
    Segment,
    /// An admin token or SDK key.
    Token,
    /// A scheduled rollout.
    Rollout,
    /// An experiment.
    Experiment,
}

/// What was done: the `action` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Created.
    Create,
    /// Replaced or edited (also an out-of-band `UPDATE`, and a data
    /// migration's rewrite).
    Update,
    /// Deleted (a segment, or an out-of-band `DELETE`).
    Delete,
    /// Archived.
    Archive,
    /// Set back to a version from the audit trail.
    Rollback,
    /// An archived flag served again, as it was.
    Restore,
    /// Written by a flag-set import.
    Import,
    /// Copied from another flag set's flag (its flag set and version are
    /// in the event's `after`, as `promotedFrom`).
    Promote,
    /// The kill switch: the flag disabled.
    Kill,
    /// The default variant changed.
    SetDefaultVariant,
    /// The `fractional` weights set directly.
    SetRollout,
    /// A rollout step's weights applied.
    RolloutStep,
    /// A rollout scheduled.
    ScheduleRollout,
    /// A rollout cancelled.
    CancelRollout,
    /// A rollout paused by hand: no step is applied until it resumes.
    PauseRollout,
    /// A paused rollout resumed, its remaining steps moved later by the
    /// time it was paused.
    ResumeRollout,
    /// A guarded rollout's guard found the new variant worse than it
    /// tolerates and stopped the rollout, with the figures.
    GuardStop,
    /// A guarded rollout's guard found the current step healthy with
    /// enough users, so the next step may follow, with the figures.
    GuardClear,
    /// A guarded rollout's starting weights written back by its guard.
    RolloutRestore,
    /// An experiment started: its flag is exposure-tracked.
    StartExperiment,
    /// An experiment stopped.
    StopExperiment,
    /// An experiment's analysis found its users split unlike its weights
    /// (a sample-ratio mismatch), where the analysis before did not.
    SampleRatioMismatch,
    /// A token revoked.
    Revoke,
    /// An out-of-band `INSERT`.
    Insert,
}

impl Subject {
    /// Every subject.
    pub const ALL: [Subject; 6] = [
        Subject::FlagSet,
        Subject::Flag,
        Subject::Segment,
        Subject::Token,
        Subject::Rollout,
        Subject::Experiment,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::FlagSet => "flag_set",
            Subject::Flag => "flag",
            Subject::Segment => "segment",
            Subject::Token => "token",
            Subject::Rollout => "rollout",
            Subject::Experiment => "experiment",
        }
    }

    /// The subject stored as `text`, if it is one.
    pub fn parse(text: &str) -> Option<Subject> {
        Subject::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 24] = [
        Action::Create,
        Action::Update,
        Action::Delete,
        Action::Archive,
        Action::Rollback,
        Action::Restore,
        Action::Import,
        Action::Promote,
        Action::Kill,
        Action::SetDefaultVariant,
        Action::SetRollout,
        Action::RolloutStep,
        Action::ScheduleRollout,
        Action::CancelRollout,
        Action::PauseRollout,
        Action::ResumeRollout,
        Action::GuardStop,
        Action::GuardClear,
        Action::RolloutRestore,
        Action::StartExperiment,
        Action::StopExperiment,
        Action::SampleRatioMismatch,
        Action::Revoke,
        Action::Insert,
    ];

    /// The stored spelling (the trigger writes `insert`, `update` and
    /// `delete`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Archive => "archive",
            Action::Rollback => "rollback",
            Action::Restore => "restore",
            Action::Import => "import",
            Action::Promote => "promote",
            Action::Kill => "kill",
            Action::SetDefaultVariant => "set_default_variant",
            Action::SetRollout => "set_rollout",
            Action::RolloutStep => "rollout_step",
            Action::ScheduleRollout => "schedule_rollout",
            Action::CancelRollout => "cancel_rollout",
            Action::PauseRollout => "pause_rollout",
            Action::ResumeRollout => "resume_rollout",
            Action::GuardStop => "guard_stop",
            Action::GuardClear => "guard_clear",
            Action::RolloutRestore => "rollout_restore",
            Action::StartExperiment => "start_experiment",
            Action::StopExperiment => "stop_experiment",
            Action::SampleRatioMismatch => "sample_ratio_mismatch",
            Action::Revoke => "revoke",
            Action::Insert => "insert",
        }
    }

    /// The action stored as `text`, if it is one.
    pub fn parse(text: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audited change, as its writer describes it.
#[derive(Debug)]
pub(crate) struct Entry<'a> {
    /// The flag set concerned, if any (a token need not have one).
    pub flag_set_id: Option<i64>,
    /// What changed.
    pub subject: Subject,
    /// Its key (a flag, segment or flag set key, a token name, the flag of
    /// a rollout).
    pub key: &'a str,
    /// What was done.
    pub action: Action,
    /// Who did it, and in which request.
    pub actor: &'a Actor,
    /// The subject's version after the change, where it has one.
    pub version: Option<i64>,
    /// The subject before the change (`None` when it did not exist, or has
    /// no state worth recording).
    pub before: Option<Value>,
    /// The subject after the change (`None` when it was deleted).
    pub after: Option<Value>,
}

/// Appends `entry` to the audit trail, on `db` (the caller's transaction),
/// at `now`. The diff is a JSON Patch (RFC 6902) from `before` to `after`
/// when both exist, and SQL `NULL` otherwise.
pub(crate) async fn record(
    db: &impl ConnectionTrait,
    entry: Entry<'_>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let diff = diff(entry.before.as_ref(), entry.after.as_ref());
    audit_event::ActiveModel {
        flag_set_id: Set(entry.flag_set_id),
        subject_kind: Set(entry.subject.as_str().to_owned()),
        subject_key: Set(entry.key.to_owned()),
        action: Set(entry.action.as_str().to_owned()),
        actor: Set(entry.actor.name.clone()),
        request_id: Set(entry.actor.request_id.clone()),
        version: Set(entry.version),
        before: Set(entry.before),
        after: Set(entry.after),
        diff: Set(diff),
        out_of_band: Set(false),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The JSON Patch from `before` to `after`, when both exist.
fn diff(before: Option<&Value>, after: Option<&Value>) -> Option<Value> {
    let (before, after) = (before?, after?);
    serde_json::to_value(json_patch::diff(before, after)).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_kind_reads_back_as_itself() {
        for subject in Subject::ALL {
            assert_eq!(Subject::parse(subject.as_str()), Some(subject));
        }
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        assert_eq!(Action::parse("segment"), None);
        assert_eq!(Subject::parse("Flag"), None);
    }

    #[test]
    fn a_diff_needs_both_sides() {
        let a = json!({"state": "ENABLED"});
        let b = json!({"state": "DISABLED"});
        assert_eq!(
            diff(Some(&a), Some(&b)),
            Some(json!([{"op": "replace", "path": "/state", "value": "DISABLED"}]))
        );
        assert_eq!(diff(None, Some(&b)), None);
        assert_eq!(diff(Some(&a), None), None);
    }
}
