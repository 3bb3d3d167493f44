//! The `viewer` query: every admin token reads its own name and role, and
//! what it reports a role may change is what the mutations allow.

use graphql_admin::api::ReadOnlySets;
use serde_json::json;

use crate::client::{Client, fractional_flag};
use test_support::TestDb;

const VIEWER: &str = "{ viewer { name role can {
    changeFlags { allowed neededRole }
    administer { allowed neededRole }
} } }";

#[tokio::test]
async fn every_token_reads_its_role_and_rights() {
    let db = TestDb::sqlite().await;
    let client = Client::new(&db.store, ReadOnlySets::default()).await;
    let right = |allowed: bool, role: &str| json!({"allowed": allowed, "neededRole": role});
    let cases = [
        (&client.viewer, "grace", "viewer", false, false),
        (&client.editor, "ada", "editor", true, false),
        (&client.owner, "root", "admin", true, true),
    ];
    for (token, name, role, change_flags, administer) in cases {
        let answer = client.post(token, VIEWER, json!({})).await;
        assert_eq!(
            answer.body["data"]["viewer"],
            json!({
                "name": name,
                "role": role,
                "can": {
                    "changeFlags": right(change_flags, "editor"),
                    "administer": right(administer, "admin"),
                },
            }),
            "{}",
            answer.body
        );
    }
    db.drop_all().await;
}

/// What `viewer.can` says is what the mutations of each class do: a
/// right reported as missing is a `FORBIDDEN` refusal, and one reported as
/// present is not.
#[tokio::test]
async fn the_rights_reported_are_the_rights_enforced() {
    let db = TestDb::sqlite().await;
    let client = Client::new(&db.store, ReadOnlySets::default()).await;
    for (i, token) in [&client.viewer, &client.editor, &client.owner]
        .into_iter()
        .enumerate()
    {
        let can = client.post(token, VIEWER, json!({})).await.body["data"]["viewer"]["can"].clone();
        let create_flag = client
            .post(
                token,
                r#"mutation($key: String!, $def: JSON!) {
                    createFlag(flagSet: "production", key: $key, flag: {definition: $def}) { key }
                }"#,
                json!({"key": format!("flag-{i}"), "def": fractional_flag()}),
            )
            .await;
        let create_token = client
            .post(
                token,
                r#"mutation($name: String!) { createToken(name: $name, role: "viewer") { secret } }"#,
                json!({"name": format!("token-{i}")}),
            )
            .await;
        for (class, answer) in [("changeFlags", create_flag), ("administer", create_token)] {
            let allowed = can[class]["allowed"].as_bool().expect("a boolean");
            let refused = answer.code() == "FORBIDDEN";
            assert_eq!(
                refused, !allowed,
                "{class} of token {i}: {can} but {}",
                answer.body
            );
            if allowed {
                assert!(answer.body["errors"].is_null(), "{}", answer.body);
            }
        }
    }
    db.drop_all().await;
}

#[tokio::test]
async fn the_viewer_needs_a_token() {
    let db = TestDb::sqlite().await;
    let client = Client::new(&db.store, ReadOnlySets::default()).await;
    let answer = client.post("", VIEWER, json!({})).await;
    assert_eq!((answer.status, answer.code()), (401, "UNAUTHENTICATED"));
    db.drop_all().await;
}
