//! `restoreFlag` through the API: an editor serves an archived flag again,
//! as it was, in one audited commit; anything but an archived flag is
//! refused with its code.

use graphql_admin::api::ReadOnlySets;
use serde_json::json;

use crate::client::{Client, fractional_flag};
use test_support::TestDb;

const RESTORE: &str = r#"mutation($key: String!, $v: Int!) {
    restoreFlag(flagSet: "production", key: $key, expectedVersion: $v) {
        key version archived definition
        history(first: 1) { items { action actor diff } }
    }
}"#;

#[tokio::test]
async fn an_editor_restores_an_archived_flag() {
    for db in TestDb::both("an_editor_restores_an_archived_flag").await {
        let client = Client::new(&db.store, ReadOnlySets::default()).await;
        let mut commits = client.admin.commits.subscribe();
        let answer = client
            .post(
                &client.editor,
                r#"mutation($def: JSON!) {
                    createFlag(flagSet: "production", key: "banner", flag: {definition: $def}) { key }
                }"#,
                json!({"def": fractional_flag()}),
            )
            .await;
        assert!(answer.body["errors"].is_null(), "{}", answer.body);
        let answer = client
            .post(&client.editor, RESTORE, json!({"key": "banner", "v": 1}))
            .await;
        assert_eq!(answer.code(), "NOT_ARCHIVED", "{}", answer.body);
        assert_eq!(
            answer.body["errors"][0]["message"],
            "flag \"banner\" in flag set \"production\" is not archived: only an archived flag can be restored"
        );
        let answer = client
            .post(
                &client.editor,
                r#"mutation { archiveFlag(flagSet: "production", key: "banner", expectedVersion: 1) { version } }"#,
                json!({}),
            )
            .await;
        assert_eq!(
            answer.body["data"]["archiveFlag"]["version"], 2,
            "{}",
            answer.body
        );

        let answer = client
            .post(&client.viewer, RESTORE, json!({"key": "banner", "v": 2}))
            .await;
        assert_eq!(answer.code(), "FORBIDDEN", "{}", answer.body);
        let answer = client
            .post(&client.editor, RESTORE, json!({"key": "banner", "v": 1}))
            .await;
        assert_eq!(answer.code(), "VERSION_CONFLICT", "{}", answer.body);
        let answer = client
            .post(&client.editor, RESTORE, json!({"key": "nope", "v": 1}))
            .await;
        assert_eq!(answer.code(), "FLAG_NOT_FOUND", "{}", answer.body);

        let answer = client
            .post(&client.editor, RESTORE, json!({"key": "banner", "v": 2}))
            .await;
        assert_eq!(
            answer.body["data"]["restoreFlag"],
            json!({
                "key": "banner",
                "version": 3,
                "archived": false,
                "definition": fractional_flag(),
                "history": {"items": [{
                    "action": "restore",
                    "actor": "ada",
                    "diff": [{"op": "replace", "path": "/archived", "value": false}],
                }]},
            }),
            "{}",
            db.backend
        );
        let actions: Vec<String> = std::iter::from_fn(|| commits.try_recv().ok())
            .map(|c| c.action.to_string())
            .collect();
        assert_eq!(actions, ["create", "archive", "restore"], "{}", db.backend);
        let (_, document) = db.store.document("production").await.unwrap();
        assert_eq!(document["flags"]["banner"], fractional_flag());
        db.drop_all().await;
    }
}
