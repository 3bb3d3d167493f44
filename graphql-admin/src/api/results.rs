//! Experiment results in the GraphQL API: each experiment's latest result,
//! its history and its health, and running the analysis now.
//!
//! The analysis itself is not linked into this crate: the binary hands the
//! schema an [`AnalysisRunner`]. A result is read from the report the
//! analysis stored (`analytics/report.schema.json`) into the objects below,
//! field by field, so the API's shape is the report's.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_graphql::{ComplexObject, Context, Object, SimpleObject};
use serde::Deserialize;
use store::{ExperimentRecord, ResultRecord, StoreError, TokenRole};

use super::error::{ApiError, store_error};
use super::experiments::ExperimentObject;
use super::schema::{CHANGE_FLAGS, admin, authorize, time};

/// Runs an experiment's analysis and stores its result: the binary's
/// analysis, given to the schema through [`super::Admin::analysis`].
#[async_trait::async_trait]
pub trait AnalysisRunner: std::fmt::Debug + Send + Sync {
    /// Analyses `experiment` now and stores the result; the error's text
    /// is answered to the caller.
    async fn analyse(&self, experiment: ExperimentRecord) -> Result<ResultRecord, String>;
}

/// The runner a schema may hold.
pub type SharedRunner = Arc<dyn AnalysisRunner>;

/// An interval: its low and high ends.
#[derive(Debug, Clone, Copy, SimpleObject, Deserialize)]
#[serde(from = "[f64; 2]")]
pub struct Interval {
    /// The low end.
    low: f64,
    /// The high end.
    high: f64,
}

impl From<[f64; 2]> for Interval {
    fn from([low, high]: [f64; 2]) -> Self {
        Interval { low, high }
    }
}

/// The sample-ratio test: users per variant against the expected weights.
#[derive(Debug, Clone, SimpleObject, Deserialize)]
pub struct SampleRatio {
    /// Pearson's chi-squared statistic, k - 1 degrees of freedom.
    chi2: f64,
    /// Its p-value.
    p_value: f64,
    /// Whether p < 0.001: the assignment or the logging is broken.
    mismatch: bool,
}

/// One metric's figures in one variant.
#[derive(Debug, Clone, SimpleObject, Deserialize)]
pub struct VariantMetric {
    /// The metric.
    #[serde(default)]
    metric: String,
    /// Users with at least one attributed event.
    count: u64,
    /// The sum of the per-user values.
    sum: f64,
    /// The mean per user.
    mean: Option<f64>,
    /// The variance per user (sample variance for sums, p(1 - p) for
    /// conversions).
    variance: Option<f64>,
}

/// One variant's figures.
#[derive(Debug, Clone, SimpleObject)]
pub struct VariantResult {
    /// The variant.
    variant: String,
    /// Users whose first exposure was to it.
    users: u64,
    /// Per metric, in the experiment's order.
    metrics: Vec<VariantMetric>,
}

/// One treatment against the control on one metric. Every formula is in
/// `analytics/STATISTICS.md`; a null figure is undefined, with the reason
/// in the result's notes.
#[derive(Debug, Clone, SimpleObject, Deserialize)]
pub struct Comparison {
    /// The treatment.
    variant: String,
    /// The metric.
    metric: String,
    /// m_t - m_c.
    abs_lift: Option<f64>,
    /// (m_t - m_c)/m_c.
    rel_lift: Option<f64>,
    /// The fixed-horizon interval of the absolute lift.
    abs_ci: Option<Interval>,
    /// The delta-method interval of the relative lift.
    rel_ci: Option<Interval>,
    /// The fixed-horizon two-sided p-value.
    p_value: Option<f64>,
    /// Holm-adjusted across the metric's treatments.
    p_value_holm: Option<f64>,
    /// Benjamini-Hochberg-adjusted across the metric's treatments.
    p_value_bh: Option<f64>,
    /// The minimum detectable absolute effect at 80% power.
    mde_abs: Option<f64>,
    /// The same, relative to the control's mean.
    mde_rel: Option<f64>,
    /// P(p_t > p_c) (conversion metrics).
    chance_to_beat_control: Option<f64>,
    /// E[max(p_c - p_t, 0)] (conversion metrics).
    expected_loss: Option<f64>,
    /// The always-valid p-value of the absolute lift.
    sequential_p_value: Option<f64>,
    /// The confidence sequence of the absolute lift.
    sequential_ci: Option<Interval>,
    /// The always-valid p-value of the relative lift.
    sequential_rel_p_value: Option<f64>,
    /// The confidence sequence of the relative lift.
    sequential_rel_ci: Option<Interval>,
    /// The always-valid p-value, Holm-adjusted: what the verdict reads.
    sequential_p_value_holm: Option<f64>,
}

/// Why a figure is null.
#[derive(Debug, Clone, SimpleObject)]
pub struct ResultNote {
    /// The figure's JSON pointer in the report (`/comparisons/0/relLift`
    /// is `/comparisons/0/rel_lift` there).
    pointer: String,
    /// Why it is undefined.
    reason: String,
}

/// One analysis of an experiment.
#[derive(Debug, Clone, SimpleObject)]
pub struct ExperimentResult {
    /// Its id.
    id: i64,
    /// When the analysis ran (RFC 3339).
    computed_at: String,
    /// The users analysed.
    users: i64,
    /// The tests' alpha: intervals are at level 1 - alpha.
    alpha: f64,
    /// The sample-ratio test; null without users.
    srm: Option<SampleRatio>,
    /// The share of users exposed to more than one variant.
    multiple_exposure_share: Option<f64>,
    /// Per variant, in the experiment's order.
    variants: Vec<VariantResult>,
    /// Per metric (in order), per treatment (in order).
    comparisons: Vec<Comparison>,
    /// Why each null figure is undefined.
    notes: Vec<ResultNote>,
    /// The verdict in words.
    verdict: String,
}

/// An experiment's health at its latest analysis.
#[derive(Debug, Clone, SimpleObject)]
pub struct ExperimentHealth {
    /// When the analysis ran (RFC 3339).
    computed_at: String,
    /// The users analysed.
    users: i64,
    /// Whether the users per variant mismatch the expected weights.
    srm_mismatch: bool,
    /// The sample-ratio test's p-value.
    srm_p_value: Option<f64>,
    /// The share of users exposed to more than one variant.
    multiple_exposure_share: Option<f64>,
    /// The verdict in words.
    verdict: String,
}

/// The stored report, as far as the API reads it.
#[derive(Debug, Deserialize)]
struct StoredReport {
    alpha: f64,
    srm: Option<SampleRatio>,
    multiple_exposure_share: Option<f64>,
    variants: Vec<StoredVariant>,
    comparisons: Vec<Comparison>,
    notes: BTreeMap<String, String>,
    verdict: String,
}

#[derive(Debug, Deserialize)]
struct StoredVariant {
    variant: String,
    users: u64,
    // A JSON object keyed by metric. A stored object keeps no key order
    // (PostgreSQL's jsonb sorts keys), so the experiment's order is
    // restored from its metrics.
    metrics: serde_json::Value,
}

impl ExperimentResult {
    /// Reads a stored result, each variant's metrics in the order of
    /// `metrics` (the experiment's); a report Ensign did not write is
    /// reported, not guessed at.
    fn read(
        record: ResultRecord,
        metrics_of: &[String],
    ) -> async_graphql::Result<ExperimentResult> {
        let corrupt = |reason: String| {
            store_error(StoreError::InvalidInput {
                what: "stored experiment result",
                reason: format!("result {}: {reason}", record.id),
            })
        };
        let report: StoredReport =
            serde_json::from_value(record.report.clone()).map_err(|e| corrupt(e.to_string()))?;
        let mut variants = Vec::with_capacity(report.variants.len());
        for variant in report.variants {
            let serde_json::Value::Object(metrics) = variant.metrics else {
                return Err(corrupt("a variant's metrics are not an object".into()));
            };
            let mut figures = metrics
                .into_iter()
                .map(|(metric, figures)| {
                    let mut figures: VariantMetric = serde_json::from_value(figures)?;
                    figures.metric = metric;
                    Ok(figures)
                })
                .collect::<Result<Vec<_>, serde_json::Error>>()
                .map_err(|e| corrupt(e.to_string()))?;
            let position = |name: &str| metrics_order(metrics_of, name);
            figures.sort_by_key(|figures| position(&figures.metric));
            variants.push(VariantResult {
                variant: variant.variant,
                users: variant.users,
                metrics: figures,
            });
        }
        Ok(ExperimentResult {
            id: record.id,
            computed_at: time(record.computed_at),
            users: record.users,
            alpha: report.alpha,
            srm: report.srm,
            multiple_exposure_share: report.multiple_exposure_share,
            variants,
            comparisons: report.comparisons,
            notes: report
                .notes
                .into_iter()
                .map(|(pointer, reason)| ResultNote { pointer, reason })
                .collect(),
            verdict: report.verdict,
        })
    }
}

/// Where `name` is among `metrics`; a metric the experiment no longer
/// names goes last.
fn metrics_order(metrics: &[String], name: &str) -> usize {
    metrics
        .iter()
        .position(|metric| metric == name)
        .unwrap_or(metrics.len())
}

#[ComplexObject]
impl ExperimentObject {
    /// Its latest result; null before its first analysis.
    async fn latest_result(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<ExperimentResult>> {
        authorize(ctx, TokenRole::Viewer)?;
        let latest = admin(ctx)?
            .store
            .results_of(self.id, 1)
            .await
            .map_err(store_error)?;
        let metrics = self.metric_names();
        latest
            .into_iter()
            .next()
            .map(|result| ExperimentResult::read(result, &metrics))
            .transpose()
    }

    /// Its latest `last` results (1 to 100), oldest first: the history
    /// the charts draw.
    #[graphql(complexity = "super::cost::paged(last, child_complexity)")]
    async fn results(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 24)] last: u64,
    ) -> async_graphql::Result<Vec<ExperimentResult>> {
        authorize(ctx, TokenRole::Viewer)?;
        let last = super::cost::page_size(last)?;
        let mut results = admin(ctx)?
            .store
            .results_of(self.id, last)
            .await
            .map_err(store_error)?;
        results.reverse();
        let metrics = self.metric_names();
        results
            .into_iter()
            .map(|result| ExperimentResult::read(result, &metrics))
            .collect()
    }

    /// Its health at its latest analysis: users, the sample-ratio test and
    /// the verdict; null before its first analysis.
    async fn health(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ExperimentHealth>> {
        let Some(latest) = self.latest_result(ctx).await? else {
            return Ok(None);
        };
        Ok(Some(ExperimentHealth {
            computed_at: latest.computed_at,
            users: latest.users,
            srm_mismatch: latest.srm.as_ref().is_some_and(|srm| srm.mismatch),
            srm_p_value: latest.srm.map(|srm| srm.p_value),
            multiple_exposure_share: latest.multiple_exposure_share,
            verdict: latest.verdict,
        }))
    }
}

/// Running the analysis now.
#[derive(Debug, Default)]
pub struct ResultMutation;

#[Object]
impl ResultMutation {
    /// Analyses a started experiment now and stores the result, as the
    /// periodic analysis does.
    async fn run_analysis(
        &self,
        ctx: &Context<'_>,
        flag_set: String,
        key: String,
    ) -> async_graphql::Result<ExperimentResult> {
        authorize(ctx, CHANGE_FLAGS)?;
        let admin = admin(ctx)?;
        let runner = admin
            .analysis
            .clone()
            .ok_or(ApiError::AnalysisUnavailable)?;
        let experiment = admin
            .store
            .experiment(&flag_set, &key)
            .await
            .map_err(store_error)?;
        let metrics: Vec<String> = experiment.metrics.iter().map(|m| m.name.clone()).collect();
        let result = runner
            .analyse(experiment)
            .await
            .map_err(|reason| ApiError::AnalysisFailed { key, reason })?;
        ExperimentResult::read(result, &metrics)
    }
}
