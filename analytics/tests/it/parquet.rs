//! Parquet export partitioned by day, read back: the same rows and the
//! same report as from the CSV files they came from.

use std::path::{Path, PathBuf};

use analytics::parquet::write_partitioned;
use analytics::{Experiment, Input, Kind, Table, analyse};
use time::OffsetDateTime;

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/reference")
        .join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("parquet-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_partitioned_export_reads_back_as_the_same_rows_and_report() {
    let source = case("attribution");
    let experiment =
        Experiment::parse(&std::fs::read_to_string(source.join("experiment.json")).unwrap())
            .unwrap();
    let csv = Input {
        exposures: Table::file(Kind::Exposures, &source.join("exposures.csv")).unwrap(),
        events: Table::file(Kind::Events, &source.join("events.csv")).unwrap(),
    };
    let dir = scratch("attribution");
    let exposures = write_partitioned(&csv.exposures, &dir.join("exposures")).unwrap();
    let events = write_partitioned(&csv.events, &dir.join("events")).unwrap();
    assert!(exposures.rows > 0 && events.rows > 0);
    // One folder per UTC day, named as Hive names partitions.
    for written in [&exposures, &events] {
        for file in &written.files {
            let folder = file
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy();
            let date = folder.strip_prefix("date=").expect("a date= folder");
            let digits: Vec<bool> = date.chars().map(|c| c.is_ascii_digit()).collect();
            assert_eq!(digits.len(), 10, "{folder}");
            assert!(
                digits
                    .iter()
                    .enumerate()
                    .all(|(i, digit)| *digit != (i == 4 || i == 7)),
                "{folder}"
            );
            assert_eq!(file.file_name().unwrap(), "part-0.parquet");
        }
    }

    let parquet = Input {
        exposures: Table::file(Kind::Exposures, &dir.join("exposures")).unwrap(),
        events: Table::file(Kind::Events, &dir.join("events")).unwrap(),
    };
    let sorted = |mut rows: Vec<(String, String, String, i64)>| {
        rows.sort();
        rows
    };
    let exposure_rows = |table: &Table| {
        let columns = table.exposure_columns().unwrap();
        sorted(
            (0..columns.flag_key.len())
                .map(|i| {
                    (
                        columns.flag_key[i].clone(),
                        columns.variant[i].clone(),
                        columns.targeting_key[i].clone(),
                        columns.timestamp_us[i],
                    )
                })
                .collect(),
        )
    };
    assert_eq!(
        exposure_rows(&parquet.exposures),
        exposure_rows(&csv.exposures)
    );
    let (from_csv, from_parquet) = (
        csv.events.event_columns().unwrap(),
        parquet.events.event_columns().unwrap(),
    );
    assert_eq!(from_csv.value.len(), from_parquet.value.len());

    let at = OffsetDateTime::UNIX_EPOCH;
    let a = serde_json::to_value(analyse(&experiment, &csv, at).unwrap()).unwrap();
    let b = serde_json::to_value(analyse(&experiment, &parquet, at).unwrap()).unwrap();
    // To the last bit: sums are taken in an order the data fixes.
    assert_eq!(a, b);

    // An export never mixes with an earlier one.
    let again = write_partitioned(&csv.exposures, &dir.join("exposures")).unwrap_err();
    assert!(again.to_string().contains("holds partitions"), "{again}");
    let _ = std::fs::remove_dir_all(&dir);
}
