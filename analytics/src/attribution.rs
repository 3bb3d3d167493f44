//! Attribution: each user's first exposure to the experiment's flag fixes
//! their variant and exposure time t0, and an event of a metric counts
//! for them iff t0 ≤ ts < t0 + window (the rules of `STATISTICS.md`). The
//! result is small: per variant, its users and each metric's count, sum
//! and sum of squared deviations, from which the statistics follow.
//!
//! Every sum is taken in an order fixed by the data (a user's values
//! sorted, then users by their totals), so the same rows give the same
//! figures to the last bit, whatever order they come in.

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

const FIRST: &str = "first_place";
const MULTIPLE: &str = "multiple";
const USERS: &str = "users";
const USER: &str = "user";
const NULL_KEYS: &str = "null_keys";

/// Which of the exposed users an analysis compares; by default, all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cohort {
    /// Only users first exposed at or after this time, in microseconds
    /// since the Unix epoch (a rollout's current step).
    pub first_exposed_from: Option<i64>,
    /// Leave out users exposed to more than one variant.
    pub single_variant: bool,
}

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
    attribute_cohort(experiment, input, Cohort::default(), progress)
}

/// [`attribute_with`] over the users of `cohort` only.
pub fn attribute_cohort(
    experiment: &Experiment,
    input: &Input,
    cohort: Cohort,
    progress: &mut dyn FnMut(Stage),
) -> Result<Totals, InputError> {
    let packed = experiment.variants.len() <= MAX_PACKED_VARIANTS;
    let mut users = first_exposures(experiment, &input.exposures, packed);
    // A user whose exposure lacked a field is kept, to fail the analysis.
    let lacking = col(MISSING).gt(lit(0u64));
    if let Some(from) = cohort.first_exposed_from {
        users = users.filter(col(T0).gt_eq(lit(from)).or(lacking.clone()));
    }
    if cohort.single_variant {
        users = users.filter(col(SEEN).lt_eq(lit(1u32)).or(lacking));
    }
    let counts = users
        .clone()
        .group_by([col(FIRST), col(SEEN).gt(lit(1u32)).alias(MULTIPLE)])
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

    let places = Places::new(experiment);
    let mut totals = Totals {
        variants: vec![
            VariantTotals {
                users: 0,
                metrics: vec![MetricTotals::default(); experiment.metrics.len()],
            };
            experiment.variants.len()
        ],
        ..Totals::default()
    };
    count_users(&counts, &places, &mut totals)
        .map_err(|error| diagnose(&input.exposures, error))?;
    accumulate(experiment, &places, &rows, &mut totals)
        .map_err(|error| diagnose(&input.events, error))?;
    progress(Stage::Totals);
    Ok(totals)
}

/// Where each variant's place (see [`place`]) puts it in the experiment's
/// order.
struct Places {
    /// Per listed name in sorted order, its index in the experiment.
    index_of_sorted: Vec<usize>,
}

impl Places {
    fn new(experiment: &Experiment) -> Places {
        let mut sorted: Vec<(&str, usize)> = experiment
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| (v.name.as_str(), i))
            .collect();
        sorted.sort_unstable();
        Places {
            index_of_sorted: sorted.into_iter().map(|(_, i)| i).collect(),
        }
    }

    /// The experiment's index of the variant at `place`; `None` for a
    /// variant it does not list (an even place).
    fn index(&self, place: i64) -> Option<usize> {
        if place % 2 != 1 {
            return None;
        }
        let sorted = usize::try_from((place - 1) / 2).ok()?;
        self.index_of_sorted.get(sorted).copied()
    }
}

/// Adds up the users per variant from the counts per first exposure's
/// place and whether the user saw more than one variant; fails if an
/// exposure lacked a field.
fn count_users(counts: &DataFrame, places: &Places, totals: &mut Totals) -> PolarsResult<()> {
    let missing = counts.column(MISSING)?.u64()?.sum().unwrap_or(0)
        + counts.column(NULL_KEYS)?.u64()?.sum().unwrap_or(0);
    if missing > 0 {
        polars_bail!(ComputeError: "an exposure lacks a field");
    }
    let firsts = counts.column(FIRST)?.i64()?;
    let multiple = counts.column(MULTIPLE)?.bool()?;
    let users = counts.column(USERS)?.u64()?;
    for ((first, multiple), users) in firsts.iter().zip(multiple.iter()).zip(users.iter()) {
        let users = users.unwrap_or(0);
        match first.and_then(|place| places.index(place)) {
            Some(index) => {
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

/// Per targeting key exposed to the flag: the first exposure's variant as
/// its place (see [`place`]; ties on time go to the smaller name) and
/// time, how many distinct
/// variants the user saw (in the packed form, 2 stands for any number
/// above 1), and how many of their exposures lacked a field (in the
/// packed form, 1 stands for any number above 0).
fn first_exposures(experiment: &Experiment, exposures: &Table, packed: bool) -> LazyFrame {
    let mut listed: Vec<&str> = experiment
        .variants
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    listed.sort_unstable();
    let query = exposures
        .frame
        .clone()
        .filter(col("flag_key").eq(lit(experiment.flag.as_str())));
    if packed {
        // The place and the packed time are computed row by row before
        // grouping, so that every aggregation is a plain minimum or
        // maximum of a column, which the streaming engine's group-by runs
        // as it reads.
        let width = lit(packing_width(&listed));
        query
            .with_column(place(&listed).alias(PLACE))
            .with_column(
                when(col(PLACE).gt_eq(lit(0i64)))
                    .then(col(TS) * width + col(PLACE))
                    .otherwise(lit(NULL).cast(DataType::Int64))
                    .alias(PACKED),
            )
            .group_by([col(KEY)])
            .agg([
                col(PACKED).min().alias(PACKED),
                col(PLACE).min().alias(PLACE_MIN),
                col(PLACE).max().alias(PLACE_MAX),
            ])
            .with_columns(unpacked(&listed))
    } else {
        query
            .group_by([col(KEY)])
            .agg([
                col(TS).min().alias(T0),
                col(VARIANT)
                    .filter(col(TS).eq(col(TS).min()))
                    .min()
                    .alias(VARIANT),
                col(VARIANT).n_unique().cast(DataType::UInt32).alias(SEEN),
                (col(TS).null_count() + col(VARIANT).null_count())
                    .cast(DataType::UInt64)
                    .alias(MISSING),
            ])
            .with_column(first_place(&listed).alias(FIRST))
    }
}

/// Up to this many variants, a user's first exposure is found by one
/// integer minimum: time × (2m + 2) + the variant's place among the m
/// listed names cannot overflow for any time of the years 0 to 9999 that
/// the input allows.
const MAX_PACKED_VARIANTS: usize = 16;

const PACKED: &str = "packed";
const PLACE: &str = "place";
const PLACE_MIN: &str = "place_min";
const PLACE_MAX: &str = "place_max";

/// The place of an exposure that lacks its time or its variant.
const MISSING_PLACE: i64 = -1;

/// What a time is multiplied by before its place is added: more than the
/// largest place, 2m + 1.
fn packing_width(listed: &[&str]) -> i64 {
    2 * listed.len() as i64 + 2
}

/// A variant's place among the sorted listed names `listed` (m of them):
/// 2i + 1 for the i-th, and 2k for a name the experiment does not list
/// that sorts after k of them, so that places order as the names do
/// wherever a listed name is involved (two unlisted names between the
/// same listed ones share a place, and either leaves the user out).
fn place_of(listed: &[String], variant: &str) -> i64 {
    match listed.binary_search_by(|name| name.as_str().cmp(variant)) {
        Ok(i) => 2 * i as i64 + 1,
        Err(k) => 2 * k as i64,
    }
}

/// Each exposure's place ([`place_of`] its variant), or [`MISSING_PLACE`]
/// for an exposure without a time or a variant. One pass over the rows.
fn place(listed: &[&str]) -> Expr {
    let listed: Vec<String> = listed.iter().map(|name| (*name).to_owned()).collect();
    col(VARIANT).map_many(
        move |columns| {
            let variants = columns[0].str()?;
            let times = columns[1].i64()?;
            let places =
                variants
                    .iter()
                    .zip(times.iter())
                    .map(|(variant, time)| match (variant, time) {
                        (Some(variant), Some(_)) => place_of(&listed, variant),
                        _ => MISSING_PLACE,
                    });
            Ok(Int64Chunked::from_iter_values(PLACE.into(), places).into_column())
        },
        &[col(TS)],
        |_, _| Ok(Field::new(PLACE.into(), DataType::Int64)),
    )
}

/// The place of each user's first variant (null without one).
fn first_place(listed: &[&str]) -> Expr {
    let listed: Vec<String> = listed.iter().map(|name| (*name).to_owned()).collect();
    col(VARIANT).map(
        move |column| {
            let places: Int64Chunked = column
                .str()?
                .iter()
                .map(|variant| variant.map(|variant| place_of(&listed, variant)))
                .collect();
            Ok(places.into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::Int64)),
    )
}

/// From the per-user minimum of time × (2m + 2) + place and the smallest
/// and largest place: the first exposure's time and place, whether the
/// user saw more than one variant (two places), and whether an exposure
/// lacked a field.
fn unpacked(listed: &[&str]) -> Vec<Expr> {
    let width = packing_width(listed);
    // Floored, as times before 1970 are negative.
    let t0 = col(PACKED).map(
        move |column| {
            let packed = column.i64()?;
            let t0: Int64Chunked = packed.apply_values(|packed| packed.div_euclid(width));
            Ok(t0.into_column())
        },
        |_, field| Ok(field.clone()),
    );
    let first = col(PACKED) - t0.clone() * lit(width);
    vec![
        t0.alias(T0),
        first.alias(FIRST),
        when(col(PLACE_MIN).neq(col(PLACE_MAX)))
            .then(lit(2u32))
            .otherwise(lit(1u32))
            .cast(DataType::UInt32)
            .alias(SEEN),
        col(PLACE_MIN)
            .eq(lit(MISSING_PLACE))
            .cast(DataType::UInt64)
            .alias(MISSING),
    ]
}

/// The attributed events of the metrics' events, one row each, in no
/// particular order: the user (a number), the event's name, the place of
/// the user's variant, the value (null without one) and whether the time is missing.
/// The join and the window filter run as the events are read.
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
                .select([col(USER), col(KEY), col(T0), col(FIRST)]),
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
            col(USER),
            col(EVENT),
            col(FIRST),
            col(VALUE),
            col(TS).is_null().alias(MISSING),
        ])
}

/// One user's attributed events of one name: the user, the name's index
/// among the metrics' event names and the user's variant's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Slot {
    user: IdxSize,
    event: usize,
    variant: usize,
}

/// Adds the attributed events to the totals: each user's value per event
/// name (the sum of their values, smallest first), then counts and sums,
/// then, with each variant's mean known, the squared deviations (the
/// users without an event contribute (0 − m)² each). Users are taken in
/// the order of their totals, so every sum runs in an order fixed by the
/// data. Fails if an attributed event lacks its time or has a value that
/// is not finite (inf, NaN), which would make its user's total so.
fn accumulate(
    experiment: &Experiment,
    places: &Places,
    rows: &DataFrame,
    totals: &mut Totals,
) -> PolarsResult<()> {
    if rows.column(MISSING)?.bool()?.any() {
        polars_bail!(ComputeError: "an event lacks a field");
    }
    let mut names: Vec<&str> = experiment
        .metrics
        .iter()
        .map(|m| m.event.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    let users = rows.column(USER)?.idx()?;
    let events = rows.column(EVENT)?.str()?;
    let variants = rows.column(FIRST)?.i64()?;
    let values = rows.column(VALUE)?.f64()?;
    let mut attributed: Vec<(Slot, f64)> = Vec::with_capacity(rows.height());
    for (((user, event), variant), value) in users
        .iter()
        .zip(events.iter())
        .zip(variants.iter())
        .zip(values.iter())
    {
        let value = value.unwrap_or(0.0);
        if !value.is_finite() {
            polars_bail!(ComputeError: "an event has a value that is not finite");
        }
        // Users of a variant the experiment does not list are left out.
        let (Some(user), Some(Ok(event)), Some(variant)) = (
            user,
            event.map(|event| names.binary_search(&event)),
            variant.and_then(|place| places.index(place)),
        ) else {
            continue;
        };
        let slot = Slot {
            user,
            event,
            variant,
        };
        attributed.push((slot, value));
    }
    attributed.sort_unstable_by(|(a, x), (b, y)| a.cmp(b).then(x.total_cmp(y)));

    // One entry per user and event name: its variant, name and total.
    let mut per_user: Vec<(usize, usize, f64)> = Vec::new();
    let mut current = None;
    for (slot, value) in attributed {
        match per_user.last_mut() {
            Some(last) if current == Some(slot) => last.2 += value,
            _ => {
                current = Some(slot);
                per_user.push((slot.variant, slot.event, value));
            }
        }
    }
    per_user.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then(a.2.total_cmp(&b.2)));

    let value_of = |kind: MetricKind, total: f64| match kind {
        MetricKind::Conversion => 1.0,
        MetricKind::Sum => total,
    };
    let event_of: Vec<usize> = experiment
        .metrics
        .iter()
        .map(|m| names.binary_search(&m.event.as_str()).unwrap_or(usize::MAX))
        .collect();
    for &(variant, event, total) in &per_user {
        for ((metric, totals), _) in experiment
            .metrics
            .iter()
            .zip(totals.variants[variant].metrics.iter_mut())
            .zip(&event_of)
            .filter(|(_, of)| **of == event)
        {
            totals.count += 1;
            totals.sum += value_of(metric.kind, total);
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
        for (((metric, totals), mean), _) in experiment
            .metrics
            .iter()
            .zip(totals.variants[variant].metrics.iter_mut())
            .zip(&means[variant])
            .zip(&event_of)
            .filter(|(_, of)| **of == event)
        {
            let deviation = value_of(metric.kind, total) - mean;
            totals.squared_deviations += deviation * deviation;
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

    use super::{Cohort, FIRST, KEY, SEEN, T0, attribute_cohort, first_exposures};
    use crate::definition::Experiment;
    use crate::input::{EventColumns, ExposureColumns, Input, Kind, Table};

    /// A cohort keeps the users first exposed from its time on, and leaves
    /// out those who saw two variants; their events go with them.
    #[test]
    fn a_cohort_keeps_its_users_and_their_events() {
        let experiment = Experiment::parse(
            r#"{"name": "guard", "flag": "f", "control": "old",
                "variants": [{"name": "old", "weight": 1}, {"name": "new", "weight": 1}],
                "metrics": [{"name": "buys", "event": "buy", "kind": "conversion"}]}"#,
        )
        .unwrap();
        // a: old at 10; b: new at 20; c: old at 30, then new at 40; d: new
        // at 5. Each buys one second after their first exposure.
        let exposures = [
            ("a", "old", 10),
            ("b", "new", 20),
            ("c", "old", 30),
            ("c", "new", 40),
            ("d", "new", 5),
        ];
        let input = Input {
            exposures: Table::exposures(
                "exposures",
                ExposureColumns {
                    flag_key: vec!["f".into(); exposures.len()],
                    variant: exposures.iter().map(|e| e.1.into()).collect(),
                    targeting_key: exposures.iter().map(|e| e.0.into()).collect(),
                    timestamp_us: exposures.iter().map(|e| e.2 * 1_000_000).collect(),
                },
            )
            .unwrap(),
            events: Table::events(
                "events",
                EventColumns {
                    event_name: vec!["buy".into(); 4],
                    targeting_key: ["a", "b", "c", "d"].map(String::from).to_vec(),
                    timestamp_us: [11, 21, 31, 6].map(|s| s * 1_000_000).to_vec(),
                    value: vec![None; 4],
                },
            )
            .unwrap(),
        };
        // Users and buyers in old, then in new.
        let counts = |cohort: Cohort| {
            let totals = attribute_cohort(&experiment, &input, cohort, &mut |_| {}).unwrap();
            totals
                .variants
                .iter()
                .map(|v| (v.users, v.metrics[0].count))
                .collect::<Vec<_>>()
        };
        assert_eq!(counts(Cohort::default()), [(2, 2), (2, 2)]);
        let from = Some(15_000_000);
        let cohort = |first_exposed_from, single_variant| Cohort {
            first_exposed_from,
            single_variant,
        };
        assert_eq!(counts(cohort(from, false)), [(1, 1), (1, 1)]);
        assert_eq!(counts(cohort(None, true)), [(1, 1), (2, 2)]);
        assert_eq!(counts(cohort(from, true)), [(0, 0), (1, 1)]);
    }

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
            // What attribution reads: a listed variant's place (odd) or
            // none, and for a listed one whether the user saw another.
            let sorted = |packed: bool| {
                let is_listed = (col(FIRST) % lit(2i64)).eq(lit(1i64));
                first_exposures(&experiment, &input.exposures, packed)
                    .select([
                        col(KEY),
                        col(T0),
                        when(is_listed.clone())
                            .then(col(FIRST))
                            .otherwise(lit(NULL).cast(DataType::Int64))
                            .alias(FIRST),
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
            let listed = packed.column(FIRST).unwrap().is_not_null().sum().unwrap();
            assert!(listed > 0, "{case}: no listed first exposure");
            assert!(
                packed.equals_missing(&general),
                "{case}: {packed:?} vs {general:?}"
            );
        }
    }
}
