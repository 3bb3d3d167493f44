//! Exposure batches: written whole or not at all, once per batch id, one
//! row per user and variant keeping the earliest exposure.

use store::{BatchWrite, ExposureBatch, ExposureRow, ExposureScope};
use time::{Duration, OffsetDateTime};

use test_support::TestDb;

fn row(user: &str, variant: &str, seconds: i64) -> ExposureRow {
    ExposureRow {
        flag_set: "production".into(),
        experiment: "checkout-test".into(),
        flag: "checkout".into(),
        variant: variant.into(),
        targeting_key: user.into(),
        flag_set_version: "00ff".into(),
        surface: "ofrep_single".into(),
        exposed_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
            + Duration::seconds(seconds),
    }
}

/// `user variant seconds surface` of every stored exposure.
async fn stored(store: &store::Store) -> Vec<String> {
    store
        .exposures("production", "checkout-test")
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r.targeting_key,
                r.variant,
                (r.exposed_at.unix_timestamp() - 1_800_000_000),
                r.surface
            )
        })
        .collect()
}

#[tokio::test]
async fn a_batch_is_written_once_keeping_each_users_first_exposure() {
    for db in TestDb::both("a_batch_is_written_once_keeping_each_users_first_exposure").await {
        let store = &db.store;
        let first = [row("u1", "control", 10), row("u2", "treatment", 11)];
        assert_eq!(
            store.write_exposures("node-a:1", &first).await.unwrap(),
            BatchWrite::Written { rows: 2 },
            "{}",
            db.backend
        );
        // The same batch again, as a re-delivered stream entry: nothing.
        assert_eq!(
            store.write_exposures("node-a:1", &first).await.unwrap(),
            BatchWrite::AlreadyWritten
        );
        // Another node saw u1 earlier and later, u2 later, and u1 again in
        // the other variant.
        let mut earlier = row("u1", "control", 5);
        earlier.surface = "grpc".into();
        let second = [
            earlier,
            row("u2", "treatment", 50),
            row("u1", "treatment", 60),
            row("u3", "control", 7),
        ];
        assert_eq!(
            store.write_exposures("node-b:1", &second).await.unwrap(),
            BatchWrite::Written { rows: 3 }
        );
        assert_eq!(
            stored(store).await,
            [
                "u1 control 5 grpc",
                "u3 control 7 ofrep_single",
                "u2 treatment 11 ofrep_single",
                "u1 treatment 60 ofrep_single",
            ]
        );
        db.drop_all().await;
    }
}

#[tokio::test]
async fn a_batch_that_repeats_a_user_keeps_the_earliest() {
    for db in TestDb::both("a_batch_that_repeats_a_user_keeps_the_earliest").await {
        let rows = [
            row("u1", "a", 20),
            row("u1", "a", 5),
            row("u2", "a", 1),
            row("u1", "a", 9),
        ];
        assert_eq!(
            db.store.write_exposures("repeats", &rows).await.unwrap(),
            BatchWrite::Written { rows: 2 },
            "{}",
            db.backend
        );
        assert_eq!(
            stored(&db.store).await,
            ["u2 a 1 ofrep_single", "u1 a 5 ofrep_single"]
        );
        db.drop_all().await;
    }
}

#[tokio::test]
async fn a_user_served_one_variant_from_two_versions_or_surfaces_keeps_the_earliest() {
    for db in TestDb::both("a_user_served_one_variant_from_two_versions_or_surfaces").await {
        let mut later = row("u1", "a", 5);
        later.surface = "in_process".into();
        let mut earlier = row("u1", "a", 2);
        earlier.flag_set_version = "0100".into();
        let mut latest = row("u1", "a", 9);
        latest.surface = "grpc".into();
        // Three scopes in one batch, one arm: one row, the earliest, with
        // the version and surface that served it.
        assert_eq!(
            db.store
                .write_exposures("scopes", &[later, earlier, latest, row("u2", "a", 7)])
                .await
                .unwrap(),
            BatchWrite::Written { rows: 2 },
            "{}",
            db.backend
        );
        assert_eq!(
            stored(&db.store).await,
            ["u1 a 2 ofrep_single", "u2 a 7 ofrep_single"]
        );
        let versions: Vec<String> = db
            .store
            .exposures("production", "checkout-test")
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.flag_set_version)
            .collect();
        assert_eq!(versions, ["0100", "00ff"]);
        db.drop_all().await;
    }
}

#[tokio::test]
async fn an_exposure_of_a_scope_the_batch_lacks_is_refused() {
    for db in TestDb::both("an_exposure_of_a_scope_the_batch_lacks_is_refused").await {
        let mut batch = ExposureBatch::with_capacity(2);
        let scope = batch.add_scope(ExposureScope {
            flag_set: "production",
            experiment: "checkout-test",
            flag: "checkout",
            variant: "a",
            flag_set_version: "00ff",
            surface: "grpc",
        });
        batch.push(scope, "u1", 1_800_000_000_000_000);
        batch.push(scope + 1, "u2", 1_800_000_000_000_000);
        let error = db
            .store
            .write_exposure_batch("lacking", &batch)
            .await
            .unwrap_err();
        assert_eq!(error.code(), "INVALID_INPUT", "{error}");
        assert!(
            error.to_string().contains("exposure 1 names scope 1"),
            "{error}"
        );
        assert!(stored(&db.store).await.is_empty());
        db.drop_all().await;
    }
}

#[tokio::test]
async fn a_batch_with_a_bad_row_is_refused_whole() {
    for db in TestDb::both("a_batch_with_a_bad_row_is_refused_whole").await {
        let store = &db.store;
        let mut no_user = row("", "control", 1);
        no_user.targeting_key.clear();
        let huge = row(&"x".repeat(1025), "control", 2);
        for (batch, bad) in [("b1", no_user), ("b2", huge)] {
            let error = store
                .write_exposures(batch, &[row("u1", "control", 0), bad])
                .await
                .unwrap_err();
            assert_eq!(error.code(), "INVALID_INPUT", "{error}");
            assert!(error.to_string().contains("exposure 1"), "{error}");
        }
        let error = store
            .write_exposures("", &[row("u1", "control", 0)])
            .await
            .unwrap_err();
        assert_eq!(error.code(), "INVALID_INPUT", "{error}");
        assert!(stored(store).await.is_empty());
        // The refused batch ids were not taken.
        assert_eq!(
            store
                .write_exposures("b1", &[row("u1", "control", 0)])
                .await
                .unwrap(),
            BatchWrite::Written { rows: 1 }
        );
        db.drop_all().await;
    }
}

#[tokio::test]
async fn many_rows_go_in_one_batch() {
    for db in TestDb::both("many_rows_go_in_one_batch").await {
        let rows: Vec<ExposureRow> = (0..2_500)
            .map(|i| {
                row(
                    &format!("user-{i}"),
                    if i % 2 == 0 { "control" } else { "treatment" },
                    i,
                )
            })
            .collect();
        assert_eq!(
            db.store.write_exposures("big", &rows).await.unwrap(),
            BatchWrite::Written { rows: 2_500 }
        );
        assert_eq!(stored(&db.store).await.len(), 2_500);
        db.drop_all().await;
    }
}
