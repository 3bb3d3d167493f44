//! Experiments in the GraphQL API: reading them (viewer), creating,
//! editing drafts, starting and stopping them (editor). Starting and
//! stopping change what is published (the flag's exposure-tracking mark),
//! so they are announced as commits, as flag writes are.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};

use super::cost::unpaged;
use super::error::store_error;
use super::flags::Weight;
use super::rollouts::RolloutWeightObject;
use super::schema::{CHANGE_FLAGS, admin, authorize, time, writable};
use store::{
    Action, Commit, ExperimentInput, ExperimentRecord, ExperimentStatus, Metric, MetricKind,
    RolloutWeight, TokenRole,
};

/// Where an experiment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "ExperimentStatus")]
pub enum ExperimentStatusObject {
    /// Being set up: editable; nothing is recorded.
    Draft,
    /// Its flag is exposure-tracked.
    Running,
    /// Over; its exposures stay.
    Stopped,
}

impl From<ExperimentStatus> for ExperimentStatusObject {
    fn from(status: ExperimentStatus) -> Self {
        match status {
            ExperimentStatus::Draft => ExperimentStatusObject::Draft,
            ExperimentStatus::Running => ExperimentStatusObject::Running,
            ExperimentStatus::Stopped => ExperimentStatusObject::Stopped,
        }
    }
}

/// How a metric reads its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "MetricKind")]
pub enum MetricKindObject {
    /// Whether the user has at least one attributed event.
    Conversion,
    /// The per-user sum of the attributed events' values (0 without one).
    Sum,
}

impl From<MetricKind> for MetricKindObject {
    fn from(kind: MetricKind) -> Self {
        match kind {
            MetricKind::Conversion => MetricKindObject::Conversion,
            MetricKind::Sum => MetricKindObject::Sum,
        }
    }
}

impl From<MetricKindObject> for MetricKind {
    fn from(kind: MetricKindObject) -> Self {
        match kind {
            MetricKindObject::Conversion => MetricKind::Conversion,
            MetricKindObject::Sum => MetricKind::Sum,
        }
    }
}

/// A metric of an experiment.
#[derive(Debug, Clone, SimpleObject, InputObject)]
#[graphql(name = "Metric", input_name = "MetricInput")]
pub struct MetricObject {
    /// Its name, unique within the experiment.
    name: String,
    /// The tracking event it reads.
    event: String,
    /// How it reads it.
    kind: MetricKindObject,
}

impl From<Metric> for MetricObject {
    fn from(m: Metric) -> Self {
        MetricObject {
            name: m.name,
            event: m.event,
            kind: m.kind.into(),
        }
    }
}

impl From<MetricObject> for Metric {
    fn from(m: MetricObject) -> Self {
        Metric {
            name: m.name,
            event: m.event,
            kind: m.kind.into(),
        }
    }
}

/// An A/B test on a flag's `fractional` split.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Experiment", complex)]
pub struct ExperimentObject {
    pub(super) id: i64,
    flag_set: String,
    /// Unique in the flag set; exposures name it.
    key: String,
    flag: String,
    /// The control variant.
    control: String,
    /// The weights the split is expected to serve; null while a draft
    /// takes the flag's `fractional` weights (fixed when it starts).
    weights: Option<Vec<RolloutWeightObject>>,
    metrics: Vec<MetricObject>,
    /// An event counts for a user if it comes at most this long after
    /// their first exposure.
    window_seconds: i64,
    /// The analysis' alpha: intervals are at level 1 - alpha.
    alpha: f64,
    /// The sequential test's tuning N*.
    sequential_tuning: f64,
    status: ExperimentStatusObject,
    /// When it started (RFC 3339).
    started_at: Option<String>,
    /// When it stopped (RFC 3339).
    stopped_at: Option<String>,
    /// Raised by every change; an edit names the version it read.
    version: i64,
    created_by: String,
    created_at: String,
    updated_at: String,
}

impl ExperimentObject {
    /// Its metrics' names, in order.
    pub(super) fn metric_names(&self) -> Vec<String> {
        self.metrics.iter().map(|m| m.name.clone()).collect()
    }
}

impl From<ExperimentRecord> for ExperimentObject {
    fn from(r: ExperimentRecord) -> Self {
        ExperimentObject {
            id: r.id,
            flag_set: r.flag_set,
            key: r.key,
            flag: r.flag,
            control: r.control,
            weights: r
                .weights
                .map(|weights| weights.into_iter().map(Into::into).collect()),
            metrics: r.metrics.into_iter().map(Into::into).collect(),
            window_seconds: r.window_seconds,
            alpha: r.alpha,
            sequential_tuning: r.sequential_tuning,
            status: r.status.into(),
            started_at: r.started_at.map(time),
            stopped_at: r.stopped_at.map(time),
            version: r.version,
            created_by: r.created_by,
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
        }
    }
}

/// An experiment's settings, as created or as a draft is edited.
#[derive(Debug, Clone, InputObject)]
pub struct ExperimentSettings {
    /// The flag whose split it reads.
    flag: String,
    /// The control variant.
    control: String,
    /// The weights the split is expected to serve; by default the flag's
    /// `fractional` weights when the experiment starts.
    weights: Option<Vec<Weight>>,
    metrics: Vec<MetricObject>,
    /// The attribution window in seconds (default 7 days).
    window_seconds: Option<i64>,
    /// The analysis' alpha: intervals at level 1 - alpha (default 0.05).
    alpha: Option<f64>,
    /// The sequential test's tuning: the total users at which its
    /// confidence sequence is tightest (default 5000).
    sequential_tuning: Option<f64>,
}

impl From<ExperimentSettings> for ExperimentInput {
    fn from(s: ExperimentSettings) -> Self {
        ExperimentInput {
            flag: s.flag,
            control: s.control,
            weights: s.weights.map(|weights| {
                weights
                    .into_iter()
                    .map(|w| RolloutWeight {
                        variant: w.variant,
                        weight: w.weight,
                    })
                    .collect()
            }),
            metrics: s.metrics.into_iter().map(Into::into).collect(),
            window_seconds: s.window_seconds,
            alpha: s.alpha,
            sequential_tuning: s.sequential_tuning,
        }
    }
}

/// Reading experiments.
#[derive(Debug, Default)]
pub struct ExperimentQuery;

#[Object]
impl ExperimentQuery {
    /// The experiments of a flag set, or of one of its flags, newest first.
    #[graphql(complexity = "unpaged(child_complexity)")]
    async fn experiments(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        flag: Option<String>,
    ) -> async_graphql::Result<Vec<ExperimentObject>> {
        authorize(ctx, TokenRole::Viewer)?;
        let experiments = admin(ctx)?
            .store
            .experiments(&flag_set, flag.as_deref())
            .await
            .map_err(store_error)?;
        Ok(experiments.into_iter().map(Into::into).collect())
    }

    /// One experiment.
    async fn experiment(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
    ) -> async_graphql::Result<ExperimentObject> {
        authorize(ctx, TokenRole::Viewer)?;
        let experiment = admin(ctx)?
            .store
            .experiment(&flag_set, &key)
            .await
            .map_err(store_error)?;
        Ok(experiment.into())
    }
}

/// Creating, editing, starting and stopping experiments.
#[derive(Debug, Default)]
pub struct ExperimentMutation;

/// A change of an experiment's status that changes what is published.
#[derive(Debug, Clone, Copy)]
enum Transition {
    Start,
    Stop,
}

impl ExperimentMutation {
    /// Starts or stops experiment `key` and announces the commit.
    async fn transition(
        ctx: &Context<'_>,
        flag_set: String,
        key: &str,
        transition: Transition,
    ) -> async_graphql::Result<ExperimentObject> {
        let actor = authorize(ctx, CHANGE_FLAGS)?;
        writable(ctx, &flag_set)?;
        let admin = admin(ctx)?;
        let store = &admin.store;
        let (experiment, action) = match transition {
            Transition::Start => (
                store.start_experiment(&actor, &flag_set, key).await,
                Action::StartExperiment,
            ),
            Transition::Stop => (
                store.stop_experiment(&actor, &flag_set, key).await,
                Action::StopExperiment,
            ),
        };
        let experiment = experiment.map_err(store_error)?;
        let _ = admin.commits.send(Commit {
            flag_set,
            flag: Some(experiment.flag.clone()),
            action,
            actor: actor.name,
        });
        Ok(experiment.into())
    }
}

#[Object]
impl ExperimentMutation {
    /// Creates a draft experiment, checked against the flag as it is.
    async fn create_experiment(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
        settings: ExperimentSettings,
    ) -> async_graphql::Result<ExperimentObject> {
        let actor = authorize(ctx, CHANGE_FLAGS)?;
        writable(ctx, &flag_set)?;
        let experiment = admin(ctx)?
            .store
            .create_experiment(&actor, &flag_set, key.as_str(), settings.into())
            .await
            .map_err(store_error)?;
        Ok(experiment.into())
    }

    /// Replaces a draft experiment's settings, if it is still at
    /// `expectedVersion`. Only drafts can be edited.
    async fn update_experiment(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
        expected_version: i64,
        settings: ExperimentSettings,
    ) -> async_graphql::Result<ExperimentObject> {
        let actor = authorize(ctx, CHANGE_FLAGS)?;
        writable(ctx, &flag_set)?;
        let experiment = admin(ctx)?
            .store
            .update_experiment(&actor, &flag_set, &key, expected_version, settings.into())
            .await
            .map_err(store_error)?;
        Ok(experiment.into())
    }

    /// Starts a draft experiment: from the next publication on, every
    /// evaluation node records the exposures its flag's split decides.
    async fn start_experiment(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
    ) -> async_graphql::Result<ExperimentObject> {
        Self::transition(ctx, flag_set, &key, Transition::Start).await
    }

    /// Stops a running experiment: its flag is no longer exposure-tracked.
    async fn stop_experiment(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
    ) -> async_graphql::Result<ExperimentObject> {
        Self::transition(ctx, flag_set, &key, Transition::Stop).await
    }
}
