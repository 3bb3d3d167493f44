//! Restoring an archived flag on both backends: served again as it was,
//! audited as a restore, and refused for a flag that is not archived, a
//! stale version, or a definition that no longer compiles.

use serde_json::json;
use store::{Action, FlagChange, FlagInput, Store, StoreError};

use test_support::{TestDb, boolean_flag, with_flag_set};

async fn archive(store: &Store, key: &str) -> i64 {
    let flag = store.flag("production", key).await.unwrap();
    store
        .write_flag(
            &store::Actor::named("ada"),
            "production",
            key,
            FlagChange::Archive {
                expected_version: flag.version,
            },
        )
        .await
        .unwrap()
        .version
}

#[tokio::test]
async fn an_archived_flag_is_restored_as_it_was() {
    for db in TestDb::both("an_archived_flag_is_restored_as_it_was").await {
        let store = &db.store;
        let actor = with_flag_set(store).await;
        let mut definition = boolean_flag("on");
        definition["targeting"] = json!({"if": [{"==": [{"var": "plan"}, "pro"]}, "on", "off"]});
        let created = store
            .write_flag(
                &actor,
                "production",
                "banner",
                FlagChange::Create(FlagInput {
                    definition: definition.clone(),
                    client_visible: Some(true),
                    locked: Some(true),
                }),
            )
            .await
            .unwrap();
        let archived = archive(store, "banner").await;
        let (version_archived, document) = store.document("production").await.unwrap();
        assert_eq!(document["flags"], json!({}), "{}", db.backend);

        let restored = store
            .write_flag(
                &actor,
                "production",
                "banner",
                FlagChange::Restore {
                    expected_version: archived,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (
                &restored.definition,
                restored.client_visible,
                restored.locked,
                restored.archived,
                restored.version
            ),
            (&definition, true, true, false, created.version + 2),
            "{}",
            db.backend
        );
        let (version, document) = store.document("production").await.unwrap();
        assert_eq!(document["flags"]["banner"], definition, "{}", db.backend);
        assert_eq!(version, version_archived + 1, "{}", db.backend);

        let history = store.history("production", "banner").await.unwrap();
        let event = history.last().unwrap();
        assert_eq!(
            (event.action, event.actor.as_str(), event.version),
            (Action::Restore, "ada", Some(restored.version)),
            "{}",
            db.backend
        );
        assert_eq!(event.before.as_ref().unwrap()["archived"], true);
        assert_eq!(event.after.as_ref().unwrap()["archived"], false);
        assert_eq!(
            event.diff,
            Some(json!([{"op": "replace", "path": "/archived", "value": false}])),
            "{}",
            db.backend
        );
        db.drop_all().await;
    }
}

#[tokio::test]
async fn restoring_is_refused_unless_the_flag_is_archived_and_compiles() {
    for db in TestDb::both("restoring_is_refused_unless_the_flag_is_archived_and_compiles").await {
        let store = &db.store;
        let actor = with_flag_set(store).await;
        store
            .write_segment(
                &actor,
                "production",
                "pros",
                json!({"==": [{"var": "plan"}, "pro"]}),
                None,
            )
            .await
            .unwrap();
        let mut uses_segment = boolean_flag("off");
        uses_segment["targeting"] = json!({"if": [{"$ref": "pros"}, "on", "off"]});
        for (key, definition) in [("banner", boolean_flag("on")), ("pro-banner", uses_segment)] {
            store
                .write_flag(
                    &actor,
                    "production",
                    key,
                    FlagChange::Create(test_support::input(definition)),
                )
                .await
                .unwrap();
        }
        let actor = &actor;
        let restore = |key: &'static str, expected_version: i64| async move {
            store
                .write_flag(
                    actor,
                    "production",
                    key,
                    FlagChange::Restore { expected_version },
                )
                .await
        };
        let before = store.document("production").await.unwrap();
        let error = restore("banner", 1).await.unwrap_err();
        assert!(
            matches!(&error, StoreError::NotArchived { key, .. } if key == "banner"),
            "{}: {error}",
            db.backend
        );
        assert_eq!(error.code(), "NOT_ARCHIVED");
        assert_eq!(
            error.to_string(),
            "flag \"banner\" in flag set \"production\" is not archived: only an archived flag can be restored"
        );
        assert_eq!(
            restore("nope", 1).await.unwrap_err().code(),
            "FLAG_NOT_FOUND"
        );
        assert_eq!(
            store.document("production").await.unwrap(),
            before,
            "nothing was written"
        );

        let archived = archive(store, "banner").await;
        let error = restore("banner", archived - 1).await.unwrap_err();
        assert_eq!(error.code(), "VERSION_CONFLICT", "{}", db.backend);

        // Archived, its segment deleted, it no longer compiles: restoring
        // it would store an invalid flag set.
        let archived = archive(store, "pro-banner").await;
        store
            .delete_segment(actor, "production", "pros", 1)
            .await
            .unwrap();
        let error = restore("pro-banner", archived).await.unwrap_err();
        assert_eq!(
            error.code(),
            "INVALID_DEFINITION",
            "{}: {error}",
            db.backend
        );
        assert!(
            store
                .flag("production", "pro-banner")
                .await
                .unwrap()
                .archived
        );
        db.drop_all().await;
    }
}
