//! Parquet export of exposures and events, partitioned by day: one folder
//! per UTC date, `date=YYYY-MM-DD/part-0.parquet`, the Hive layout that
//! DuckDB, Spark and Trino read as is (and `input::Table::file` reads
//! back). Timestamps are written as UTC datetimes in microseconds. This is
//! the documented path for volumes beyond one database: export, then
//! analyse the files.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::input::{EventColumns, ExposureColumns, InputError, Table};

/// The partition column, as the folder names carry it.
const DATE: &str = "date";

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The rows written.
    pub rows: usize,
    /// The files written, by date.
    pub files: Vec<PathBuf>,
}

/// Writes `table` (exposures or events) into `dir`, one partition per UTC
/// day. `dir` must not hold partitions already: an export never mixes
/// with an earlier one.
pub fn write_partitioned(table: &Table, dir: &Path) -> Result<Written, InputError> {
    let what = dir.display().to_string();
    let io = |error: std::io::Error| InputError::Read {
        what: what.clone(),
        source: PolarsError::IO {
            error: error.into(),
            msg: None,
        },
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let earlier = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .any(|entry| entry.file_name().to_string_lossy().starts_with("date="));
    if earlier {
        return Err(InputError::BadRow {
            what,
            place: "the folder".to_owned(),
            problem: "holds partitions (date=…) already; export into an empty folder".to_owned(),
        });
    }
    let read = |source| InputError::Read {
        what: what.clone(),
        source,
    };
    let frame = table
        .frame
        .clone()
        .with_column(
            col("timestamp")
                .cast(DataType::Datetime(TimeUnit::Microseconds, None))
                .alias("timestamp"),
        )
        .with_column(col("timestamp").dt().strftime("%Y-%m-%d").alias(DATE))
        .sort(["timestamp"], SortMultipleOptions::default())
        .collect()
        .map_err(read)?;
    let rows = frame.height();
    let mut files = Vec::new();
    for part in frame.partition_by_stable([DATE], true).map_err(read)? {
        let date = part
            .column(DATE)
            .and_then(|c| c.str().cloned())
            .map_err(read)?
            .get(0)
            .unwrap_or_default()
            .to_owned();
        let mut part = part.drop(DATE).map_err(read)?;
        let folder = dir.join(format!("{DATE}={date}"));
        std::fs::create_dir_all(&folder).map_err(io)?;
        let path = folder.join("part-0.parquet");
        let file = File::create(&path).map_err(io)?;
        ParquetWriter::new(file)
            .with_compression(ParquetCompression::Zstd(None))
            .finish(&mut part)
            .map_err(read)?;
        files.push(path);
    }
    Ok(Written { rows, files })
}

impl Table {
    /// The table's exposures, column by column (for an import into the
    /// store); a bad row is named as the analysis names it.
    pub fn exposure_columns(&self) -> Result<ExposureColumns, InputError> {
        let frame = self.collect()?;
        let columns = (|| -> PolarsResult<ExposureColumns> {
            Ok(ExposureColumns {
                flag_key: texts(&frame, "flag_key")?,
                variant: texts(&frame, "variant")?,
                targeting_key: texts(&frame, "targeting_key")?,
                timestamp_us: times(&frame)?,
            })
        })();
        columns.map_err(|source| InputError::Read {
            what: self.what.clone(),
            source,
        })
    }

    /// The table's events, column by column.
    pub fn event_columns(&self) -> Result<EventColumns, InputError> {
        let frame = self.collect()?;
        let columns = (|| -> PolarsResult<EventColumns> {
            Ok(EventColumns {
                event_name: texts(&frame, "event_name")?,
                targeting_key: texts(&frame, "targeting_key")?,
                timestamp_us: times(&frame)?,
                value: frame.column("value")?.f64()?.iter().collect(),
            })
        })();
        columns.map_err(|source| InputError::Read {
            what: self.what.clone(),
            source,
        })
    }

    /// Every row, checked: a missing field or a value that is not finite
    /// fails, naming its row.
    fn collect(&self) -> Result<DataFrame, InputError> {
        let mut problems = col("targeting_key")
            .is_null()
            .or(col("timestamp").is_null());
        let schema = self
            .frame
            .clone()
            .collect_schema()
            .map_err(|error| crate::input::diagnose(self, error))?;
        for text in ["flag_key", "variant", "event_name"] {
            if schema.contains(text) {
                problems = problems.or(col(text).is_null());
            }
        }
        if schema.contains("value") {
            problems = problems
                .or(col("value").is_infinite())
                .or(col("value").is_nan());
        }
        let frame = self
            .frame
            .clone()
            .with_column(problems.alias("__bad"))
            .collect()
            .map_err(|error| crate::input::diagnose(self, error))?;
        let bad = frame
            .column("__bad")
            .and_then(|c| c.bool().map(|b| b.any()))
            .unwrap_or(false);
        if bad {
            return Err(crate::input::diagnose(
                self,
                polars_err!(ComputeError: "a row lacks a field or has a value that is not finite"),
            ));
        }
        frame.drop("__bad").map_err(|source| InputError::Read {
            what: self.what.clone(),
            source,
        })
    }
}

/// A checked frame's text column (no nulls: [`Table::collect`] refused
/// them).
fn texts(frame: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    Ok(frame
        .column(name)?
        .str()?
        .iter()
        .map(|value| value.unwrap_or_default().to_owned())
        .collect())
}

/// A checked frame's timestamps, in microseconds.
fn times(frame: &DataFrame) -> PolarsResult<Vec<i64>> {
    Ok(frame
        .column("timestamp")?
        .i64()?
        .iter()
        .map(|t| t.unwrap_or_default())
        .collect())
}
