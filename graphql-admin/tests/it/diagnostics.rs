//! `validateFlag` through the API: a viewer's dry run answers the
//! diagnostics a write of the same definition is refused with, writes
//! nothing, and its input is bounded like every JSON input.

use graphql_admin::api::ReadOnlySets;
use serde_json::{Value, json};
use store::AuditFilter;

use crate::client::{Answer, Client, fractional_flag};
use test_support::TestDb;

const VALIDATE: &str = r#"query($set: String! = "production", $key: String!, $def: JSON!) {
    validateFlag(flagSet: $set, key: $key, definition: $def) {
        severity flagKey pointer message new
    }
}"#;

async fn validate(client: &Client, key: &str, definition: Value) -> Answer {
    client
        .post(
            &client.viewer,
            VALIDATE,
            json!({"key": key, "def": definition}),
        )
        .await
}

async fn audit_len(client: &Client) -> usize {
    let filter = AuditFilter {
        limit: 500,
        ..AuditFilter::default()
    };
    client.admin.store.audit(&filter).await.unwrap().items.len()
}

#[tokio::test]
async fn a_dry_run_answers_what_a_write_is_refused_with() {
    for db in TestDb::both("a_dry_run_answers_what_a_write_is_refused_with").await {
        let client = Client::new(&db.store, ReadOnlySets::default()).await;
        let create = r#"mutation($key: String!, $def: JSON!) {
            createFlag(flagSet: "production", key: $key, flag: {definition: $def}) { key }
        }"#;
        let answer = client
            .post(
                &client.editor,
                create,
                json!({"key": "banner", "def": fractional_flag()}),
            )
            .await;
        assert!(answer.body["errors"].is_null(), "{}", answer.body);
        let before = (
            audit_len(&client).await,
            db.store.document("production").await.unwrap(),
        );

        let answer = validate(&client, "banner", fractional_flag()).await;
        assert_eq!(
            answer.body["data"]["validateFlag"],
            json!([]),
            "{}",
            answer.body
        );
        let answer = validate(&client, "fresh", fractional_flag()).await;
        assert_eq!(
            answer.body["data"]["validateFlag"],
            json!([]),
            "{}",
            answer.body
        );

        let mut broken = fractional_flag();
        broken["defaultVariant"] = json!("maybe");
        broken["targeting"] = json!({"if": [{"nope": [1]}, "on", "off"]});
        let answer = validate(&client, "fresh", broken.clone()).await;
        let found = answer.body["data"]["validateFlag"].clone();
        assert!(
            found.as_array().is_some_and(|d| d.len() >= 2),
            "{}",
            answer.body
        );
        assert_eq!(
            audit_len(&client).await,
            before.0,
            "{}: nothing was written",
            db.backend
        );
        assert_eq!(db.store.document("production").await.unwrap(), before.1);

        // The write's refusal carries the same findings, in the same shape
        // (less `new`, which every finding of a refusal is).
        let refused = client
            .post(
                &client.editor,
                create,
                json!({"key": "fresh", "def": broken}),
            )
            .await;
        assert_eq!(refused.code(), "INVALID_DEFINITION", "{}", refused.body);
        let dry: Vec<Value> = found
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                assert_eq!(d["new"], true, "{d}");
                assert_eq!(d["flagKey"], "fresh", "{d}");
                let mut d = d.clone();
                d.as_object_mut().unwrap().remove("new");
                d
            })
            .collect();
        assert_eq!(
            Value::Array(dry),
            refused.body["errors"][0]["extensions"]["diagnostics"],
            "{}",
            db.backend
        );
        db.drop_all().await;
    }
}

#[tokio::test]
async fn a_dry_run_refuses_bad_input_with_codes() {
    let db = TestDb::sqlite().await;
    let client = Client::new(&db.store, ReadOnlySets::default()).await;
    let answer = client
        .post(
            &client.viewer,
            VALIDATE,
            json!({"set": "nowhere", "key": "banner", "def": fractional_flag()}),
        )
        .await;
    assert_eq!(answer.code(), "FLAG_SET_NOT_FOUND", "{}", answer.body);
    let answer = validate(&client, "zero\u{200b}width", fractional_flag()).await;
    assert_eq!(answer.code(), "INVALID_KEY", "{}", answer.body);
    let answer = validate(&client, "banner", json!("ENABLED")).await;
    assert_eq!(answer.code(), "INVALID_INPUT", "{}", answer.body);
    let answer = client
        .post(
            "",
            VALIDATE,
            json!({"key": "banner", "def": fractional_flag()}),
        )
        .await;
    assert_eq!((answer.status, answer.code()), (401, "UNAUTHENTICATED"));

    // Over the body limit.
    let mut huge = fractional_flag();
    huge["metadata"] = json!({"note": "x".repeat(2 * 1024 * 1024)});
    let answer = validate(&client, "banner", huge).await;
    assert_eq!(answer.status, 413, "{}", answer.body);

    // Deeper than a request may nest: as a literal, and as a variable.
    let limit = engine::MAX_DATA_DEPTH;
    let literal = |depth: usize| {
        format!(
            r#"{{ validateFlag(flagSet: "production", key: "banner", definition: {}1{}) {{ message }} }}"#,
            "{a: ".repeat(depth),
            "}".repeat(depth)
        )
    };
    let answer = client.post(&client.viewer, &literal(1400), json!({})).await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "NESTING_TOO_DEEP"),
        "{}",
        answer.body
    );
    let deep = (0..200).fold(json!(1), |inner, _| json!({ "a": inner }));
    let answer = validate(&client, "banner", deep).await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "NESTING_TOO_DEEP"),
        "{}",
        answer.body
    );

    // At the request's bound, the definition is too deep for a flag
    // file: an error diagnostic, not a failure.
    let answer = client
        .post(&client.viewer, &literal(limit), json!({}))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let found = &answer.body["data"]["validateFlag"];
    assert!(
        found
            .as_array()
            .is_some_and(|d| !d.is_empty() && d.iter().all(|d| d["message"].is_string())),
        "{}",
        answer.body
    );
    let answer = client
        .post(
            &client.viewer,
            &literal(limit).replace("{ message }", "{ severity new }"),
            json!({}),
        )
        .await;
    assert!(
        answer.body["data"]["validateFlag"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["severity"] == "error" && d["new"] == true),
        "{}",
        answer.body
    );
    db.drop_all().await;
}
