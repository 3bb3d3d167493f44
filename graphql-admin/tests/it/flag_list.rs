//! The `flags` list through the API: its orders paged by opaque cursors,
//! its state and tag filters with their total count, `Flag.tags` and
//! `flagTags`, and the cursors and flag sets it refuses.

use std::collections::BTreeSet;

use graphql_admin::api::ReadOnlySets;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Map, Value, json};
use store::Store;
use store::entity::flag;

use crate::client::{Answer, Client, fractional_flag};
use test_support::TestDb;

const FLAGS: &str = r#"query($after: String, $sort: FlagSort! = KEY_ASC, $state: FlagState, $tag: String,
                         $search: String, $first: Int! = 7, $set: String! = "production") {
    flags(flagSet: $set, after: $after, sort: $sort, state: $state, tag: $tag,
          search: $search, first: $first) {
        items { key state tags updatedAt }
        next
        totalCount
    }
}"#;

/// Every page of the list that `variables` ask for, with the total count
/// each page reported.
async fn every_page(client: &Client, variables: Value) -> (Vec<Value>, BTreeSet<u64>) {
    let mut items = Vec::new();
    let mut counts = BTreeSet::new();
    let mut variables = variables;
    for _ in 0..100 {
        let answer = client.post(&client.viewer, FLAGS, variables.clone()).await;
        let page = &answer.body["data"]["flags"];
        assert!(page.is_object(), "{}", answer.body);
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        counts.insert(page["totalCount"].as_u64().unwrap());
        match page["next"].as_str() {
            Some(next) => variables["after"] = json!(next),
            None => return (items, counts),
        }
    }
    panic!("the cursors never reach the end");
}

fn keys(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["key"].as_str().unwrap()).collect()
}

/// Sets a flag's definition in the database, as an edit outside Ensign
/// would: a write refuses a `metadata` entry that is not a string, number
/// or boolean (flagd's schema), so only such rows hold `tags` arrays.
async fn set_definition(store: &Store, key: &str, definition: Value) {
    flag::Entity::update_many()
        .col_expr(flag::Column::Definition, Expr::value(definition))
        .filter(flag::Column::Key.eq(key))
        .exec(store.connection())
        .await
        .unwrap();
}

async fn set_updated_at(store: &Store, key: &str, at: time::OffsetDateTime) {
    flag::Entity::update_many()
        .col_expr(flag::Column::UpdatedAt, Expr::value(at))
        .filter(flag::Column::Key.eq(key))
        .exec(store.connection())
        .await
        .unwrap();
}

async fn kill(client: &Client, key: &str) {
    let answer = client
        .post(
            &client.editor,
            r#"mutation($key: String!) { killSwitch(flagSet: "production", key: $key) { key } }"#,
            json!({"key": key}),
        )
        .await;
    assert_eq!(
        answer.body["data"]["killSwitch"]["key"], key,
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn every_order_pages_through_every_flag_once() {
    for db in TestDb::both("every_order_pages_through_every_flag_once").await {
        let client = Client::new(&db.store, ReadOnlySets::default()).await;
        let flags: Map<String, Value> = (0..40)
            .map(|i| (format!("flag-{i:02}"), fractional_flag()))
            .collect();
        let answer = client
            .post(
                &client.editor,
                r#"mutation($file: JSON!) { importFlagSet(flagSet: "production", file: $file) }"#,
                json!({"file": {"flags": flags}}),
            )
            .await;
        assert!(answer.body["errors"].is_null(), "{}", answer.body);
        // Killed after the import, and their times set apart (an hour,
        // then a second each), so that no two writes can share a
        // millisecond: last in time, in this order.
        let changed = ["flag-31", "flag-07", "flag-19"];
        let later = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        for (i, key) in changed.into_iter().enumerate() {
            kill(&client, key).await;
            set_updated_at(&db.store, key, later + time::Duration::seconds(i as i64)).await;
        }
        let all: Vec<String> = flags.keys().cloned().collect();
        for sort in ["KEY_ASC", "KEY_DESC", "UPDATED_DESC", "UPDATED_ASC"] {
            let (items, counts) = every_page(&client, json!({"sort": sort})).await;
            let listed = keys(&items);
            assert_eq!(counts, BTreeSet::from([40]), "{} {sort}", db.backend);
            let unique: BTreeSet<&str> = listed.iter().copied().collect();
            assert_eq!(listed.len(), 40, "{} {sort}: {listed:?}", db.backend);
            assert_eq!(unique.len(), 40, "{} {sort}: {listed:?}", db.backend);
            let mut by_key = all.clone();
            match sort {
                "KEY_ASC" => assert_eq!(listed, by_key, "{}", db.backend),
                "KEY_DESC" => {
                    by_key.reverse();
                    assert_eq!(listed, by_key, "{}", db.backend);
                }
                "UPDATED_DESC" => {
                    assert_eq!(
                        listed[..3],
                        ["flag-19", "flag-07", "flag-31"],
                        "{}",
                        db.backend
                    );
                    let rest: Vec<&str> = all
                        .iter()
                        .map(String::as_str)
                        .filter(|k| !changed.contains(k))
                        .collect();
                    assert_eq!(listed[3..], rest, "{}: ties go by key", db.backend);
                }
                _ => {
                    assert_eq!(listed[37..], changed, "{}", db.backend);
                }
            }
        }
        let (items, counts) = every_page(&client, json!({"state": "DISABLED", "first": 2})).await;
        assert_eq!(
            keys(&items),
            ["flag-07", "flag-19", "flag-31"],
            "{}",
            db.backend
        );
        assert!(items.iter().all(|i| i["state"] == "DISABLED"));
        assert_eq!(counts, BTreeSet::from([3]));
        let (items, counts) = every_page(
            &client,
            json!({"state": "ENABLED", "search": "FLAG-3", "sort": "KEY_DESC"}),
        )
        .await;
        assert_eq!(
            keys(&items),
            [
                "flag-39", "flag-38", "flag-37", "flag-36", "flag-35", "flag-34", "flag-33",
                "flag-32", "flag-30"
            ],
            "{}",
            db.backend
        );
        assert_eq!(counts, BTreeSet::from([9]));
        db.drop_all().await;
    }
}

#[tokio::test]
async fn flags_are_filtered_by_tag_and_list_their_tags() {
    for db in TestDb::both("flags_are_filtered_by_tag_and_list_their_tags").await {
        let client = Client::new(&db.store, ReadOnlySets::default()).await;
        let tagged = |tags: Value| {
            let mut definition = fractional_flag();
            definition["metadata"] = json!({"tags": tags});
            definition
        };
        let rows = [
            ("banner", tagged(json!(["beta", "web"]))),
            ("checkout", tagged(json!(["payments", 7, "beta", null]))),
            ("search", tagged(json!("beta"))),
            ("plain", fractional_flag()),
        ];
        for (key, definition) in &rows {
            let answer = client
                .post(
                    &client.editor,
                    r#"mutation($key: String!, $def: JSON!) {
                        createFlag(flagSet: "production", key: $key, flag: {definition: $def}) { key }
                    }"#,
                    json!({"key": key, "def": fractional_flag()}),
                )
                .await;
            assert!(answer.body["errors"].is_null(), "{}", answer.body);
            set_definition(&db.store, key, definition.clone()).await;
        }
        kill(&client, "banner").await;

        let (items, counts) = every_page(&client, json!({"tag": "beta"})).await;
        assert_eq!(
            items,
            [
                json!({"key": "banner", "state": "DISABLED", "tags": ["beta", "web"], "updatedAt": items[0]["updatedAt"]}),
                json!({"key": "checkout", "state": "ENABLED", "tags": ["payments", "beta"], "updatedAt": items[1]["updatedAt"]}),
            ],
            "{}",
            db.backend
        );
        assert_eq!(counts, BTreeSet::from([2]));
        let (items, _) = every_page(&client, json!({"tag": "beta", "state": "ENABLED"})).await;
        assert_eq!(keys(&items), ["checkout"], "{}", db.backend);
        let (items, counts) = every_page(&client, json!({"tag": "7"})).await;
        assert_eq!((items.len(), counts), (0, BTreeSet::from([0])));
        let (items, _) = every_page(&client, json!({})).await;
        let tags: Vec<&Value> = items.iter().map(|i| &i["tags"]).collect();
        assert_eq!(
            tags,
            [
                &json!(["beta", "web"]),
                &json!(["payments", "beta"]),
                &json!([]),
                &json!([])
            ],
            "{}",
            db.backend
        );

        let answer = client
            .post(
                &client.viewer,
                r#"{ flagTags(flagSet: "production") }"#,
                json!({}),
            )
            .await;
        assert_eq!(
            answer.body["data"]["flagTags"],
            json!(["beta", "payments", "web"]),
            "{}",
            answer.body
        );
        db.drop_all().await;
    }
}

fn message(answer: &Answer) -> &str {
    answer.body["errors"][0]["message"].as_str().unwrap_or("")
}

#[tokio::test]
async fn cursors_of_another_order_or_garbled_are_refused() {
    let db = TestDb::sqlite().await;
    let client = Client::new(&db.store, ReadOnlySets::default()).await;
    for i in 0..3 {
        client
            .post(
                &client.editor,
                r#"mutation($key: String!, $def: JSON!) {
                    createFlag(flagSet: "production", key: $key, flag: {definition: $def}) { key }
                }"#,
                json!({"key": format!("flag-{i}"), "def": fractional_flag()}),
            )
            .await;
    }
    let first = client
        .post(
            &client.viewer,
            FLAGS,
            json!({"first": 1, "sort": "UPDATED_DESC"}),
        )
        .await;
    let next = first.body["data"]["flags"]["next"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let answer = client
        .post(
            &client.viewer,
            FLAGS,
            json!({"after": next, "sort": "KEY_ASC"}),
        )
        .await;
    assert_eq!(answer.code(), "INVALID_INPUT", "{}", answer.body);
    assert!(
        message(&answer).contains("UPDATED_DESC") && message(&answer).contains("KEY_ASC"),
        "{}",
        answer.body
    );

    let mut cut = next.clone();
    cut.pop();
    for garbled in ["flag-0", "", "%%%", cut.as_str(), &format!("{next}x")] {
        let answer = client
            .post(
                &client.viewer,
                FLAGS,
                json!({"after": garbled, "sort": "UPDATED_DESC"}),
            )
            .await;
        assert_eq!(
            answer.code(),
            "INVALID_INPUT",
            "{garbled:?}: {}",
            answer.body
        );
        assert!(
            message(&answer).starts_with("invalid cursor: it is not a cursor of a flag list"),
            "{}",
            answer.body
        );
    }
    let answer = client
        .post(
            &client.viewer,
            FLAGS,
            json!({"after": next, "sort": "UPDATED_DESC"}),
        )
        .await;
    assert_eq!(
        keys(answer.body["data"]["flags"]["items"].as_array().unwrap()).len(),
        2,
        "the cursor still works under its own order: {}",
        answer.body
    );

    let answer = client
        .post(&client.viewer, FLAGS, json!({"set": "nowhere"}))
        .await;
    assert_eq!(answer.code(), "FLAG_SET_NOT_FOUND", "{}", answer.body);
    let answer = client
        .post(
            &client.viewer,
            r#"{ flagTags(flagSet: "nowhere") }"#,
            json!({}),
        )
        .await;
    assert_eq!(answer.code(), "FLAG_SET_NOT_FOUND", "{}", answer.body);
    let answer = client
        .post(&client.viewer, FLAGS, json!({"state": "MAYBE"}))
        .await;
    assert!(answer.body["data"].is_null(), "{}", answer.body);
    assert!(message(&answer).contains("MAYBE"), "{}", answer.body);
    db.drop_all().await;
}
