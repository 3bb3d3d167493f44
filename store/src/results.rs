//! Experiment results: each analysis of an experiment, stored with the
//! time it ran so that results form a history. The report itself is the
//! analysis' JSON (`analytics/report.schema.json`), kept as it was
//! written; beside it, the analysed users and whether the split
//! mismatched its weights, which lists and alerts read without it.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::Value;
use time::OffsetDateTime;

use super::entity::{experiment, experiment_result, flag_set};
use super::experiments::{ExperimentStatus, record as experiment_record};
use super::{ExperimentRecord, Store, StoreError};

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
    /// Stores a result of experiment `key` of flag set `flag_set`. Results
    /// are analyses, not edits: they are not audited.
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
        let experiment = self.experiment(flag_set, key).await?;
        let model = experiment_result::ActiveModel {
            experiment_id: Set(experiment.id),
            computed_at: Set(result.computed_at),
            users: Set(result.users),
            srm_mismatch: Set(result.srm_mismatch),
            report: Set(result.report),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
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
