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
use crate::input::{Input, InputError, Table, diagnose};

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
const MISSING: &str = "missing";

const MULTIPLE: &str = "multiple";
const USERS: &str = "users";
const USER: &str = "user";
const NULL_KEYS: &str = "null_keys";

/// A stage of attribution, reported as it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The input is read: each user's first exposure is known and the
    /// events are attributed.
    Attributed,
    /// The totals per variant are added up.
    Totals,
}

/// Attributes `input`'s events to its exposures for `experiment`.
pub fn attribute(experiment: &Experiment, input: &Input) -> Result<Totals, InputError> {
    attribute_with(experiment, input, &mut |_| {})
}

/// [`attribute`], telling `progress` as each stage ends.
///
/// One Polars plan with two results reads each input once: the users per
/// variant, and the attributed events. The table of first exposures, one
/// row per user, feeds both inside the plan and never comes out of it.
pub fn attribute_with(
    experiment: &Experiment,
    input: &Input,
    progress: &mut dyn FnMut(Stage),
) -> Result<Totals, InputError> {
    let packed = experiment.variants.len() <= MAX_PACKED_VARIANTS;
    let users = first_exposures(experiment, &input.exposures, packed);
    let counts = users
        .clone()
        .group_by([col(VARIANT), col(SEEN).gt(lit(1u32)).alias(MULTIPLE)])
        .agg([
            len().cast(DataType::UInt64).alias(USERS),
            col(MISSING).sum().alias(MISSING),
            col(KEY)
                .null_count()
                .cast(DataType::UInt64)
                .alias(NULL_KEYS),
        ]);
    let events = attributed_events(experiment, &input.events, users);
    let (counts, rows) = match LazyFrame::collect_all_with_engine(
        vec![counts.logical_plan, events.logical_plan],
        Engine::Streaming,
        OptFlags::default(),
    ) {
        Ok(frames) => match <[DataFrame; 2]>::try_from(frames) {
            Ok([counts, rows]) => (counts, rows),
            Err(frames) => {
                let error =
                    polars_err!(ComputeError: "the plan gave {} results, not 2", frames.len());
                return Err(read(&input.exposures)(error));
            }
        },
        // The engine does not say which input a failure came from: the
        // exposures are checked first, then the events.
        Err(error) => {
            return Err(match diagnose(&input.exposures, error) {
                InputError::Read { source, .. } => diagnose(&input.events, source),
                bad => bad,
            });
        }
    };
    progress(Stage::Attributed);

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
    count_users(&counts, &index_of, &mut totals)
        .map_err(|error| diagnose(&input.exposures, error))?;
    check_events(&rows).map_err(|error| diagnose(&input.events, error))?;
    accumulate(experiment, &index_of, &rows, &mut totals).map_err(read(&input.events))?;
    progress(Stage::Totals);
    Ok(totals)
}

/// Adds up the users per variant from the counts per variant and whether
/// the user saw more than one; fails if an exposure lacked a field.
fn count_users(
    counts: &DataFrame,
    index_of: &HashMap<&str, usize>,
    totals: &mut Totals,
) -> PolarsResult<()> {
    let missing = counts.column(MISSING)?.u64()?.sum().unwrap_or(0)
        + counts.column(NULL_KEYS)?.u64()?.sum().unwrap_or(0);
    if missing > 0 {
        polars_bail!(ComputeError: "an exposure lacks a field");
    }
    let variants = counts.column(VARIANT)?.str()?;
    let multiple = counts.column(MULTIPLE)?.bool()?;
    let users = counts.column(USERS)?.u64()?;
    for ((variant, multiple), users) in variants.iter().zip(multiple.iter()).zip(users.iter()) {
        let users = users.unwrap_or(0);
        match variant.and_then(|v| index_of.get(v)) {
            Some(&index) => {
                totals.variants[index].users += users;
                if multiple == Some(true) {
                    totals.multiple_exposure_users += users;
                }
            }
            None => totals.unlisted_users += users,
        }
    }
    Ok(())
}

/// Per targeting key exposed to the flag: the first exposure's variant
/// (ties on time to the smaller name) and time, how many distinct
/// variants the user saw (in the packed form, 2 stands for any number
/// above 1), and how many of their exposures lacked a field.
fn first_exposures(experiment: &Experiment, exposures: &Table, packed: bool) -> LazyFrame {
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
        .filter(col("flag_key").eq(lit(experiment.flag.as_str())));
    if packed {
        // Computed row by row before grouping, so that every aggregation
        // is a plain minimum or maximum of a column, which the streaming
        // engine's group-by runs as it reads.
        query = query.with_columns([place(&listed).alias(PLACE)]);
    }
    let query = query.group_by([col(KEY)]).agg(aggregations);
    if packed {
        query.with_columns(unpacked(&listed))
    } else {
        query
    }
}

/// Up to this many variants, a user's first exposure is found by one
/// integer minimum: time × (2m + 2) + the variant's place among the
/// listed names cannot overflow for any time of the years 0 to 9999 that
/// the input allows.
const MAX_PACKED_VARIANTS: usize = 16;

const PACKED: &str = "packed";
const PLACE: &str = "place";
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
        (col(TS) * lit(width) + col(PLACE)).min().alias(PACKED),
        col(PLACE).min().alias(PLACE_MIN),
        col(PLACE).max().alias(PLACE_MAX),
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

/// The attributed events of the metrics' events, one row each: the
/// user, the event's name, the user's variant and the value (0 without
/// one), sorted by user, name and value, so that [`accumulate`] adds each
/// user's values up in an order fixed by the data. The join and the
/// window filter run as the events are read; only the attributed rows are
/// held and sorted.
fn attributed_events(experiment: &Experiment, events: &Table, users: LazyFrame) -> LazyFrame {
    let names: Vec<&str> = experiment
        .metrics
        .iter()
        .map(|m| m.event.as_str())
        .collect();
    let names = Series::new("names".into(), names);
    let window_us = experiment.window_seconds * 1_000_000;
    events
        .frame
        .clone()
        .filter(col(EVENT).is_in(lit(names).implode(false), false))
        .join(
            // A number per user, to tell one user's rows from the next's
            // without comparing their keys.
            users
                .with_row_index(USER, None)
                .select([col(USER), col(KEY), col(T0), col(VARIANT)]),
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
        .select([
            col(KEY),
            col(USER),
            col(EVENT),
            col(VARIANT),
            col(VALUE).fill_null(lit(0.0)),
            col(TS).is_null().alias(MISSING),
        ])
        .sort([KEY, EVENT, VALUE], SortMultipleOptions::default())
}

/// Fails if an attributed event lacks its time or has a value that is not
/// finite (inf, NaN), which would make its user's total so.
fn check_events(rows: &DataFrame) -> PolarsResult<()> {
    let missing = rows.column(MISSING)?.bool()?.any();
    let infinite = rows
        .column(VALUE)?
        .f64()?
        .iter()
        .flatten()
        .any(|value| !value.is_finite());
    if missing || infinite {
        polars_bail!(ComputeError: "an event lacks a field or has a value that is not finite");
    }
    Ok(())
}

/// Adds the attributed events to the totals: each user's value per event
/// name (the sum of their sorted values), then counts and sums, then, with
/// each variant's mean known, the squared deviations (the users without
/// an event contribute (0 − m)² each).
fn accumulate(
    experiment: &Experiment,
    index_of: &HashMap<&str, usize>,
    rows: &DataFrame,
    totals: &mut Totals,
) -> PolarsResult<()> {
    let users = rows.column(USER)?.idx()?;
    let events = rows.column(EVENT)?.str()?;
    let variants = rows.column(VARIANT)?.str()?;
    let values = rows.column(VALUE)?.f64()?;
    // One entry per user and event name: its variant, name and total.
    let mut per_user: Vec<(usize, &str, f64)> = Vec::new();
    let mut current: Option<(IdxSize, &str)> = None;
    for (((user, event), variant), value) in users
        .iter()
        .zip(events.iter())
        .zip(variants.iter())
        .zip(values.iter())
    {
        let (Some(user), Some(event), Some(value)) = (user, event, value) else {
            continue;
        };
        // Users of a variant the experiment does not list are left out.
        let Some(&variant) = variant.and_then(|v| index_of.get(v)) else {
            continue;
        };
        match per_user.last_mut() {
            Some(last) if current == Some((user, event)) => last.2 += value,
            _ => {
                current = Some((user, event));
                per_user.push((variant, event, value));
            }
        }
    }
    let value_of = |kind: MetricKind, total: f64| match kind {
        MetricKind::Conversion => 1.0,
        MetricKind::Sum => total,
    };
    for &(variant, event, total) in &per_user {
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
    for &(variant, event, total) in &per_user {
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

fn read(table: &Table) -> impl Fn(PolarsError) -> InputError + '_ {
    move |source| InputError::Read {
        what: table.what.clone(),
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
                first_exposures(&experiment, &input.exposures, packed)
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
