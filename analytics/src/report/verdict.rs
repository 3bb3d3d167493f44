//! The verdict in words, decided on the first metric from the
//! always-valid figures: a treatment differs from the control when its
//! Holm-adjusted sequential p-value is below α, and by how much is its
//! confidence sequence. A sample-ratio mismatch makes any verdict
//! unreliable, and says so first.

use crate::definition::{Experiment, MetricKind};

use super::{Comparison, Report};

/// The verdict of `report`.
pub(super) fn verdict(experiment: &Experiment, report: &Report) -> String {
    let users: u64 = report.variants.iter().map(|v| v.users).sum();
    if users == 0 {
        return "No users have been exposed to the experiment's variants yet.".to_owned();
    }
    let Some(metric) = experiment.metrics.first() else {
        return String::new();
    };
    let level = format!("{}%", trim(100.0 * (1.0 - experiment.alpha), 2));
    let comparisons: Vec<&Comparison> = report
        .comparisons
        .iter()
        .filter(|c| c.metric == metric.name)
        .collect();
    let significant = |c: &&Comparison| {
        c.sequential_p_value_holm
            .is_some_and(|p| p < experiment.alpha)
    };
    // The treatment named: the best of those that win, or else the worst
    // of those that lose.
    let winner = comparisons
        .iter()
        .filter(|c| significant(c) && lift(c) > 0.0)
        .max_by(|a, b| lift(a).total_cmp(&lift(b)));
    let loser = comparisons
        .iter()
        .filter(|c| significant(c) && lift(c) < 0.0)
        .min_by(|a, b| lift(a).total_cmp(&lift(b)));
    let named = winner
        .map(|c| (c, "beats"))
        .or(loser.map(|c| (c, "loses to")));
    let mut words = String::new();
    if let Some(srm) = report.srm.filter(|srm| srm.mismatch) {
        words.push_str(&format!(
            "Unreliable: the users per variant do not match the expected weights (sample-ratio mismatch, p = {}), so the assignment or the exposure logging is broken and no result can be trusted. ",
            significant_figures(srm.p_value, 2)
        ));
    }
    match named {
        Some((best, direction)) => {
            words.push_str(&format!(
                "{} {} {} on {}: {} ({} always-valid interval {}), p = {} (sequential, Holm-adjusted).",
                best.variant,
                direction,
                experiment.control,
                metric.name,
                difference(metric.kind, best),
                level,
                interval(metric.kind, best),
                significant_figures(best.sequential_p_value_holm.unwrap_or(1.0), 2),
            ));
        }
        None => {
            let closest = comparisons
                .iter()
                .filter(|c| c.abs_lift.is_some())
                .min_by(|a, b| {
                    let p = |c: &Comparison| c.sequential_p_value_holm.unwrap_or(1.0);
                    p(a).total_cmp(&p(b))
                });
            match closest {
                Some(closest) if closest.sequential_p_value_holm.is_some() => {
                    words.push_str(&format!(
                        "No treatment differs from {} on {} yet: the largest evidence, {} at {} ({} always-valid interval {}), has p = {} (sequential, Holm-adjusted). Keep collecting data.",
                        experiment.control,
                        metric.name,
                        closest.variant,
                        difference(metric.kind, closest),
                        level,
                        interval(metric.kind, closest),
                        significant_figures(closest.sequential_p_value_holm.unwrap_or(1.0), 2),
                    ));
                }
                _ => words.push_str(&format!(
                    "Not enough data to compare the treatments with {} on {} yet (see the notes).",
                    experiment.control, metric.name
                )),
            }
        }
    }
    if report.srm.is_some_and(|srm| !srm.mismatch) {
        words.push_str(" The sample is healthy: users per variant match the expected weights");
        match report.multiple_exposure_share {
            Some(share) if share > 0.0 => words.push_str(&format!(
                ", and {}% of users saw more than one variant (they count in their first).",
                significant_figures(100.0 * share, 2)
            )),
            _ => words.push('.'),
        }
    }
    words
}

fn lift(comparison: &Comparison) -> f64 {
    comparison.abs_lift.unwrap_or(0.0)
}

/// The lift in a person's units: points of conversion rate, or per user.
fn difference(kind: MetricKind, comparison: &Comparison) -> String {
    let absolute = comparison.abs_lift.unwrap_or(0.0);
    let absolute = match kind {
        MetricKind::Conversion => format!("{} points", signed(100.0 * absolute)),
        MetricKind::Sum => format!("{} per user", signed(absolute)),
    };
    match comparison.rel_lift {
        Some(relative) => format!("{absolute}, {}%", signed(100.0 * relative)),
        None => absolute,
    }
}

fn interval(kind: MetricKind, comparison: &Comparison) -> String {
    match comparison.sequential_ci {
        Some([low, high]) => match kind {
            MetricKind::Conversion => {
                format!("{} to {} points", signed(100.0 * low), signed(100.0 * high))
            }
            MetricKind::Sum => format!("{} to {}", signed(low), signed(high)),
        },
        None => "undefined".to_owned(),
    }
}

fn signed(value: f64) -> String {
    let text = significant_figures(value.abs(), 3);
    if value < 0.0 {
        format!("−{text}")
    } else {
        format!("+{text}")
    }
}

/// `value` to `digits` significant figures, without trailing zeros.
fn significant_figures(value: f64, digits: i32) -> String {
    if value == 0.0 || !value.is_finite() {
        return "0".to_owned();
    }
    let magnitude = value.abs().log10().floor() as i32;
    if magnitude < -4 {
        return format!("{:.*e}", (digits - 1).max(0) as usize, value);
    }
    let decimals = (digits - 1 - magnitude).max(0);
    trim(value, decimals)
}

fn trim(value: f64, decimals: i32) -> String {
    let text = format!("{:.*}", decimals.max(0) as usize, value);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}
