//! The exposure stream's consumer against the real Redis and databases:
//! batches written once each, re-delivery and claims from a crashed
//! consumer without duplicates, entries that can never be written removed,
//! and a PostgreSQL outage that loses nothing.

use std::time::Duration;

use engine::streams::exposures::{FORMAT, GROUP, StreamBatch, StreamExposure, stream_key};
use graphql_admin::consumer::{ConsumerSettings, ExposureConsumer};
use redis::aio::MultiplexedConnection;
use store::Store;

use crate::outage::Proxy;
use test_support::{TestDb, clean_prefix, redis_url, shared_redis, unique_name};

fn exposure<'a>(user: &'a str, variant: &'a str, at: i64) -> StreamExposure<'a> {
    StreamExposure {
        experiment: "checkout-test".into(),
        flag_set: "production".into(),
        flag: "checkout".into(),
        variant: variant.into(),
        targeting_key: user.into(),
        flag_set_version: "00000000000000ff".into(),
        surface: "ofrep_single".into(),
        at,
    }
}

/// Appends a batch as an evaluation node does.
async fn add(connection: &mut MultiplexedConnection, prefix: &str, id: &str, batch: &str) {
    redis::cmd("XADD")
        .arg(stream_key(prefix))
        .arg("*")
        .arg("id")
        .arg(id)
        .arg("format")
        .arg(FORMAT)
        .arg("batch")
        .arg(batch)
        .query_async::<String>(connection)
        .await
        .unwrap();
}

fn batch(exposures: &[StreamExposure]) -> String {
    serde_json::to_string(&StreamBatch::of(exposures)).unwrap()
}

fn consumer(store: &Store, prefix: &str, name: &str) -> ExposureConsumer {
    let mut settings = ConsumerSettings::new(redis_url(), prefix.to_owned());
    settings.name = name.to_owned();
    settings.claim_idle = Duration::from_millis(50);
    ExposureConsumer::new(store.clone(), settings).unwrap()
}

async fn users(store: &Store) -> Vec<String> {
    store
        .exposures("production", "checkout-test")
        .await
        .unwrap()
        .into_iter()
        .map(|r| format!("{} {}", r.targeting_key, r.variant))
        .collect()
}

async fn length(connection: &mut MultiplexedConnection, prefix: &str) -> u64 {
    redis::cmd("XLEN")
        .arg(stream_key(prefix))
        .query_async(connection)
        .await
        .unwrap()
}

#[tokio::test]
async fn batches_are_written_once_and_removed_from_the_stream() {
    let test = "batches_are_written_once_and_removed_from_the_stream";
    let Some(mut redis) = shared_redis(test).await else {
        return;
    };
    for db in TestDb::both(test).await {
        let prefix = unique_name("exposures");
        add(
            &mut redis,
            &prefix,
            "node-a:1",
            &batch(&[exposure("u1", "a", 10), exposure("u2", "b", 11)]),
        )
        .await;
        // The same batch again (its XADD answer was lost), and a later one.
        add(
            &mut redis,
            &prefix,
            "node-a:1",
            &batch(&[exposure("u1", "a", 10), exposure("u2", "b", 11)]),
        )
        .await;
        add(
            &mut redis,
            &prefix,
            "node-b:1",
            &batch(&[exposure("u3", "a", 12)]),
        )
        .await;
        // Not a batch at all: removed, counted, and nothing stops behind it.
        add(&mut redis, &prefix, "node-c:1", "{not json").await;
        add(
            &mut redis,
            &prefix,
            "node-c:2",
            &batch(&[exposure("", "a", 13)]),
        )
        .await;
        add(
            &mut redis,
            &prefix,
            "node-b:2",
            &batch(&[exposure("u4", "b", 14)]),
        )
        .await;

        let consumer = consumer(&db.store, &prefix, "one");
        let mut connection = consumer.connect().await.unwrap();
        let mut handled = 0;
        while let n @ 1.. = consumer.pass(&mut connection, None).await.unwrap() {
            handled += n;
        }
        assert_eq!(handled, 6, "{}", db.backend);
        assert_eq!(users(&db.store).await, ["u1 a", "u2 b", "u3 a", "u4 b"]);
        assert_eq!(
            consumer
                .counts()
                .batches
                .load(std::sync::atomic::Ordering::Relaxed),
            4
        );
        assert_eq!(
            consumer
                .counts()
                .poisoned
                .load(std::sync::atomic::Ordering::Relaxed),
            2
        );
        assert_eq!(
            length(&mut redis, &prefix).await,
            0,
            "acknowledged entries are deleted"
        );
        clean_prefix(&mut redis, &prefix).await;
        db.drop_all().await;
    }
}

#[tokio::test]
async fn a_crashed_consumers_entries_are_claimed_and_written_once() {
    let test = "a_crashed_consumers_entries_are_claimed_and_written_once";
    let Some(mut redis) = shared_redis(test).await else {
        return;
    };
    let db = TestDb::sqlite().await;
    let prefix = unique_name("exposures");
    let survivor = consumer(&db.store, &prefix, "survivor");
    let mut connection = survivor.connect().await.unwrap();
    add(
        &mut redis,
        &prefix,
        "node-a:1",
        &batch(&[exposure("u1", "a", 10)]),
    )
    .await;
    add(
        &mut redis,
        &prefix,
        "node-a:2",
        &batch(&[exposure("u2", "b", 11)]),
    )
    .await;
    // A consumer reads both and dies before writing either.
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(GROUP)
        .arg("crashed")
        .arg("COUNT")
        .arg(10)
        .arg("STREAMS")
        .arg(stream_key(&prefix))
        .arg(">")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(
        survivor.pass(&mut connection, None).await.unwrap(),
        0,
        "not idle yet"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut handled = 0;
    while let n @ 1.. = survivor.pass(&mut connection, None).await.unwrap() {
        handled += n;
    }
    assert_eq!(handled, 2);
    assert_eq!(users(&db.store).await, ["u1 a", "u2 b"]);
    // The crashed consumer comes back and writes what it had read: the
    // batch ids are known, nothing is written twice.
    let written = db
        .store
        .write_exposures(
            "node-a:1",
            &[store::ExposureRow {
                flag_set: "production".into(),
                experiment: "checkout-test".into(),
                flag: "checkout".into(),
                variant: "a".into(),
                targeting_key: "u1".into(),
                flag_set_version: String::new(),
                surface: "ofrep_single".into(),
                exposed_at: time::OffsetDateTime::UNIX_EPOCH,
            }],
        )
        .await
        .unwrap();
    assert_eq!(written, store::BatchWrite::AlreadyWritten);
    assert_eq!(length(&mut redis, &prefix).await, 0);
    clean_prefix(&mut redis, &prefix).await;
    db.drop_all().await;
}

#[tokio::test]
async fn a_database_outage_on_the_consumer_loses_nothing() {
    let test = "a_database_outage_on_the_consumer_loses_nothing";
    let Some(mut redis) = shared_redis(test).await else {
        return;
    };
    let Some(db) = TestDb::postgres(test).await else {
        return;
    };
    let (proxy, url) = Proxy::before_postgres().await;
    let through = Store::connect_in(&url, db.schema.as_deref()).await.unwrap();
    let prefix = unique_name("exposures");
    let consumer = consumer(&through, &prefix, "one");
    let mut connection = consumer.connect().await.unwrap();

    proxy.cut();
    add(
        &mut redis,
        &prefix,
        "node-a:1",
        &batch(&[exposure("u1", "a", 10)]),
    )
    .await;
    add(
        &mut redis,
        &prefix,
        "node-a:2",
        &batch(&[exposure("u2", "b", 11)]),
    )
    .await;
    let failed = consumer.pass(&mut connection, None).await;
    assert!(failed.is_err(), "the store is down");
    assert_eq!(
        length(&mut redis, &prefix).await,
        2,
        "nothing is acknowledged"
    );

    proxy.restore();
    let mut handled = 0;
    for _ in 0..50 {
        match consumer.pass(&mut connection, None).await {
            Ok(0) if handled == 2 => break,
            Ok(n) => handled += n,
            // The pool may hand out a connection the cut closed first.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert_eq!(users(&db.store).await, ["u1 a", "u2 b"]);
    assert_eq!(length(&mut redis, &prefix).await, 0);
    clean_prefix(&mut redis, &prefix).await;
    db.drop_all().await;
}
