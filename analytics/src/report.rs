//! The result of one analysis: per variant its users and metric figures,
//! per treatment and metric the comparison with the control, the
//! sample's health and the verdict in words. Its JSON shape is
//! `report.schema.json` beside this crate; a figure that is undefined is
//! `null`, with the reason under its JSON pointer in `notes`.

use std::collections::BTreeMap;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use crate::attribution::Totals;
use crate::definition::{Experiment, MetricKind};
use crate::stats::bayes::{Conversions, chance_to_beat, expected_loss};
use crate::stats::frequentist::{
    abs_lift, abs_variance, mde_abs, mde_rel, rel_interval, rel_lift, rel_variance, welch, z_test,
};
use crate::stats::sequential::confidence_sequence;
use crate::stats::srm::sample_ratio;
use crate::stats::{Arm, Figure, Undefined, adjust};

mod markdown;
mod verdict;

pub use markdown::markdown;

/// One analysis' result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The experiment's name.
    pub experiment: String,
    /// Its flag.
    pub flag: String,
    /// Its control variant.
    pub control: String,
    /// The tests' α: intervals are at level 1 − α.
    pub alpha: f64,
    /// When the analysis ran.
    #[serde(with = "time::serde::rfc3339")]
    pub computed_at: OffsetDateTime,
    /// The sample-ratio test.
    pub srm: Option<SampleRatio>,
    /// The share of analysed users exposed to more than one variant.
    pub multiple_exposure_share: Option<f64>,
    /// Per variant, in the experiment's order.
    pub variants: Vec<VariantResult>,
    /// Per metric (in order), per treatment (in order): the comparison.
    pub comparisons: Vec<Comparison>,
    /// Why each `null` figure is undefined, by its JSON pointer.
    pub notes: BTreeMap<String, String>,
    /// The verdict in words, decided on the first metric.
    pub verdict: String,
}

/// The sample-ratio test's figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleRatio {
    /// Pearson's chi-squared statistic.
    pub chi2: f64,
    /// Its p-value with k − 1 degrees of freedom.
    pub p_value: f64,
    /// Whether p < 0.001.
    pub mismatch: bool,
}

/// One variant's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantResult {
    /// The variant.
    pub variant: String,
    /// Users whose first exposure was to it.
    pub users: u64,
    /// Per metric, by name, in the experiment's order.
    pub metrics: Metrics,
}

/// A variant's figures per metric, in the experiment's order, written as
/// a JSON object keyed by metric name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metrics(pub Vec<(String, MetricResult)>);

/// One metric's figures in one variant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricResult {
    /// Users with at least one attributed event.
    pub count: u64,
    /// The sum of the per-user values.
    pub sum: f64,
    /// The mean per user.
    pub mean: Option<f64>,
    /// The variance per user (sample variance for sums, p(1 − p) for
    /// conversions).
    pub variance: Option<f64>,
}

/// One treatment against the control on one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The treatment.
    pub variant: String,
    /// The metric.
    pub metric: String,
    /// m_t − m_c.
    pub abs_lift: Option<f64>,
    /// (m_t − m_c)/m_c.
    pub rel_lift: Option<f64>,
    /// The fixed-horizon interval of the absolute lift.
    pub abs_ci: Option<[f64; 2]>,
    /// The delta-method interval of the relative lift.
    pub rel_ci: Option<[f64; 2]>,
    /// The fixed-horizon two-sided p-value.
    pub p_value: Option<f64>,
    /// Holm-adjusted across the metric's treatments.
    pub p_value_holm: Option<f64>,
    /// Benjamini–Hochberg-adjusted across the metric's treatments.
    pub p_value_bh: Option<f64>,
    /// The minimum detectable absolute effect at 80% power.
    pub mde_abs: Option<f64>,
    /// The same, relative to the control's mean.
    pub mde_rel: Option<f64>,
    /// P(p_t > p_c) (conversion metrics).
    pub chance_to_beat_control: Option<f64>,
    /// E[max(p_c − p_t, 0)] (conversion metrics).
    pub expected_loss: Option<f64>,
    /// The always-valid p-value of the absolute lift.
    pub sequential_p_value: Option<f64>,
    /// The confidence sequence of the absolute lift.
    pub sequential_ci: Option<[f64; 2]>,
    /// The always-valid p-value of the relative lift.
    pub sequential_rel_p_value: Option<f64>,
    /// The confidence sequence of the relative lift.
    pub sequential_rel_ci: Option<[f64; 2]>,
    /// The always-valid p-value, Holm-adjusted across the metric's
    /// treatments: what the verdict reads.
    pub sequential_p_value_holm: Option<f64>,
}

impl Report {
    /// Computes the report of `experiment` from its attribution totals.
    pub fn new(experiment: &Experiment, totals: &Totals, computed_at: OffsetDateTime) -> Report {
        let mut notes = Notes::default();
        let alpha = experiment.alpha;

        if totals.unlisted_users > 0 {
            notes.0.insert(
                "/variants".to_owned(),
                format!(
                    "{} users first exposed to a variant the experiment does not list are left out",
                    totals.unlisted_users
                ),
            );
        }
        let users: Vec<u64> = totals.variants.iter().map(|v| v.users).collect();
        let weights: Vec<f64> = experiment.variants.iter().map(|v| v.weight).collect();
        let srm = notes.take(
            "/srm".to_owned(),
            sample_ratio(&users, &weights).map(|srm| SampleRatio {
                chi2: srm.chi2,
                p_value: srm.p_value,
                mismatch: srm.mismatch,
            }),
        );
        let analysed: u64 = users.iter().sum();
        let multiple_exposure_share = notes.take(
            "/multiple_exposure_share".to_owned(),
            if analysed == 0 {
                Err(Undefined::NoUsers)
            } else {
                Ok(totals.multiple_exposure_users as f64 / analysed as f64)
            },
        );

        // Each metric's arm per variant.
        let arms: Vec<Vec<Arm>> = totals
            .variants
            .iter()
            .map(|variant| {
                experiment
                    .metrics
                    .iter()
                    .zip(&variant.metrics)
                    .map(|(metric, totals)| arm(metric.kind, variant.users, totals))
                    .collect()
            })
            .collect();

        let variants = experiment
            .variants
            .iter()
            .zip(totals.variants.iter())
            .zip(&arms)
            .enumerate()
            .map(|(v, ((variant, totals), arms))| VariantResult {
                variant: variant.name.clone(),
                users: totals.users,
                metrics: Metrics(
                    experiment
                        .metrics
                        .iter()
                        .zip(&totals.metrics)
                        .zip(arms)
                        .map(|((metric, totals), arm)| {
                            let at =
                                format!("/variants/{v}/metrics/{}", pointer_token(&metric.name));
                            let mean = if arm.n == 0 {
                                Err(Undefined::NoUsers)
                            } else {
                                Ok(arm.mean)
                            };
                            let result = MetricResult {
                                count: totals.count,
                                sum: totals.sum,
                                mean: notes.take(format!("{at}/mean"), mean),
                                variance: notes.take(format!("{at}/variance"), arm.variance()),
                            };
                            (metric.name.clone(), result)
                        })
                        .collect(),
                ),
            })
            .collect();

        let control = experiment.control_index();
        let mut comparisons = Vec::new();
        for (m, metric) in experiment.metrics.iter().enumerate() {
            let first = comparisons.len();
            let mut fixed_p = Vec::new();
            let mut sequential_p = Vec::new();
            for (v, variant) in experiment.variants.iter().enumerate() {
                if v == control {
                    continue;
                }
                let index = comparisons.len();
                let at = |field: &str| format!("/comparisons/{index}/{field}");
                let (c, t) = (&arms[control][m], &arms[v][m]);
                let test = match metric.kind {
                    MetricKind::Conversion => z_test(c, t, alpha),
                    MetricKind::Sum => welch(c, t, alpha),
                };
                let rel_ci = test.and_then(|test| rel_interval(c, t, test.quantile));
                let tuning = experiment.sequential_tuning;
                let users = c.n + t.n;
                let sequential = abs_lift(c, t).and_then(|lift| {
                    confidence_sequence(lift, abs_variance(c, t)?, users, alpha, tuning)
                });
                let sequential_rel = rel_lift(c, t).and_then(|lift| {
                    confidence_sequence(lift, rel_variance(c, t)?, users, alpha, tuning)
                });
                let (chance, loss) = match metric.kind {
                    MetricKind::Conversion => {
                        let control_totals = &totals.variants[control].metrics[m];
                        let treatment_totals = &totals.variants[v].metrics[m];
                        let c = Conversions {
                            users: c.n,
                            converted: control_totals.count,
                        };
                        let t = Conversions {
                            users: t.n,
                            converted: treatment_totals.count,
                        };
                        if c.users == 0 || t.users == 0 {
                            (Err(Undefined::NoUsers), Err(Undefined::NoUsers))
                        } else {
                            (
                                Ok(Some(chance_to_beat(c, t))),
                                Ok(Some(expected_loss(c, t))),
                            )
                        }
                    }
                    MetricKind::Sum => (Ok(None), Ok(None)),
                };
                fixed_p.push(test.map(|test| test.p_value));
                sequential_p.push(sequential.map(|s| s.p_value));
                comparisons.push(Comparison {
                    variant: variant.name.clone(),
                    metric: metric.name.clone(),
                    abs_lift: notes.take(at("abs_lift"), abs_lift(c, t)),
                    rel_lift: notes.take(at("rel_lift"), rel_lift(c, t)),
                    abs_ci: notes.take(at("abs_ci"), test.map(|test| test.interval)),
                    rel_ci: notes.take(at("rel_ci"), rel_ci),
                    p_value: notes.take(at("p_value"), test.map(|test| test.p_value)),
                    p_value_holm: None,
                    p_value_bh: None,
                    mde_abs: notes.take(at("mde_abs"), mde_abs(c, t, alpha)),
                    mde_rel: notes.take(at("mde_rel"), mde_rel(c, t, alpha)),
                    chance_to_beat_control: notes
                        .take(at("chance_to_beat_control"), chance)
                        .flatten(),
                    expected_loss: notes.take(at("expected_loss"), loss).flatten(),
                    sequential_p_value: notes
                        .take(at("sequential_p_value"), sequential.map(|s| s.p_value)),
                    sequential_ci: notes.take(at("sequential_ci"), sequential.map(|s| s.interval)),
                    sequential_rel_p_value: notes.take(
                        at("sequential_rel_p_value"),
                        sequential_rel.map(|s| s.p_value),
                    ),
                    sequential_rel_ci: notes
                        .take(at("sequential_rel_ci"), sequential_rel.map(|s| s.interval)),
                    sequential_p_value_holm: None,
                });
            }
            let holm = adjust::holm(&fixed_p);
            let bh = adjust::benjamini_hochberg(&fixed_p);
            let sequential_holm = adjust::holm(&sequential_p);
            for (offset, comparison) in comparisons[first..].iter_mut().enumerate() {
                let index = first + offset;
                let at = |field: &str| format!("/comparisons/{index}/{field}");
                comparison.p_value_holm = notes.take(at("p_value_holm"), holm[offset]);
                comparison.p_value_bh = notes.take(at("p_value_bh"), bh[offset]);
                comparison.sequential_p_value_holm =
                    notes.take(at("sequential_p_value_holm"), sequential_holm[offset]);
            }
        }

        let mut report = Report {
            experiment: experiment.name.clone(),
            flag: experiment.flag.clone(),
            control: experiment.control.clone(),
            alpha,
            computed_at,
            srm,
            multiple_exposure_share,
            variants,
            comparisons,
            notes: notes.0,
            verdict: String::new(),
        };
        report.verdict = verdict::verdict(experiment, &report);
        report
    }
}

/// One metric's arm in one variant: n, the mean and the variance of the
/// metric's kind (`STATISTICS.md`, "Per variant").
pub fn arm(kind: MetricKind, users: u64, totals: &crate::attribution::MetricTotals) -> Arm {
    if users == 0 {
        return Arm {
            n: 0,
            mean: 0.0,
            variance: Err(Undefined::NoUsers),
        };
    }
    let n = users as f64;
    let mean = totals.sum / n;
    let variance = match kind {
        MetricKind::Conversion => Ok(mean * (1.0 - mean)),
        MetricKind::Sum if users < 2 => Err(Undefined::TooFewUsers),
        MetricKind::Sum => Ok(totals.squared_deviations / (n - 1.0)),
    };
    Arm {
        n: users,
        mean,
        variance,
    }
}

/// The notes being collected: each undefined figure's pointer and reason.
#[derive(Default)]
struct Notes(BTreeMap<String, String>);

impl Notes {
    /// The figure, or `None` with its reason noted under `pointer`.
    fn take<T>(&mut self, pointer: String, figure: Figure<T>) -> Option<T> {
        match figure {
            Ok(value) => Some(value),
            Err(undefined) => {
                self.0.insert(pointer, undefined.reason().to_owned());
                None
            }
        }
    }
}

/// A name as one token of a JSON pointer (RFC 6901: `~` as `~0`, `/` as
/// `~1`).
pub fn pointer_token(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

impl Serialize for Metrics {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, result) in &self.0 {
            map.serialize_entry(name, result)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Metrics {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MetricsVisitor;
        impl<'de> Visitor<'de> for MetricsVisitor {
            type Value = Metrics;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of metric results")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Metrics, A::Error> {
                let mut metrics = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    metrics.push(entry);
                }
                Ok(Metrics(metrics))
            }
        }
        deserializer.deserialize_map(MetricsVisitor)
    }
}
