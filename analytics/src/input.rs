//! Where the analysis reads exposures and events from: CSV or Parquet
//! files (one file, or a folder of `date=YYYY-MM-DD/` partitions), or rows
//! handed over in memory, each turned into the same lazy frames so that
//! everything after loading is one code path.
//!
//! Exposures have the columns `flag_key,variant,targeting_key,timestamp`,
//! events `event_name,targeting_key,timestamp,value`; other columns (an
//! export's leading `flag_set`) are ignored. In CSV, timestamps are RFC
//! 3339 (`2026-03-01T10:00:00.123456Z`, the fraction optional, any
//! offset), as Ensign's exports write them, and an empty value is no
//! value. In
//! Parquet, a timestamp may also be a datetime column.

use std::path::{Path, PathBuf};

use polars::prelude::*;

mod plain_csv;

/// The exposures' columns.
pub const EXPOSURE_COLUMNS: [&str; 4] = ["flag_key", "variant", "targeting_key", "timestamp"];
/// The events' columns.
pub const EVENT_COLUMNS: [&str; 4] = ["event_name", "targeting_key", "timestamp", "value"];

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
        if format == Format::Csv
            && let Some(plain) = plain_csv::read(kind, path)
        {
            return Table::new(
                kind,
                what,
                plain.frame.lazy(),
                Some(format),
                Typing::Plain(plain.dictionaries),
            );
        }
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
        Table::new(kind, what, frame, Some(format), Typing::Text)
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
        Table::new(
            Kind::Exposures,
            what.to_owned(),
            frame.lazy(),
            None,
            Typing::Typed,
        )
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
        Table::new(
            Kind::Events,
            what.to_owned(),
            frame.lazy(),
            None,
            Typing::Typed,
        )
    }

    /// A table over `raw`, whose columns are as `typing` says.
    fn new(
        kind: Kind,
        what: String,
        mut raw: LazyFrame,
        format: Option<Format>,
        typing: Typing,
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
            let coded = match &typing {
                Typing::Plain(dictionaries) => dictionaries
                    .iter()
                    .find(|(name, _)| *name == column)
                    .map(|(_, dictionary)| dictionary.clone()),
                _ => None,
            };
            exprs.push(match coded {
                Some(dictionary) => plain_csv::decode(column, dictionary),
                None => normalize(&what, column, dtype, !matches!(typing, Typing::Text))?,
            });
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

/// What a table's columns are as read.
enum Typing {
    /// Text (CSV through Polars' reader) or Parquet's types.
    Text,
    /// The analysis types already, timestamps as microseconds (in memory).
    Typed,
    /// The analysis types, with a few text columns as codes into their
    /// dictionaries (plain CSV).
    Plain(Vec<(&'static str, std::sync::Arc<Vec<String>>)>),
}

/// The expression that gives `column` its analysis type: text as
/// strings, `timestamp` as microseconds since the epoch (Int64), `value`
/// as Float64. Parsing is strict: a bad row fails the query, and
/// [`diagnose`] then finds it.
fn normalize(
    what: &str,
    column: &'static str,
    dtype: &DataType,
    typed: bool,
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
            DataType::Int64 if typed => within_years(expr),
            DataType::Datetime(_, zone) => within_years(
                expr.cast(DataType::Datetime(TimeUnit::Microseconds, zone.clone()))
                    .cast(DataType::Int64),
            ),
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

/// The first microsecond of the year 0000 and the last of 9999, the
/// times the analysis takes (as RFC 3339 text can write them).
const EARLIEST_US: i64 = -62_167_219_200_000_000;
const LATEST_US: i64 = 253_402_300_799_999_999;

/// Microseconds outside the years 0000 to 9999 become null: a bad row.
fn within_years(micros: Expr) -> Expr {
    when(
        micros
            .clone()
            .gt_eq(lit(EARLIEST_US))
            .and(micros.clone().lt_eq(lit(LATEST_US))),
    )
    .then(micros)
    .otherwise(lit(NULL).cast(DataType::Int64))
}

/// RFC 3339 text as microseconds since the epoch (Int64); text that is
/// not RFC 3339 becomes null, which the analysis counts and [`diagnose`]
/// names. Parsed here rather than with a format string: this one pass is
/// several times faster than a general `strptime` on tens of millions of
/// rows, and takes any offset, not only `Z`.
fn timestamp_text(expr: Expr) -> Expr {
    expr.map(
        |column| {
            let text = column.str()?;
            let micros: Int64Chunked = text
                .iter()
                .map(|value| value.and_then(rfc3339_micros))
                .collect();
            Ok(micros.with_name(column.name().clone()).into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::Int64)),
    )
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (RFC 3339; `t`, `z` and a
/// space for `T` accepted) as microseconds since the Unix epoch, a
/// fraction beyond microseconds truncated; `None` for anything else.
pub fn rfc3339_micros(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter().try_fold(0i64, |value, &c| {
            c.is_ascii_digit().then(|| value * 10 + i64::from(c - b'0'))
        })
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-') && at(7, b'-') && at(13, b':') && at(16, b':')) {
        return None;
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month)
        || day < 1
        || day > month_days[(month - 1) as usize]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut i = 19;
    let mut micros = 0i64;
    if at(i, b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 6 {
                micros = micros * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let len = i - start;
        if len == 0 || len > 9 {
            return None;
        }
        for _ in len..6 {
            micros *= 10;
        }
    }
    let offset_seconds = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && at(i + 3, b':') => {
            let (h, m) = (digits(i + 1, 2)?, digits(i + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let offset = h * 3600 + m * 60;
            if sign == b'+' { offset } else { -offset }
        }
        _ => return None,
    };
    // Howard Hinnant's days-from-civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some(seconds * 1_000_000 + micros)
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
            ("timestamp", DataType::String) => timestamp_text(raw.clone()).is_null(),
            ("value", DataType::String) => {
                let parsed = raw.clone().cast(DataType::Float64);
                (parsed.clone().is_null().and(raw.clone().is_not_null()))
                    .or(parsed.clone().is_infinite())
                    .or(parsed.is_nan())
            }
            ("value", _) => raw.clone().is_infinite().or(raw.clone().is_nan()),
            ("timestamp", DataType::Datetime(_, zone)) => within_years(
                raw.clone()
                    .cast(DataType::Datetime(TimeUnit::Microseconds, zone.clone()))
                    .cast(DataType::Int64),
            )
            .is_null(),
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
                format!("timestamp {value:?} is not RFC 3339 (like 2026-03-01T10:00:00Z)")
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

#[cfg(test)]
mod tests {
    use super::rfc3339_micros;

    #[test]
    fn rfc3339_times_read_as_the_time_crate_reads_them() {
        use time::OffsetDateTime;
        use time::format_description::well_known::Rfc3339;
        for text in [
            "2026-03-01T10:00:00Z",
            "2026-03-01T10:00:00.123456Z",
            "2026-03-01T10:00:00.1Z",
            "2026-03-01t10:00:00.123456789z",
            "2024-02-29T23:59:59.999999+02:00",
            "1969-12-31T23:59:59.5-05:30",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ] {
            let expected = OffsetDateTime::parse(text, &Rfc3339).unwrap();
            let micros = i64::try_from(expected.unix_timestamp_nanos() / 1000).unwrap();
            // Truncated, not rounded, below a microsecond.
            let micros =
                micros - i64::from(!expected.nanosecond().is_multiple_of(1000) && micros < 0);
            assert_eq!(rfc3339_micros(text), Some(micros), "{text}");
        }
        assert_eq!(
            rfc3339_micros("2026-03-01 10:00:00Z"),
            Some(1_772_359_200_000_000)
        );
        for bad in [
            "",
            "yesterday",
            "2026-03-01",
            "2026-03-01T10:00:00",
            "2026-02-29T10:00:00Z",
            "2026-13-01T10:00:00Z",
            "2026-03-01T24:00:00Z",
            "2026-03-01T10:60:00Z",
            "2026-03-01T10:00:00.Z",
            "2026-03-01T10:00:00.1234567890Z",
            "2026-03-01T10:00:00+0100",
            "2026-03-01T10:00:00Zjunk",
            "２026-03-01T10:00:00Z",
        ] {
            assert_eq!(rfc3339_micros(bad), None, "{bad}");
        }
    }
}
