//! Where the analysis reads exposures and events from: CSV or Parquet
//! files (one file, or a folder of `date=YYYY-MM-DD/` partitions), or rows
//! handed over in memory, each turned into the same lazy frames so that
//! everything after loading is one code path.
//!
//! Exposures have the columns `flag_key,variant,targeting_key,timestamp`,
//! events `event_name,targeting_key,timestamp,value`; other columns (an
//! export's leading `flag_set`) are ignored. In CSV, timestamps are RFC
//! 3339 in UTC (`2026-03-01T10:00:00.123456Z`, the fraction optional), as
//! Ensign's exports write them, and an empty value is no value. In
//! Parquet, a timestamp may also be a datetime column.

use std::path::{Path, PathBuf};

use polars::prelude::*;

/// The exposures' columns.
pub const EXPOSURE_COLUMNS: [&str; 4] = ["flag_key", "variant", "targeting_key", "timestamp"];
/// The events' columns.
pub const EVENT_COLUMNS: [&str; 4] = ["event_name", "targeting_key", "timestamp", "value"];

/// The CSV timestamp format: RFC 3339 in UTC.
const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.fZ";

/// A file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header.
    Csv,
    /// Apache Parquet: a file, or a folder of partitions.
    Parquet,
}

impl Format {
    /// The format a path's extension names; a folder is Parquet partitions.
    pub fn of(path: &Path) -> Result<Format, InputError> {
        if path.is_dir() {
            return Ok(Format::Parquet);
        }
        match path.extension().and_then(|ext| ext.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("csv") => Ok(Format::Csv),
            Some(ext) if ext.eq_ignore_ascii_case("parquet") || ext.eq_ignore_ascii_case("pq") => {
                Ok(Format::Parquet)
            }
            _ => Err(InputError::UnknownFormat {
                path: path.to_owned(),
            }),
        }
    }
}

/// What is wrong with an input.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Neither `.csv` nor `.parquet`, nor a folder.
    #[error("{}: not a .csv or .parquet file, nor a folder of Parquet partitions", path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// A column the input needs is missing.
    #[error("{what}: no column {column:?} (the columns are {expected})")]
    MissingColumn {
        /// Which input.
        what: String,
        /// The column.
        column: &'static str,
        /// The columns the input needs.
        expected: String,
    },
    /// A column of the wrong type (Parquet).
    #[error("{what}: column {column:?} is {found}, not {expected}")]
    ColumnType {
        /// Which input.
        what: String,
        /// The column.
        column: &'static str,
        /// Its type.
        found: String,
        /// The types it may have.
        expected: &'static str,
    },
    /// A row that does not parse, with its line (CSV) or row (Parquet).
    #[error("{what}: {place}: {problem}")]
    BadRow {
        /// Which input.
        what: String,
        /// `line N` or `row N`.
        place: String,
        /// What is wrong.
        problem: String,
    },
    /// Reading failed.
    #[error("{what}: {source}")]
    Read {
        /// Which input.
        what: String,
        /// Polars' error.
        source: PolarsError,
    },
}

/// One input table: exposures or events, from a file or from memory.
#[derive(Clone)]
pub struct Table {
    /// What it is, as errors name it: the file's path.
    pub(crate) what: String,
    /// The table's columns with their analysis types.
    pub(crate) frame: LazyFrame,
    /// The table as read, for naming a bad row.
    raw: LazyFrame,
    /// Each column read, with its type as read.
    columns: Vec<(&'static str, DataType)>,
    /// The file's format; `None` in memory.
    format: Option<Format>,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("what", &self.what)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// The analysis' input: exposures and events.
#[derive(Debug, Clone)]
pub struct Input {
    /// Exposures: `flag_key, variant, targeting_key, timestamp`.
    pub exposures: Table,
    /// Events: `event_name, targeting_key, timestamp, value`.
    pub events: Table,
}

/// Exposures column by column, all of one length: what the store hands
/// over.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExposureColumns {
    /// Each exposure's flag.
    pub flag_key: Vec<String>,
    /// The variant served.
    pub variant: Vec<String>,
    /// The user.
    pub targeting_key: Vec<String>,
    /// When, in microseconds since the Unix epoch.
    pub timestamp_us: Vec<i64>,
}

/// Events column by column, all of one length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventColumns {
    /// Each event's name.
    pub event_name: Vec<String>,
    /// The user.
    pub targeting_key: Vec<String>,
    /// When it occurred, in microseconds since the Unix epoch.
    pub timestamp_us: Vec<i64>,
    /// Its value, if any.
    pub value: Vec<Option<f64>>,
}

/// Which table a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Exposures.
    Exposures,
    /// Tracking events.
    Events,
}

impl Kind {
    fn columns(self) -> [&'static str; 4] {
        match self {
            Kind::Exposures => EXPOSURE_COLUMNS,
            Kind::Events => EVENT_COLUMNS,
        }
    }
}

impl Table {
    /// A file of `kind`, CSV or Parquet by its extension (a folder is
    /// Parquet partitions); its columns are checked now, its rows as the
    /// analysis reads them.
    pub fn file(kind: Kind, path: &Path) -> Result<Table, InputError> {
        let what = path.display().to_string();
        let format = Format::of(path)?;
        let read = |source| InputError::Read {
            what: what.clone(),
            source,
        };
        let pl_path = PlRefPath::try_from_path(path).map_err(read)?;
        let frame = match format {
            Format::Csv => LazyCsvReader::new(pl_path)
                .with_has_header(true)
                // Every column as text: types are checked row by row below,
                // where a bad row can be named.
                .with_infer_schema_length(Some(0))
                .finish()
                .map_err(read)?,
            Format::Parquet => {
                let args = ScanArgsParquet {
                    hive_options: HiveOptions::new_enabled(),
                    ..Default::default()
                };
                LazyFrame::scan_parquet(pl_path, args).map_err(read)?
            }
        };
        Table::new(kind, what, frame, Some(format))
    }

    /// Exposures held in memory (read from the store), column by column.
    pub fn exposures(what: &str, columns: ExposureColumns) -> Result<Table, InputError> {
        let read = |source| InputError::Read {
            what: what.to_owned(),
            source,
        };
        let frame = DataFrame::new_infer_height(vec![
            Column::new("flag_key".into(), columns.flag_key),
            Column::new("variant".into(), columns.variant),
            Column::new("targeting_key".into(), columns.targeting_key),
            Column::new("timestamp".into(), columns.timestamp_us),
        ])
        .map_err(read)?;
        Table::new(Kind::Exposures, what.to_owned(), frame.lazy(), None)
    }

    /// Events held in memory (read from the store), column by column.
    pub fn events(what: &str, columns: EventColumns) -> Result<Table, InputError> {
        let read = |source| InputError::Read {
            what: what.to_owned(),
            source,
        };
        let frame = DataFrame::new_infer_height(vec![
            Column::new("event_name".into(), columns.event_name),
            Column::new("targeting_key".into(), columns.targeting_key),
            Column::new("timestamp".into(), columns.timestamp_us),
            Column::new("value".into(), columns.value),
        ])
        .map_err(read)?;
        Table::new(Kind::Events, what.to_owned(), frame.lazy(), None)
    }

    fn new(
        kind: Kind,
        what: String,
        mut raw: LazyFrame,
        format: Option<Format>,
    ) -> Result<Table, InputError> {
        let schema = raw.collect_schema().map_err(|source| InputError::Read {
            what: what.clone(),
            source,
        })?;
        let mut columns = Vec::with_capacity(4);
        let mut exprs = Vec::with_capacity(4);
        for column in kind.columns() {
            let Some(dtype) = schema.get(column) else {
                return Err(InputError::MissingColumn {
                    what,
                    column,
                    expected: kind.columns().join(","),
                });
            };
            exprs.push(normalize(&what, column, dtype, format.is_none())?);
            columns.push((column, dtype.clone()));
        }
        Ok(Table {
            frame: raw.clone().select(exprs),
            raw,
            columns,
            format,
            what,
        })
    }
}

/// The expression that gives `column` its analysis type: text as
/// strings, `timestamp` as microseconds since the epoch (Int64), `value`
/// as Float64. Parsing is strict: a bad row fails the query, and
/// [`diagnose`] then finds it.
fn normalize(
    what: &str,
    column: &'static str,
    dtype: &DataType,
    in_memory: bool,
) -> Result<Expr, InputError> {
    let wrong = |expected| InputError::ColumnType {
        what: what.to_owned(),
        column,
        found: dtype.to_string(),
        expected,
    };
    let expr = col(column);
    Ok(match column {
        "timestamp" => match dtype {
            DataType::String => timestamp_text(expr).cast(DataType::Int64),
            DataType::Int64 if in_memory => expr,
            DataType::Datetime(_, zone) => expr
                .cast(DataType::Datetime(TimeUnit::Microseconds, zone.clone()))
                .cast(DataType::Int64),
            _ => return Err(wrong("text in RFC 3339 or a datetime")),
        },
        "value" => match dtype {
            DataType::String => expr.strict_cast(DataType::Float64),
            DataType::Null => expr.cast(DataType::Float64),
            dtype if dtype.is_primitive_numeric() => expr.cast(DataType::Float64),
            _ => return Err(wrong("a number")),
        },
        _ => match dtype {
            DataType::String => expr,
            _ => return Err(wrong("text")),
        },
    })
}

fn timestamp_text(expr: Expr) -> Expr {
    timestamp_parse(expr, true)
}

fn timestamp_parse(expr: Expr, strict: bool) -> Expr {
    expr.str().to_datetime(
        Some(TimeUnit::Microseconds),
        None,
        StrptimeOptions {
            format: Some(TIMESTAMP_FORMAT.into()),
            strict,
            exact: true,
            cache: false,
        },
        lit("raise"),
    )
}

/// After a query over `table` failed with `error`, reads the table again
/// to name its first bad row; gives `error` back when every row is good.
pub(crate) fn diagnose(table: &Table, error: PolarsError) -> InputError {
    match first_bad_row(table) {
        Ok(Some(bad)) => bad,
        Ok(None) | Err(_) => InputError::Read {
            what: table.what.clone(),
            source: error,
        },
    }
}

fn first_bad_row(table: &Table) -> PolarsResult<Option<InputError>> {
    let mut checks = Vec::new();
    let mut any_bad = lit(false);
    for (index, (column, dtype)) in table.columns.iter().enumerate() {
        let raw = col(*column);
        let bad = match (*column, dtype) {
            ("timestamp", DataType::String) => timestamp_parse(raw.clone(), false).is_null(),
            ("value", DataType::String) => {
                let parsed = raw.clone().cast(DataType::Float64);
                (parsed.clone().is_null().and(raw.clone().is_not_null()))
                    .or(parsed.clone().is_infinite())
                    .or(parsed.is_nan())
            }
            ("value", _) => raw.clone().is_infinite().or(raw.clone().is_nan()),
            _ => raw.clone().is_null(),
        };
        any_bad = any_bad.or(bad.clone());
        checks.push(bad.alias(format!("bad{index}")));
        checks.push(raw.cast(DataType::String).alias(format!("raw{index}")));
    }
    checks.insert(0, col(ROW));
    let found = table
        .raw
        .clone()
        .with_row_index(ROW, None)
        .filter(any_bad)
        .select(checks)
        .limit(1)
        .collect()?;
    if found.height() == 0 {
        return Ok(None);
    }
    let row = found.column(ROW)?.idx()?.get(0).unwrap_or(0) as u64;
    let place = match table.format {
        // Line 1 is the header.
        Some(Format::Csv) => format!("line {}", row + 2),
        _ => format!("row {}", row + 1),
    };
    for (index, (column, _)) in table.columns.iter().enumerate() {
        if found.column(&format!("bad{index}"))?.bool()?.get(0) != Some(true) {
            continue;
        }
        let value = found
            .column(&format!("raw{index}"))?
            .str()?
            .get(0)
            .map(str::to_owned);
        let problem = match (*column, value) {
            (column, None) => format!("no {column}"),
            ("timestamp", Some(value)) => {
                format!("timestamp {value:?} is not RFC 3339 in UTC (like 2026-03-01T10:00:00Z)")
            }
            ("value", Some(value)) => format!("value {value:?} is not a finite number"),
            (column, Some(value)) => format!("{column} {value:?} is not valid"),
        };
        return Ok(Some(InputError::BadRow {
            what: table.what.clone(),
            place,
            problem,
        }));
    }
    Ok(None)
}

/// The row index column of a diagnosis.
const ROW: &str = "__row";
