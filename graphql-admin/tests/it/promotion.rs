//! Promotion between flag sets through the API: the comparison names what
//! differs, a promotion copies one flag as one audited write of the target
//! (announced for publication), and every refusal writes nothing.

use graphql_admin::api::{ReadOnlySet, ReadOnlySets};
use serde_json::{Value, json};
use store::{Action, Actor, AuditFilter, FlagChange, FlagInput, NewFlagSet, Store};

use crate::client::{Client, fractional_flag};
use test_support::TestDb;

const COMPARE: &str = r#"query($from: String!, $to: String!) {
    compareFlagSets(from: $from, to: $to) {
        key differences
        from { version archived }
        to { version archived }
    }
}"#;

const PROMOTE: &str = r#"mutation($key: String!, $fromVersion: Int!, $expected: Int, $to: String! = "production") {
    promoteFlag(from: "staging", to: $to, key: $key, fromVersion: $fromVersion, expectedVersion: $expected) {
        key version definition clientVisible locked
    }
}"#;

async fn write(store: &Store, flag_set: &str, key: &str, definition: Value, client_visible: bool) {
    let input = FlagInput {
        definition,
        client_visible: Some(client_visible),
        locked: Some(flag_set == "production"),
    };
    let change = match store.flag(flag_set, key).await {
        Ok(flag) => FlagChange::Update {
            expected_version: flag.version,
            input,
        },
        Err(_) => FlagChange::Create(input),
    };
    store
        .write_flag(&Actor::named("setup"), flag_set, key, change)
        .await
        .unwrap();
}

/// How many audit events the store holds.
async fn audit_events(store: &Store) -> usize {
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

/// `staging` and `production` with a flag in each only, one the same in
/// both, one differing in its targeting and client visibility, and one
/// archived in production.
async fn two_flag_sets(store: &Store) {
    store
        .create_flag_set(
            &Actor::named("setup"),
            NewFlagSet {
                key: "staging".into(),
                ..NewFlagSet::default()
            },
        )
        .await
        .unwrap();
    let plain = json!({"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"});
    write(store, "staging", "only-staging", plain.clone(), false).await;
    write(store, "production", "only-production", plain.clone(), false).await;
    write(store, "staging", "same", plain.clone(), false).await;
    write(store, "production", "same", plain.clone(), false).await;
    let mut wider = fractional_flag();
    wider["targeting"]["fractional"] = json!([{"var": "email"}, ["on", 50], ["off", 50]]);
    write(store, "staging", "checkout", wider, true).await;
    write(store, "production", "checkout", fractional_flag(), false).await;
    write(store, "staging", "retired", plain.clone(), false).await;
    write(store, "production", "retired", plain, false).await;
    let retired = store.flag("production", "retired").await.unwrap();
    store
        .write_flag(
            &Actor::named("setup"),
            "production",
            "retired",
            FlagChange::Archive {
                expected_version: retired.version,
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn flag_sets_compare_and_promote_one_flag_at_a_time() {
    for db in TestDb::both("flag_sets_compare_and_promote_one_flag_at_a_time").await {
        let store = &db.store;
        let client = Client::new(store, ReadOnlySets::default()).await;
        two_flag_sets(store).await;
        let mut announced = client.admin.commits.subscribe();

        let compared = client
            .post(
                &client.viewer,
                COMPARE,
                json!({"from": "staging", "to": "production"}),
            )
            .await;
        assert_eq!(
            compared.body["data"]["compareFlagSets"],
            json!([
                {"key": "checkout", "differences": ["targeting", "clientVisible"],
                 "from": {"version": 1, "archived": false}, "to": {"version": 1, "archived": false}},
                {"key": "only-production", "differences": ["state", "variants", "defaultVariant", "clientVisible", "archived"],
                 "from": null, "to": {"version": 1, "archived": false}},
                {"key": "only-staging", "differences": ["state", "variants", "defaultVariant", "clientVisible", "archived"],
                 "from": {"version": 1, "archived": false}, "to": null},
                {"key": "retired", "differences": ["archived"],
                 "from": {"version": 1, "archived": false}, "to": {"version": 2, "archived": true}},
                {"key": "same", "differences": [],
                 "from": {"version": 1, "archived": false}, "to": {"version": 1, "archived": false}},
            ]),
            "{}",
            compared.body
        );

        // Refused, with nothing written: a viewer; a source or a target
        // changed since they were read; a target that appeared since; a
        // flag set onto itself; a flag the source does not serve.
        let before = audit_events(store).await;
        for (token, variables, code) in [
            (
                &client.viewer,
                json!({"key": "checkout", "fromVersion": 1, "expected": 1}),
                "FORBIDDEN",
            ),
            (
                &client.editor,
                json!({"key": "checkout", "fromVersion": 2, "expected": 1}),
                "VERSION_CONFLICT",
            ),
            (
                &client.editor,
                json!({"key": "checkout", "fromVersion": 1, "expected": 2}),
                "VERSION_CONFLICT",
            ),
            (
                &client.editor,
                json!({"key": "checkout", "fromVersion": 1, "expected": null}),
                "ALREADY_EXISTS",
            ),
            (
                &client.editor,
                json!({"key": "only-staging", "fromVersion": 1, "expected": 1}),
                "FLAG_NOT_FOUND",
            ),
            (
                &client.editor,
                json!({"key": "only-production", "fromVersion": 1, "expected": 1}),
                "FLAG_NOT_FOUND",
            ),
            (
                &client.editor,
                json!({"key": "checkout", "fromVersion": 1, "expected": 1, "to": "staging"}),
                "INVALID_INPUT",
            ),
            (
                &client.editor,
                json!({"key": "checkout", "fromVersion": 1, "expected": 1, "to": "nowhere"}),
                "FLAG_SET_NOT_FOUND",
            ),
        ] {
            let answer = client.post(token, PROMOTE, variables.clone()).await;
            assert_eq!(answer.code(), code, "{variables}: {}", answer.body);
        }
        assert_eq!(audit_events(store).await, before);
        assert!(announced.try_recv().is_err());

        // Promoted over the target's version read: the definition and the
        // client visibility come across, the target keeps its lock.
        let answer = client
            .post(
                &client.editor,
                PROMOTE,
                json!({"key": "checkout", "fromVersion": 1, "expected": 1}),
            )
            .await;
        let staging = store.flag("staging", "checkout").await.unwrap();
        assert_eq!(
            answer.body["data"]["promoteFlag"],
            json!({"key": "checkout", "version": 2, "definition": staging.definition,
                   "clientVisible": true, "locked": true}),
            "{}",
            answer.body
        );
        let commit = announced.try_recv().expect("the promotion is announced");
        assert_eq!(
            (
                commit.flag_set.as_str(),
                commit.flag.as_deref(),
                commit.action,
                commit.actor.as_str()
            ),
            ("production", Some("checkout"), Action::Promote, "ada")
        );
        let history = store.history("production", "checkout").await.unwrap();
        let event = history.last().unwrap();
        assert_eq!(
            (event.action, event.actor.as_str()),
            (Action::Promote, "ada")
        );
        assert_eq!(
            event.after.as_ref().unwrap()["promotedFrom"],
            json!({"flagSet": "staging", "version": 1})
        );
        assert_eq!(
            event.before.as_ref().unwrap()["definition"],
            fractional_flag()
        );

        // Created where the target has none, and served again where the
        // target had archived it.
        let answer = client
            .post(
                &client.editor,
                PROMOTE,
                json!({"key": "only-staging", "fromVersion": 1, "expected": null}),
            )
            .await;
        assert_eq!(
            answer.body["data"]["promoteFlag"]["version"], 1,
            "{}",
            answer.body
        );
        let answer = client
            .post(
                &client.editor,
                PROMOTE,
                json!({"key": "retired", "fromVersion": 1, "expected": 2}),
            )
            .await;
        assert_eq!(
            answer.body["data"]["promoteFlag"]["version"], 3,
            "{}",
            answer.body
        );
        assert!(!store.flag("production", "retired").await.unwrap().archived);

        let compared = client
            .post(
                &client.viewer,
                COMPARE,
                json!({"from": "staging", "to": "production"}),
            )
            .await;
        let differing: Vec<&str> = compared.body["data"]["compareFlagSets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|row| row["differences"] != json!([]))
            .map(|row| row["key"].as_str().unwrap())
            .collect();
        assert_eq!(differing, ["only-production"], "{}", compared.body);
        db.drop_all().await;
    }
}

/// A definition that refers to a segment the target lacks does not compile
/// there, and a read-only target takes no promotion: both are refused with
/// nothing written.
#[tokio::test]
async fn a_promotion_the_target_cannot_take_is_refused() {
    for db in TestDb::both("a_promotion_the_target_cannot_take_is_refused").await {
        let store = &db.store;
        let client = Client::new(store, ReadOnlySets::default()).await;
        two_flag_sets(store).await;
        store
            .write_segment(
                &Actor::named("setup"),
                "staging",
                "beta",
                json!({"in": ["@example.com", {"var": "email"}]}),
                None,
            )
            .await
            .unwrap();
        let mut targeted = fractional_flag();
        targeted["targeting"] = json!({"if": [{"$ref": "beta"}, "on", null]});
        write(store, "staging", "checkout", targeted, false).await;
        let before = audit_events(store).await;

        let answer = client
            .post(
                &client.editor,
                PROMOTE,
                json!({"key": "checkout", "fromVersion": 2, "expected": 1}),
            )
            .await;
        assert_eq!(answer.code(), "INVALID_DEFINITION", "{}", answer.body);
        let message = answer.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("beta"), "{message}");

        let read_only = ReadOnlySets::new(|| {
            vec![ReadOnlySet {
                key: "production".into(),
                source: "file:flags.json".into(),
            }]
        });
        let fenced = Client {
            read_only,
            ..client
        };
        let answer = fenced
            .post(
                &fenced.editor,
                PROMOTE,
                json!({"key": "same", "fromVersion": 1, "expected": 1}),
            )
            .await;
        assert_eq!(answer.code(), "READ_ONLY", "{}", answer.body);
        assert_eq!(audit_events(store).await, before);
        assert_eq!(
            store.flag("production", "checkout").await.unwrap().version,
            1
        );
        db.drop_all().await;
    }
}
