//! What a query may cost: list fields weighted by the page size they ask
//! for, `first` capped on every paged field, `history` paged like `audit`,
//! and the histories of a page of flags loaded in one batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use graphql_admin::api::{MAX_FIRST, ReadOnlySets};
use serde_json::{Value, json};
use store::{Actor, Store};
use store::{FlagChange, FlagInput};

use crate::client::{Client, fractional_flag};
use test_support::TestDb;

/// Creates `count` flags, each with `edits` kill-switch-free edits after
/// its creation (so `1 + edits` history events).
async fn flags(store: &Store, count: usize, edits: usize) {
    let actor = Actor::named("ada");
    for i in 0..count {
        let key = format!("flag-{i:03}");
        store
            .write_flag(
                &actor,
                "production",
                &key,
                FlagChange::Create(FlagInput {
                    definition: fractional_flag(),
                    client_visible: None,
                    locked: None,
                }),
            )
            .await
            .unwrap();
        for version in 1..=edits {
            let mut definition = fractional_flag();
            definition["defaultVariant"] = json!(if version % 2 == 1 { "on" } else { "off" });
            store
                .write_flag(
                    &actor,
                    "production",
                    &key,
                    FlagChange::Update {
                        expected_version: i64::try_from(version).unwrap(),
                        input: FlagInput {
                            definition,
                            client_visible: None,
                            locked: None,
                        },
                    },
                )
                .await
                .unwrap();
        }
    }
}

/// The query that answered 5.5 MB: 100 aliases of a 500-flag page, each
/// flag with its whole history.
fn aliased_history_query(aliases: usize, first: u64) -> String {
    let fields: String = (0..aliases)
        .map(|i| {
            format!(
                r#"a{i}: flags(flagSet: "production", first: {first}) {{ items {{ key definition history {{ items {{ id action before after diff }} }} }} }} "#
            )
        })
        .collect();
    format!("{{ {fields} }}")
}

#[tokio::test]
async fn list_sizes_count_in_the_complexity() {
    let db = TestDb::sqlite().await;
    let client = Client::new(&db.store, ReadOnlySets::default()).await;
    flags(&db.store, 25, 2).await;
    for (aliases, first) in [(100, 500), (1, 500), (1, MAX_FIRST), (30, 10)] {
        let answer = client
            .post(
                &client.viewer,
                &aliased_history_query(aliases, first),
                json!({}),
            )
            .await;
        assert_eq!(
            answer.code(),
            "TOO_COMPLEX",
            "{aliases} × {first}: {}",
            answer.body
        );
        assert!(answer.body["data"].is_null(), "nothing was executed");
        let message = answer.body["errors"][0]["message"].as_str().unwrap_or("");
        assert!(message.contains("too complex"), "{message}");
    }
    // Unpaged lists count as a default page each.
    let wide: String = (0..100)
        .map(|i| format!("f{i}: flagSets {{ key }} "))
        .collect();
    let answer = client
        .post(&client.viewer, &format!("{{ {wide} }}"), json!({}))
        .await;
    assert_eq!(answer.code(), "TOO_COMPLEX", "{}", answer.body);

    // What a screen asks for fits.
    let legit = r#"{ flags(flagSet: "production", first: 25) {
        items { key state version history(first: 5) { items { action actor version } next } }
        next
    } }"#;
    let answer = client.post(&client.viewer, legit, json!({})).await;
    assert!(answer.body["errors"].is_null(), "{}", answer.body);
    let items = answer.body["data"]["flags"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 25);
    for item in items {
        let versions: Vec<&Value> = item["history"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["version"])
            .collect();
        assert_eq!(versions, [&json!(3), &json!(2), &json!(1)], "{item}");
        assert!(item["history"]["next"].is_null());
    }
    db.drop_all().await;
}

#[tokio::test]
async fn first_is_capped_on_every_paged_field() {
    let db = TestDb::sqlite().await;
    let client = Client::new(&db.store, ReadOnlySets::default()).await;
    flags(&db.store, 1, 0).await;
    let over = MAX_FIRST + 1;
    let queries = [
        format!(r#"{{ flags(flagSet: "production", first: {over}) {{ next }} }}"#),
        r#"{ flags(flagSet: "production", first: 0) { next } }"#.to_owned(),
        format!("{{ audit(filter: {{first: {over}}}) {{ next }} }}"),
        format!("{{ alerts(first: {over}) {{ next }} }}"),
        format!(
            r#"{{ flag(flagSet: "production", key: "flag-000") {{ history(first: {over}) {{ next }} }} }}"#
        ),
    ];
    for query in &queries {
        let answer = client.post(&client.viewer, query, json!({})).await;
        assert_eq!(
            answer.code(),
            "INVALID_PAGE_SIZE",
            "{query}: {}",
            answer.body
        );
        let message = answer.body["errors"][0]["message"].as_str().unwrap_or("");
        assert!(message.contains(&MAX_FIRST.to_string()), "{message}");
    }
    let at_cap = format!(r#"{{ flags(flagSet: "production", first: {MAX_FIRST}) {{ next }} }}"#);
    let answer = client.post(&client.viewer, &at_cap, json!({})).await;
    assert!(answer.body["errors"].is_null(), "{}", answer.body);
    db.drop_all().await;
}

#[tokio::test]
async fn history_is_paged_newest_first_like_the_audit_log() {
    for db in TestDb::both("history_is_paged_newest_first_like_the_audit_log").await {
        let client = Client::new(&db.store, ReadOnlySets::default()).await;
        flags(&db.store, 2, 6).await;
        let page = |before: Value| {
            let client = &client;
            async move {
                let answer = client
                    .post(
                        &client.viewer,
                        r#"query($before: Int) { flag(flagSet: "production", key: "flag-001") {
                            history(first: 3, beforeId: $before) { items { id version subjectKey } next }
                        } }"#,
                        json!({"before": before}),
                    )
                    .await;
                answer.body["data"]["flag"]["history"].clone()
            }
        };
        let mut versions = Vec::new();
        let mut cursor = Value::Null;
        let mut pages = 0;
        loop {
            let history = page(cursor).await;
            let items = history["items"].as_array().expect("a page").clone();
            assert!(items.len() <= 3, "{history}");
            for item in &items {
                assert_eq!(item["subjectKey"], "flag-001", "{}", db.backend);
                versions.push(item["version"].as_i64().unwrap());
            }
            pages += 1;
            cursor = history["next"].clone();
            if cursor.is_null() {
                break;
            }
            assert_eq!(cursor, items.last().unwrap()["id"], "next is the last id");
        }
        assert_eq!(versions, [7, 6, 5, 4, 3, 2, 1], "{}", db.backend);
        assert_eq!(pages, 3);
        db.drop_all().await;
    }
}

/// Counts the SQL statements a store runs.
fn counted(store: &Store) -> (Store, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    let store = store.clone().with_metric_callback(move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
    });
    (store, count)
}

/// The histories of a page of flags take the same number of statements
/// whether the page holds 3 flags or 40: one batch, not one query per
/// flag.
#[tokio::test]
async fn histories_of_a_page_of_flags_load_in_one_batch() {
    for db in TestDb::both("histories_of_a_page_of_flags_load_in_one_batch").await {
        let (store, statements) = counted(&db.store);
        let client = Client::new(&store, ReadOnlySets::default()).await;
        flags(&store, 40, 1).await;
        let mut counts = Vec::new();
        for first in [3, 40] {
            let query = format!(
                r#"{{ flags(flagSet: "production", first: {first}) {{
                    items {{ key history(first: 2) {{ items {{ version }} next }} }}
                }} }}"#
            );
            let before = statements.load(Ordering::SeqCst);
            let answer = client.post(&client.viewer, &query, json!({})).await;
            counts.push(statements.load(Ordering::SeqCst) - before);
            let items = answer.body["data"]["flags"]["items"].as_array().unwrap();
            assert_eq!(items.len(), first, "{}", answer.body);
            for item in items {
                assert_eq!(
                    item["history"],
                    json!({"items": [{"version": 2}, {"version": 1}], "next": null}),
                    "{}: {item}",
                    db.backend
                );
            }
        }
        assert!(counts[0] > 0, "statements are counted");
        assert_eq!(counts[0], counts[1], "{}: {counts:?}", db.backend);
        db.drop_all().await;
    }
}
