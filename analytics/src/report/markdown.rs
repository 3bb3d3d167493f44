//! The report as Markdown a person reads: the verdict first, the sample's
//! health, then one table per metric with each variant's figures and each
//! treatment's comparison with the control, and the notes.

use std::fmt::Write as _;

use super::{Comparison, Report};

/// `report` as Markdown.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let level = format!("{}% ", number(100.0 * (1.0 - report.alpha)));
    let _ = writeln!(
        out,
        "# Experiment {} (flag `{}`)\n",
        report.experiment, report.flag
    );
    let _ = writeln!(out, "**Verdict.** {}\n", report.verdict);
    let users: u64 = report.variants.iter().map(|v| v.users).sum();
    let _ = write!(out, "Computed at {}. {users} users", rfc3339(report));
    match report.srm {
        Some(srm) => {
            let _ = write!(
                out,
                "; sample-ratio test χ² = {}, p = {}: {}",
                number(srm.chi2),
                number(srm.p_value),
                if srm.mismatch {
                    "**mismatch**, the results are unreliable"
                } else {
                    "healthy"
                }
            );
        }
        None => out.push_str("; no sample-ratio test"),
    }
    if let Some(share) = report.multiple_exposure_share {
        let _ = write!(out, "; {} exposed to more than one variant", percent(share));
    }
    out.push_str(".\n");

    let metrics: Vec<&str> = report
        .variants
        .first()
        .map(|v| v.metrics.0.iter().map(|(name, _)| name.as_str()).collect())
        .unwrap_or_default();
    for metric in metrics {
        let _ = writeln!(out, "\n## {metric}\n");
        let _ = writeln!(
            out,
            "| variant | users | count | mean | lift | relative lift | {level}interval (relative) | p | p (Holm) | always-valid {level}interval (relative) | always-valid p (Holm) | chance to beat control | expected loss |"
        );
        out.push_str("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        for variant in &report.variants {
            let figures = variant
                .metrics
                .0
                .iter()
                .find(|(name, _)| name == metric)
                .map(|(_, f)| *f);
            let comparison = report
                .comparisons
                .iter()
                .find(|c| c.metric == metric && c.variant == variant.variant);
            let _ = write!(
                out,
                "| {}{} | {} | {} | {} |",
                variant.variant,
                // The control is named so, unless its name says it already.
                if variant.variant == report.control && variant.variant != "control" {
                    " (control)"
                } else {
                    ""
                },
                variant.users,
                figures.map(|f| f.count.to_string()).unwrap_or_default(),
                optional(figures.and_then(|f| f.mean)),
            );
            match comparison {
                Some(c) => row(&mut out, c),
                None => out.push_str(&" |".repeat(9)),
            }
            out.push('\n');
        }
    }
    if !report.notes.is_empty() {
        out.push_str("\n## Notes\n\n");
        for (pointer, reason) in &report.notes {
            let _ = writeln!(out, "- `{pointer}`: {reason}");
        }
    }
    out
}

fn row(out: &mut String, c: &Comparison) {
    let _ = write!(
        out,
        " {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        optional(c.abs_lift),
        c.rel_lift.map(percent).unwrap_or_else(|| "—".to_owned()),
        interval(c.rel_ci),
        optional(c.p_value),
        optional(c.p_value_holm),
        interval(c.sequential_rel_ci),
        optional(c.sequential_p_value_holm),
        c.chance_to_beat_control
            .map(percent)
            .unwrap_or_else(|| "—".to_owned()),
        optional(c.expected_loss),
    );
}

fn interval(interval: Option<[f64; 2]>) -> String {
    match interval {
        Some([low, high]) => format!("{} to {}", percent(low), percent(high)),
        None => "—".to_owned(),
    }
}

fn optional(value: Option<f64>) -> String {
    value.map(number).unwrap_or_else(|| "—".to_owned())
}

fn number(value: f64) -> String {
    if value != 0.0 && value.abs() < 1e-4 {
        format!("{value:.2e}")
    } else {
        let text = format!("{value:.4}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

fn percent(share: f64) -> String {
    let text = format!("{:.2}", 100.0 * share);
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

fn rfc3339(report: &Report) -> String {
    report
        .computed_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
