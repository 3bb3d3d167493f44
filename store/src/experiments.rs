//! Experiments: A/B tests on a flag's `fractional` split. An experiment
//! names its flag, the control variant, the weights it expects the split
//! to serve, its metrics and its attribution window, and goes from draft
//! to running to stopped.
//!
//! While an experiment runs, its flag set's `tracked` column maps the flag
//! to the experiment's key, and the published document carries that key
//! as the flag's `ensign.experiment` metadata ([`crate::document`]): every
//! evaluation node then knows which evaluations are exposures without a
//! database. Starting and stopping change what is published, so they bump
//! the flag set's version like any flag write. A flag has at most one
//! running experiment. Every change is audited.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::audit::{self, Action, Entry, Subject};
use super::document::set_rows;
use super::entity::{experiment, flag, flag_set};
use super::flag_sets::bump_version;
use super::weights::fractional_weights;
use super::{Actor, ExperimentKey, Store, StoreError};
use crate::rollouts::RolloutWeight;

/// The attribution window when none is given: 7 days.
pub const DEFAULT_WINDOW_SECONDS: i64 = 7 * 24 * 60 * 60;
/// The longest attribution window: 365 days.
pub const MAX_WINDOW_SECONDS: i64 = 365 * 24 * 60 * 60;
/// The most metrics one experiment may have.
pub const MAX_METRICS: usize = 50;
/// The longest metric or event name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;
/// The analysis' α when none is given: intervals at 95%.
pub const DEFAULT_ALPHA: f64 = 0.05;
/// The sequential test's tuning N* when none is given (gbstats' default).
pub const DEFAULT_SEQUENTIAL_TUNING: f64 = 5000.0;

/// How a metric reads its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Whether the user has at least one attributed event.
    Conversion,
    /// The per-user sum of the attributed events' values; users without
    /// one count as 0.
    Sum,
}

impl MetricKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Conversion => "conversion",
            MetricKind::Sum => "sum",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<MetricKind> {
        [MetricKind::Conversion, MetricKind::Sum]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// One metric of an experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    /// Its name, unique within the experiment.
    pub name: String,
    /// The tracking event it reads.
    pub event: String,
    /// How it reads it.
    pub kind: MetricKind,
}

/// Where an experiment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExperimentStatus {
    /// Being set up: may be edited; nothing is recorded.
    Draft,
    /// Its flag is exposure-tracked.
    Running,
    /// Over; its exposures stay.
    Stopped,
}

impl ExperimentStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExperimentStatus::Draft => "draft",
            ExperimentStatus::Running => "running",
            ExperimentStatus::Stopped => "stopped",
        }
    }

    fn parse(text: &str) -> Option<ExperimentStatus> {
        [
            ExperimentStatus::Draft,
            ExperimentStatus::Running,
            ExperimentStatus::Stopped,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// What creating or editing a draft experiment takes.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentInput {
    /// The flag whose split it reads.
    pub flag: String,
    /// The control variant.
    pub control: String,
    /// The weights it expects the split to serve; `None` for the flag's
    /// `fractional` weights, fixed when it starts.
    pub weights: Option<Vec<RolloutWeight>>,
    /// Its metrics.
    pub metrics: Vec<Metric>,
    /// The attribution window in seconds; `None` for
    /// [`DEFAULT_WINDOW_SECONDS`].
    pub window_seconds: Option<i64>,
    /// The analysis' α (0 < α < 0.5); `None` for [`DEFAULT_ALPHA`].
    pub alpha: Option<f64>,
    /// The sequential test's tuning N* (> 0); `None` for
    /// [`DEFAULT_SEQUENTIAL_TUNING`].
    pub sequential_tuning: Option<f64>,
}

/// An experiment as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentRecord {
    /// Its id.
    pub id: i64,
    /// The flag set's key.
    pub flag_set: String,
    /// Its key, unique in the flag set: what exposures name.
    pub key: String,
    /// The flag's key.
    pub flag: String,
    /// The control variant.
    pub control: String,
    /// The expected weights; `None` while a draft takes the flag's.
    pub weights: Option<Vec<RolloutWeight>>,
    /// Its metrics.
    pub metrics: Vec<Metric>,
    /// The attribution window in seconds.
    pub window_seconds: i64,
    /// The analysis' α: intervals are at level 1 − α.
    pub alpha: f64,
    /// The sequential test's tuning N*.
    pub sequential_tuning: f64,
    /// Where it stands.
    pub status: ExperimentStatus,
    /// When it started.
    pub started_at: Option<OffsetDateTime>,
    /// When it stopped.
    pub stopped_at: Option<OffsetDateTime>,
    /// Its version, raised by every change.
    pub version: i64,
    /// Who created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

impl Store {
    /// Creates draft experiment `key` of flag set `flag_set`. The flag must
    /// be live, the control and the weights must name its variants, and
    /// the metrics must be well formed; otherwise nothing is written.
    /// Audited as `create`.
    pub async fn create_experiment(
        &self,
        actor: &Actor,
        flag_set: &str,
        key: impl TryInto<ExperimentKey, Error = StoreError>,
        input: ExperimentInput,
    ) -> Result<ExperimentRecord, StoreError> {
        let key: ExperimentKey = key.try_into()?;
        let (txn, set) = self.begin_write_on(flag_set).await?;
        if find(&txn, set.id, &key).await?.is_some() {
            return Err(StoreError::AlreadyExists {
                kind: "experiment",
                key: key.into_string(),
            });
        }
        let checked = check_input(&txn, &set, &input).await?;
        let now = OffsetDateTime::now_utc();
        let model = experiment::ActiveModel {
            flag_set_id: Set(set.id),
            key: Set(key.into_string()),
            flag_key: Set(input.flag),
            control: Set(input.control),
            weights: Set(input.weights.as_deref().map(weights_json)),
            metrics: Set(metrics_json(&input.metrics)),
            window_seconds: Set(checked.window),
            alpha: Set(checked.alpha),
            sequential_tuning: Set(checked.sequential_tuning),
            status: Set(ExperimentStatus::Draft.as_str().to_owned()),
            started_at: Set(None),
            stopped_at: Set(None),
            version: Set(1),
            created_by: Set(actor.name.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let record = record(&set.key, model)?;
        audited(&txn, actor, set.id, None, &record, Action::Create, now).await?;
        txn.commit().await?;
        Ok(record)
    }

    /// Replaces draft experiment `key`'s settings, if it is at
    /// `expected_version`. Only a draft may be edited. Audited as `update`.
    pub async fn update_experiment(
        &self,
        actor: &Actor,
        flag_set: &str,
        key: &str,
        expected_version: i64,
        input: ExperimentInput,
    ) -> Result<ExperimentRecord, StoreError> {
        let (txn, set) = self.begin_write_on(flag_set).await?;
        let current = existing(&txn, &set, key).await?;
        if current.version != expected_version {
            return Err(StoreError::Conflict {
                kind: "experiment",
                key: key.to_owned(),
                expected: expected_version,
                actual: current.version,
            });
        }
        let before = record(&set.key, current.clone())?;
        needs_status(&before, ExperimentStatus::Draft, "edited")?;
        let checked = check_input(&txn, &set, &input).await?;
        let now = OffsetDateTime::now_utc();
        let model = experiment::ActiveModel {
            id: Set(current.id),
            flag_key: Set(input.flag),
            control: Set(input.control),
            weights: Set(input.weights.as_deref().map(weights_json)),
            metrics: Set(metrics_json(&input.metrics)),
            window_seconds: Set(checked.window),
            alpha: Set(checked.alpha),
            sequential_tuning: Set(checked.sequential_tuning),
            version: Set(current.version + 1),
            updated_at: Set(now),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        let after = record(&set.key, model)?;
        audited(
            &txn,
            actor,
            set.id,
            Some(&before),
            &after,
            Action::Update,
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(after)
    }

    /// Starts draft experiment `key`: its flag becomes exposure-tracked in
    /// what is published, and its expected weights, if it had none, become
    /// the flag's `fractional` weights now. The flag must still be live,
    /// have a `fractional` split and no other running experiment, and the
    /// experiment needs a metric. Bumps the flag set's version. Audited as
    /// `start_experiment`.
    pub async fn start_experiment(
        &self,
        actor: &Actor,
        flag_set: &str,
        key: &str,
    ) -> Result<ExperimentRecord, StoreError> {
        let (txn, set) = self.begin_write_on(flag_set).await?;
        let current = existing(&txn, &set, key).await?;
        let before = record(&set.key, current.clone())?;
        needs_status(&before, ExperimentStatus::Draft, "started")?;
        let refused = |reason: String| StoreError::InvalidInput {
            what: "experiment",
            reason,
        };
        if before.metrics.is_empty() {
            return Err(refused(format!(
                "experiment {key:?} has no metric; add one before starting it"
            )));
        }
        let definition = live_flag(&txn, &set, &before.flag).await?;
        let Some(split) = fractional_weights(&definition) else {
            return Err(refused(format!(
                "flag {:?} has no fractional split with constant weights for the experiment to read",
                before.flag
            )));
        };
        if let Some(other) = set.tracked.get(&before.flag) {
            return Err(refused(format!(
                "flag {:?} is already in running experiment {other}",
                before.flag
            )));
        }
        let weights = before.weights.clone().unwrap_or_else(|| {
            split
                .into_iter()
                .map(|(variant, weight)| RolloutWeight { variant, weight })
                .collect()
        });
        let now = OffsetDateTime::now_utc();
        let mut tracked = tracked_map(&set);
        tracked.insert(before.flag.clone(), Value::String(before.key.clone()));
        set_tracked(&txn, &set, tracked, now).await?;
        let model = experiment::ActiveModel {
            id: Set(current.id),
            weights: Set(Some(weights_json(&weights))),
            status: Set(ExperimentStatus::Running.as_str().to_owned()),
            started_at: Set(Some(now)),
            version: Set(current.version + 1),
            updated_at: Set(now),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        let after = record(&set.key, model)?;
        let action = Action::StartExperiment;
        audited(&txn, actor, set.id, Some(&before), &after, action, now).await?;
        txn.commit().await?;
        Ok(after)
    }

    /// Stops running experiment `key`: its flag is no longer
    /// exposure-tracked. Bumps the flag set's version. Audited as
    /// `stop_experiment`.
    pub async fn stop_experiment(
        &self,
        actor: &Actor,
        flag_set: &str,
        key: &str,
    ) -> Result<ExperimentRecord, StoreError> {
        let (txn, set) = self.begin_write_on(flag_set).await?;
        let current = existing(&txn, &set, key).await?;
        let before = record(&set.key, current.clone())?;
        needs_status(&before, ExperimentStatus::Running, "stopped")?;
        let now = OffsetDateTime::now_utc();
        let mut tracked = tracked_map(&set);
        if tracked.get(&before.flag).and_then(Value::as_str) == Some(before.key.as_str()) {
            tracked.remove(&before.flag);
        }
        set_tracked(&txn, &set, tracked, now).await?;
        let model = experiment::ActiveModel {
            id: Set(current.id),
            status: Set(ExperimentStatus::Stopped.as_str().to_owned()),
            stopped_at: Set(Some(now)),
            version: Set(current.version + 1),
            updated_at: Set(now),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        let after = record(&set.key, model)?;
        let action = Action::StopExperiment;
        audited(&txn, actor, set.id, Some(&before), &after, action, now).await?;
        txn.commit().await?;
        Ok(after)
    }

    /// The experiments of a flag set (of one flag when `flag` is given),
    /// newest first.
    pub async fn experiments(
        &self,
        flag_set: &str,
        flag: Option<&str>,
    ) -> Result<Vec<ExperimentRecord>, StoreError> {
        let set = self.flag_set_model(flag_set).await?;
        let mut query = experiment::Entity::find().filter(experiment::Column::FlagSetId.eq(set.id));
        if let Some(flag) = flag {
            query = query.filter(experiment::Column::FlagKey.eq(flag));
        }
        query
            .order_by_desc(experiment::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|model| record(&set.key, model))
            .collect()
    }

    /// Experiment `key` of flag set `flag_set`.
    pub async fn experiment(
        &self,
        flag_set: &str,
        key: &str,
    ) -> Result<ExperimentRecord, StoreError> {
        let set = self.flag_set_model(flag_set).await?;
        let model = find(&self.db, set.id, key)
            .await?
            .ok_or_else(|| not_found(flag_set, key))?;
        record(&set.key, model)
    }

    async fn flag_set_model(&self, key: &str) -> Result<flag_set::Model, StoreError> {
        flag_set::Entity::find()
            .filter(flag_set::Column::Key.eq(key))
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::FlagSetNotFound {
                key: key.to_owned(),
            })
    }
}

async fn find(
    db: &impl ConnectionTrait,
    set_id: i64,
    key: &str,
) -> Result<Option<experiment::Model>, StoreError> {
    Ok(experiment::Entity::find()
        .filter(experiment::Column::FlagSetId.eq(set_id))
        .filter(experiment::Column::Key.eq(key))
        .one(db)
        .await?)
}

async fn existing(
    txn: &DatabaseTransaction,
    set: &flag_set::Model,
    key: &str,
) -> Result<experiment::Model, StoreError> {
    find(txn, set.id, key)
        .await?
        .ok_or_else(|| not_found(&set.key, key))
}

fn not_found(flag_set: &str, key: &str) -> StoreError {
    StoreError::ExperimentNotFound {
        flag_set: flag_set.to_owned(),
        key: key.to_owned(),
    }
}

/// Refuses a change that `record`'s status does not allow.
fn needs_status(
    record: &ExperimentRecord,
    needed: ExperimentStatus,
    done: &str,
) -> Result<(), StoreError> {
    if record.status == needed {
        return Ok(());
    }
    Err(StoreError::InvalidInput {
        what: "experiment",
        reason: format!(
            "experiment {:?} is {}; only a {} experiment can be {done}",
            record.key,
            record.status.as_str(),
            needed.as_str()
        ),
    })
}

/// The live definition of flag `key` in `set`.
async fn live_flag(
    txn: &DatabaseTransaction,
    set: &flag_set::Model,
    key: &str,
) -> Result<Value, StoreError> {
    let (flags, _) = set_rows(txn, set.id).await?;
    flags
        .into_iter()
        .find(|f: &flag::Model| f.key == key && !f.archived)
        .map(|f| f.definition)
        .ok_or_else(|| StoreError::FlagNotFound {
            flag_set: set.key.clone(),
            key: key.to_owned(),
        })
}

/// What [`check_input`] settles: the settings to store, defaults filled in.
struct Checked {
    window: i64,
    alpha: f64,
    sequential_tuning: f64,
}

/// Checks `input` against the flag as it is: answers the settings to store.
async fn check_input(
    txn: &DatabaseTransaction,
    set: &flag_set::Model,
    input: &ExperimentInput,
) -> Result<Checked, StoreError> {
    let invalid = |reason: String| StoreError::InvalidInput {
        what: "experiment",
        reason,
    };
    let definition = live_flag(txn, set, &input.flag).await?;
    let has_variant = |name: &str| definition["variants"].get(name).is_some();
    if !has_variant(&input.control) {
        return Err(invalid(format!(
            "the control {:?} is not a variant of flag {:?}",
            input.control, input.flag
        )));
    }
    if let Some(weights) = &input.weights {
        if weights.iter().all(|w| w.weight == 0) {
            return Err(invalid(
                "at least one expected weight must be above 0".into(),
            ));
        }
        for (i, weight) in weights.iter().enumerate() {
            if !has_variant(&weight.variant) {
                return Err(invalid(format!(
                    "the weight of {:?} names no variant of flag {:?}",
                    weight.variant, input.flag
                )));
            }
            if weights[..i].iter().any(|w| w.variant == weight.variant) {
                return Err(invalid(format!(
                    "variant {:?} is weighted twice",
                    weight.variant
                )));
            }
        }
        if !weights.iter().any(|w| w.variant == input.control) {
            return Err(invalid(format!(
                "the weights leave out the control {:?}",
                input.control
            )));
        }
    }
    if input.metrics.len() > MAX_METRICS {
        return Err(invalid(format!(
            "{} metrics; an experiment has at most {MAX_METRICS}",
            input.metrics.len()
        )));
    }
    for (i, metric) in input.metrics.iter().enumerate() {
        for (what, name) in [("name", &metric.name), ("event", &metric.event)] {
            if name.trim().is_empty() || name.len() > MAX_NAME_BYTES {
                return Err(invalid(format!(
                    "metric {}: its {what} must be 1 to {MAX_NAME_BYTES} bytes, not blank",
                    i + 1
                )));
            }
        }
        if input.metrics[..i].iter().any(|m| m.name == metric.name) {
            return Err(invalid(format!("two metrics are named {:?}", metric.name)));
        }
    }
    let window = input.window_seconds.unwrap_or(DEFAULT_WINDOW_SECONDS);
    if !(1..=MAX_WINDOW_SECONDS).contains(&window) {
        return Err(invalid(format!(
            "the attribution window is {window} s; it must be 1 s to {MAX_WINDOW_SECONDS} s (365 days)"
        )));
    }
    let alpha = input.alpha.unwrap_or(DEFAULT_ALPHA);
    if !(alpha > 0.0 && alpha < 0.5) {
        return Err(invalid(format!(
            "alpha is {alpha}; it must be above 0 and below 0.5"
        )));
    }
    let sequential_tuning = input.sequential_tuning.unwrap_or(DEFAULT_SEQUENTIAL_TUNING);
    if !(sequential_tuning > 0.0 && sequential_tuning.is_finite()) {
        return Err(invalid(format!(
            "the sequential tuning is {sequential_tuning}; it must be a positive number"
        )));
    }
    Ok(Checked {
        window,
        alpha,
        sequential_tuning,
    })
}

pub(crate) fn tracked_map(set: &flag_set::Model) -> Map<String, Value> {
    match &set.tracked {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    }
}

/// Writes `set`'s tracked flags and bumps its version, so the change is
/// published.
pub(crate) async fn set_tracked(
    txn: &DatabaseTransaction,
    set: &flag_set::Model,
    tracked: Map<String, Value>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    flag_set::ActiveModel {
        id: Set(set.id),
        tracked: Set(Value::Object(tracked)),
        ..Default::default()
    }
    .update(txn)
    .await?;
    bump_version(txn, set, now).await?;
    Ok(())
}

async fn audited(
    txn: &DatabaseTransaction,
    actor: &Actor,
    set_id: i64,
    before: Option<&ExperimentRecord>,
    after: &ExperimentRecord,
    action: Action,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let entry = Entry {
        flag_set_id: Some(set_id),
        subject: Subject::Experiment,
        key: &after.key,
        action,
        actor,
        version: Some(after.version),
        before: before.map(audit_json),
        after: Some(audit_json(after)),
    };
    audit::record(txn, entry, now).await
}

/// An experiment as its audit entries record it.
fn audit_json(record: &ExperimentRecord) -> Value {
    let time = |t: Option<OffsetDateTime>| t.and_then(|t| t.format(&Rfc3339).ok());
    json!({
        "flag": record.flag,
        "control": record.control,
        "weights": record.weights.as_deref().map(weights_json),
        "metrics": metrics_json(&record.metrics),
        "windowSeconds": record.window_seconds,
        "alpha": record.alpha,
        "sequentialTuning": record.sequential_tuning,
        "status": record.status.as_str(),
        "startedAt": time(record.started_at),
        "stoppedAt": time(record.stopped_at),
    })
}

fn weights_json(weights: &[RolloutWeight]) -> Value {
    weights
        .iter()
        .map(|w| json!({"variant": w.variant, "weight": w.weight}))
        .collect()
}

fn metrics_json(metrics: &[Metric]) -> Value {
    metrics
        .iter()
        .map(|m| json!({"name": m.name, "event": m.event, "kind": m.kind.as_str()}))
        .collect()
}

/// A stored row as a record; a row whose JSON or status Ensign did not
/// write is reported, not guessed at.
pub(crate) fn record(
    flag_set: &str,
    model: experiment::Model,
) -> Result<ExperimentRecord, StoreError> {
    let corrupt = |what: &str| StoreError::InvalidInput {
        what: "stored experiment",
        reason: format!("experiment {} has an unreadable {what}", model.id),
    };
    let status = ExperimentStatus::parse(&model.status).ok_or_else(|| corrupt("status"))?;
    let weights = match &model.weights {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|item| {
                    Some(RolloutWeight {
                        variant: item.get("variant")?.as_str()?.to_owned(),
                        weight: u32::try_from(item.get("weight")?.as_u64()?).ok()?,
                    })
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| corrupt("weights"))?,
        ),
        Some(_) => return Err(corrupt("weights")),
    };
    let metrics = model
        .metrics
        .as_array()
        .ok_or_else(|| corrupt("metrics"))?
        .iter()
        .map(|item| {
            Some(Metric {
                name: item.get("name")?.as_str()?.to_owned(),
                event: item.get("event")?.as_str()?.to_owned(),
                kind: MetricKind::parse(item.get("kind")?.as_str()?)?,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| corrupt("metrics"))?;
    Ok(ExperimentRecord {
        id: model.id,
        flag_set: flag_set.to_owned(),
        key: model.key,
        flag: model.flag_key,
        control: model.control,
        weights,
        metrics,
        window_seconds: model.window_seconds,
        alpha: model.alpha,
        sequential_tuning: model.sequential_tuning,
        status,
        started_at: model.started_at,
        stopped_at: model.stopped_at,
        version: model.version,
        created_by: model.created_by,
        created_at: model.created_at,
        updated_at: model.updated_at,
    })
}
