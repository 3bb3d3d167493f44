//! Ensign's experiment analysis: which variant wins, by how much and how
//! surely. [`input`] reads exposures and events (CSV, Parquet or rows in
//! memory) into Polars' lazy frames; [`attribution`] gives each user the
//! variant of their first exposure and the events within the window;
//! [`stats`] holds every formula; [`report`] assembles them into the
//! result that the command line, the admin API and the charts show.
//! `STATISTICS.md` beside this crate writes the rules and formulas down.
//!
//! Polars runs threads of its own and blocks on them: call this crate
//! from a plain thread, or from `spawn_blocking` in an async runtime,
//! never from an async task itself.

pub mod attribution;
pub mod definition;
pub mod input;
pub mod parquet;
pub mod plot;
pub mod report;
pub mod stats;

pub use definition::{DefinitionError, Experiment, Metric, MetricKind, Variant};
pub use input::{EventColumns, ExposureColumns, Input, InputError, Kind, Table};
pub use report::Report;

/// Analyses `input` for `experiment`: attribution, then the statistics.
pub fn analyse(
    experiment: &Experiment,
    input: &Input,
    computed_at: time::OffsetDateTime,
) -> Result<Report, InputError> {
    let totals = attribution::attribute(experiment, input)?;
    Ok(Report::new(experiment, &totals, computed_at))
}
