//! The store's exposure write alone: the call a node's writer makes, with
//! its batch size, against plain inserts of the same rows in the same
//! statements and transactions into a table with no key (the baseline),
//! the two interleaved batch by batch so both see the same server.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use provider::server::exposures::ExposureSettings;
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use store::{BatchWrite, ExposureRow, Store};
use time::OffsetDateTime;

/// Batches written each way.
const BATCHES: usize = 100;
/// Rows per plain `INSERT`, as the store's write uses.
const ROWS_PER_STATEMENT: usize = 1_000;

/// What the write alone managed.
pub struct Report {
    /// Rows per second through `Store::write_exposures`.
    pub rows_per_s: f64,
    /// Rows per second through plain inserts.
    pub baseline_rows_per_s: f64,
}

pub async fn measure(store: &Store) -> anyhow::Result<Report> {
    let batch = ExposureSettings::default().batch;
    let db = store.connection();
    let backend = db.get_database_backend();
    db.execute_unprepared(
        "CREATE TABLE exposures_plain AS SELECT flag_set, experiment, flag_key, variant, \
         targeting_key, flag_set_version, surface, exposed_at_us, batch_id FROM exposures \
         WHERE false",
    )
    .await?;
    let now = OffsetDateTime::now_utc();
    let mut written = Histogram::<u64>::new(3)?;
    let mut plain = Histogram::<u64>::new(3)?;
    let (mut written_total, mut plain_total) = (Duration::ZERO, Duration::ZERO);
    for b in 0..BATCHES {
        let rows: Vec<ExposureRow> = (0..batch)
            .map(|i| ExposureRow {
                flag_set: "default".to_owned(),
                experiment: "writer-alone".to_owned(),
                flag: "tracked".to_owned(),
                variant: if i % 2 == 0 { "control" } else { "treatment" }.to_owned(),
                targeting_key: format!("writer-{:016}", b * batch + i),
                flag_set_version: "00000000000000ab".to_owned(),
                surface: "ofrep_single".to_owned(),
                exposed_at: now,
            })
            .collect();
        let batch_id = format!("writer-alone:{b}");

        let started = Instant::now();
        let txn = db.begin().await?;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut sql = String::from(
                "INSERT INTO exposures_plain (flag_set, experiment, flag_key, variant, \
                 targeting_key, flag_set_version, surface, exposed_at_us, batch_id) VALUES ",
            );
            let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * 9);
            for (i, row) in chunk.iter().enumerate() {
                let p = i * 9;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${},${},${},${},${},${},${},${},${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6,
                    p + 7,
                    p + 8,
                    p + 9
                ));
                values.extend([
                    row.flag_set.clone().into(),
                    row.experiment.clone().into(),
                    row.flag.clone().into(),
                    row.variant.clone().into(),
                    row.targeting_key.clone().into(),
                    row.flag_set_version.clone().into(),
                    row.surface.clone().into(),
                    i64::try_from(row.exposed_at.unix_timestamp_nanos() / 1_000)?.into(),
                    batch_id.clone().into(),
                ]);
            }
            txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
                .await?;
        }
        txn.commit().await?;
        let took = started.elapsed();
        plain_total += took;
        plain.record(took.as_micros() as u64)?;

        let started = Instant::now();
        let outcome = store.write_exposures(&batch_id, &rows).await?;
        let took = started.elapsed();
        if outcome
            != (BatchWrite::Written {
                rows: rows.len() as u64,
            })
        {
            anyhow::bail!("batch {batch_id} wrote {outcome:?}, not all its rows");
        }
        written_total += took;
        written.record(took.as_micros() as u64)?;
    }
    let rows = (BATCHES * batch) as f64;
    let report = Report {
        rows_per_s: rows / written_total.as_secs_f64(),
        baseline_rows_per_s: rows / plain_total.as_secs_f64(),
    };
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "Writer alone: {BATCHES} batches of {batch} fresh rows, each one transaction.\n  \
         Store::write_exposures: {:.0} rows/s, batch p50 {:.1} ms, p99 {:.1} ms\n  \
         plain inserts (baseline): {:.0} rows/s, batch p50 {:.1} ms, p99 {:.1} ms\n  \
         ratio to baseline: {:.3}",
        report.rows_per_s,
        ms(&written, 0.5),
        ms(&written, 0.99),
        report.baseline_rows_per_s,
        ms(&plain, 0.5),
        ms(&plain, 0.99),
        report.rows_per_s / report.baseline_rows_per_s,
    );
    Ok(report)
}
