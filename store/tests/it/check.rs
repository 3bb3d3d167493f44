//! Dry runs of flag writes on both backends: `check_flag` answers what a
//! write of the same definition would be refused for, marks the findings
//! the flag set already had, leaves out old findings about other flags,
//! and writes nothing.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use store::entity::flag;
use store::{Actor, AuditFilter, FlagChange, Store, StoreError};

use test_support::{TestDb, boolean_flag, input, with_flag_set};

async fn audit_len(store: &Store) -> usize {
    let filter = AuditFilter {
        limit: 500,
        ..AuditFilter::default()
    };
    store.audit(&filter).await.unwrap().items.len()
}

/// Writes `definition` as flag `key` (an update when it exists), as the
/// dry run assumes.
async fn write(store: &Store, key: &str, definition: Value) -> Result<(), StoreError> {
    let actor = Actor::named("ada");
    let change = match store.flag("production", key).await {
        Ok(flag) => FlagChange::Update {
            expected_version: flag.version,
            input: input(definition),
        },
        Err(_) => FlagChange::Create(input(definition)),
    };
    store
        .write_flag(&actor, "production", key, change)
        .await
        .map(|_| ())
}

#[tokio::test]
async fn a_dry_run_answers_what_the_write_would_be_refused_for() {
    for db in TestDb::both("a_dry_run_answers_what_the_write_would_be_refused_for").await {
        let store = &db.store;
        let actor = with_flag_set(store).await;
        store
            .write_flag(
                &actor,
                "production",
                "banner",
                FlagChange::Create(input(boolean_flag("off"))),
            )
            .await
            .unwrap();
        store
            .write_flag(
                &actor,
                "production",
                "legacy",
                FlagChange::Create(input(boolean_flag("off"))),
            )
            .await
            .unwrap();
        // A row edited by hand: its metadata breaks flagd's schema (a
        // warning the flag set already has from now on).
        let mut legacy = boolean_flag("off");
        legacy["metadata"] = json!({"owners": ["ada"]});
        flag::Entity::update_many()
            .col_expr(flag::Column::Definition, Expr::value(legacy.clone()))
            .filter(flag::Column::Key.eq("legacy"))
            .exec(store.connection())
            .await
            .unwrap();
        let before = (
            audit_len(store).await,
            store.document("production").await.unwrap(),
        );

        let mut unknown_default = boolean_flag("on");
        unknown_default["defaultVariant"] = json!("maybe");
        let mut broken_rule = boolean_flag("on");
        broken_rule["targeting"] = json!({"if": [{"nope": [1]}, "on", "off"]});
        let cases = [
            ("banner", boolean_flag("on")),
            ("fresh", boolean_flag("on")),
            ("banner", unknown_default.clone()),
            ("fresh", unknown_default),
            ("banner", broken_rule),
            ("legacy", legacy.clone()),
        ];
        let mut results = Vec::new();
        for (key, definition) in &cases {
            let findings = store
                .check_flag("production", *key, definition.clone())
                .await
                .unwrap();
            // Nothing about `legacy` unless `legacy` is the flag checked.
            assert!(
                findings
                    .iter()
                    .all(|f| *key == "legacy" || f.diagnostic.flag_key.as_deref() != Some("legacy")),
                "{}: {findings:?}",
                db.backend
            );
            results.push(findings);
        }
        assert_eq!(
            (
                audit_len(store).await,
                store.document("production").await.unwrap()
            ),
            before,
            "{}: a dry run writes nothing",
            db.backend
        );

        for ((key, definition), findings) in cases.iter().zip(&results) {
            let new: Vec<_> = findings
                .iter()
                .filter(|f| f.new)
                .map(|f| f.diagnostic.clone())
                .collect();
            match write(store, key, definition.clone()).await {
                Ok(()) => assert!(new.is_empty(), "{} {key}: {findings:?}", db.backend),
                Err(StoreError::Invalid { diagnostics, .. }) => {
                    assert_eq!(diagnostics, new, "{} {key}", db.backend)
                }
                Err(other) => panic!("{} {key}: {other}", db.backend),
            }
        }
        assert!(
            results[0].is_empty() && results[1].is_empty(),
            "{}",
            db.backend
        );
        for refused in &results[2..5] {
            assert!(!refused.is_empty(), "{}", db.backend);
            assert!(refused.iter().all(|f| f.new), "{}: {refused:?}", db.backend);
        }
        let kept = &results[5];
        assert_eq!(kept.len(), 1, "{}: {kept:?}", db.backend);
        assert!(
            !kept[0].new,
            "{}: an old finding about this flag",
            db.backend
        );
        assert_eq!(kept[0].diagnostic.pointer, "/flags/legacy/metadata/owners");
        db.drop_all().await;
    }
}

#[tokio::test]
async fn a_dry_run_checks_its_input_as_a_write_does() {
    for db in TestDb::both("a_dry_run_checks_its_input_as_a_write_does").await {
        let store = &db.store;
        with_flag_set(store).await;
        let check = |flag_set: &'static str, key: &'static str, definition: Value| async move {
            store
                .check_flag(flag_set, key, definition)
                .await
                .unwrap_err()
                .code()
        };
        assert_eq!(
            check("production", " padded", boolean_flag("on")).await,
            "INVALID_KEY"
        );
        assert_eq!(
            check("production", "banner", json!([1])).await,
            "INVALID_INPUT"
        );
        assert_eq!(
            check("nowhere", "banner", boolean_flag("on")).await,
            "FLAG_SET_NOT_FOUND"
        );
        db.drop_all().await;
    }
}
