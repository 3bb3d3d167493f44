//! An experiment of the store analysed: its definition, exposures and
//! events read from the store and handed to the analysis as columns, the
//! report stored as a result. What the periodic job and the admin API's
//! `runAnalysis` both run.

use analytics::{EventColumns, Experiment, ExposureColumns, Input, MetricKind, Report, Table};
use anyhow::{Context as _, anyhow, bail};
use graphql_admin::alerts::AlertWaker;
use store::{EventFilter, ExperimentRecord, NewResult, ResultRecord, Store};
use time::{Duration, OffsetDateTime};

use crate::imports::micros;

/// The admin API's `runAnalysis`: [`analyse`] now.
#[derive(Debug, Clone)]
pub struct Runner {
    /// The store the experiment and its result are in.
    pub store: Store,
    /// The alerter to wake when a result finds a sample-ratio mismatch.
    pub alerts: Option<AlertWaker>,
}

#[async_trait::async_trait]
impl graphql_admin::api::results::AnalysisRunner for Runner {
    async fn analyse(&self, experiment: ExperimentRecord) -> Result<ResultRecord, String> {
        let result = analyse(&self.store, &experiment, OffsetDateTime::now_utc())
            .await
            .map_err(|error| {
                tracing::warn!(
                    flag_set = %experiment.flag_set,
                    experiment = %experiment.key,
                    error = format!("{error:#}"),
                    "Experiment analysis failed."
                );
                format!("{error:#}")
            })?;
        wake_on_mismatch(self.alerts.as_ref(), &result);
        Ok(result)
    }
}

/// Wakes the alerter when `result` found a sample-ratio mismatch: its
/// onset is in the audit trail, for the webhooks.
pub fn wake_on_mismatch(alerts: Option<&AlertWaker>, result: &ResultRecord) {
    if result.srm_mismatch
        && let Some(alerts) = alerts
    {
        alerts.wake();
    }
}

/// Analyses experiment `experiment` of the store as of `now` and stores
/// the result. The exposures read are those from its start until its
/// stop (or `now`), the events those from its start until the window
/// after that; the attribution itself runs on a blocking thread.
pub async fn analyse(
    store: &Store,
    experiment: &ExperimentRecord,
    now: OffsetDateTime,
) -> anyhow::Result<ResultRecord> {
    let definition = definition(experiment)?;
    let Some(started) = experiment.started_at else {
        bail!(
            "experiment {:?} has not started; a draft has no exposures",
            experiment.key
        );
    };
    let stopped = experiment.stopped_at.unwrap_or(now);
    let exposures = store
        .exposures(&experiment.flag_set, &experiment.key)
        .await
        .context("reading the exposures")?;
    let mut exposure_columns = ExposureColumns::default();
    for row in exposures
        .into_iter()
        .filter(|row| started <= row.exposed_at && row.exposed_at < stopped)
    {
        exposure_columns.flag_key.push(row.flag);
        exposure_columns.variant.push(row.variant);
        exposure_columns.targeting_key.push(row.targeting_key);
        exposure_columns.timestamp_us.push(micros(row.exposed_at));
    }
    let window = Duration::seconds(experiment.window_seconds);
    let events = store
        .events(
            &experiment.flag_set,
            &EventFilter {
                name: None,
                from: Some(started),
                until: Some(stopped + window),
            },
        )
        .await
        .context("reading the events")?;
    let names: Vec<&str> = experiment
        .metrics
        .iter()
        .map(|m| m.event.as_str())
        .collect();
    let mut event_columns = EventColumns::default();
    for row in events
        .into_iter()
        .filter(|row| names.contains(&row.name.as_str()))
    {
        event_columns.event_name.push(row.name);
        event_columns.targeting_key.push(row.targeting_key);
        event_columns.timestamp_us.push(micros(row.occurred_at));
        event_columns.value.push(row.value);
    }
    let what = format!(
        "experiment {:?} of flag set {:?}",
        experiment.key, experiment.flag_set
    );
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<Report> {
        let input = Input {
            exposures: Table::exposures(&format!("{what}: exposures"), exposure_columns)?,
            events: Table::events(&format!("{what}: events"), event_columns)?,
        };
        Ok(analytics::analyse(&definition, &input, now)?)
    })
    .await
    .context("the analysis stopped")??;
    let users: u64 = report.variants.iter().map(|v| v.users).sum();
    let result = NewResult {
        computed_at: now,
        users: i64::try_from(users).unwrap_or(i64::MAX),
        srm_mismatch: report.srm.is_some_and(|srm| srm.mismatch),
        report: serde_json::to_value(&report).context("writing the report")?,
    };
    Ok(store
        .record_result(&experiment.flag_set, &experiment.key, result)
        .await?)
}

/// The analysis' definition of a stored experiment: its key as the name,
/// its expected weights (fixed when it started) as the variants.
pub fn definition(experiment: &ExperimentRecord) -> anyhow::Result<Experiment> {
    let weights = experiment.weights.as_ref().ok_or_else(|| {
        anyhow!(
            "experiment {:?} has no expected weights yet (they are fixed when it starts)",
            experiment.key
        )
    })?;
    let definition = Experiment {
        name: experiment.key.clone(),
        flag: experiment.flag.clone(),
        control: experiment.control.clone(),
        variants: weights
            .iter()
            .filter(|w| w.weight > 0)
            .map(|w| analytics::Variant {
                name: w.variant.clone(),
                weight: f64::from(w.weight),
            })
            .collect(),
        metrics: experiment
            .metrics
            .iter()
            .map(|m| analytics::Metric {
                name: m.name.clone(),
                event: m.event.clone(),
                kind: match m.kind {
                    store::MetricKind::Conversion => MetricKind::Conversion,
                    store::MetricKind::Sum => MetricKind::Sum,
                },
            })
            .collect(),
        window_seconds: experiment.window_seconds,
        alpha: experiment.alpha,
        sequential_tuning: experiment.sequential_tuning,
    };
    definition
        .check()
        .with_context(|| format!("experiment {:?}", experiment.key))?;
    Ok(definition)
}
