//! Experiment results: each analysis of an experiment, stored with the
//! time it ran so that results form a history. The report itself is the
//! analysis' JSON (`analytics/report.schema.json`), kept as it was
//! written; beside it, the analysed users and whether the split
//! mismatched its weights, which lists and alerts read without it.
//!
//! Results are analyses, not edits, and are not audited, but for one
//! event: a result that finds a sample-ratio mismatch where the result
//! before it did not is audited as `sample_ratio_mismatch` (actor
//! `analysis`), in the same transaction, so the alerter sends it to the
//! webhooks once per onset.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Actor;
use super::audit::{self, Action, Entry, Subject};
use super::entity::{experiment, experiment_result, flag_set};
use super::experiments::{ExperimentStatus, record as experiment_record};
use super::{ExperimentRecord, Store, StoreError};

/// The audit actor of what the analysis records.
pub const ANALYSIS_ACTOR: &str = "analysis";

/// The most results one history read returns.
pub const MAX_RESULTS: u64 = 1_000;

/// One stored analysis of an experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRecord {
    /// Its id.
    pub id: i64,
    /// The experiment's id.
    pub experiment_id: i64,
    /// When the analysis ran.
    pub computed_at: OffsetDateTime,
    /// The users it analysed.
    pub users: i64,
    /// Whether the users per variant mismatched the expected weights.
    pub srm_mismatch: bool,
    /// The report.
    pub report: Value,
}

/// What storing a result takes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewResult {
    /// When the analysis ran.
    pub computed_at: OffsetDateTime,
    /// The users it analysed.
    pub users: i64,
    /// Whether the users per variant mismatched the expected weights.
    pub srm_mismatch: bool,
    /// The report (a JSON object).
    pub report: Value,
}

impl Store {
    /// Stores a result of experiment `key` of flag set `flag_set`; audits
    /// the onset of a sample-ratio mismatch.
    pub async fn record_result(
        &self,
        flag_set: &str,
        key: &str,
        result: NewResult,
    ) -> Result<ResultRecord, StoreError> {
        if !result.report.is_object() {
            return Err(StoreError::InvalidInput {
                what: "experiment result",
                reason: "the report must be a JSON object".to_owned(),
            });
        }
        let set = flag_set::Entity::find()
            .filter(flag_set::Column::Key.eq(flag_set))
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::FlagSetNotFound {
                key: flag_set.to_owned(),
            })?;
        let experiment = self.experiment(flag_set, key).await?;
        let txn = self.db.begin().await?;
        let before = experiment_result::Entity::find()
            .filter(experiment_result::Column::ExperimentId.eq(experiment.id))
            .order_by_desc(experiment_result::Column::ComputedAt)
            .order_by_desc(experiment_result::Column::Id)
            .one(&txn)
            .await?;
        if result.srm_mismatch && !before.is_some_and(|before| before.srm_mismatch) {
            let entry = Entry {
                flag_set_id: Some(set.id),
                subject: Subject::Experiment,
                key: &experiment.key,
                action: Action::SampleRatioMismatch,
                actor: &Actor::named(ANALYSIS_ACTOR),
                version: Some(experiment.version),
                before: None,
                after: Some(json!({
                    "flag": experiment.flag,
                    "computedAt": result.computed_at.format(&Rfc3339).unwrap_or_default(),
                    "users": result.users,
                    "srm": result.report["srm"],
                    "variants": result.report["variants"]
                        .as_array()
                        .map(|variants| {
                            variants
                                .iter()
                                .map(|v| json!({"variant": v["variant"], "users": v["users"]}))
                                .collect::<Vec<_>>()
                        }),
                    "weights": experiment.weights.as_ref().map(|weights| {
                        weights
                            .iter()
                            .map(|w| json!({"variant": w.variant, "weight": w.weight}))
                            .collect::<Vec<_>>()
                    }),
                })),
            };
            audit::record(&txn, entry, OffsetDateTime::now_utc()).await?;
        }
        let model = experiment_result::ActiveModel {
            experiment_id: Set(experiment.id),
            computed_at: Set(result.computed_at),
            users: Set(result.users),
            srm_mismatch: Set(result.srm_mismatch),
            report: Set(result.report),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(record(model))
    }

    /// The results of experiment `key` of flag set `flag_set`, newest
    /// first, at most `limit` (and at most [`MAX_RESULTS`]).
    pub async fn results(
        &self,
        flag_set: &str,
        key: &str,
        limit: u64,
    ) -> Result<Vec<ResultRecord>, StoreError> {
        let experiment = self.experiment(flag_set, key).await?;
        self.results_of(experiment.id, limit).await
    }

    /// The results of the experiment with id `experiment_id`, newest first.
    pub async fn results_of(
        &self,
        experiment_id: i64,
        limit: u64,
    ) -> Result<Vec<ResultRecord>, StoreError> {
        Ok(experiment_result::Entity::find()
            .filter(experiment_result::Column::ExperimentId.eq(experiment_id))
            .order_by_desc(experiment_result::Column::ComputedAt)
            .order_by_desc(experiment_result::Column::Id)
            .limit(limit.min(MAX_RESULTS))
            .all(&self.db)
            .await?
            .into_iter()
            .map(record)
            .collect())
    }

    /// Every running experiment of every flag set, oldest first.
    pub async fn running_experiments(&self) -> Result<Vec<ExperimentRecord>, StoreError> {
        let running = experiment::Entity::find()
            .filter(experiment::Column::Status.eq(ExperimentStatus::Running.as_str()))
            .order_by_asc(experiment::Column::Id)
            .all(&self.db)
            .await?;
        let sets: HashMap<i64, String> = flag_set::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|set| (set.id, set.key))
            .collect();
        running
            .into_iter()
            .filter_map(|model| {
                let set = sets.get(&model.flag_set_id)?;
                Some(experiment_record(set, model))
            })
            .collect()
    }
}

fn record(model: experiment_result::Model) -> ResultRecord {
    ResultRecord {
        id: model.id,
        experiment_id: model.experiment_id,
        computed_at: model.computed_at,
        users: model.users,
        srm_mismatch: model.srm_mismatch,
        report: model.report,
    }
}
