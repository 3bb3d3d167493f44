//! Tracking-event batches: every event kept as sent, each batch written
//! once per id, whole or not at all.

use store::{BatchWrite, EventFilter, EventRow, MAX_EVENT_ATTRIBUTES_BYTES, Store};
use time::{Duration, OffsetDateTime};

use test_support::TestDb;

const T0: i64 = 1_800_000_000;

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(T0 + seconds).unwrap()
}

fn event(name: &str, user: &str, seconds: i64) -> EventRow {
    EventRow {
        flag_set: "production".into(),
        name: name.into(),
        targeting_key: user.into(),
        value: None,
        attributes: String::new(),
        occurred_at: at(seconds),
        received_at: at(seconds + 1),
    }
}

/// `name user seconds value attributes` of each event `filter` lists.
async fn stored(store: &Store, filter: &EventFilter) -> Vec<String> {
    store
        .events("production", filter)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            format!(
                "{} {} {} {:?} {}",
                e.name,
                e.targeting_key,
                e.occurred_at.unix_timestamp() - T0,
                e.value,
                e.attributes
            )
        })
        .collect()
}

#[tokio::test]
async fn events_round_trip_in_order() {
    for db in TestDb::both("events_round_trip_in_order").await {
        let store = &db.store;
        let mut purchase = event("purchase", "u2", 10);
        purchase.value = Some(19.99);
        purchase.attributes = r#"{"currency":"EUR","items":[1,2]}"#.into();
        // Microseconds survive, and a time before the epoch too.
        let mut precise = event("signup", "u1", 10);
        precise.occurred_at += Duration::microseconds(250);
        let mut old = event("signup", "u9", 0);
        old.occurred_at = OffsetDateTime::UNIX_EPOCH - Duration::seconds(5);
        let rows = [
            purchase.clone(),
            event("view", "u1", 5),
            precise.clone(),
            // The same purchase twice is two purchases.
            purchase.clone(),
            event("purchase", "u1", 10),
            old.clone(),
            EventRow {
                value: Some(-0.5),
                ..event("refund", "u1", 20)
            },
        ];
        assert_eq!(
            store.write_events("node-a:1", &rows).await.unwrap(),
            BatchWrite::Written { rows: 7 },
            "{}",
            db.backend
        );
        let all = store
            .events("production", &EventFilter::default())
            .await
            .unwrap();
        assert_eq!(all.len(), 7);
        assert_eq!(all[0], old);
        assert_eq!(all[3], purchase);
        assert_eq!(all[4], purchase);
        assert_eq!(all[5], precise);
        assert_eq!(
            stored(store, &EventFilter::default()).await,
            [
                "signup u9 -1800000005 None ",
                "view u1 5 None ",
                "purchase u1 10 None ",
                r#"purchase u2 10 Some(19.99) {"currency":"EUR","items":[1,2]}"#,
                r#"purchase u2 10 Some(19.99) {"currency":"EUR","items":[1,2]}"#,
                "signup u1 10 None ",
                "refund u1 20 Some(-0.5) ",
            ]
        );
        let purchases = EventFilter {
            name: Some("purchase".into()),
            ..EventFilter::default()
        };
        assert_eq!(
            stored(store, &purchases).await,
            [
                "purchase u1 10 None ",
                r#"purchase u2 10 Some(19.99) {"currency":"EUR","items":[1,2]}"#,
                r#"purchase u2 10 Some(19.99) {"currency":"EUR","items":[1,2]}"#,
            ]
        );
        // From is inclusive, until exclusive.
        let window = EventFilter {
            name: None,
            from: Some(at(5)),
            until: Some(at(10) + Duration::microseconds(250)),
        };
        assert_eq!(
            stored(store, &window).await,
            [
                "view u1 5 None ",
                "purchase u1 10 None ",
                r#"purchase u2 10 Some(19.99) {"currency":"EUR","items":[1,2]}"#,
                r#"purchase u2 10 Some(19.99) {"currency":"EUR","items":[1,2]}"#,
            ]
        );
        // Another flag set's events are its own.
        assert!(
            store
                .events("staging", &EventFilter::default())
                .await
                .unwrap()
                .is_empty()
        );
        db.drop_all().await;
    }
}

#[tokio::test]
async fn a_batch_of_events_is_written_once() {
    for db in TestDb::both("a_batch_of_events_is_written_once").await {
        let store = &db.store;
        let rows = [event("purchase", "u1", 1), event("purchase", "u2", 2)];
        assert_eq!(
            store.write_events("node-a:1", &rows).await.unwrap(),
            BatchWrite::Written { rows: 2 },
            "{}",
            db.backend
        );
        // Delivered again, from this node or another: nothing.
        assert_eq!(
            store.write_events("node-a:1", &rows).await.unwrap(),
            BatchWrite::AlreadyWritten
        );
        assert_eq!(
            db.reopen()
                .await
                .write_events("node-a:1", &[event("signup", "u3", 3)])
                .await
                .unwrap(),
            BatchWrite::AlreadyWritten
        );
        // The same events under another id are more events.
        assert_eq!(
            store.write_events("node-b:1", &rows).await.unwrap(),
            BatchWrite::Written { rows: 2 }
        );
        // An empty batch takes its id.
        assert_eq!(
            store.write_events("node-b:2", &[]).await.unwrap(),
            BatchWrite::Written { rows: 0 }
        );
        assert_eq!(
            store.write_events("node-b:2", &rows).await.unwrap(),
            BatchWrite::AlreadyWritten
        );
        assert_eq!(
            stored(store, &EventFilter::default()).await,
            [
                "purchase u1 1 None ",
                "purchase u1 1 None ",
                "purchase u2 2 None ",
                "purchase u2 2 None ",
            ]
        );
        db.drop_all().await;
    }
}

#[tokio::test]
async fn an_invalid_event_refuses_the_whole_batch() {
    for db in TestDb::both("an_invalid_event_refuses_the_whole_batch").await {
        let store = &db.store;
        let with = |change: fn(&mut EventRow)| {
            let mut row = event("purchase", "u2", 2);
            change(&mut row);
            row
        };
        let cases: [(EventRow, &str); 9] = [
            (with(|e| e.value = Some(f64::NAN)), "event 1: its value NaN"),
            (
                with(|e| e.value = Some(f64::INFINITY)),
                "event 1: its value inf",
            ),
            (with(|e| e.name.clear()), "event 1: its name has 0 bytes"),
            (
                with(|e| e.flag_set.clear()),
                "event 1: its flag set has 0 bytes",
            ),
            (
                with(|e| e.targeting_key = "u".repeat(1025)),
                "event 1: its targeting key has 1025 bytes",
            ),
            (
                with(|e| e.attributes = "[1, 2]".into()),
                "event 1: its attributes are not the text of a JSON object",
            ),
            (
                with(|e| e.attributes = "\"text\"".into()),
                "event 1: its attributes are not the text of a JSON object",
            ),
            (
                with(|e| e.attributes = "{\"open\": ".into()),
                "event 1: its attributes are not the text of a JSON object",
            ),
            (
                with(|e| {
                    e.attributes =
                        format!(r#"{{"k":"{}"}}"#, "x".repeat(MAX_EVENT_ATTRIBUTES_BYTES))
                }),
                "event 1: its attributes have 16392 bytes",
            ),
        ];
        for (bad, message) in cases {
            let error = store
                .write_events("batch", &[event("purchase", "u1", 1), bad])
                .await
                .unwrap_err();
            assert_eq!(error.code(), "INVALID_INPUT", "{error}");
            assert!(
                error.to_string().contains(message),
                "{}: {error} lacks {message:?}",
                db.backend
            );
        }
        for batch_id in [String::new(), "b".repeat(1025)] {
            let error = store
                .write_events(&batch_id, &[event("purchase", "u1", 1)])
                .await
                .unwrap_err();
            assert_eq!(error.code(), "INVALID_INPUT", "{error}");
            assert!(error.to_string().contains("batch id"), "{error}");
        }
        assert!(stored(store, &EventFilter::default()).await.is_empty());
        // The refused batch's id was not taken.
        assert_eq!(
            store
                .write_events("batch", &[event("purchase", "u1", 1)])
                .await
                .unwrap(),
            BatchWrite::Written { rows: 1 }
        );
        // At the limits, fields are accepted, and so is an empty object.
        let mut largest = event(&"n".repeat(1024), &"u".repeat(1024), 3);
        largest.attributes = format!(
            r#"{{"k":"{}"}}"#,
            "x".repeat(MAX_EVENT_ATTRIBUTES_BYTES - 8)
        );
        assert_eq!(largest.attributes.len(), MAX_EVENT_ATTRIBUTES_BYTES);
        let empty = EventRow {
            attributes: "{}".into(),
            ..event("purchase", "u1", 4)
        };
        assert_eq!(
            store
                .write_events(&"b".repeat(1024), &[largest.clone(), empty.clone()])
                .await
                .unwrap(),
            BatchWrite::Written { rows: 2 }
        );
        let all = store
            .events("production", &EventFilter::default())
            .await
            .unwrap();
        assert_eq!(all[1..], [largest, empty]);
        db.drop_all().await;
    }
}

#[tokio::test]
async fn many_events_go_in_one_batch() {
    for db in TestDb::both("many_events_go_in_one_batch").await {
        let rows: Vec<EventRow> = (0..2_500)
            .map(|i| EventRow {
                value: (i % 3 == 0).then_some(f64::from(i)),
                ..event("purchase", &format!("user-{i:04}"), i64::from(i))
            })
            .collect();
        assert_eq!(
            db.store.write_events("big", &rows).await.unwrap(),
            BatchWrite::Written { rows: 2_500 },
            "{}",
            db.backend
        );
        let stored = db
            .store
            .events("production", &EventFilter::default())
            .await
            .unwrap();
        assert_eq!(stored, rows);
        db.drop_all().await;
    }
}
