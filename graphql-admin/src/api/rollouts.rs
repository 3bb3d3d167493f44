//! Scheduled progressive rollouts in the GraphQL API: reading them
//! (viewer), scheduling and cancelling them (editor). The scheduler
//! (`crate::scheduler`) applies their steps.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::cost::unpaged;
use super::error::{ApiError, store_error};
use super::flags::Weight;
use super::schema::{CHANGE_FLAGS, admin, authorize, time, writable};
use store::{NewRollout, RolloutRecord, RolloutStatus, RolloutStep, RolloutWeight, TokenRole};

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
    async fn schedule_rollout(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
        steps: Vec<RolloutStepInput>,
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
        let rollout = admin(ctx)?
            .store
            .schedule_rollout(
                &actor,
                NewRollout {
                    flag_set,
                    flag: key,
                    steps,
                    guard: None,
                },
            )
            .await
            .map_err(store_error)?;
        Ok(rollout.into())
    }

    /// Cancels an active rollout: no further step is applied, and the
    /// weights stay as the last applied step set them.
    async fn cancel_rollout(
        &self,
        ctx: &Context<'_>,
        id: i64,
    ) -> async_graphql::Result<RolloutObject> {
        let actor = authorize(ctx, CHANGE_FLAGS)?;
        let store = &admin(ctx)?.store;
        let current = store.rollout(id).await.map_err(store_error)?;
        writable(ctx, &current.flag_set)?;
        let rollout = store
            .cancel_rollout(&actor, id)
            .await
            .map_err(store_error)?;
        Ok(rollout.into())
    }
}
