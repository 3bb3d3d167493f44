//! Scheduled progressive rollouts: a flag's `fractional` weights changed
//! step by step at given times (1% → 10% → 50% → 100%), each step one
//! audited flag write.
//!
//! Scheduling validates every step against the flag as it is, so a rollout
//! that could not run is refused up front. [`Store::run_due`] applies the
//! steps whose time has come; the scheduler (`crate::scheduler`) calls it
//! on one admin node at a time.
//!
//! A step is applied with [`Store::write_flag`] in its own transaction and
//! the rollout's step index is advanced afterwards, so a crash can fall
//! between the two. Each step's flag write carries a request id naming the
//! rollout and the step (`rollout:7:step:2`); before writing, the runner
//! looks for that id in the flag's audit trail and, when the write already
//! committed, only advances the index. Re-running a step therefore never
//! writes twice, and even if it did, setting the same weights again leaves
//! the definition as it was.

use std::collections::BTreeSet;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::audit::{self, Action, Entry, Subject};
use super::document::{check_change, document, set_rows};
use super::entity::{audit_event, flag, flag_set, rollout};
use super::experiments::{set_tracked, tracked_map};
use super::flags::FlagChange;
use super::guards::{GuardAction, GuardCheck, GuardVerdict, RolloutGuard, ramped_variant};
use super::{Actor, Store, StoreError};
use crate::weights::{fractional_weights, set_weights};

/// The most steps one rollout may have.
pub const MAX_ROLLOUT_STEPS: usize = 100;

/// One variant's weight in a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutWeight {
    /// A variant of the flag.
    pub variant: String,
    /// Its share of the `fractional` buckets, relative to the others.
    pub weight: u32,
}

/// One step of a rollout: at `at`, the flag's first `fractional` rule gets
/// `weights`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutStep {
    /// When the step is due (stored in UTC).
    pub at: OffsetDateTime,
    /// The weights the step sets.
    pub weights: Vec<RolloutWeight>,
}

/// What scheduling a rollout takes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRollout {
    /// The flag set's key.
    pub flag_set: String,
    /// The flag's key.
    pub flag: String,
    /// The steps, times strictly increasing. A step whose time has passed
    /// is applied at the scheduler's next run.
    pub steps: Vec<RolloutStep>,
    /// The guard that stops the rollout when its new variant regresses;
    /// a guarded rollout's steps must be a monotone ramp (see
    /// [`crate::ramped_variant`]).
    pub guard: Option<RolloutGuard>,
}

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutStatus {
    /// No step applied yet.
    Scheduled,
    /// Some steps applied, more to come.
    Running,
    /// Every step applied.
    Done,
    /// Cancelled before its last step; applied steps stay.
    Cancelled,
    /// A step could not be applied (see `last_error`); later steps are not.
    Failed,
    /// Its guard found the new variant worse than it tolerates: no further
    /// step is applied; the weights stay as the last step set them.
    Paused,
    /// Its guard found the new variant worse than it tolerates and wrote
    /// back the weights the rollout started from.
    Restored,
}

impl RolloutStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutStatus::Scheduled => "scheduled",
            RolloutStatus::Running => "running",
            RolloutStatus::Done => "done",
            RolloutStatus::Cancelled => "cancelled",
            RolloutStatus::Failed => "failed",
            RolloutStatus::Paused => "paused",
            RolloutStatus::Restored => "restored",
        }
    }

    /// Whether steps are still to be applied.
    pub fn is_active(self) -> bool {
        matches!(self, RolloutStatus::Scheduled | RolloutStatus::Running)
    }

    fn parse(text: &str) -> Option<RolloutStatus> {
        [
            RolloutStatus::Scheduled,
            RolloutStatus::Running,
            RolloutStatus::Done,
            RolloutStatus::Cancelled,
            RolloutStatus::Failed,
            RolloutStatus::Paused,
            RolloutStatus::Restored,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A rollout as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutRecord {
    /// Its id.
    pub id: i64,
    /// The flag set's key.
    pub flag_set: String,
    /// The flag's key.
    pub flag: String,
    /// The steps, in order.
    pub steps: Vec<RolloutStep>,
    /// The index of the first step not applied yet (`steps.len()` when
    /// done).
    pub next_step: usize,
    /// Where it stands.
    pub status: RolloutStatus,
    /// Why the last attempted step failed, if it did.
    pub last_error: Option<String>,
    /// Who scheduled it.
    pub created_by: String,
    /// When it was scheduled.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
    /// Its guard, if it has one.
    pub guard: Option<RolloutGuard>,
    /// The variant a guarded rollout rolls out: the one its steps raise.
    pub guarded_variant: Option<String>,
    /// The flag's weights just before the first step, once it is applied.
    pub initial_weights: Option<Vec<RolloutWeight>>,
    /// When the last applied step was applied.
    pub step_started_at: Option<OffsetDateTime>,
    /// The guard's latest check of the current step.
    pub guard_check: Option<GuardCheck>,
}

impl RolloutRecord {
    /// When the next step is due, while the rollout is active.
    pub fn next_at(&self) -> Option<OffsetDateTime> {
        self.status
            .is_active()
            .then(|| self.steps.get(self.next_step).map(|s| s.at))
            .flatten()
    }

    /// The audit actor of this rollout's steps.
    pub fn actor(&self) -> String {
        step_actor(self.id)
    }

    /// The request id that step `index`'s flag write carries in the audit
    /// trail, by which a step already written is recognized.
    pub fn step_request_id(&self, index: usize) -> String {
        step_request_id(self.id, index)
    }

    /// The key a guarded rollout's exposures are recorded under, as an
    /// experiment's are under its key (which cannot contain `:`).
    pub fn exposure_key(&self) -> String {
        rollout_exposure_key(self.id)
    }

    /// The index of the last applied step, if one is.
    pub fn current_step(&self) -> Option<usize> {
        self.next_step.checked_sub(1)
    }
}

/// What [`Store::stop_guarded_rollout`] did.
#[derive(Debug)]
pub struct GuardStop {
    /// The rollout as it now is (paused or restored).
    pub rollout: RolloutRecord,
    /// The flag's version after the starting weights were written back,
    /// when the action was to restore them.
    pub restored_version: Option<i64>,
}

/// One step that [`Store::run_rollout_step`] (or [`Store::run_due`]) dealt
/// with.
#[derive(Debug)]
pub struct StepRun {
    /// The rollout.
    pub rollout: i64,
    /// The flag set's key.
    pub flag_set: String,
    /// The flag's key.
    pub flag: String,
    /// The step's index.
    pub step: usize,
    /// The audit actor of the step's flag write.
    pub actor: String,
    /// What happened.
    pub outcome: StepOutcome,
}

/// What became of a due step.
#[derive(Debug)]
pub enum StepOutcome {
    /// The weights were written: one audited commit.
    Applied {
        /// The flag's version after the write.
        version: i64,
    },
    /// The write had committed before (the runner stopped before recording
    /// it); only the step index moved.
    AlreadyApplied,
    /// The step cannot be applied (the flag, a variant or the `fractional`
    /// rule is gone): the rollout is now failed.
    Failed(StoreError),
}

impl StepOutcome {
    /// Whether the flag's weights are now the step's (a commit to
    /// announce).
    pub fn is_applied(&self) -> bool {
        matches!(
            self,
            StepOutcome::Applied { .. } | StepOutcome::AlreadyApplied
        )
    }
}

impl Store {
    /// Schedules a rollout of `new.flag`'s `fractional` weights. Every step
    /// is checked against the flag as it is now (the variants exist, the
    /// targeting has a `fractional` rule, the result compiles), the times
    /// must increase strictly and the flag must have no other active
    /// rollout; otherwise nothing is written. Audited as
    /// `schedule_rollout`.
    ///
    /// A guarded rollout's steps must also be a monotone ramp from the
    /// flag's constant weights, and its flag must not be exposure-tracked
    /// already: from now until the rollout ends, the flag is tracked under
    /// [`RolloutRecord::exposure_key`], which bumps the flag set's version
    /// (a change to publish).
    pub async fn schedule_rollout(
        &self,
        actor: &Actor,
        new: NewRollout,
    ) -> Result<RolloutRecord, StoreError> {
        check_steps(&new.steps)?;
        if let Some(guard) = &new.guard {
            guard.check()?;
        }
        let (txn, set) = self.begin_write_on(&new.flag_set).await?;
        let (flags, segments) = set_rows(&txn, set.id).await?;
        let Some(current) = flags.iter().find(|f| f.key == new.flag && !f.archived) else {
            return Err(StoreError::FlagNotFound {
                flag_set: new.flag_set,
                key: new.flag,
            });
        };
        let guarded_variant = match &new.guard {
            Some(_) => Some(guarded_variant(&set, current, &new)?),
            None => None,
        };
        let before = document(&set, &flags, &segments);
        for (index, step) in new.steps.iter().enumerate() {
            let mut next = current.clone();
            set_weights(&mut next.definition, &pairs(&step.weights)).map_err(
                |error| match error {
                    StoreError::InvalidInput { what, reason } => StoreError::InvalidInput {
                        what,
                        reason: format!("step {}: {reason}", index + 1),
                    },
                    StoreError::WeightTooLarge {
                        variant,
                        weight,
                        max,
                        ..
                    } => StoreError::WeightTooLarge {
                        step: Some(index + 1),
                        variant,
                        weight,
                        max,
                    },
                    other => other,
                },
            )?;
            let after_flags: Vec<flag::Model> = flags
                .iter()
                .map(|f| {
                    if f.id == next.id {
                        next.clone()
                    } else {
                        f.clone()
                    }
                })
                .collect();
            check_change(&new.flag, &before, &document(&set, &after_flags, &segments))?;
        }
        let active = rollout::Entity::find()
            .filter(rollout::Column::FlagSetId.eq(set.id))
            .filter(rollout::Column::FlagKey.eq(&new.flag))
            .filter(rollout::Column::Status.is_in(ACTIVE))
            .count(&txn)
            .await?;
        if active > 0 {
            return Err(StoreError::AlreadyExists {
                kind: "active rollout of flag",
                key: new.flag,
            });
        }
        let now = now_utc();
        let model = rollout::ActiveModel {
            flag_set_id: Set(set.id),
            flag_key: Set(new.flag.clone()),
            steps: Set(steps_json(&new.steps)),
            next_step: Set(0),
            status: Set(RolloutStatus::Scheduled.as_str().to_owned()),
            last_error: Set(None),
            created_by: Set(actor.name.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            guard: Set(new
                .guard
                .as_ref()
                .zip(guarded_variant.as_ref())
                .map(|(guard, (variant, _))| guard.to_json(variant))),
            // The weights now; the first step records them again as it
            // finds them, in case they change before it.
            initial_weights: Set(guarded_variant
                .as_ref()
                .map(|(_, weights)| weights_json(weights))),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let record = record(&set.key, model)?;
        if record.guard.is_some() {
            let mut tracked = tracked_map(&set);
            tracked.insert(record.flag.clone(), Value::String(record.exposure_key()));
            set_tracked(&txn, &set, tracked, now).await?;
        }
        audit(&txn, actor, set.id, &record, Action::ScheduleRollout, now).await?;
        txn.commit().await?;
        Ok(record)
    }

    /// The rollouts of a flag set (of one flag when `flag` is given),
    /// newest first.
    pub async fn rollouts(
        &self,
        flag_set: &str,
        flag: Option<&str>,
    ) -> Result<Vec<RolloutRecord>, StoreError> {
        let set = flag_set::Entity::find()
            .filter(flag_set::Column::Key.eq(flag_set))
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::FlagSetNotFound {
                key: flag_set.to_owned(),
            })?;
        let mut query = rollout::Entity::find().filter(rollout::Column::FlagSetId.eq(set.id));
        if let Some(flag) = flag {
            query = query.filter(rollout::Column::FlagKey.eq(flag));
        }
        query
            .order_by_desc(rollout::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|model| record(&set.key, model))
            .collect()
    }

    /// One rollout by id.
    pub async fn rollout(&self, id: i64) -> Result<RolloutRecord, StoreError> {
        let model = rollout::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or(StoreError::RolloutNotFound { id })?;
        let set = set_of(&self.db, &model).await?;
        record(&set.key, model)
    }

    /// Cancels an active or paused rollout: no further step is applied;
    /// the weights stay as the last applied step left them, and a guarded
    /// rollout's flag is no longer exposure-tracked (a change to publish).
    /// Audited as `cancel_rollout`.
    pub async fn cancel_rollout(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<RolloutRecord, StoreError> {
        let (txn, set, current) = self.lock_rollout(id).await?;
        if !current.status.is_active() && current.status != RolloutStatus::Paused {
            return Err(not_in_status(&current, "active or paused"));
        }
        let now = now_utc();
        let model = rollout::ActiveModel {
            id: Set(id),
            status: Set(RolloutStatus::Cancelled.as_str().to_owned()),
            updated_at: Set(now),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        let cancelled = record(&set.key, model)?;
        if cancelled.guard.is_some() {
            untrack_in(&txn, &set, &cancelled.flag, &cancelled.exposure_key(), now).await?;
        }
        audit(&txn, actor, set.id, &cancelled, Action::CancelRollout, now).await?;
        txn.commit().await?;
        Ok(cancelled)
    }

    /// Pauses an active rollout by hand: no step is applied until it is
    /// resumed, and a guarded rollout's flag is no longer exposure-tracked
    /// (a change to publish), as when its guard pauses it. Audited as
    /// `pause_rollout`.
    ///
    /// A paused rollout's `updated_at` is when it paused: nothing writes a
    /// paused rollout but [`Store::resume_rollout`] and
    /// [`Store::cancel_rollout`], and resuming reads it.
    pub async fn pause_rollout(&self, actor: &Actor, id: i64) -> Result<RolloutRecord, StoreError> {
        let (txn, set, current) = self.lock_rollout(id).await?;
        if !current.status.is_active() {
            return Err(not_in_status(&current, "active"));
        }
        let now = now_utc();
        let model = rollout::ActiveModel {
            id: Set(id),
            status: Set(RolloutStatus::Paused.as_str().to_owned()),
            updated_at: Set(now),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        let paused = record(&set.key, model)?;
        if paused.guard.is_some() {
            untrack_in(&txn, &set, &paused.flag, &paused.exposure_key(), now).await?;
        }
        audit(&txn, actor, set.id, &paused, Action::PauseRollout, now).await?;
        txn.commit().await?;
        Ok(paused)
    }

    /// Resumes a paused rollout, whether paused by hand or by its guard:
    /// the steps not applied yet move later by the time it was paused, so
    /// the wait before the next one is what it was when it paused. The
    /// flag must have no other active rollout.
    ///
    /// A guarded rollout's flag is exposure-tracked again (a change to
    /// publish; refused if something else tracks it now), and its current
    /// step is observed afresh: the guard's last check is dropped and the
    /// step's users are counted from now, so the next step waits for a
    /// healthy check of users exposed after the resumption. Audited as
    /// `resume_rollout`, with the moved steps.
    pub async fn resume_rollout(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<RolloutRecord, StoreError> {
        let (txn, set, current) = self.lock_rollout(id).await?;
        if current.status != RolloutStatus::Paused {
            return Err(not_in_status(&current, "paused"));
        }
        let other = rollout::Entity::find()
            .filter(rollout::Column::FlagSetId.eq(set.id))
            .filter(rollout::Column::FlagKey.eq(&current.flag))
            .filter(rollout::Column::Status.is_in(ACTIVE))
            .count(&txn)
            .await?;
        if other > 0 {
            return Err(StoreError::AlreadyExists {
                kind: "active rollout of flag",
                key: current.flag,
            });
        }
        let now = now_utc();
        let paused_for = now - current.updated_at;
        let steps: Vec<RolloutStep> = current
            .steps
            .iter()
            .enumerate()
            .map(|(index, step)| RolloutStep {
                at: if index >= current.next_step && paused_for.is_positive() {
                    step.at + paused_for
                } else {
                    step.at
                },
                weights: step.weights.clone(),
            })
            .collect();
        let status = if current.next_step == 0 {
            RolloutStatus::Scheduled
        } else {
            RolloutStatus::Running
        };
        let mut update = rollout::ActiveModel {
            id: Set(id),
            status: Set(status.as_str().to_owned()),
            steps: Set(steps_json(&steps)),
            last_error: Set(None),
            updated_at: Set(now),
            ..Default::default()
        };
        if current.guard.is_some() {
            let mut tracked = tracked_map(&set);
            let key = current.exposure_key();
            match tracked.get(&current.flag).and_then(Value::as_str) {
                None => {
                    tracked.insert(current.flag.clone(), Value::String(key));
                    set_tracked(&txn, &set, tracked, now).await?;
                }
                Some(by) if by == key => {}
                Some(by) => {
                    return Err(StoreError::InvalidInput {
                        what: "rollout",
                        reason: format!(
                            "flag {:?} is exposure-tracked by {by:?} now; a guarded rollout cannot resume while something else tracks its flag",
                            current.flag
                        ),
                    });
                }
            }
            update.guard_check = Set(None);
            if current.next_step > 0 {
                update.step_started_at = Set(Some(now));
            }
        }
        let resumed = record(&set.key, update.update(&txn).await?)?;
        audit(&txn, actor, set.id, &resumed, Action::ResumeRollout, now).await?;
        txn.commit().await?;
        Ok(resumed)
    }

    /// Rollout `id` with its flag set, read in a write transaction that
    /// holds its row (on PostgreSQL; SQLite has one writer): a step being
    /// applied finishes first, so a change by hand comes after it, never
    /// between its write and its index bump.
    async fn lock_rollout(
        &self,
        id: i64,
    ) -> Result<(DatabaseTransaction, flag_set::Model, RolloutRecord), StoreError> {
        let txn = self.begin_write().await?;
        let mut query = rollout::Entity::find_by_id(id);
        if txn.get_database_backend() == DbBackend::Postgres {
            query = query.lock_exclusive();
        }
        let model = query
            .one(&txn)
            .await?
            .ok_or(StoreError::RolloutNotFound { id })?;
        let set = set_of(&txn, &model).await?;
        let current = record(&set.key, model)?;
        Ok((txn, set, current))
    }

    /// Applies every step due at `now` of every active rollout, in order,
    /// each as its own audited flag write (action `rollout_step`, actor
    /// `rollout:<id>`), and advances the rollouts. A step that cannot be
    /// applied fails its rollout; a database failure stops the run, to be
    /// retried. (The scheduler drives [`Store::due_rollouts`] and
    /// [`Store::run_rollout_step`] itself, to announce each step as soon as
    /// it commits.)
    pub async fn run_due(&self, now: OffsetDateTime) -> Result<Vec<StepRun>, StoreError> {
        let mut runs = Vec::new();
        for id in self.due_rollouts(now).await? {
            while let Some(run) = self.run_rollout_step(id, now).await? {
                let go_on = run.outcome.is_applied();
                runs.push(run);
                if !go_on {
                    break;
                }
            }
        }
        Ok(runs)
    }

    /// The ids of the active rollouts whose next step is due at `now`, in
    /// id order.
    pub async fn due_rollouts(&self, now: OffsetDateTime) -> Result<Vec<i64>, StoreError> {
        let active = rollout::Entity::find()
            .filter(rollout::Column::Status.is_in(ACTIVE))
            .order_by_asc(rollout::Column::Id)
            .all(&self.db)
            .await?;
        // Few rollouts are active at a time; their step times are read
        // from the steps rather than compared as text in SQLite.
        let mut due = Vec::new();
        for model in active {
            let id = model.id;
            let next = usize::try_from(model.next_step).unwrap_or(0);
            if parse_steps(id, &model.steps)?
                .get(next)
                .is_some_and(|step| step.at <= now)
            {
                due.push(id);
            }
        }
        Ok(due)
    }

    /// Applies rollout `id`'s next step if it is due at `now`, and advances
    /// the rollout: `None` when there is nothing to do (not due, no longer
    /// active, or a concurrent write to retry later). A step that cannot
    /// be applied fails the rollout; a database failure changes nothing.
    ///
    /// On PostgreSQL the rollout's row stays locked while its step is
    /// applied, so runners that overlap (two nodes during a takeover) apply
    /// a step once. A step whose write committed before the runner could
    /// record it is recognized by its request id and not written again.
    pub async fn run_rollout_step(
        &self,
        id: i64,
        now: OffsetDateTime,
    ) -> Result<Option<StepRun>, StoreError> {
        let Some((claim, set, current)) = self.claim(id).await? else {
            return Ok(None);
        };
        let Some(step) = current
            .next_at()
            .filter(|at| *at <= now)
            .and_then(|_| current.steps.get(current.next_step))
        else {
            return Ok(None);
        };
        let index = current.next_step;
        // A guarded rollout's next step waits for its guard to clear the
        // current one.
        if current.guard.is_some() && index > 0 && !step_cleared(&current, index) {
            return Ok(None);
        }
        let actor = Actor {
            name: current.actor(),
            request_id: Some(step_request_id(current.id, index)),
        };
        let written = self
            .written(
                claim.as_ref(),
                set.id,
                &current.flag,
                &step_request_id(current.id, index),
            )
            .await?;
        // The weights the first step finds: what a guard restores.
        let started_from = std::sync::Mutex::new(None);
        let outcome = if written > 0 {
            StepOutcome::AlreadyApplied
        } else {
            let weights = pairs(&step.weights);
            let edit = |definition: &mut Value| {
                if let Ok(mut found) = started_from.lock() {
                    *found = fractional_weights(definition);
                }
                set_weights(definition, &weights)
            };
            let change = FlagChange::Edit {
                expected_version: None,
                action: Action::RolloutStep,
                edit: &edit,
            };
            match self
                .write_flag(&actor, &set.key, &current.flag, change)
                .await
            {
                Ok(flag) => StepOutcome::Applied {
                    version: flag.version,
                },
                Err(
                    error @ (StoreError::Connect { .. }
                    | StoreError::Database(_)
                    | StoreError::Migrate(_)),
                ) => return Err(error),
                // Another write slipped in between; the next run retries.
                Err(StoreError::Conflict { .. }) => return Ok(None),
                Err(error) => StepOutcome::Failed(error),
            }
        };
        let (status, next_step, last_error) = match &outcome {
            StepOutcome::Failed(error) => (RolloutStatus::Failed, index, Some(error.to_string())),
            _ if index + 1 == current.steps.len() => (RolloutStatus::Done, index + 1, None),
            _ => (RolloutStatus::Running, index + 1, None),
        };
        if current.guard.is_some() && !status.is_active() {
            // Before the rollout is marked over, so that a failure here is
            // retried with the step.
            self.untrack(&set.key, &current.flag, &current.exposure_key())
                .await?;
        }
        // Only the state read above is advanced: a rollout cancelled in the
        // meantime (possible on SQLite, where nothing is locked) stays
        // cancelled.
        let mut update = rollout::Entity::update_many()
            .col_expr(rollout::Column::Status, Expr::value(status.as_str()))
            .col_expr(
                rollout::Column::NextStep,
                Expr::value(index_i32(next_step)?),
            )
            .col_expr(rollout::Column::LastError, Expr::value(last_error))
            .col_expr(rollout::Column::UpdatedAt, Expr::value(now_utc()));
        if outcome.is_applied() {
            update = update.col_expr(rollout::Column::StepStartedAt, Expr::value(now_utc()));
        }
        let found = started_from.into_inner().ok().flatten();
        if let (0, Some(found)) = (index, found) {
            let found: Vec<RolloutWeight> = found
                .into_iter()
                .map(|(variant, weight)| RolloutWeight { variant, weight })
                .collect();
            update = update.col_expr(
                rollout::Column::InitialWeights,
                Expr::value(weights_json(&found)),
            );
        }
        let update = update
            .filter(rollout::Column::Id.eq(current.id))
            .filter(rollout::Column::NextStep.eq(index_i32(index)?))
            .filter(rollout::Column::Status.eq(current.status.as_str()));
        match claim {
            Some(txn) => {
                update.exec(&txn).await?;
                txn.commit().await?;
            }
            None => {
                update.exec(&self.db).await?;
            }
        }
        Ok(Some(StepRun {
            rollout: current.id,
            flag_set: set.key,
            flag: current.flag,
            step: index,
            actor: actor.name,
            outcome,
        }))
    }
}

/// Guarded rollouts: what the guard's checks read and write.
impl Store {
    /// The running guarded rollouts with a step applied, in id order:
    /// what the guard checks at each analysis run.
    pub async fn guarded_rollouts(&self) -> Result<Vec<RolloutRecord>, StoreError> {
        let models = rollout::Entity::find()
            .filter(rollout::Column::Status.eq(RolloutStatus::Running.as_str()))
            .filter(rollout::Column::Guard.is_not_null())
            .order_by_asc(rollout::Column::Id)
            .all(&self.db)
            .await?;
        let mut rollouts = Vec::with_capacity(models.len());
        for model in models {
            let set = set_of(&self.db, &model).await?;
            rollouts.push(record(&set.key, model)?);
        }
        Ok(rollouts)
    }

    /// Records the guard's `check` of rollout `id`'s current step, which
    /// clears the next step when it is healthy. The check that first clears
    /// a step is audited (`guard_clear`, with the guard and the figures);
    /// the checks that only wait are not. `None` when the rollout is no
    /// longer running at the checked step (it moved on, or stopped).
    pub async fn record_guard_check(
        &self,
        id: i64,
        check: &GuardCheck,
    ) -> Result<Option<RolloutRecord>, StoreError> {
        let txn = self.begin_write().await?;
        let mut query = rollout::Entity::find_by_id(id);
        if txn.get_database_backend() == DbBackend::Postgres {
            // A step being applied finishes first; the check then finds
            // the rollout moved on.
            query = query.lock_exclusive();
        }
        let Some(model) = query.one(&txn).await? else {
            return Ok(None);
        };
        let set = set_of(&txn, &model).await?;
        let current = record(&set.key, model)?;
        if current.guard.is_none()
            || current.status != RolloutStatus::Running
            || current.current_step() != Some(check.step)
        {
            return Ok(None);
        }
        let clears =
            check.verdict == GuardVerdict::Healthy && !step_cleared(&current, check.step + 1);
        let now = now_utc();
        rollout::ActiveModel {
            id: Set(id),
            guard_check: Set(Some(check.to_json())),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        let checked = RolloutRecord {
            guard_check: Some(check.clone()),
            ..current
        };
        if clears {
            let system = Actor {
                name: checked.actor(),
                request_id: None,
            };
            audit(&txn, &system, set.id, &checked, Action::GuardClear, now).await?;
        }
        txn.commit().await?;
        Ok(Some(checked))
    }

    /// Stops guarded rollout `id` on `check`, a regression of its current
    /// step: pauses it, or (its guard's action) writes back the weights it
    /// started from, as an audited flag write (`rollout_restore`), and marks
    /// it restored. Its flag is no longer exposure-tracked. Audited as
    /// `guard_stop`, with the guard and the check's figures. `None` when
    /// the rollout is no longer running at the checked step, or another
    /// write to the flag came between (the next check retries).
    ///
    /// On PostgreSQL the rollout's row stays locked throughout, so a stop
    /// and a step never interleave; a restore whose write committed before
    /// the stop was recorded is recognized by its request id.
    pub async fn stop_guarded_rollout(
        &self,
        id: i64,
        check: &GuardCheck,
    ) -> Result<Option<GuardStop>, StoreError> {
        let Some((claim, set, current)) = self.claim(id).await? else {
            return Ok(None);
        };
        let Some(guard) = &current.guard else {
            return Ok(None);
        };
        if current.status != RolloutStatus::Running || current.current_step() != Some(check.step) {
            return Ok(None);
        }
        let actor = Actor {
            name: current.actor(),
            request_id: Some(restore_request_id(current.id)),
        };
        let (status, restored_version, last_error) = match guard.action {
            GuardAction::Pause => (RolloutStatus::Paused, None, None),
            GuardAction::Restore => {
                let written = self
                    .written(
                        claim.as_ref(),
                        set.id,
                        &current.flag,
                        &restore_request_id(current.id),
                    )
                    .await?;
                let weights = current.initial_weights.as_deref().map(pairs);
                match weights {
                    _ if written > 0 => (RolloutStatus::Restored, None, None),
                    None => (
                        RolloutStatus::Paused,
                        None,
                        Some("the weights the rollout started from are not known; paused instead of restoring".to_owned()),
                    ),
                    Some(weights) => {
                        let edit = move |definition: &mut Value| set_weights(definition, &weights);
                        let change = FlagChange::Edit {
                            expected_version: None,
                            action: Action::RolloutRestore,
                            edit: &edit,
                        };
                        match self
                            .write_flag(&actor, &set.key, &current.flag, change)
                            .await
                        {
                            Ok(flag) => (RolloutStatus::Restored, Some(flag.version), None),
                            Err(
                                error @ (StoreError::Connect { .. }
                                | StoreError::Database(_)
                                | StoreError::Migrate(_)),
                            ) => return Err(error),
                            Err(StoreError::Conflict { .. }) => return Ok(None),
                            // The flag cannot take the weights back (a
                            // variant or the split is gone): the rollout
                            // stops where it is, saying why.
                            Err(error) => (
                                RolloutStatus::Paused,
                                None,
                                Some(format!("restoring the starting weights failed: {error}")),
                            ),
                        }
                    }
                }
            }
        };
        self.untrack(&set.key, &current.flag, &current.exposure_key())
            .await?;
        let now = now_utc();
        let update = rollout::Entity::update_many()
            .col_expr(rollout::Column::Status, Expr::value(status.as_str()))
            .col_expr(rollout::Column::GuardCheck, Expr::value(check.to_json()))
            .col_expr(rollout::Column::LastError, Expr::value(last_error.clone()))
            .col_expr(rollout::Column::UpdatedAt, Expr::value(now))
            .filter(rollout::Column::Id.eq(current.id))
            .filter(rollout::Column::Status.eq(RolloutStatus::Running.as_str()))
            .filter(rollout::Column::NextStep.eq(index_i32(current.next_step)?));
        let stopped = RolloutRecord {
            status,
            last_error,
            guard_check: Some(check.clone()),
            updated_at: now,
            ..current
        };
        let system = Actor {
            name: stopped.actor(),
            request_id: None,
        };
        match claim {
            Some(txn) => {
                update.exec(&txn).await?;
                audit(&txn, &system, set.id, &stopped, Action::GuardStop, now).await?;
                txn.commit().await?;
            }
            None => {
                let txn = self.begin_write().await?;
                update.exec(&txn).await?;
                audit(&txn, &system, set.id, &stopped, Action::GuardStop, now).await?;
                txn.commit().await?;
            }
        }
        Ok(Some(GuardStop {
            rollout: stopped,
            restored_version,
        }))
    }

    /// Rollout `id` with its flag set, read under a claim: on PostgreSQL a
    /// transaction holding the rollout's row lock, for the caller to commit
    /// its update in. SQLite has one connection and one runner: a
    /// transaction held across `write_flag` would wait for itself, and
    /// there is no other runner to exclude, so there is no claim. `None`
    /// when there is no such rollout.
    async fn claim(
        &self,
        id: i64,
    ) -> Result<Option<(Option<DatabaseTransaction>, flag_set::Model, RolloutRecord)>, StoreError>
    {
        let claim = match self.backend() {
            DbBackend::Postgres => Some(self.begin_write().await?),
            _ => None,
        };
        let model = match &claim {
            Some(txn) => {
                rollout::Entity::find_by_id(id)
                    .lock_exclusive()
                    .one(txn)
                    .await?
            }
            None => rollout::Entity::find_by_id(id).one(&self.db).await?,
        };
        let Some(model) = model else {
            return Ok(None);
        };
        let set = match &claim {
            Some(txn) => set_of(txn, &model).await?,
            None => set_of(&self.db, &model).await?,
        };
        let current = record(&set.key, model)?;
        Ok(Some((claim, set, current)))
    }

    /// How many in-band flag writes of `flag` carry `request_id`: whether
    /// a rollout's write already committed.
    async fn written(
        &self,
        claim: Option<&DatabaseTransaction>,
        set_id: i64,
        flag: &str,
        request_id: &str,
    ) -> Result<u64, StoreError> {
        let marker = audit_event::Entity::find()
            .filter(audit_event::Column::FlagSetId.eq(set_id))
            .filter(audit_event::Column::SubjectKind.eq(Subject::Flag.as_str()))
            .filter(audit_event::Column::SubjectKey.eq(flag))
            .filter(audit_event::Column::RequestId.eq(request_id))
            .filter(audit_event::Column::OutOfBand.eq(false));
        Ok(match claim {
            Some(txn) => marker.count(txn).await?,
            None => marker.count(&self.db).await?,
        })
    }

    /// Ends the exposure tracking of `flag` under `key`, if it still is
    /// tracked under it: a published change (the flag set's version).
    async fn untrack(&self, flag_set: &str, flag: &str, key: &str) -> Result<(), StoreError> {
        let (txn, set) = self.begin_write_on(flag_set).await?;
        untrack_in(&txn, &set, flag, key, now_utc()).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// The statuses of rollouts with steps still to apply.
const ACTIVE: [&str; 2] = ["scheduled", "running"];

/// The refusal of a change that rollout `current` is not in the status for.
fn not_in_status(current: &RolloutRecord, needed: &str) -> StoreError {
    StoreError::InvalidInput {
        what: "rollout",
        reason: format!(
            "rollout {} is {}, not {needed}",
            current.id,
            current.status.as_str()
        ),
    }
}

/// Ends the exposure tracking of `flag` in `txn`, if it is still tracked
/// under `key` (a rollout's [`RolloutRecord::exposure_key`]).
async fn untrack_in(
    txn: &DatabaseTransaction,
    set: &flag_set::Model,
    flag: &str,
    key: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let mut tracked = tracked_map(set);
    if tracked.get(flag).and_then(Value::as_str) == Some(key) {
        tracked.remove(flag);
        set_tracked(txn, set, tracked, now).await?;
    }
    Ok(())
}

/// The request id of rollout `id`'s restore of its starting weights.
fn restore_request_id(id: i64) -> String {
    format!("rollout:{id}:restore")
}

/// The variant guarded rollout `new` rolls out, checked: the flag has
/// constant `fractional` weights, the steps ramp one variant up from them,
/// and the flag is not exposure-tracked already.
fn guarded_variant(
    set: &flag_set::Model,
    flag: &flag::Model,
    new: &NewRollout,
) -> Result<(String, Vec<RolloutWeight>), StoreError> {
    let refused = |reason: String| StoreError::InvalidInput {
        what: "guarded rollout",
        reason,
    };
    let Some(weights) = fractional_weights(&flag.definition) else {
        return Err(refused(format!(
            "flag {:?} has no fractional split with constant weights to ramp",
            new.flag
        )));
    };
    let steps: Vec<Vec<RolloutWeight>> = new.steps.iter().map(|s| s.weights.clone()).collect();
    let variant = ramped_variant(&weights, &steps)?;
    if let Some(other) = set.tracked.get(&new.flag) {
        return Err(refused(format!(
            "flag {:?} is already exposure-tracked, by {}; a guarded rollout tracks its own exposures",
            new.flag,
            other.as_str().unwrap_or("another experiment")
        )));
    }
    let weights = weights
        .into_iter()
        .map(|(variant, weight)| RolloutWeight { variant, weight })
        .collect();
    Ok((variant, weights))
}

/// Whether the guard cleared rollout `rollout`'s current step, so that
/// step `index` (the next) may follow: its latest check is of that step
/// and found it healthy.
fn step_cleared(rollout: &RolloutRecord, index: usize) -> bool {
    rollout
        .guard_check
        .as_ref()
        .is_some_and(|check| check.step + 1 == index && check.verdict == GuardVerdict::Healthy)
}

/// The exposure key of rollout `id`'s guard.
fn rollout_exposure_key(id: i64) -> String {
    format!("rollout:{id}")
}

/// The audit actor of rollout `id`'s steps.
fn step_actor(id: i64) -> String {
    format!("rollout:{id}")
}

/// The request id of step `index` of rollout `id`: how a step's write is
/// recognized in the audit trail.
fn step_request_id(id: i64, index: usize) -> String {
    format!("rollout:{id}:step:{index}")
}

/// The current time at the precision both databases keep (microseconds),
/// so that a record reads back as it was returned.
fn now_utc() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}

fn index_i32(index: usize) -> Result<i32, StoreError> {
    i32::try_from(index).map_err(|_| StoreError::InvalidInput {
        what: "rollout step",
        reason: format!("index {index} is out of range"),
    })
}

fn pairs(weights: &[RolloutWeight]) -> Vec<(String, u32)> {
    weights
        .iter()
        .map(|w| (w.variant.clone(), w.weight))
        .collect()
}

/// The checks that need no database: step count, time order, each step's
/// weights listed once per variant. `set_weights` checks the rest against
/// the flag.
fn check_steps(steps: &[RolloutStep]) -> Result<(), StoreError> {
    let invalid = |reason: String| StoreError::InvalidInput {
        what: "rollout",
        reason,
    };
    if steps.is_empty() {
        return Err(invalid("a rollout needs at least one step".into()));
    }
    if steps.len() > MAX_ROLLOUT_STEPS {
        return Err(invalid(format!(
            "{} steps, at most {MAX_ROLLOUT_STEPS} are allowed",
            steps.len()
        )));
    }
    for (index, pair) in steps.windows(2).enumerate() {
        if pair[1].at <= pair[0].at {
            return Err(invalid(format!(
                "step {} is not later than step {}: times must increase strictly",
                index + 2,
                index + 1
            )));
        }
    }
    for (index, step) in steps.iter().enumerate() {
        let mut seen = BTreeSet::new();
        for weight in &step.weights {
            if !seen.insert(weight.variant.as_str()) {
                return Err(invalid(format!(
                    "step {} lists variant {:?} twice",
                    index + 1,
                    weight.variant
                )));
            }
        }
    }
    Ok(())
}

/// The stored form of the steps.
fn steps_json(steps: &[RolloutStep]) -> Value {
    Value::Array(
        steps
            .iter()
            .map(|step| {
                json!({
                    "at": step.at.to_offset(time::UtcOffset::UTC).format(&Rfc3339).unwrap_or_default(),
                    "weights": weights_json(&step.weights),
                })
            })
            .collect(),
    )
}

/// Reads the stored steps back; a row that does not have this shape was
/// not written by Ensign.
fn parse_steps(id: i64, value: &Value) -> Result<Vec<RolloutStep>, StoreError> {
    let corrupt = || StoreError::InvalidInput {
        what: "stored rollout",
        reason: format!("rollout {id} has malformed steps"),
    };
    let steps = value.as_array().ok_or_else(corrupt)?;
    steps
        .iter()
        .map(|step| {
            let at = step["at"]
                .as_str()
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
                .ok_or_else(corrupt)?;
            let weights = parse_weights(&step["weights"]).ok_or_else(corrupt)?;
            Ok(RolloutStep { at, weights })
        })
        .collect()
}

/// Weights as stored: `[{"variant", "weight"}]`.
fn weights_json(weights: &[RolloutWeight]) -> Value {
    weights
        .iter()
        .map(|w| json!({"variant": w.variant, "weight": w.weight}))
        .collect()
}

/// Reads stored weights back; `None` for a shape Ensign did not write.
fn parse_weights(value: &Value) -> Option<Vec<RolloutWeight>> {
    value
        .as_array()?
        .iter()
        .map(|w| {
            Some(RolloutWeight {
                variant: w["variant"].as_str()?.to_owned(),
                weight: u32::try_from(w["weight"].as_u64()?).ok()?,
            })
        })
        .collect()
}

fn record(flag_set: &str, model: rollout::Model) -> Result<RolloutRecord, StoreError> {
    let steps = parse_steps(model.id, &model.steps)?;
    let status = RolloutStatus::parse(&model.status).ok_or_else(|| StoreError::InvalidInput {
        what: "stored rollout",
        reason: format!("rollout {} has unknown status {:?}", model.id, model.status),
    })?;
    let corrupt = |what: &str| StoreError::InvalidInput {
        what: "stored rollout",
        reason: format!("rollout {} has a malformed {what}", model.id),
    };
    let (guard, guarded_variant) = match &model.guard {
        Some(value) => {
            let (guard, variant) =
                RolloutGuard::from_json(value).ok_or_else(|| corrupt("guard"))?;
            (Some(guard), Some(variant))
        }
        None => (None, None),
    };
    let initial_weights = match &model.initial_weights {
        Some(value) => Some(parse_weights(value).ok_or_else(|| corrupt("initial weights"))?),
        None => None,
    };
    let guard_check = match &model.guard_check {
        Some(value) => Some(GuardCheck::from_json(value).ok_or_else(|| corrupt("guard check"))?),
        None => None,
    };
    Ok(RolloutRecord {
        id: model.id,
        flag_set: flag_set.to_owned(),
        flag: model.flag_key,
        steps,
        next_step: usize::try_from(model.next_step).unwrap_or(0),
        status,
        last_error: model.last_error,
        created_by: model.created_by,
        created_at: model.created_at,
        updated_at: model.updated_at,
        guard,
        guarded_variant,
        initial_weights,
        step_started_at: model.step_started_at,
        guard_check,
    })
}

async fn set_of(
    db: &impl ConnectionTrait,
    model: &rollout::Model,
) -> Result<flag_set::Model, StoreError> {
    flag_set::Entity::find_by_id(model.flag_set_id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::FlagSetNotFound {
            key: model.flag_set_id.to_string(),
        })
}

/// Records scheduling, cancelling or a guard's stop in the audit trail,
/// with the guard and its latest check.
async fn audit(
    db: &impl ConnectionTrait,
    actor: &Actor,
    flag_set_id: i64,
    rollout: &RolloutRecord,
    action: Action,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let mut after = json!({
        "id": rollout.id,
        "steps": steps_json(&rollout.steps),
        "status": rollout.status.as_str(),
        "nextStep": rollout.next_step,
    });
    if let (Some(guard), Some(variant)) = (&rollout.guard, &rollout.guarded_variant) {
        after["guard"] = guard.to_json(variant);
    }
    if let Some(check) = &rollout.guard_check {
        after["guardCheck"] = check.to_json();
    }
    let entry = Entry {
        flag_set_id: Some(flag_set_id),
        subject: Subject::Rollout,
        key: &rollout.flag,
        action,
        actor,
        version: None,
        before: None,
        after: Some(after),
    };
    audit::record(db, entry, now).await
}
