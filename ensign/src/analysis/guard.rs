//! A guarded rollout's check at each analysis run: the users first
//! exposed during its current step, those who stayed on one variant,
//! compared on the guard metric, the new variant against the old ones
//! pooled; the verdict is stored (it clears the next step when healthy),
//! and a regression stops the rollout as its guard says.

use analytics::attribution::{Cohort, attribute_cohort};
use analytics::stats::guard::{self, Direction, Guard, Verdict};
use analytics::{EventColumns, Experiment, ExposureColumns, Input, MetricKind, Table};
use anyhow::{Context as _, anyhow};
use store::{
    EventFilter, GuardCheck, GuardDirection, GuardStop, GuardVerdict, RolloutRecord, Store,
};
use time::{Duration, OffsetDateTime};

use crate::imports::micros;

/// The label of the variant a rollout rolls out, in its comparison.
const NEW: &str = "new";
/// The label of every other variant, pooled.
const OLD: &str = "old";
/// The level of the guard's confidence sequence: 1 − α.
const ALPHA: f64 = 0.05;

/// What a check led to.
#[derive(Debug)]
pub enum Outcome {
    /// The check is stored; the rollout goes on (or waits) by it.
    Checked(RolloutRecord),
    /// The check found a regression and the rollout was stopped.
    Stopped(GuardStop, GuardCheck),
    /// The rollout moved on or stopped while it was being checked.
    Moved,
}

/// Checks guarded rollout `rollout`'s current step as of `now`, stores the
/// check and, on a regression, stops the rollout.
pub async fn check(
    store: &Store,
    rollout: &RolloutRecord,
    now: OffsetDateTime,
) -> anyhow::Result<Outcome> {
    let check = figures(store, rollout, now).await?;
    if check.verdict == GuardVerdict::Regressed {
        return Ok(
            match store.stop_guarded_rollout(rollout.id, &check).await? {
                Some(stop) => Outcome::Stopped(stop, check),
                None => Outcome::Moved,
            },
        );
    }
    Ok(match store.record_guard_check(rollout.id, &check).await? {
        Some(rollout) => Outcome::Checked(rollout),
        None => Outcome::Moved,
    })
}

/// The check's figures, from the store's exposures and events.
async fn figures(
    store: &Store,
    rollout: &RolloutRecord,
    now: OffsetDateTime,
) -> anyhow::Result<GuardCheck> {
    let (Some(guard), Some(new_variant), Some(step), Some(started)) = (
        &rollout.guard,
        &rollout.guarded_variant,
        rollout.current_step(),
        rollout.step_started_at,
    ) else {
        return Err(anyhow!(
            "rollout {} is not a guarded rollout with a step applied",
            rollout.id
        ));
    };
    let experiment = Experiment {
        name: rollout.exposure_key(),
        flag: rollout.flag.clone(),
        control: OLD.into(),
        variants: [NEW, OLD]
            .into_iter()
            .map(|name| analytics::Variant {
                name: name.into(),
                weight: 1.0,
            })
            .collect(),
        metrics: vec![analytics::Metric {
            name: guard.metric.event.clone(),
            event: guard.metric.event.clone(),
            kind: match guard.metric.kind {
                store::MetricKind::Conversion => MetricKind::Conversion,
                store::MetricKind::Sum => MetricKind::Sum,
            },
        }],
        window_seconds: guard.metric.window_seconds,
        alpha: ALPHA,
        sequential_tuning: analytics::stats::sequential::DEFAULT_TUNING,
    };
    // Every exposure of the rollout: a user first exposed in an earlier
    // step is left out by the cohort, not by the read.
    let mut exposures = ExposureColumns::default();
    for row in store
        .exposures(&rollout.flag_set, &rollout.exposure_key())
        .await
        .context("reading the rollout's exposures")?
        .into_iter()
        .filter(|row| row.exposed_at < now)
    {
        exposures.flag_key.push(row.flag);
        exposures.variant.push(if row.variant == *new_variant {
            NEW.into()
        } else {
            OLD.into()
        });
        exposures.targeting_key.push(row.targeting_key);
        exposures.timestamp_us.push(micros(row.exposed_at));
    }
    let mut events = EventColumns::default();
    for row in store
        .events(
            &rollout.flag_set,
            &EventFilter {
                name: Some(guard.metric.event.clone()),
                from: Some(started),
                until: Some(now + Duration::seconds(guard.metric.window_seconds)),
            },
        )
        .await
        .context("reading the guard metric's events")?
    {
        events.event_name.push(row.name);
        events.targeting_key.push(row.targeting_key);
        events.timestamp_us.push(micros(row.occurred_at));
        events.value.push(row.value);
    }
    let what = format!("rollout {}", rollout.id);
    let cohort = Cohort {
        first_exposed_from: Some(micros(started)),
        single_variant: true,
    };
    let settings = Guard {
        direction: match guard.direction {
            GuardDirection::HigherIsBetter => Direction::HigherIsBetter,
            GuardDirection::LowerIsBetter => Direction::LowerIsBetter,
        },
        tolerance: guard.tolerance,
        min_users: guard.min_users,
        alpha: ALPHA,
        tuning: analytics::stats::sequential::DEFAULT_TUNING,
    };
    let kind = experiment.metrics[0].kind;
    let checked = tokio::task::spawn_blocking(move || -> anyhow::Result<guard::Check> {
        let input = Input {
            exposures: Table::exposures(&format!("{what}: exposures"), exposures)?,
            events: Table::events(&format!("{what}: events"), events)?,
        };
        let totals = attribute_cohort(&experiment, &input, cohort, &mut |_| {})?;
        let arm = |index: usize| {
            let variant = &totals.variants[index];
            analytics::report::arm(kind, variant.users, &variant.metrics[0])
        };
        Ok(guard::check(&settings, &arm(1), &arm(0)))
    })
    .await
    .context("the guard's check stopped")??;
    Ok(GuardCheck {
        step,
        checked_at: now,
        verdict: match checked.verdict {
            Verdict::TooFewUsers => GuardVerdict::TooFewUsers,
            Verdict::Undefined => GuardVerdict::Undefined,
            Verdict::Healthy => GuardVerdict::Healthy,
            Verdict::Regressed => GuardVerdict::Regressed,
        },
        old_users: checked.old_users,
        new_users: checked.new_users,
        lift: checked.lift,
        interval: checked.interval,
        reason: checked.undefined.map(|why| why.reason().to_owned()),
    })
}
