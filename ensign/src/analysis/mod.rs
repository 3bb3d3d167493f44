//! Experiment analysis in the binary: `ensign analytics run` (an
//! experiment's analysis from files, printed as JSON or Markdown, with a
//! progress bar on a terminal), the analysis of the store's experiments
//! ([`stored`]) and its periodic run on the leading node ([`job`]).

pub mod job;
pub mod stored;

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use analytics::attribution::Stage;
use analytics::{Experiment, Input, Kind, Report, Table};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use time::OffsetDateTime;

use crate::cli::{AnalyticsRunArgs, ReportFormat};

/// Runs the analysis of one experiment from files.
pub fn run(args: &AnalyticsRunArgs) -> anyhow::Result<ExitCode> {
    let progress = progress_bar();
    progress.set_message("reading the experiment");
    let experiment = read_experiment(&args.experiment)?;
    let input = Input {
        exposures: Table::file(Kind::Exposures, &args.exposures)?,
        events: Table::file(Kind::Events, &args.events)?,
    };
    progress.inc(1);
    let totals = analytics::attribution::attribute_with(&experiment, &input, &mut |stage| {
        progress.set_message(match stage {
            Stage::FirstExposures => "finding each user's first exposure",
            Stage::Events => "attributing events",
            Stage::Totals => "adding up per variant",
        });
        progress.inc(1);
    })?;
    progress.set_message("computing the statistics");
    let report = Report::new(&experiment, &totals, OffsetDateTime::now_utc());
    progress.finish_and_clear();
    match args.format {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ReportFormat::Markdown => print!("{}", analytics::report::markdown(&report)),
    }
    if let Some(dir) = &args.plot {
        for path in analytics::plot::draw(std::slice::from_ref(&report), dir)? {
            eprintln!("drew {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_experiment(path: &Path) -> anyhow::Result<Experiment> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Experiment::parse(&text).with_context(|| format!("{}", path.display()))
}

/// Steps: reading, then attribution's three stages, then the statistics.
fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(5), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:20}] {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}
