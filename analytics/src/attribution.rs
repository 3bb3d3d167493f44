//! Attribution: each user's first exposure to the experiment's flag fixes
//! their variant and exposure time t0, and an event of a metric counts
//! for them iff t0 ≤ ts < t0 + window (the rules of `STATISTICS.md`). The
//! result is small: per variant, its users and each metric's count, sum
//! and sum of squared deviations, from which the statistics follow.
//!
//! Every sum is taken in an order fixed by the data (values sorted within
//! a user, users by key), so the same rows give the same figures to the
//! last bit, whatever order they come in.

use std::collections::HashMap;

use polars::prelude::*;

use crate::definition::{Experiment, MetricKind};
use crate::input::{Input, InputError, diagnose};

/// One metric's aggregates in one variant, over all its users (those
/// without an attributed event count 0).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MetricTotals {
    /// Users with at least one attributed event.
    pub count: u64,
    /// The sum of the per-user values.
    pub sum: f64,
    /// Σ(x − m)² over the per-user values x, m their mean.
    pub squared_deviations: f64,
}

/// One variant's users and metric aggregates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VariantTotals {
    /// Users whose first exposure was to this variant.
    pub users: u64,
    /// Per metric, in the experiment's order.
    pub metrics: Vec<MetricTotals>,
}

/// What attribution yields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Totals {
    /// Per variant, in the experiment's order.
    pub variants: Vec<VariantTotals>,
    /// Users whose first exposure was to a variant the experiment does not
    /// list: left out of every figure.
    pub unlisted_users: u64,
    /// Analysed users who were exposed to more than one variant.
    pub multiple_exposure_users: u64,
}

const KEY: &str = "targeting_key";
const VARIANT: &str = "variant";
const TS: &str = "timestamp";
const T0: &str = "t0";
const SEEN: &str = "variants_seen";
const EVENT: &str = "event_name";
const VALUE: &str = "value";
const EVENTS: &str = "events";
const TOTAL: &str = "total";
const MISSING: &str = "missing";

/// A stage of attribution, reported as it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Each user's first exposure is known.
    FirstExposures,
    /// The events are attributed.
    Events,
    /// The totals per variant are added up.
    Totals,
}

/// Attributes `input`'s events to its exposures for `experiment`.
pub fn attribute(experiment: &Experiment, input: &Input) -> Result<Totals, InputError> {
    attribute_with(experiment, input, &mut |_| {})
}

/// [`attribute`], telling `progress` as each stage ends.
pub fn attribute_with(
    experiment: &Experiment,
    input: &Input,
    progress: &mut dyn FnMut(Stage),
) -> Result<Totals, InputError> {
    let packed = experiment.variants.len() <= MAX_PACKED_VARIANTS;
    let users = first_exposures(experiment, input, packed)?;
    progress(Stage::FirstExposures);
    let listed: Vec<&str> = experiment
        .variants
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    let index_of: HashMap<&str, usize> = listed.iter().enumerate().map(|(i, v)| (*v, i)).collect();

    let mut totals = Totals {
        variants: vec![
            VariantTotals {
                users: 0,
                metrics: vec![MetricTotals::default(); experiment.metrics.len()],
            };
            listed.len()
        ],
        ..Totals::default()
    };
    let variants = users
        .column(VARIANT)
        .and_then(|c| c.str())
        .map_err(read(input))?;
    let seen = users
        .column(SEEN)
        .and_then(|c| c.u32())
        .map_err(read(input))?;
    for (variant, seen) in variants.iter().zip(seen.iter()) {
        match variant.and_then(|v| index_of.get(v)) {
            Some(&index) => {
                totals.variants[index].users += 1;
                if seen.unwrap_or(1) > 1 {
                    totals.multiple_exposure_users += 1;
                }
            }
            None => totals.unlisted_users += 1,
        }
    }

    let per_user = attributed_events(experiment, input, users)?;
    progress(Stage::Events);
    accumulate(experiment, &index_of, &per_user, &mut totals).map_err(read(input))?;
    progress(Stage::Totals);
    Ok(totals)
}

/// Per targeting key exposed to the flag: the first exposure's variant
/// (ties on time to the smaller name) and time, and how many distinct
/// variants the user saw.
fn first_exposures(
    experiment: &Experiment,
    input: &Input,
    packed: bool,
) -> Result<DataFrame, InputError> {
    let exposures = &input.exposures;
    let mut listed: Vec<&str> = experiment
        .variants
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    listed.sort_unstable();
    let first = if packed {
        packed_first(&listed)
    } else {
        vec![
            col(TS).min().alias(T0),
            col(VARIANT)
                .filter(col(TS).eq(col(TS).min()))
                .min()
                .alias(VARIANT),
            col(VARIANT).n_unique().cast(DataType::UInt32).alias(SEEN),
        ]
    };
    let mut aggregations: Vec<Expr> = first;
    aggregations.push(
        (col(TS).null_count() + col(VARIANT).null_count())
            .cast(DataType::UInt64)
            .alias(MISSING),
    );
    let mut query = exposures
        .frame
        .clone()
        .filter(col("flag_key").eq(lit(experiment.flag.as_str())))
        .group_by([col(KEY)])
        .agg(aggregations);
    if packed {
        query = query.with_columns(unpacked(&listed));
    }
    streamed(query)
        .and_then(|users| {
            let missing = users.column(MISSING)?.u64()?.sum().unwrap_or(0)
                + users.column(KEY)?.null_count() as u64;
            if missing > 0 {
                polars_bail!(ComputeError: "an exposure lacks a field");
            }
            Ok(users)
        })
        .map_err(|error| diagnose(exposures, error))
}

/// Runs `query` on Polars' streaming engine: the files are read in morsels
/// rather than whole, which holds less in memory and, on this query,
/// takes no longer.
fn streamed(query: LazyFrame) -> PolarsResult<DataFrame> {
    // One query has one sink, so one frame: `unwrap_single` cannot fail.
    Ok(query
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single())
}

/// Up to this many variants, a user's first exposure is found by one
/// integer minimum: time × (2m + 2) + the variant's place among the
/// listed names cannot overflow for any time of the years 0 to 9999 that
/// the input allows.
const MAX_PACKED_VARIANTS: usize = 16;

const PACKED: &str = "packed";
const PLACE_MIN: &str = "place_min";
const PLACE_MAX: &str = "place_max";

/// A variant's place among the sorted listed names `listed` (m of them):
/// 2i + 1 for the i-th, and 2k for a name the experiment does not list
/// that sorts after k of them, so that places order as the names do
/// wherever a listed name is involved (two unlisted names between the
/// same listed ones share a place, and either leaves the user out).
fn place(listed: &[&str]) -> Expr {
    let names = Series::new(
        "listed".into(),
        listed
            .iter()
            .map(|name| (*name).to_owned())
            .collect::<Vec<_>>(),
    );
    listed.iter().fold(
        when(col(VARIANT).is_in(lit(names).implode(false), false))
            .then(lit(1i64))
            .otherwise(lit(0i64)),
        |place, name| {
            place
                + when(col(VARIANT).gt(lit(*name)))
                    .then(lit(2i64))
                    .otherwise(lit(0i64))
        },
    )
}

/// The packed aggregations: the earliest time, the smallest time × (2m +
/// 2) + place (the first exposure, ties to the smaller name), and the
/// smallest and largest place (a user who saw two places saw two
/// variants).
fn packed_first(listed: &[&str]) -> Vec<Expr> {
    let width = 2 * listed.len() as i64 + 2;
    vec![
        col(TS).min().alias(T0),
        (col(TS) * lit(width) + place(listed)).min().alias(PACKED),
        place(listed).min().alias(PLACE_MIN),
        place(listed).max().alias(PLACE_MAX),
    ]
}

/// The first exposure's variant (null for an unlisted one), and whether
/// the user saw more than one variant, from the packed minimum.
fn unpacked(listed: &[&str]) -> Vec<Expr> {
    let width = 2 * listed.len() as i64 + 2;
    // The packed minimum's time is the earliest time.
    let place = col(PACKED) - col(T0) * lit(width);
    let variant =
        listed
            .iter()
            .enumerate()
            .fold(lit(NULL).cast(DataType::String), |variant, (i, name)| {
                when(place.clone().eq(lit(2 * i as i64 + 1)))
                    .then(lit(*name))
                    .otherwise(variant)
            });
    vec![
        variant.alias(VARIANT),
        when(col(PLACE_MIN).neq(col(PLACE_MAX)))
            .then(lit(2u32))
            .otherwise(lit(1u32))
            .cast(DataType::UInt32)
            .alias(SEEN),
    ]
}

/// Per user and event name among the metrics' events: the variant, the
/// number of attributed events and the sum of their values.
fn attributed_events(
    experiment: &Experiment,
    input: &Input,
    users: DataFrame,
) -> Result<DataFrame, InputError> {
    let names: Vec<&str> = experiment
        .metrics
        .iter()
        .map(|m| m.event.as_str())
        .collect();
    let names = Series::new("names".into(), names);
    let window_us = experiment.window_seconds * 1_000_000;
    let events = &input.events;
    let query = events
        .frame
        .clone()
        .filter(col(EVENT).is_in(lit(names).implode(false), false))
        .join(
            users.lazy().select([col(KEY), col(T0), col(VARIANT)]),
            [col(KEY)],
            [col(KEY)],
            JoinArgs::new(JoinType::Inner),
        )
        // A row without a time is kept here so that it is found below.
        .filter(
            col(TS).is_null().or(col(TS)
                .gt_eq(col(T0))
                .and(col(TS).lt(col(T0) + lit(window_us)))),
        )
        .group_by([col(KEY), col(EVENT)])
        .agg([
            col(VARIANT).first().alias(VARIANT),
            len().cast(DataType::UInt64).alias(EVENTS),
            // Sorted, so that a user's total does not depend on the rows'
            // order: floating-point addition is not associative.
            col(VALUE)
                .fill_null(lit(0.0))
                .sort(SortOptions::default())
                .sum()
                .alias(TOTAL),
            col(TS).null_count().cast(DataType::UInt64).alias(MISSING),
        ])
        // In a fixed order, so that the per-variant sums are added in one.
        .sort([KEY, EVENT], SortMultipleOptions::default());
    streamed(query)
        .and_then(|per_user| {
            let missing = per_user.column(MISSING)?.u64()?.sum().unwrap_or(0);
            // A value that is not finite (inf, NaN) makes its user's total so.
            let infinite = per_user.column(TOTAL)?.f64()?.iter().flatten().any(|total| !total.is_finite());
            if missing > 0 || infinite {
                polars_bail!(ComputeError: "an event lacks a field or has a value that is not finite");
            }
            Ok(per_user)
        })
        .map_err(|error| diagnose(events, error))
}

/// Adds the per-user event figures to the totals: counts and sums first,
/// then, with each variant's mean known, the squared deviations (the
/// users without an event contribute (0 − m)² each).
fn accumulate(
    experiment: &Experiment,
    index_of: &HashMap<&str, usize>,
    per_user: &DataFrame,
    totals: &mut Totals,
) -> PolarsResult<()> {
    let variants = per_user.column(VARIANT)?.str()?;
    let events = per_user.column(EVENT)?.str()?;
    let totals_col = per_user.column(TOTAL)?.f64()?;
    let value_of = |kind: MetricKind, total: f64| match kind {
        MetricKind::Conversion => 1.0,
        MetricKind::Sum => total,
    };
    let rows = || {
        variants
            .iter()
            .zip(events.iter())
            .zip(totals_col.iter())
            .filter_map(|((variant, event), total)| {
                Some((*index_of.get(variant?)?, event?, total.unwrap_or(0.0)))
            })
    };
    for (variant, event, total) in rows() {
        for (metric, totals) in experiment
            .metrics
            .iter()
            .zip(totals.variants[variant].metrics.iter_mut())
        {
            if metric.event == event {
                totals.count += 1;
                totals.sum += value_of(metric.kind, total);
            }
        }
    }
    let means: Vec<Vec<f64>> = totals
        .variants
        .iter()
        .map(|variant| {
            variant
                .metrics
                .iter()
                .map(|metric| {
                    if variant.users == 0 {
                        0.0
                    } else {
                        metric.sum / variant.users as f64
                    }
                })
                .collect()
        })
        .collect();
    for (variant, event, total) in rows() {
        for ((metric, totals), mean) in experiment
            .metrics
            .iter()
            .zip(totals.variants[variant].metrics.iter_mut())
            .zip(&means[variant])
        {
            if metric.event == event {
                let deviation = value_of(metric.kind, total) - mean;
                totals.squared_deviations += deviation * deviation;
            }
        }
    }
    for (variant, means) in totals.variants.iter_mut().zip(&means) {
        for (metric, mean) in variant.metrics.iter_mut().zip(means) {
            let without = variant.users - metric.count;
            metric.squared_deviations += without as f64 * mean * mean;
        }
    }
    Ok(())
}

fn read(input: &Input) -> impl Fn(PolarsError) -> InputError + '_ {
    move |source| InputError::Read {
        what: input.exposures.what.clone(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use polars::prelude::*;

    use super::{KEY, SEEN, T0, VARIANT, first_exposures};
    use crate::definition::Experiment;
    use crate::input::{Input, Kind, Table};

    /// The packed minimum and the general aggregation (which experiments
    /// of many variants take) find the same first exposures, ties, other
    /// flags and unlisted variants included.
    #[test]
    fn both_ways_of_finding_first_exposures_agree() {
        for case in ["attribution", "five_variants", "typical"] {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/reference")
                .join(case);
            let experiment =
                Experiment::parse(&std::fs::read_to_string(dir.join("experiment.json")).unwrap())
                    .unwrap();
            let input = Input {
                exposures: Table::file(Kind::Exposures, &dir.join("exposures.csv")).unwrap(),
                events: Table::file(Kind::Events, &dir.join("events.csv")).unwrap(),
            };
            let listed = Series::new(
                "listed".into(),
                experiment
                    .variants
                    .iter()
                    .map(|v| v.name.clone())
                    .collect::<Vec<_>>(),
            );
            // What attribution reads: a listed variant or none, and for a
            // listed one whether the user saw another.
            let sorted = |packed: bool| {
                let is_listed = col(VARIANT).is_in(lit(listed.clone()).implode(false), false);
                first_exposures(&experiment, &input, packed)
                    .unwrap()
                    .lazy()
                    .select([
                        col(KEY),
                        col(T0),
                        when(is_listed.clone())
                            .then(col(VARIANT))
                            .otherwise(lit(NULL).cast(DataType::String))
                            .alias(VARIANT),
                        when(is_listed)
                            .then(col(SEEN).gt(lit(1u32)))
                            .otherwise(lit(false))
                            .alias(SEEN),
                    ])
                    .sort([KEY], SortMultipleOptions::default())
                    .collect()
                    .unwrap()
            };
            let (packed, general) = (sorted(true), sorted(false));
            assert!(packed.height() > 0, "{case}");
            assert!(
                packed.equals_missing(&general),
                "{case}: {packed:?} vs {general:?}"
            );
        }
    }
}
