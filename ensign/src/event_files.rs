//! `ensign events import|export`: a flag set's tracking events as CSV, so
//! that events collected elsewhere can be analysed with those the nodes
//! received, and Ensign's events can go to a warehouse.
//!
//! The columns are `event_name,targeting_key,timestamp,value`: timestamps
//! in RFC 3339 (exported in UTC), values a finite number or empty for none.
//! Attributes are not in the file: imported events have none, and export
//! leaves them out. Parquet (`--format parquet`, a folder partitioned by
//! day) has the same columns and imports the same way. An import is checked whole first (a bad row is
//! reported with its line) and then written in one transaction, under a
//! batch id made from the flag set and the file's content, so the same
//! file imported twice is written once. Otherwise every row is an event of
//! its own: two identical rows are two purchases.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use analytics::{EventColumns, Kind, Table};

use anyhow::{Context, anyhow, bail};
use store::{BatchWrite, EventFilter, EventRow, FlagSetKey, MAX_FIELD_BYTES};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::admin::{block_on, connect};
use crate::cli::{EventsExportArgs, EventsImportArgs, ExportFormat};
use crate::imports::{self, from_micros, micros};

/// The columns, header and rows alike.
const COLUMNS: [&str; 4] = ["event_name", "targeting_key", "timestamp", "value"];

/// Imports a CSV file of tracking events.
pub fn import(args: &EventsImportArgs) -> anyhow::Result<ExitCode> {
    // The key's error names its cause itself: chained, it would say it twice.
    let flag_set =
        FlagSetKey::new(args.flag_set.as_str()).map_err(|error| anyhow!("--flag-set: {error}"))?;
    let (text, rows) = if imports::is_parquet(&args.file) {
        (
            imports::read_parquet_files(&args.file)?,
            parquet_rows(&args.file, &flag_set, OffsetDateTime::now_utc())?,
        )
    } else {
        let text = imports::read(&args.file)?;
        let rows = parse(&text, &flag_set, OffsetDateTime::now_utc())?;
        (text, rows)
    };
    let batch = imports::batch_id(flag_set.as_str(), &text);
    block_on(async {
        let store = connect(&args.store).await?;
        store.migrate().await.context("applying migrations")?;
        match store
            .write_events(&batch, &rows)
            .await
            .context("writing the events")?
        {
            BatchWrite::Written { rows: written } => {
                println!(
                    "imported {written} events into flag set {:?}",
                    flag_set.as_str()
                );
            }
            BatchWrite::AlreadyWritten => println!(
                "this file was imported into flag set {:?} before; nothing was written",
                flag_set.as_str()
            ),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Exports a flag set's tracking events as CSV, in the store's order.
pub fn export(args: &EventsExportArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let store = connect(&args.store).await?;
        let filter = EventFilter {
            name: args.name.clone(),
            ..EventFilter::default()
        };
        let rows = store
            .events(&args.flag_set, &filter)
            .await
            .context("reading the events")?;
        if args.format == ExportFormat::Parquet {
            let Some(dir) = &args.output else {
                bail!("--format parquet writes a folder: name it with --output");
            };
            let mut columns = EventColumns::default();
            for row in rows {
                columns.event_name.push(row.name);
                columns.targeting_key.push(row.targeting_key);
                columns.timestamp_us.push(micros(row.occurred_at));
                columns.value.push(row.value);
            }
            // Polars runs its own threads: off the async runtime.
            let dir_owned = dir.clone();
            let written = tokio::task::spawn_blocking(move || {
                let table = Table::events("the store's events", columns)?;
                analytics::parquet::write_partitioned(&table, &dir_owned)
            })
            .await
            .context("writing Parquet stopped")??;
            eprintln!(
                "exported {} events into {} daily partitions under {}",
                written.rows,
                written.files.len(),
                dir.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        let out: Box<dyn Write> = match &args.output {
            Some(path) => Box::new(
                std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?,
            ),
            None => Box::new(std::io::stdout().lock()),
        };
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(COLUMNS)?;
        for row in &rows {
            let timestamp = row.occurred_at.to_offset(UtcOffset::UTC).format(&Rfc3339)?;
            writer.write_record([
                row.name.as_str(),
                &row.targeting_key,
                &timestamp,
                &format_value(row.value),
            ])?;
        }
        writer.flush().context("writing the CSV")?;
        if args.output.is_some() {
            eprintln!("exported {} events", rows.len());
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Reads the rows of a CSV file as events of `flag_set` received at
/// `received_at`, or says which line is wrong and why.
fn parse(
    text: &[u8],
    flag_set: &FlagSetKey,
    received_at: OffsetDateTime,
) -> anyhow::Result<Vec<EventRow>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text);
    let headers = reader.headers().context("line 1: reading the header")?;
    if headers.iter().ne(COLUMNS) {
        bail!(
            "line 1: the header must be `{}`, not `{}`",
            COLUMNS.join(","),
            headers.iter().collect::<Vec<_>>().join(",")
        );
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|error| {
            let line = error.position().map_or(0, csv::Position::line);
            match error.kind() {
                csv::ErrorKind::UnequalLengths { len, .. } => anyhow!(
                    "line {line}: expected {} fields (`{}`), found {len}",
                    COLUMNS.len(),
                    COLUMNS.join(",")
                ),
                _ => anyhow!("line {line}: {error}"),
            }
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        let fields: Vec<&str> = record.iter().collect();
        let [name, user, timestamp, value] = fields[..] else {
            bail!("line {line}: expected {} fields", COLUMNS.len());
        };
        for (what, field) in [("event_name", name), ("targeting_key", user)] {
            if field.is_empty() || field.len() > MAX_FIELD_BYTES {
                bail!(
                    "line {line}: {what} must be 1 to {MAX_FIELD_BYTES} bytes, not {}",
                    field.len()
                );
            }
        }
        let at = OffsetDateTime::parse(timestamp, &Rfc3339).map_err(|error| {
            anyhow!("line {line}: timestamp {timestamp:?} is not RFC 3339: {error}")
        })?;
        // Export writes the time in UTC, which must still be a year RFC
        // 3339 can write.
        let Some(at) = at
            .checked_to_offset(UtcOffset::UTC)
            .filter(|at| (0..=9999).contains(&at.year()))
        else {
            bail!(
                "line {line}: timestamp {timestamp:?} is not within the years 0000 to 9999 in UTC"
            );
        };
        let value = if value.is_empty() {
            None
        } else {
            match value.parse::<f64>() {
                Ok(number) if number.is_finite() => Some(number),
                _ => bail!("line {line}: value {value:?} is not a finite number"),
            }
        };
        rows.push(EventRow {
            flag_set: flag_set.to_string(),
            name: name.to_owned(),
            targeting_key: user.to_owned(),
            value,
            attributes: String::new(),
            occurred_at: at,
            received_at,
        });
    }
    Ok(rows)
}

/// The events of a Parquet file or folder, as events of `flag_set`
/// received at `received_at`; a bad row is named.
fn parquet_rows(
    path: &Path,
    flag_set: &FlagSetKey,
    received_at: OffsetDateTime,
) -> anyhow::Result<Vec<EventRow>> {
    let columns = Table::file(Kind::Events, path)?.event_columns()?;
    let mut rows = Vec::with_capacity(columns.event_name.len());
    for (i, (((name, user), at), value)) in columns
        .event_name
        .into_iter()
        .zip(columns.targeting_key)
        .zip(columns.timestamp_us)
        .zip(columns.value)
        .enumerate()
    {
        for (what, field) in [("event_name", &name), ("targeting_key", &user)] {
            if field.is_empty() || field.len() > MAX_FIELD_BYTES {
                bail!("row {}: {what} must be 1 to {MAX_FIELD_BYTES} bytes", i + 1);
            }
        }
        let Some(occurred_at) = from_micros(at).filter(|at| (0..=9999).contains(&at.year())) else {
            bail!(
                "row {}: timestamp is not within the years 0000 to 9999",
                i + 1
            );
        };
        rows.push(EventRow {
            flag_set: flag_set.to_string(),
            name,
            targeting_key: user,
            value,
            attributes: String::new(),
            occurred_at,
            received_at,
        });
    }
    Ok(rows)
}

/// A value as the CSV writes it: the shortest decimal that reads back as
/// the same number, or nothing.
fn format_value(value: Option<f64>) -> String {
    value.map_or_else(String::new, |value| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "event_name,targeting_key,timestamp,value\n";

    fn read(text: &str) -> anyhow::Result<Vec<EventRow>> {
        let set = FlagSetKey::new("shop").unwrap();
        parse(text.as_bytes(), &set, OffsetDateTime::UNIX_EPOCH)
    }

    #[track_caller]
    fn refused(rows: &str, expect: &str) {
        let error = read(&format!("{HEADER}{rows}")).unwrap_err().to_string();
        assert!(error.contains(expect), "{error}");
    }

    #[test]
    fn rows_are_read_as_events_without_attributes() {
        let rows = read(&format!(
            "{HEADER}purchase,\"u,1\",2026-12-06T11:00:00.000123+01:00,19.99\n\
             signup,u2,2026-12-06T10:00:00Z,\n"
        ))
        .unwrap();
        let first = &rows[0];
        assert_eq!(
            (
                first.flag_set.as_str(),
                first.targeting_key.as_str(),
                first.value,
                first.attributes.as_str(),
            ),
            ("shop", "u,1", Some(19.99), "")
        );
        assert_eq!(
            first.occurred_at.format(&Rfc3339).unwrap(),
            "2026-12-06T10:00:00.000123Z"
        );
        assert_eq!(rows[1].value, None);
    }

    #[test]
    fn bad_rows_are_reported_with_their_line() {
        let error = read("name,targeting_key,timestamp,value\n")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("line 1: the header must be"), "{error}");
        let good = "purchase,u1,2026-12-06T10:00:00Z,1\n";
        refused(
            &format!("{good}purchase,u1,1\n"),
            "line 3: expected 4 fields",
        );
        refused(
            &format!("{good}purchase,u1,2026-12-06T10:00:00Z,1,2\n"),
            "line 3: expected 4 fields",
        );
        refused(
            &format!("{good},u1,2026-12-06T10:00:00Z,1\n"),
            "line 3: event_name",
        );
        refused(
            &format!("{good}purchase,,2026-12-06T10:00:00Z,1\n"),
            "line 3: targeting_key",
        );
        refused(
            &format!(
                "{good}purchase,{},2026-12-06T10:00:00Z,\n",
                "u".repeat(1025)
            ),
            "line 3: targeting_key must be 1 to 1024 bytes, not 1025",
        );
        refused(
            &format!("{good}purchase,u1,yesterday,1\n"),
            "line 3: timestamp \"yesterday\" is not RFC 3339",
        );
        refused(
            "purchase,u1,0000-01-01T00:30:00+01:00,1\n",
            "line 2: timestamp \"0000-01-01T00:30:00+01:00\" is not within",
        );
        for value in ["abc", "NaN", "inf", "-infinity", "1e999", " 1"] {
            refused(
                &format!("purchase,u1,2026-12-06T10:00:00Z,{value}\n"),
                &format!("line 2: value {value:?} is not a finite number"),
            );
        }
    }

    #[test]
    fn values_are_written_as_the_shortest_decimal_that_reads_back() {
        for (value, text) in [
            (None, ""),
            (Some(19.99), "19.99"),
            (Some(1e3), "1000"),
            (Some(-0.5), "-0.5"),
            (Some(0.1 + 0.2), "0.30000000000000004"),
        ] {
            assert_eq!(format_value(value), text);
            assert_eq!(text.parse::<f64>().ok(), value);
        }
    }
}
