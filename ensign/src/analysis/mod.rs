//! Experiment analysis in the binary: `ensign analytics run` (the store's
//! running experiments analysed once and their results stored, or an
//! experiment's analysis from files; reports printed as JSON or Markdown,
//! charts drawn over the result history, a progress bar on a terminal),
//! the analysis of the store's experiments ([`stored`]) and its periodic
//! run on the leading node ([`job`]), which also checks the guarded
//! rollouts ([`guard`]).

pub mod guard;
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

use crate::admin::{block_on, connect};
use crate::cli::{AnalyticsRunArgs, ReportFormat};

/// `ensign analytics run`: the files' analysis, or the store's.
pub fn run(args: &AnalyticsRunArgs) -> anyhow::Result<ExitCode> {
    match (&args.experiment, &args.exposures, &args.events) {
        (Some(experiment), Some(exposures), Some(events)) => {
            run_files(args, experiment, exposures, events)
        }
        _ => run_store(args),
    }
}

/// Runs the analysis of one experiment from files.
fn run_files(
    args: &AnalyticsRunArgs,
    experiment: &Path,
    exposures: &Path,
    events: &Path,
) -> anyhow::Result<ExitCode> {
    let progress = progress_bar(3);
    progress.set_message("reading the experiment");
    let experiment = read_experiment(experiment)?;
    let input = Input {
        exposures: Table::file(Kind::Exposures, exposures)?,
        events: Table::file(Kind::Events, events)?,
    };
    progress.inc(1);
    progress.set_message("attributing events to first exposures");
    let totals = analytics::attribution::attribute_with(&experiment, &input, &mut |stage| {
        progress.set_message(match stage {
            Stage::Attributed => "adding up per variant",
            Stage::Totals => "computing the statistics",
        });
        progress.inc(1);
    })?;
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

/// Analyses the store's running experiments (or the one named) once,
/// storing each result as the periodic analysis does.
fn run_store(args: &AnalyticsRunArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let store = connect(&args.store).await?;
        store.migrate().await.context("applying migrations")?;
        let experiments = match (&args.flag_set, &args.key) {
            (Some(flag_set), Some(key)) => vec![store.experiment(flag_set, key).await?],
            (flag_set, _) => store
                .running_experiments()
                .await?
                .into_iter()
                .filter(|e| flag_set.as_ref().is_none_or(|set| &e.flag_set == set))
                .collect(),
        };
        if experiments.is_empty() {
            eprintln!("no running experiment to analyse");
            return Ok(ExitCode::SUCCESS);
        }
        let progress = progress_bar(experiments.len() as u64);
        let mut reports = Vec::new();
        let mut failed = false;
        for experiment in &experiments {
            progress.set_message(format!(
                "{} of flag set {}",
                experiment.key, experiment.flag_set
            ));
            match stored::analyse(&store, experiment, OffsetDateTime::now_utc()).await {
                Ok(_) => {
                    let history = history(&store, experiment).await?;
                    if let Some(dir) = &args.plot {
                        let dir = dir.join(&experiment.flag_set).join(&experiment.key);
                        for path in analytics::plot::draw(&history, &dir)? {
                            progress.suspend(|| eprintln!("drew {}", path.display()));
                        }
                    }
                    reports.extend(history.into_iter().last());
                }
                Err(error) => {
                    failed = true;
                    progress.suspend(|| {
                        eprintln!(
                            "error: experiment {:?} of flag set {:?}: {error:#}",
                            experiment.key, experiment.flag_set
                        );
                    });
                }
            }
            progress.inc(1);
        }
        progress.finish_and_clear();
        match args.format {
            ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&reports)?),
            ReportFormat::Markdown => {
                for report in &reports {
                    println!("{}", analytics::report::markdown(report));
                }
            }
        }
        Ok(if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// The experiment's stored results as reports, oldest first, each
/// variant's metrics in the experiment's order (a stored JSON object keeps
/// none).
async fn history(
    store: &store::Store,
    experiment: &store::ExperimentRecord,
) -> anyhow::Result<Vec<Report>> {
    let mut results = store
        .results(&experiment.flag_set, &experiment.key, store::MAX_RESULTS)
        .await?;
    results.reverse();
    let order = |name: &str| {
        experiment
            .metrics
            .iter()
            .position(|m| m.name == name)
            .unwrap_or(usize::MAX)
    };
    results
        .into_iter()
        .map(|result| {
            let mut report: Report = serde_json::from_value(result.report)
                .with_context(|| format!("reading stored result {}", result.id))?;
            for variant in &mut report.variants {
                variant.metrics.0.sort_by_key(|(name, _)| order(name));
            }
            Ok(report)
        })
        .collect()
}

fn read_experiment(path: &Path) -> anyhow::Result<Experiment> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Experiment::parse(&text).with_context(|| format!("{}", path.display()))
}

/// A bar of `steps` on a terminal (for files: reading, attribution's three
/// stages, the statistics; for the store: one per experiment), hidden
/// otherwise.
fn progress_bar(steps: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(steps), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:20}] {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}
