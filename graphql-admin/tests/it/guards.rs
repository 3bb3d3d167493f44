//! What the API refuses before anything is written: request ids that are
//! too long or not visible ASCII, writes to read-only flag sets through
//! every mutation, segments with `$ref`, and keys with invisible
//! characters.

use graphql_admin::api::{ReadOnlySet, ReadOnlySets};
use serde_json::{Value, json};
use store::{Actor, Store};
use store::{AuditFilter, FlagChange, FlagInput, NewRollout, RolloutStep, RolloutWeight};
use time::OffsetDateTime;

use crate::client::{Client, fractional_flag};
use test_support::TestDb;

const CREATE: &str = r#"mutation($key: String!, $def: JSON!) {
    createFlag(flagSet: "production", key: $key, flag: {definition: $def}) { key }
}"#;

async fn audit_count(store: &Store) -> usize {
    store
        .audit(&AuditFilter {
            limit: 500,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .items
        .len()
}

#[tokio::test]
async fn request_ids_are_bounded_visible_ascii() {
    let db = TestDb::sqlite().await;
    let client = Client::new(&db.store, ReadOnlySets::default()).await;
    let megabyte = vec![b'r'; 1024 * 1024];
    let one_over = vec![b'r'; 129];
    let refused: [(&str, &[u8]); 6] = [
        ("1 MiB", &megabyte),
        ("129 bytes", &one_over),
        ("a tab", b"req\t1"),
        ("a space", b"req 1"),
        ("obs-text", "req-\u{e9}".as_bytes()),
        ("empty", b""),
    ];
    let audits = audit_count(&db.store).await;
    for (what, id) in refused {
        let answer = client
            .post_with(
                &client.editor,
                CREATE,
                json!({"key": "banner", "def": fractional_flag()}),
                &[("x-request-id", id)],
            )
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, "INVALID_REQUEST_ID"),
            "{what}: {}",
            answer.body
        );
    }
    assert_eq!(audit_count(&db.store).await, audits, "nothing was written");
    assert!(db.store.flag("production", "banner").await.is_err());

    let longest: String = (0..128).map(|i| (b'!' + (i % 94) as u8) as char).collect();
    let answer = client
        .post_with(
            &client.editor,
            CREATE,
            json!({"key": "banner", "def": fractional_flag()}),
            &[("x-request-id", longest.as_bytes())],
        )
        .await;
    assert_eq!(
        answer.body["data"]["createFlag"]["key"], "banner",
        "{}",
        answer.body
    );
    let history = db.store.history("production", "banner").await.unwrap();
    assert_eq!(history[0].request_id.as_deref(), Some(longest.as_str()));
    db.drop_all().await;
}

/// Every mutation that writes to a flag set is refused when a `--uri`
/// source serves that flag set, and nothing is written.
#[tokio::test]
async fn every_mutation_of_a_read_only_flag_set_is_refused() {
    let db = TestDb::sqlite().await;
    let store = &db.store;
    let read_only = ReadOnlySets::new(|| {
        vec![ReadOnlySet {
            key: "production".into(),
            source: "file:flags.json".into(),
        }]
    });
    let client = Client::new(store, read_only).await;
    let actor = Actor::named("setup");
    store
        .write_flag(
            &actor,
            "production",
            "banner",
            FlagChange::Create(FlagInput {
                definition: fractional_flag(),
                client_visible: None,
                locked: None,
            }),
        )
        .await
        .unwrap();
    store
        .write_segment(&actor, "production", "staff", json!({"==": [1, 1]}), None)
        .await
        .unwrap();
    let step = |weight| RolloutStep {
        at: OffsetDateTime::now_utc() + time::Duration::days(365),
        weights: vec![RolloutWeight {
            variant: "on".into(),
            weight,
        }],
    };
    let rollout = store
        .schedule_rollout(
            &actor,
            NewRollout {
                flag_set: "production".into(),
                flag: "banner".into(),
                steps: vec![step(50)],
                guard: None,
            },
        )
        .await
        .unwrap();
    let before = (
        audit_count(store).await,
        store.document("production").await.unwrap(),
    );

    let flag = r#""production", key: "banner""#;
    let mutations: Vec<(String, Value)> = vec![
        (r#"mutation { createFlagSet(key: "production") { key } }"#.into(), json!({})),
        (CREATE.into(), json!({"key": "other", "def": fractional_flag()})),
        (
            format!(r#"mutation($def: JSON!) {{ updateFlag(flagSet: {flag}, expectedVersion: 1, flag: {{definition: $def}}) {{ key }} }}"#),
            json!({"def": fractional_flag()}),
        ),
        (format!(r#"mutation {{ archiveFlag(flagSet: {flag}, expectedVersion: 1) {{ key }} }}"#), json!({})),
        (format!(r#"mutation {{ killSwitch(flagSet: {flag}) {{ key }} }}"#), json!({})),
        (
            format!(r#"mutation {{ setDefaultVariant(flagSet: {flag}, expectedVersion: 1, variant: "on") {{ key }} }}"#),
            json!({}),
        ),
        (
            format!(r#"mutation {{ setRollout(flagSet: {flag}, expectedVersion: 1, weights: [{{variant: "on", weight: 1}}]) {{ key }} }}"#),
            json!({}),
        ),
        (
            format!(r#"mutation {{ rollbackFlag(flagSet: {flag}, expectedVersion: 1, toVersion: 1) {{ key }} }}"#),
            json!({}),
        ),
        (
            format!(r#"mutation {{ restoreFlag(flagSet: {flag}, expectedVersion: 1) {{ key }} }}"#),
            json!({}),
        ),
        (
            r#"mutation($file: JSON!) { importFlagSet(flagSet: "production", file: $file) }"#.into(),
            json!({"file": {"flags": {"imported": fractional_flag()}}}),
        ),
        (
            r#"mutation($def: JSON!) { createSegment(flagSet: "production", key: "admins", definition: $def) { key } }"#.into(),
            json!({"def": {"==": [1, 1]}}),
        ),
        (
            r#"mutation($def: JSON!) { updateSegment(flagSet: "production", key: "staff", expectedVersion: 1, definition: $def) { key } }"#.into(),
            json!({"def": {"==": [2, 2]}}),
        ),
        (
            r#"mutation { deleteSegment(flagSet: "production", key: "staff", expectedVersion: 1) { key } }"#.into(),
            json!({}),
        ),
        (
            format!(r#"mutation {{ scheduleRollout(flagSet: {flag}, steps: [{{at: "2040-01-01T00:00:00Z", weights: [{{variant: "on", weight: 1}}]}}]) {{ id }} }}"#),
            json!({}),
        ),
        (
            format!("mutation {{ cancelRollout(id: {}) {{ id }} }}", rollout.id),
            json!({}),
        ),
    ];
    for (mutation, variables) in &mutations {
        // The role comes first: a viewer learns nothing about the source.
        let answer = client
            .post(&client.viewer, mutation, variables.clone())
            .await;
        assert_eq!(answer.code(), "FORBIDDEN", "{mutation}: {}", answer.body);
        let answer = client
            .post(&client.owner, mutation, variables.clone())
            .await;
        assert_eq!(answer.code(), "READ_ONLY", "{mutation}: {}", answer.body);
        assert!(
            answer.body["errors"][0]["message"]
                .as_str()
                .unwrap_or("")
                .contains("file:flags.json"),
            "{}",
            answer.body
        );
    }
    let after = (
        audit_count(store).await,
        store.document("production").await.unwrap(),
    );
    assert_eq!(after, before, "nothing was written");
    assert!(store.rollout(rollout.id).await.unwrap().status.is_active());
    db.drop_all().await;
}

#[tokio::test]
async fn segments_with_refs_and_invisible_keys_are_refused_through_the_api() {
    let db = TestDb::sqlite().await;
    let client = Client::new(&db.store, ReadOnlySets::default()).await;
    let audits = audit_count(&db.store).await;
    let answer = client
        .post(
            &client.editor,
            r#"mutation($def: JSON!) { createSegment(flagSet: "production", key: "loop", definition: $def) { key } }"#,
            json!({"def": {"or": [false, {"$ref": "loop"}]}}),
        )
        .await;
    assert_eq!(answer.code(), "SEGMENT_REF", "{}", answer.body);
    assert_eq!(
        answer.body["errors"][0]["extensions"]["diagnostics"][0]["pointer"],
        "/$evaluators/loop/or/1/$ref",
        "{}",
        answer.body
    );
    // In the words of the engine's warning for a `$ref` inside
    // `$evaluators`, which `ensign validate` prints.
    assert_eq!(
        answer.body["errors"][0]["extensions"]["diagnostics"][0]["message"],
        engine::evaluators::EVALUATOR_REF_MESSAGE,
        "{}",
        answer.body
    );
    for key in ["admin\u{202e}txt.exe", "zero\u{200b}width", " padded", ""] {
        let answer = client
            .post(
                &client.editor,
                CREATE,
                json!({"key": key, "def": fractional_flag()}),
            )
            .await;
        assert_eq!(answer.code(), "INVALID_KEY", "{key:?}: {}", answer.body);
    }
    assert_eq!(audit_count(&db.store).await, audits, "nothing was written");
    db.drop_all().await;
}
