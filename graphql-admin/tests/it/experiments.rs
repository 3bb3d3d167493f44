//! Experiments through the GraphQL API: the editor creates, edits, starts
//! and stops them, the viewer reads them, starting and stopping announce a
//! commit, and refusals carry their codes.

use graphql_admin::api::ReadOnlySets;
use serde_json::{Value, json};
use store::{Action, FlagChange};

use crate::client::{Client, fractional_flag};
use test_support::{TestDb, input};

const FIELDS: &str = "key flag control status version windowSeconds startedAt stoppedAt
    weights { variant weight } metrics { name event kind }";

fn settings() -> Value {
    json!({
        "flag": "checkout",
        "control": "off",
        "metrics": [{"name": "purchases", "event": "purchase", "kind": "CONVERSION"}],
    })
}

#[tokio::test]
async fn editors_run_experiments_and_viewers_read_them() {
    for db in TestDb::both("editors_run_experiments_and_viewers_read_them").await {
        let client = Client::new(&db.store, ReadOnlySets::default()).await;
        db.store
            .write_flag(
                &store::Actor::named("setup"),
                "production",
                "checkout",
                FlagChange::Create(input(fractional_flag())),
            )
            .await
            .unwrap();
        let mut commits = client.admin.commits.subscribe();
        let create = format!(
            "mutation($s: ExperimentSettings!) {{
                createExperiment(flagSet: \"production\", key: \"checkout-test\", settings: $s) {{ {FIELDS} }} }}"
        );
        // The viewer may not create one; the editor may.
        let refused = client
            .post(&client.viewer, &create, json!({"s": settings()}))
            .await;
        assert_eq!(refused.code(), "FORBIDDEN", "{}", refused.body);
        let created = client
            .post(&client.editor, &create, json!({"s": settings()}))
            .await;
        let draft = &created.body["data"]["createExperiment"];
        assert_eq!(draft["status"], "DRAFT", "{}", created.body);
        assert_eq!(draft["windowSeconds"], 7 * 24 * 3600);
        assert_eq!(draft["weights"], Value::Null);

        let update = format!(
            "mutation($s: ExperimentSettings!, $v: Int!) {{
                updateExperiment(flagSet: \"production\", key: \"checkout-test\", expectedVersion: $v, settings: $s) {{ {FIELDS} }} }}"
        );
        let mut edited = settings();
        edited["windowSeconds"] = json!(86400);
        edited["metrics"] = json!([
            {"name": "purchases", "event": "purchase", "kind": "CONVERSION"},
            {"name": "revenue", "event": "purchase", "kind": "SUM"},
        ]);
        let updated = client
            .post(&client.editor, &update, json!({"s": edited, "v": 1}))
            .await;
        assert_eq!(
            updated.body["data"]["updateExperiment"]["version"], 2,
            "{}",
            updated.body
        );
        let stale = client
            .post(&client.editor, &update, json!({"s": edited, "v": 1}))
            .await;
        assert_eq!(stale.code(), "VERSION_CONFLICT", "{}", stale.body);

        let start = format!(
            "mutation {{ startExperiment(flagSet: \"production\", key: \"checkout-test\") {{ {FIELDS} }} }}"
        );
        let refused = client.post(&client.viewer, &start, json!({})).await;
        assert_eq!(refused.code(), "FORBIDDEN", "{}", refused.body);
        let started = client.post(&client.editor, &start, json!({})).await;
        let running = &started.body["data"]["startExperiment"];
        assert_eq!(running["status"], "RUNNING", "{}", started.body);
        assert_eq!(
            running["weights"],
            json!([{"variant": "on", "weight": 10}, {"variant": "off", "weight": 90}])
        );
        let commit = commits.try_recv().expect("the start is announced");
        assert_eq!(
            (
                commit.flag_set.as_str(),
                commit.flag.as_deref(),
                commit.action
            ),
            ("production", Some("checkout"), Action::StartExperiment)
        );
        let (_, document) = db.store.document("production").await.unwrap();
        assert_eq!(
            document["flags"]["checkout"]["metadata"]["ensign.experiment"],
            "checkout-test"
        );
        let again = client.post(&client.editor, &start, json!({})).await;
        assert_eq!(again.code(), "INVALID_INPUT", "{}", again.body);

        let read = client
            .post(
                &client.viewer,
                &format!(
                    "{{ experiments(flagSet: \"production\") {{ {FIELDS} }}
                       experiment(flagSet: \"production\", key: \"checkout-test\") {{ status }} }}"
                ),
                json!({}),
            )
            .await;
        assert_eq!(
            read.body["data"]["experiments"][0], *running,
            "{}",
            read.body
        );
        assert_eq!(read.body["data"]["experiment"]["status"], "RUNNING");
        let missing = client
            .post(
                &client.viewer,
                "{ experiment(flagSet: \"production\", key: \"ghost\") { status } }",
                json!({}),
            )
            .await;
        assert_eq!(missing.code(), "EXPERIMENT_NOT_FOUND", "{}", missing.body);

        let stop = format!(
            "mutation {{ stopExperiment(flagSet: \"production\", key: \"checkout-test\") {{ {FIELDS} }} }}"
        );
        let stopped = client.post(&client.editor, &stop, json!({})).await;
        assert_eq!(
            stopped.body["data"]["stopExperiment"]["status"], "STOPPED",
            "{}",
            stopped.body
        );
        assert!(stopped.body["data"]["stopExperiment"]["stoppedAt"].is_string());
        let commit = commits.try_recv().expect("the stop is announced");
        assert_eq!(commit.action, Action::StopExperiment);
        let (_, document) = db.store.document("production").await.unwrap();
        assert!(
            document["flags"]["checkout"]["metadata"]
                .get("ensign.experiment")
                .is_none()
        );
        db.drop_all().await;
    }
}

#[tokio::test]
async fn bad_experiment_input_is_refused_with_its_code() {
    let db = TestDb::sqlite().await;
    let client = Client::new(&db.store, ReadOnlySets::default()).await;
    db.store
        .write_flag(
            &store::Actor::named("setup"),
            "production",
            "checkout",
            FlagChange::Create(input(fractional_flag())),
        )
        .await
        .unwrap();
    let create = "mutation($k: String!, $s: ExperimentSettings!) {
        createExperiment(flagSet: \"production\", key: $k, settings: $s) { key } }";
    let mut no_control = settings();
    no_control["control"] = json!("maybe");
    let mut bad_kind = settings();
    bad_kind["metrics"][0]["kind"] = json!("AVERAGE");
    let mut negative_weight = settings();
    negative_weight["weights"] = json!([{"variant": "off", "weight": -1}]);
    let cases = [
        ("checkout-test", no_control, "INVALID_INPUT"),
        ("checkout-test", bad_kind, "INVALID_QUERY"),
        ("checkout-test", negative_weight, "INVALID_INPUT"),
        ("", settings(), "INVALID_KEY"),
    ];
    for (key, settings, code) in cases {
        let answer = client
            .post(&client.editor, create, json!({"k": key, "s": settings}))
            .await;
        assert_eq!(answer.code(), code, "{key} {settings}: {}", answer.body);
    }
    let listed = client
        .post(
            &client.viewer,
            "{ experiments(flagSet: \"production\") { key } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed.body["data"]["experiments"],
        json!([]),
        "{}",
        listed.body
    );
    db.drop_all().await;
}
