//! `ensign exposures import|export`: an experiment's exposures as CSV, so
//! that data collected elsewhere can be analysed and Ensign's data can go
//! to a warehouse.
//!
//! The columns are `flag_key,variant,targeting_key,timestamp`, after an
//! optional leading `flag_set`; timestamps are RFC 3339 in UTC. Parquet
//! (`--format parquet`, a folder partitioned by day) has the same columns
//! but `flag_set`, and imports the same way. An import
//! is checked whole first (a bad row is reported with its line) and then
//! written in one transaction, under a batch id made from the experiment
//! and the file's content, so the same file imported twice is written
//! once. As for exposures from nodes, each user keeps their earliest
//! exposure per variant.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use analytics::{ExposureColumns, Kind, Table};

use anyhow::{Context, bail};
use store::{BatchWrite, ExposureRow, MAX_EXPOSURE_FIELD_BYTES};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::admin::{block_on, connect};
use crate::cli::{ExportFormat, ExposuresExportArgs, ExposuresImportArgs};
use crate::imports::{self, from_micros, micros};

/// The columns after the optional `flag_set`.
const COLUMNS: [&str; 4] = ["flag_key", "variant", "targeting_key", "timestamp"];

/// Imports a CSV file of exposures, or Parquet.
pub fn import(args: &ExposuresImportArgs) -> anyhow::Result<ExitCode> {
    let (text, rows) = if imports::is_parquet(&args.file) {
        let Some(flag_set) = args.flag_set.as_deref() else {
            bail!("Parquet exposures have no flag_set column: name the flag set with --flag-set");
        };
        (
            imports::read_parquet_files(&args.file)?,
            parquet_rows(&args.file, &args.experiment, flag_set)?,
        )
    } else {
        let text = imports::read(&args.file)?;
        let rows = parse(&text, &args.experiment, args.flag_set.as_deref())?;
        (text, rows)
    };
    let batch = imports::batch_id(&args.experiment, &text);
    block_on(async {
        let store = connect(&args.store).await?;
        store.migrate().await.context("applying migrations")?;
        match store
            .write_exposures(&batch, &rows)
            .await
            .context("writing the exposures")?
        {
            BatchWrite::Written { rows: written } => println!(
                "imported {} exposures of experiment {:?} ({written} new or earlier than those stored)",
                rows.len(),
                args.experiment
            ),
            BatchWrite::AlreadyWritten => {
                println!("this file was imported before; nothing was written");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Reads the rows of a CSV file, or says which line is wrong and why.
fn parse(
    text: &[u8],
    experiment: &str,
    flag_set: Option<&str>,
) -> anyhow::Result<Vec<ExposureRow>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text);
    let headers: Vec<String> = reader
        .headers()
        .context("line 1: reading the header")?
        .iter()
        .map(str::to_owned)
        .collect();
    let with_set = match headers.as_slice() {
        [first, rest @ ..] if first == "flag_set" && rest == COLUMNS => true,
        columns if columns == COLUMNS => false,
        _ => bail!(
            "line 1: the header must be `flag_key,variant,targeting_key,timestamp`, optionally after `flag_set`, not `{}`",
            headers.join(",")
        ),
    };
    if !with_set && flag_set.is_none() {
        bail!("the file has no flag_set column: name the flag set with --flag-set");
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|error| {
            let line = error.position().map_or(0, csv::Position::line);
            anyhow::anyhow!("line {line}: {error}")
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        let fields: Vec<&str> = record.iter().collect();
        let (set, rest) = if with_set {
            (fields[0], &fields[1..])
        } else {
            (flag_set.unwrap_or_default(), &fields[..])
        };
        let [flag, variant, user, timestamp] = rest else {
            bail!("line {line}: expected {} fields", headers.len());
        };
        for (what, value) in [
            ("flag_set", set),
            ("flag_key", *flag),
            ("variant", *variant),
            ("targeting_key", *user),
        ] {
            if value.is_empty() || value.len() > MAX_EXPOSURE_FIELD_BYTES {
                bail!("line {line}: {what} must be 1 to {MAX_EXPOSURE_FIELD_BYTES} bytes");
            }
        }
        let at = OffsetDateTime::parse(timestamp, &Rfc3339).map_err(|error| {
            anyhow::anyhow!("line {line}: timestamp {timestamp:?} is not RFC 3339: {error}")
        })?;
        if at.offset() != UtcOffset::UTC {
            bail!("line {line}: timestamp {timestamp:?} is not in UTC");
        }
        rows.push(ExposureRow {
            flag_set: set.to_owned(),
            experiment: experiment.to_owned(),
            flag: (*flag).to_owned(),
            variant: (*variant).to_owned(),
            targeting_key: (*user).to_owned(),
            flag_set_version: String::new(),
            surface: "import".to_owned(),
            exposed_at: at,
        });
    }
    Ok(rows)
}

/// The exposures of a Parquet file or folder, checked row by row.
fn parquet_rows(path: &Path, experiment: &str, flag_set: &str) -> anyhow::Result<Vec<ExposureRow>> {
    let columns = Table::file(Kind::Exposures, path)?.exposure_columns()?;
    let mut rows = Vec::with_capacity(columns.flag_key.len());
    for (i, (((flag, variant), user), at)) in columns
        .flag_key
        .into_iter()
        .zip(columns.variant)
        .zip(columns.targeting_key)
        .zip(columns.timestamp_us)
        .enumerate()
    {
        for (what, value) in [
            ("flag_key", &flag),
            ("variant", &variant),
            ("targeting_key", &user),
        ] {
            if value.is_empty() || value.len() > MAX_EXPOSURE_FIELD_BYTES {
                bail!(
                    "row {}: {what} must be 1 to {MAX_EXPOSURE_FIELD_BYTES} bytes",
                    i + 1
                );
            }
        }
        rows.push(ExposureRow {
            flag_set: flag_set.to_owned(),
            experiment: experiment.to_owned(),
            flag,
            variant,
            targeting_key: user,
            flag_set_version: String::new(),
            surface: "import".to_owned(),
            exposed_at: from_micros(at)
                .with_context(|| format!("row {}: timestamp out of range", i + 1))?,
        });
    }
    Ok(rows)
}

/// Exports an experiment's exposures as CSV, or as Parquet partitioned
/// by day.
pub fn export(args: &ExposuresExportArgs) -> anyhow::Result<ExitCode> {
    block_on(async {
        let store = connect(&args.store).await?;
        let rows = store
            .exposures(&args.flag_set, &args.experiment)
            .await
            .context("reading the exposures")?;
        if args.format == ExportFormat::Parquet {
            let Some(dir) = &args.output else {
                bail!("--format parquet writes a folder: name it with --output");
            };
            let mut columns = ExposureColumns::default();
            for row in rows {
                columns.flag_key.push(row.flag);
                columns.variant.push(row.variant);
                columns.targeting_key.push(row.targeting_key);
                columns.timestamp_us.push(micros(row.exposed_at));
            }
            // Polars runs its own threads: off the async runtime.
            let dir_owned = dir.clone();
            let written = tokio::task::spawn_blocking(move || {
                let table = Table::exposures("the store's exposures", columns)?;
                analytics::parquet::write_partitioned(&table, &dir_owned)
            })
            .await
            .context("writing Parquet stopped")??;
            eprintln!(
                "exported {} exposures into {} daily partitions under {}",
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
        writer.write_record([
            "flag_set",
            "flag_key",
            "variant",
            "targeting_key",
            "timestamp",
        ])?;
        for row in &rows {
            let timestamp = row.exposed_at.format(&Rfc3339)?;
            writer.write_record([
                row.flag_set.as_str(),
                &row.flag,
                &row.variant,
                &row.targeting_key,
                &timestamp,
            ])?;
        }
        writer.flush().context("writing the CSV")?;
        if args.output.is_some() {
            eprintln!("exported {} exposures", rows.len());
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn refused(text: &str, flag_set: Option<&str>, expect: &str) {
        let error = parse(text.as_bytes(), "exp", flag_set)
            .unwrap_err()
            .to_string();
        assert!(error.contains(expect), "{error}");
    }

    #[test]
    fn rows_are_read_with_or_without_a_flag_set_column() {
        let with = "flag_set,flag_key,variant,targeting_key,timestamp\n\
                    shop,checkout,b,\"u,1\",2026-12-06T10:00:00.000123Z\n";
        let rows = parse(with.as_bytes(), "exp", None).unwrap();
        assert_eq!(
            (
                rows[0].flag_set.as_str(),
                rows[0].targeting_key.as_str(),
                rows[0].exposed_at.microsecond()
            ),
            ("shop", "u,1", 123)
        );
        let without =
            "flag_key,variant,targeting_key,timestamp\ncheckout,a,u2,2026-12-06T10:00:00Z\n";
        let rows = parse(without.as_bytes(), "exp", Some("lab")).unwrap();
        assert_eq!(
            (rows[0].flag_set.as_str(), rows[0].surface.as_str()),
            ("lab", "import")
        );
    }

    #[test]
    fn bad_rows_are_reported_with_their_line() {
        let header = "flag_key,variant,targeting_key,timestamp\n";
        refused("flag,variant\n", Some("s"), "line 1: the header");
        refused(header, None, "--flag-set");
        refused(
            &format!("{header}a,b,c,2026-12-06T10:00:00Z\na,b,,2026-12-06T10:00:00Z\n"),
            Some("s"),
            "line 3: targeting_key",
        );
        refused(
            &format!("{header}a,b,c,yesterday\n"),
            Some("s"),
            "line 2: timestamp \"yesterday\" is not RFC 3339",
        );
        refused(
            &format!("{header}a,b,c,2026-12-06T10:00:00+01:00\n"),
            Some("s"),
            "line 2: timestamp",
        );
        refused(&format!("{header}a,b,c\n"), Some("s"), "line 2");
        refused(
            &format!("{header}a,b,{},2026-12-06T10:00:00Z\n", "x".repeat(1025)),
            Some("s"),
            "line 2: targeting_key",
        );
    }
}
