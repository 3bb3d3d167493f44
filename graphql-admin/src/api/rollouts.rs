//! Scheduled progressive rollouts in the GraphQL API: reading them
//! (viewer), scheduling and cancelling them (editor). The scheduler
//! (`crate::scheduler`) applies their steps; the analysis job checks a
//! guarded rollout's steps and stops it when its guard says so.
//!
//! Scheduling or cancelling a guarded rollout changes what is published
//! (its flag's exposure-tracking mark), so both are announced as commits,
//! as flag writes are.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::cost::unpaged;
use super::error::{ApiError, store_error};
use super::experiments::MetricKindObject;
use super::flags::Weight;
use super::schema::{Admin, CHANGE_FLAGS, admin, authorize, time, writable};
use store::{
    Action, Commit, DEFAULT_WINDOW_SECONDS, GuardAction, GuardCheck, GuardDirection, GuardMetric,
    GuardVerdict, NewRollout, RolloutGuard, RolloutRecord, RolloutStatus, RolloutStep,
    RolloutWeight, TokenRole,
};

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "RolloutStatus")]
pub enum RolloutStatusObject {
    /// No step applied yet.
    Scheduled,
    /// Some steps applied, more to come.
    Running,
    /// Every step applied.
    Done,
    /// Cancelled; the steps applied before stay.
    Cancelled,
    /// A step could not be applied (see `lastError`).
    Failed,
    /// Its guard found the new variant worse than it tolerates; the
    /// weights stay as the last step set them.
    Paused,
    /// Its guard found the new variant worse than it tolerates and wrote
    /// back the weights the rollout started from.
    Restored,
}

impl From<RolloutStatus> for RolloutStatusObject {
    fn from(status: RolloutStatus) -> Self {
        match status {
            RolloutStatus::Scheduled => RolloutStatusObject::Scheduled,
            RolloutStatus::Running => RolloutStatusObject::Running,
            RolloutStatus::Done => RolloutStatusObject::Done,
            RolloutStatus::Cancelled => RolloutStatusObject::Cancelled,
            RolloutStatus::Failed => RolloutStatusObject::Failed,
            RolloutStatus::Paused => RolloutStatusObject::Paused,
            RolloutStatus::Restored => RolloutStatusObject::Restored,
        }
    }
}

/// A variant's weight in a rollout step.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "RolloutWeight")]
pub struct RolloutWeightObject {
    variant: String,
    weight: u32,
}

impl From<RolloutWeight> for RolloutWeightObject {
    fn from(w: RolloutWeight) -> Self {
        RolloutWeightObject {
            variant: w.variant,
            weight: w.weight,
        }
    }
}

/// One step of a rollout.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "RolloutStep")]
pub struct RolloutStepObject {
    /// When it is due (RFC 3339, UTC).
    at: String,
    /// The weights it sets on the flag's `fractional` rule.
    weights: Vec<RolloutWeightObject>,
}

/// Which way a guard metric should move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "GuardDirection")]
pub enum GuardDirectionObject {
    /// More is better (conversions, revenue).
    HigherIsBetter,
    /// Less is better (errors, latency).
    LowerIsBetter,
}

impl From<GuardDirection> for GuardDirectionObject {
    fn from(direction: GuardDirection) -> Self {
        match direction {
            GuardDirection::HigherIsBetter => GuardDirectionObject::HigherIsBetter,
            GuardDirection::LowerIsBetter => GuardDirectionObject::LowerIsBetter,
        }
    }
}

impl From<GuardDirectionObject> for GuardDirection {
    fn from(direction: GuardDirectionObject) -> Self {
        match direction {
            GuardDirectionObject::HigherIsBetter => GuardDirection::HigherIsBetter,
            GuardDirectionObject::LowerIsBetter => GuardDirection::LowerIsBetter,
        }
    }
}

/// What a guard does when the new variant regresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "GuardAction")]
pub enum GuardActionObject {
    /// Stop advancing; the weights stay as the current step set them.
    Pause,
    /// Stop advancing and write back the weights the rollout started from.
    Restore,
}

impl From<GuardAction> for GuardActionObject {
    fn from(action: GuardAction) -> Self {
        match action {
            GuardAction::Pause => GuardActionObject::Pause,
            GuardAction::Restore => GuardActionObject::Restore,
        }
    }
}

impl From<GuardActionObject> for GuardAction {
    fn from(action: GuardActionObject) -> Self {
        match action {
            GuardActionObject::Pause => GuardAction::Pause,
            GuardActionObject::Restore => GuardAction::Restore,
        }
    }
}

/// What a guard's check of a step concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "GuardVerdict")]
pub enum GuardVerdictObject {
    /// Fewer users than the guard's minimum: the step waits.
    TooFewUsers,
    /// The lift or its interval is undefined (see `reason`): the step
    /// waits.
    Undefined,
    /// No regression beyond the tolerance shown: the next step may follow.
    Healthy,
    /// A regression beyond the tolerance: the guard acted.
    Regressed,
}

impl From<GuardVerdict> for GuardVerdictObject {
    fn from(verdict: GuardVerdict) -> Self {
        match verdict {
            GuardVerdict::TooFewUsers => GuardVerdictObject::TooFewUsers,
            GuardVerdict::Undefined => GuardVerdictObject::Undefined,
            GuardVerdict::Healthy => GuardVerdictObject::Healthy,
            GuardVerdict::Regressed => GuardVerdictObject::Regressed,
        }
    }
}

/// The metric a guard watches.
#[derive(Debug, Clone, SimpleObject, InputObject)]
#[graphql(name = "GuardMetric", input_name = "GuardMetricInput")]
pub struct GuardMetricObject {
    /// The tracking event it reads.
    event: String,
    /// How it reads it.
    kind: MetricKindObject,
    /// An event counts for a user if it comes at most this long after
    /// their first exposure (seven days unless given).
    #[graphql(default_with = "DEFAULT_WINDOW_SECONDS")]
    window_seconds: i64,
}

/// A progressive rollout's guard: it compares the users first exposed
/// during the current step to the new variant with those first exposed
/// during it to the old ones, by an always-valid confidence sequence on
/// the relative lift, and acts when the new variant is worse than it
/// tolerates.
#[derive(Debug, Clone, SimpleObject, InputObject)]
#[graphql(name = "RolloutGuard", input_name = "RolloutGuardInput")]
pub struct RolloutGuardObject {
    /// The metric it watches.
    metric: GuardMetricObject,
    /// Which way is better.
    #[graphql(default_with = "GuardDirectionObject::HigherIsBetter")]
    direction: GuardDirectionObject,
    /// The tolerated regression, relative to the old variants' mean: 0.02
    /// tolerates the new variant being 2% worse. Above 0 and below 1.
    tolerance: f64,
    /// The users a step's comparison must hold, both sides together,
    /// before it is judged or followed by the next step.
    min_users: u64,
    /// What to do when the new variant regresses beyond the tolerance.
    #[graphql(default_with = "GuardActionObject::Pause")]
    action: GuardActionObject,
}

impl From<RolloutGuard> for RolloutGuardObject {
    fn from(guard: RolloutGuard) -> Self {
        RolloutGuardObject {
            metric: GuardMetricObject {
                event: guard.metric.event,
                kind: guard.metric.kind.into(),
                window_seconds: guard.metric.window_seconds,
            },
            direction: guard.direction.into(),
            tolerance: guard.tolerance,
            min_users: guard.min_users,
            action: guard.action.into(),
        }
    }
}

impl From<RolloutGuardObject> for RolloutGuard {
    fn from(guard: RolloutGuardObject) -> Self {
        RolloutGuard {
            metric: GuardMetric {
                event: guard.metric.event,
                kind: guard.metric.kind.into(),
                window_seconds: guard.metric.window_seconds,
            },
            direction: guard.direction.into(),
            tolerance: guard.tolerance,
            min_users: guard.min_users,
            action: guard.action.into(),
        }
    }
}

/// A guard's latest check of a rollout's current step, with its figures.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "GuardCheck")]
pub struct GuardCheckObject {
    /// The step checked: the index of the last applied step.
    step: i64,
    /// When (RFC 3339).
    checked_at: String,
    /// What it concluded.
    verdict: GuardVerdictObject,
    /// Users first exposed during the step to an old variant.
    old_users: u64,
    /// Users first exposed during the step to the new variant.
    new_users: u64,
    /// The new variant's relative lift over the old ones on the guard
    /// metric.
    lift: Option<f64>,
    /// The lift's confidence sequence at level 1 - 0.05.
    interval: Option<Vec<f64>>,
    /// Why the lift or its interval is undefined, when it is.
    reason: Option<String>,
}

impl From<GuardCheck> for GuardCheckObject {
    fn from(check: GuardCheck) -> Self {
        GuardCheckObject {
            step: i64::try_from(check.step).unwrap_or(i64::MAX),
            checked_at: time(check.checked_at),
            verdict: check.verdict.into(),
            old_users: check.old_users,
            new_users: check.new_users,
            lift: check.lift,
            interval: check.interval.map(Vec::from),
            reason: check.reason,
        }
    }
}

/// A scheduled progressive rollout of a flag's `fractional` weights.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Rollout")]
pub struct RolloutObject {
    id: i64,
    flag_set: String,
    flag: String,
    steps: Vec<RolloutStepObject>,
    /// The index of the first step not applied yet.
    next_step: i64,
    /// When the next step is due, while the rollout is active (RFC 3339).
    next_at: Option<String>,
    status: RolloutStatusObject,
    /// Why the step at `nextStep` failed, when it did.
    last_error: Option<String>,
    /// The audit actor of the rollout's steps (`rollout:<id>`).
    actor: String,
    created_by: String,
    created_at: String,
    updated_at: String,
    /// Its guard, if it has one.
    guard: Option<RolloutGuardObject>,
    /// The variant a guarded rollout rolls out: the one its steps raise.
    guarded_variant: Option<String>,
    /// The flag's weights just before a guarded rollout's first step, once
    /// it is applied: what its guard's `RESTORE` writes back.
    initial_weights: Option<Vec<RolloutWeightObject>>,
    /// When the last applied step was applied (RFC 3339).
    step_started_at: Option<String>,
    /// The guard's latest check of the current step.
    guard_check: Option<GuardCheckObject>,
}

impl From<RolloutRecord> for RolloutObject {
    fn from(r: RolloutRecord) -> Self {
        RolloutObject {
            next_at: r.next_at().map(time),
            actor: r.actor(),
            id: r.id,
            flag_set: r.flag_set,
            flag: r.flag,
            steps: r
                .steps
                .into_iter()
                .map(|step| RolloutStepObject {
                    at: time(step.at),
                    weights: step.weights.into_iter().map(Into::into).collect(),
                })
                .collect(),
            next_step: i64::try_from(r.next_step).unwrap_or(i64::MAX),
            status: r.status.into(),
            last_error: r.last_error,
            created_by: r.created_by,
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
            guard: r.guard.map(Into::into),
            guarded_variant: r.guarded_variant,
            initial_weights: r
                .initial_weights
                .map(|weights| weights.into_iter().map(Into::into).collect()),
            step_started_at: r.step_started_at.map(time),
            guard_check: r.guard_check.map(Into::into),
        }
    }
}

/// One step of a rollout to schedule.
#[derive(Debug, Clone, InputObject)]
pub struct RolloutStepInput {
    /// When it is due (RFC 3339). Times must increase strictly from step
    /// to step; a time already past is applied at once.
    at: String,
    /// The weights it sets on the flag's `fractional` rule.
    weights: Vec<Weight>,
}

/// Reading rollouts.
#[derive(Debug, Default)]
pub struct RolloutQuery;

#[Object]
impl RolloutQuery {
    /// The rollouts of a flag set, or of one of its flags, newest first.
    #[graphql(complexity = "unpaged(child_complexity)")]
    async fn rollouts(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        flag: Option<String>,
    ) -> async_graphql::Result<Vec<RolloutObject>> {
        authorize(ctx, TokenRole::Viewer)?;
        let rollouts = admin(ctx)?
            .store
            .rollouts(&flag_set, flag.as_deref())
            .await
            .map_err(store_error)?;
        Ok(rollouts.into_iter().map(RolloutObject::from).collect())
    }

    /// One rollout.
    async fn rollout(&self, ctx: &Context<'_>, id: i64) -> async_graphql::Result<RolloutObject> {
        authorize(ctx, TokenRole::Viewer)?;
        let rollout = admin(ctx)?.store.rollout(id).await.map_err(store_error)?;
        Ok(rollout.into())
    }
}

/// Scheduling and cancelling rollouts. Neither changes a flag: the steps
/// do, each one an audited commit by `rollout:<id>`.
#[derive(Debug, Default)]
pub struct RolloutMutation;

#[Object]
impl RolloutMutation {
    /// Schedules a progressive rollout of the flag's `fractional` weights
    /// (the first such rule in its targeting), e.g. 1% → 10% → 50% → 100%
    /// at given times. Every step is checked against the flag now; an
    /// invalid rollout is refused whole.
    ///
    /// With a `guard`, the steps must be a monotone ramp of one variant
    /// (each keeps the weights' sum and raises only that variant), the
    /// flag is exposure-tracked while the rollout is active, each step
    /// waits for a healthy check of the one before, and a regression beyond
    /// the tolerance pauses or restores the rollout.
    async fn schedule_rollout(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
        steps: Vec<RolloutStepInput>,
        guard: Option<RolloutGuardObject>,
    ) -> async_graphql::Result<RolloutObject> {
        let actor = authorize(ctx, CHANGE_FLAGS)?;
        writable(ctx, &flag_set)?;
        let steps = steps
            .into_iter()
            .map(|step| {
                let at = OffsetDateTime::parse(&step.at, &Rfc3339).map_err(|error| {
                    ApiError::InvalidTime {
                        text: step.at.clone(),
                        error,
                    }
                })?;
                Ok(RolloutStep {
                    at,
                    weights: step
                        .weights
                        .into_iter()
                        .map(|w| RolloutWeight {
                            variant: w.variant,
                            weight: w.weight,
                        })
                        .collect(),
                })
            })
            .collect::<async_graphql::Result<Vec<_>>>()?;
        let admin = admin(ctx)?;
        let rollout = admin
            .store
            .schedule_rollout(
                &actor,
                NewRollout {
                    flag_set,
                    flag: key,
                    steps,
                    guard: guard.map(Into::into),
                },
            )
            .await
            .map_err(store_error)?;
        if rollout.guard.is_some() {
            announce(admin, &rollout, Action::ScheduleRollout, actor.name);
        }
        Ok(rollout.into())
    }

    /// Cancels an active or paused rollout: no further step is applied,
    /// and the weights stay as the last applied step set them.
    async fn cancel_rollout(
        &self,
        ctx: &Context<'_>,
        id: i64,
    ) -> async_graphql::Result<RolloutObject> {
        change(ctx, id, Change::Cancel).await
    }

    /// Pauses an active rollout: no step is applied until it resumes, and
    /// a guarded rollout's flag is no longer exposure-tracked meanwhile.
    async fn pause_rollout(
        &self,
        ctx: &Context<'_>,
        id: i64,
    ) -> async_graphql::Result<RolloutObject> {
        change(ctx, id, Change::Pause).await
    }

    /// Resumes a paused rollout (paused by hand or by its guard). The steps
    /// not applied yet move later by the time it was paused; a guarded
    /// rollout observes its current step afresh, from now, before the next
    /// step may follow. Refused while another rollout of the flag is
    /// active.
    async fn resume_rollout(
        &self,
        ctx: &Context<'_>,
        id: i64,
    ) -> async_graphql::Result<RolloutObject> {
        change(ctx, id, Change::Resume).await
    }
}

/// A change of a rollout's course by hand.
#[derive(Clone, Copy)]
enum Change {
    Cancel,
    Pause,
    Resume,
}

/// Cancels, pauses or resumes rollout `id` as the caller, announcing a
/// guarded rollout's change of its flag's tracking.
async fn change(
    ctx: &Context<'_>,
    id: i64,
    change: Change,
) -> async_graphql::Result<RolloutObject> {
    let actor = authorize(ctx, CHANGE_FLAGS)?;
    let admin = admin(ctx)?;
    let current = admin.store.rollout(id).await.map_err(store_error)?;
    writable(ctx, &current.flag_set)?;
    let store = &admin.store;
    let (rollout, action) = match change {
        Change::Cancel => (
            store.cancel_rollout(&actor, id).await,
            Action::CancelRollout,
        ),
        Change::Pause => (store.pause_rollout(&actor, id).await, Action::PauseRollout),
        Change::Resume => (
            store.resume_rollout(&actor, id).await,
            Action::ResumeRollout,
        ),
    };
    let rollout = rollout.map_err(store_error)?;
    if rollout.guard.is_some() {
        announce(admin, &rollout, action, actor.name);
    }
    Ok(rollout.into())
}

/// Announces a guarded rollout's change of its flag's exposure tracking,
/// so that it is published as a flag write is.
fn announce(admin: &Admin, rollout: &RolloutRecord, action: Action, actor: String) {
    let _ = admin.commits.send(Commit {
        flag_set: rollout.flag_set.clone(),
        flag: Some(rollout.flag.clone()),
        action,
        actor,
    });
}
