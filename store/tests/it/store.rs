//! The store on PostgreSQL and SQLite: migrations, validated and audited
//! writes, optimistic concurrency, history, rollback and out-of-band edits.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use store::{Action, Actor, Store, StoreError, Subject};
use store::{AuditFilter, FlagChange, FlagFilter, NewFlagSet, TokenRole};

use test_support::{TestDb, boolean_flag, input, with_flag_set};

async fn count(store: &Store, table: &str) -> i64 {
    let row = store
        .connection()
        .query_one_raw(sea_orm::Statement::from_string(
            store.backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("count rows")
        .expect("one row");
    row.try_get::<i64>("", "n").expect("count column")
}

#[tokio::test]
async fn migrations_apply_roll_back_and_reapply() {
    for db in TestDb::both("migrations_apply_roll_back_and_reapply").await {
        let store = &db.store;
        assert_eq!(
            store.pending_migrations().await.unwrap(),
            Vec::<String>::new()
        );
        // Running them again is a no-op.
        store.migrate().await.unwrap();
        use migrations::{Migrator, MigratorTrait};
        Migrator::down(store.connection(), None).await.unwrap();
        let all: Vec<String> = Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        assert_eq!(all[0], "m20261125_000001_initial");
        assert_eq!(
            store.pending_migrations().await.unwrap(),
            all,
            "{}",
            db.backend
        );
        store.migrate().await.unwrap();
        assert_eq!(count(store, "flags").await, 0);
        db.drop_all().await;
    }
}

#[tokio::test]
async fn a_write_stores_the_flag_audits_it_and_bumps_the_flag_set_version() {
    for db in TestDb::both("a_write_stores_the_flag_audits_it_and_bumps_the_flag_set_version").await
    {
        let store = &db.store;
        let actor = with_flag_set(store).await;
        let set_version = store.flag_set("production").await.unwrap().version;

        let created = store
            .write_flag(
                &actor,
                "production",
                "banner",
                FlagChange::Create(input(boolean_flag("off"))),
            )
            .await
            .unwrap();
        assert_eq!(created.version, 1);
        assert_eq!(
            store.flag_set("production").await.unwrap().version,
            set_version + 1
        );

        let editor = Actor {
            name: "grace".into(),
            request_id: Some("req-7".into()),
        };
        let updated = store
            .write_flag(
                &editor,
                "production",
                "banner",
                FlagChange::Update {
                    expected_version: 1,
                    input: input(boolean_flag("on")),
                },
            )
            .await
            .unwrap();
        assert_eq!(updated.version, 2);
        assert_eq!(updated.definition["defaultVariant"], "on");
        assert_eq!(
            store.flag_set("production").await.unwrap().version,
            set_version + 2
        );

        let history = store.history("production", "banner").await.unwrap();
        assert_eq!(history.len(), 2, "{}", db.backend);
        let last = &history[1];
        assert_eq!(last.actor, "grace");
        assert_eq!(last.action, Action::Update);
        assert_eq!(last.request_id.as_deref(), Some("req-7"));
        assert_eq!(last.version, Some(2));
        assert_eq!(
            last.before.as_ref().unwrap()["definition"]["defaultVariant"],
            "off"
        );
        assert_eq!(
            last.after.as_ref().unwrap()["definition"]["defaultVariant"],
            "on"
        );
        assert_eq!(
            last.diff.as_ref().unwrap(),
            &json!([{"op": "replace", "path": "/definition/defaultVariant", "value": "on"}])
        );
        assert!(!last.out_of_band);
        db.drop_all().await;
    }
}

#[tokio::test]
async fn an_invalid_definition_is_refused_and_nothing_is_written() {
    for db in TestDb::both("an_invalid_definition_is_refused_and_nothing_is_written").await {
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
        let audits = count(store, "audit_events").await;
        let set_version = store.flag_set("production").await.unwrap().version;

        let unknown_default = json!({
            "state": "ENABLED",
            "variants": {"on": true},
            "defaultVariant": "missing",
        });
        let error = store
            .write_flag(
                &actor,
                "production",
                "banner",
                FlagChange::Update {
                    expected_version: 1,
                    input: input(unknown_default.clone()),
                },
            )
            .await
            .unwrap_err();
        let StoreError::Invalid { key, diagnostics } = &error else {
            panic!("expected Invalid, got {error:?}");
        };
        assert_eq!(key, "banner");
        assert!(
            diagnostics
                .iter()
                .any(|d| d.flag_key.as_deref() == Some("banner")
                    && d.pointer.starts_with("/flags/banner")),
            "{diagnostics:?}"
        );
        assert_eq!(error.code(), "INVALID_DEFINITION");

        let bad_rule = json!({
            "state": "ENABLED",
            "variants": {"on": true, "off": false},
            "defaultVariant": "off",
            "targeting": {"no_such_operator": [1]},
        });
        let error = store
            .write_flag(
                &actor,
                "production",
                "fresh",
                FlagChange::Create(input(bad_rule)),
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), "INVALID_DEFINITION", "{error}");

        let error = store
            .write_flag(
                &actor,
                "production",
                "fresh",
                FlagChange::Create(input(json!(["not", "an", "object"]))),
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), "INVALID_INPUT", "{error}");

        let flag = store.flag("production", "banner").await.unwrap();
        assert_eq!(flag.version, 1);
        assert_eq!(flag.definition, boolean_flag("off"));
        assert!(matches!(
            store.flag("production", "fresh").await,
            Err(StoreError::FlagNotFound { .. })
        ));
        assert_eq!(count(store, "audit_events").await, audits);
        assert_eq!(
            store.flag_set("production").await.unwrap().version,
            set_version
        );
        db.drop_all().await;
    }
}

#[tokio::test]
async fn a_stale_version_is_a_conflict_and_nothing_is_written() {
    for db in TestDb::both("a_stale_version_is_a_conflict_and_nothing_is_written").await {
        let store = &db.store;
        let actor = with_flag_set(store).await;
        let create = || FlagChange::Create(input(boolean_flag("off")));
        store
            .write_flag(&actor, "production", "banner", create())
            .await
            .unwrap();
        store
            .write_flag(
                &actor,
                "production",
                "banner",
                FlagChange::Update {
                    expected_version: 1,
                    input: input(boolean_flag("on")),
                },
            )
            .await
            .unwrap();
        let audits = count(store, "audit_events").await;

        let error = store
            .write_flag(
                &actor,
                "production",
                "banner",
                FlagChange::Update {
                    expected_version: 1,
                    input: input(boolean_flag("off")),
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                &error,
                StoreError::Conflict { kind: "flag", key, expected: 1, actual: 2 } if key == "banner"
            ),
            "{error:?}"
        );
        assert_eq!(error.code(), "VERSION_CONFLICT");
        assert!(error.to_string().contains("version 2, not 1"), "{error}");

        let error = store
            .write_flag(&actor, "production", "banner", create())
            .await
            .unwrap_err();
        assert_eq!(error.code(), "ALREADY_EXISTS");

        let error = store
            .write_flag(&actor, "staging", "banner", create())
            .await
            .unwrap_err();
        assert_eq!(error.code(), "FLAG_SET_NOT_FOUND");

        let flag = store.flag("production", "banner").await.unwrap();
        assert_eq!((flag.version, &flag.definition), (2, &boolean_flag("on")));
        assert_eq!(count(store, "audit_events").await, audits);
        db.drop_all().await;
    }
}

/// Many writers race on one flag, each naming the version it read: per
/// version exactly one wins, and the flag set's version counts the wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_commit_one_per_version() {
    for db in TestDb::both("concurrent_writers_commit_one_per_version").await {
        let store = db.store.clone();
        let actor = with_flag_set(&store).await;
        store
            .write_flag(
                &actor,
                "production",
                "banner",
                FlagChange::Create(input(boolean_flag("off"))),
            )
            .await
            .unwrap();
        let start_set = store.flag_set("production").await.unwrap().version;
        let mut tasks = Vec::new();
        for writer in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let actor = Actor::named(format!("writer-{writer}"));
                let mut wins = 0;
                let mut conflicts = 0;
                for round in 0..5 {
                    let read = store.flag("production", "banner").await.unwrap();
                    let default = if (writer + round) % 2 == 0 {
                        "on"
                    } else {
                        "off"
                    };
                    match store
                        .write_flag(
                            &actor,
                            "production",
                            "banner",
                            FlagChange::Update {
                                expected_version: read.version,
                                input: input(boolean_flag(default)),
                            },
                        )
                        .await
                    {
                        Ok(_) => wins += 1,
                        Err(StoreError::Conflict { .. }) => conflicts += 1,
                        Err(other) => panic!("unexpected error: {other:?}"),
                    }
                }
                (wins, conflicts)
            }));
        }
        let mut wins = 0;
        for task in tasks {
            wins += task.await.unwrap().0;
        }
        assert!(wins >= 5, "{}: only {wins} writes won", db.backend);
        let flag = store.flag("production", "banner").await.unwrap();
        assert_eq!(flag.version, 1 + wins, "{}", db.backend);
        assert_eq!(
            store.flag_set("production").await.unwrap().version,
            start_set + wins
        );
        let history = store.history("production", "banner").await.unwrap();
        let versions: Vec<i64> = history.iter().filter_map(|e| e.version).collect();
        let expected: Vec<i64> = (1..=1 + wins).collect();
        assert_eq!(versions, expected, "{}", db.backend);
        db.drop_all().await;
    }
}

#[tokio::test]
async fn kill_switch_archive_and_rollback() {
    for db in TestDb::both("kill_switch_archive_and_rollback").await {
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
                "banner",
                FlagChange::Update {
                    expected_version: 1,
                    input: input(boolean_flag("on")),
                },
            )
            .await
            .unwrap();

        let kill = |definition: &mut Value| {
            definition["state"] = json!("DISABLED");
            Ok(())
        };
        let killed = store
            .write_flag(
                &Actor::named("oncall"),
                "production",
                "banner",
                FlagChange::Edit {
                    expected_version: None,
                    action: Action::Kill,
                    edit: &kill,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (killed.version, &killed.definition["state"]),
            (3, &json!("DISABLED"))
        );

        let rolled = store
            .write_flag(
                &actor,
                "production",
                "banner",
                FlagChange::Rollback {
                    expected_version: 3,
                    to_version: 1,
                },
            )
            .await
            .unwrap();
        assert_eq!(rolled.version, 4);
        assert_eq!(rolled.definition, boolean_flag("off"));
        let error = store
            .write_flag(
                &actor,
                "production",
                "banner",
                FlagChange::Rollback {
                    expected_version: 4,
                    to_version: 40,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), "VERSION_NOT_FOUND");

        let (_, document) = store.document("production").await.unwrap();
        assert!(document["flags"].get("banner").is_some());
        store
            .write_flag(
                &actor,
                "production",
                "banner",
                FlagChange::Archive {
                    expected_version: 4,
                },
            )
            .await
            .unwrap();
        let (_, document) = store.document("production").await.unwrap();
        assert_eq!(document["flags"], json!({}));
        assert_eq!(document["metadata"]["flagSetId"], "production");

        let actions: Vec<String> = store
            .history("production", "banner")
            .await
            .unwrap()
            .into_iter()
            .map(|e| format!("{}:{}", e.actor, e.action))
            .collect();
        assert_eq!(
            actions,
            [
                "ada:create",
                "ada:update",
                "oncall:kill",
                "ada:rollback",
                "ada:archive"
            ]
        );
        db.drop_all().await;
    }
}

#[tokio::test]
async fn flags_and_audit_are_filtered_and_paginated() {
    for db in TestDb::both("flags_and_audit_are_filtered_and_paginated").await {
        let store = &db.store;
        let actor = with_flag_set(store).await;
        let other = Actor::named("grace");
        for i in 0..7 {
            let who = if i % 2 == 0 { &actor } else { &other };
            store
                .write_flag(
                    who,
                    "production",
                    &format!("checkout_{i}"),
                    FlagChange::Create(input(boolean_flag("off"))),
                )
                .await
                .unwrap();
        }
        store
            .write_flag(
                &actor,
                "production",
                "search_100%",
                FlagChange::Create(input(boolean_flag("off"))),
            )
            .await
            .unwrap();

        let mut keys = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .flags(
                    "production",
                    &FlagFilter {
                        search: Some("CHECKOUT".into()),
                        after: after.clone(),
                        limit: 3,
                        ..FlagFilter::default()
                    },
                )
                .await
                .unwrap();
            keys.extend(page.items.into_iter().map(|f| f.key));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(keys.len(), 7, "{keys:?}");
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");

        // `%` and `_` in a search are literal characters.
        let percent = store
            .flags(
                "production",
                &FlagFilter {
                    search: Some("0%".into()),
                    ..FlagFilter::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            percent
                .items
                .iter()
                .map(|f| f.key.as_str())
                .collect::<Vec<_>>(),
            ["search_100%"]
        );

        let graces = store
            .audit(&AuditFilter {
                actor: Some("grace".into()),
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(graces.items.len(), 3);
        assert!(graces.items.iter().all(|e| e.actor == "grace"));

        let first = store
            .audit(&AuditFilter {
                flag_set: Some("production".into()),
                limit: 4,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(first.items.len(), 4);
        let second = store
            .audit(&AuditFilter {
                flag_set: Some("production".into()),
                before_id: first.next,
                limit: 100,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        // Eight flags and the flag set itself, newest first, no overlap.
        assert_eq!(first.items.len() + second.items.len(), 9);
        assert!(second.next.is_none());
        assert!(first.items[3].id > second.items[0].id);
        let one_flag = store
            .audit(&AuditFilter {
                flag: Some("checkout_3".into()),
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(one_flag.items.len(), 1);
        assert_eq!(one_flag.items[0].flag_set.as_deref(), Some("production"));
        db.drop_all().await;
    }
}

#[tokio::test]
async fn keys_are_checked() {
    let db = TestDb::sqlite().await;
    let store = &db.store;
    let actor = with_flag_set(store).await;
    for bad in ["", "has space", "ünïcode", &"x".repeat(65)] {
        let error = store
            .create_flag_set(
                &actor,
                NewFlagSet {
                    key: bad.to_owned(),
                    ..NewFlagSet::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), "INVALID_KEY", "{bad:?}");
    }
    let error = store
        .create_flag_set(
            &actor,
            NewFlagSet {
                key: "production".into(),
                ..NewFlagSet::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), "ALREADY_EXISTS");
    for bad in ["", " padded", "tab\there", &"k".repeat(256)] {
        let error = store
            .write_flag(
                &actor,
                "production",
                bad,
                FlagChange::Create(input(boolean_flag("off"))),
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), "INVALID_KEY", "{bad:?}");
    }
    db.drop_all().await;
}

/// A change made by hand in SQL is still audited, marked out-of-band, and
/// bumps the versions so that writers and the publisher notice it.
#[tokio::test]
async fn out_of_band_sql_edits_are_audited_on_postgres() {
    let Some(db) = TestDb::postgres("out_of_band_sql_edits_are_audited_on_postgres").await else {
        return;
    };
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
    let set_version = store.flag_set("production").await.unwrap().version;

    // A plain session, outside Ensign, naming the schema explicitly.
    let schema = db.schema.as_deref().unwrap();
    let outsider = Store::connect(&test_support::postgres_url()).await.unwrap();
    outsider
        .connection()
        .execute_unprepared(&format!(
            "UPDATE {schema}.flags SET definition = jsonb_set(definition, '{{defaultVariant}}', '\"on\"') WHERE key = 'banner'"
        ))
        .await
        .unwrap();

    let flag = store.flag("production", "banner").await.unwrap();
    assert_eq!(flag.version, 2);
    assert_eq!(flag.definition["defaultVariant"], "on");
    assert_eq!(
        store.flag_set("production").await.unwrap().version,
        set_version + 1
    );
    let history = store.history("production", "banner").await.unwrap();
    let last = history.last().unwrap();
    assert!(last.out_of_band);
    assert_eq!(last.actor, "postgres");
    assert_eq!(last.action, Action::Update);
    assert_eq!(last.version, Some(2));
    assert_eq!(
        last.before.as_ref().unwrap()["definition"]["defaultVariant"],
        "off"
    );

    // A writer holding the old version now gets a conflict.
    let error = store
        .write_flag(
            &actor,
            "production",
            "banner",
            FlagChange::Update {
                expected_version: 1,
                input: input(boolean_flag("off")),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), "VERSION_CONFLICT");

    // Ensign's own writes are not recorded twice.
    store
        .write_flag(
            &actor,
            "production",
            "banner",
            FlagChange::Update {
                expected_version: 2,
                input: input(boolean_flag("off")),
            },
        )
        .await
        .unwrap();
    let history = store.history("production", "banner").await.unwrap();
    assert_eq!(
        history.iter().map(|e| e.out_of_band).collect::<Vec<_>>(),
        [false, true, false]
    );
    db.drop_all().await;
}

#[tokio::test]
async fn an_unreachable_database_is_a_clear_error() {
    let error = Store::connect("postgres://ensign:secret@127.0.0.1:1/flags")
        .await
        .unwrap_err();
    assert_eq!(error.code(), "STORE_UNAVAILABLE");
    let message = error.to_string();
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(!message.contains("secret"), "{message}");
    // A password in the query is as secret as one in the userinfo, and the
    // causes under the error hide it too.
    let error = Store::connect("postgres://127.0.0.1:1/flags?sslmode=disable&password=qs-secret")
        .await
        .unwrap_err();
    let mut chain = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(source) = cause {
        chain.push_str(&format!(": {source} ({source:?})"));
        cause = source.source();
    }
    assert!(chain.contains("password=***"), "{chain}");
    assert!(!chain.contains("qs-secret"), "{chain}");
}

const EXAMPLES: &str = include_str!("../../../examples/flags.json");

#[tokio::test]
async fn a_flagd_file_imports_as_one_commit_and_exports_back() {
    for db in TestDb::both("a_flagd_file_imports_as_one_commit_and_exports_back").await {
        let store = &db.store;
        let actor = with_flag_set(store).await;
        let file: Value = serde_json::from_str(EXAMPLES).unwrap();
        let keys: Vec<String> = match &file["flags"] {
            Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("examples have no flags map: {other}"),
        };
        let before = store.flag_set("production").await.unwrap().version;
        let summary = store
            .import_flag_set(&actor, "production", file.clone())
            .await
            .unwrap();
        assert_eq!(summary.created.len(), keys.len(), "{summary:?}");
        assert_eq!(summary.version, before + 1, "one import is one commit");
        assert_eq!(
            store.flag_tags("production", false).await.unwrap(),
            ["beta", "checkout", "mobile", "ops", "payments", "web"],
            "the examples' tags are written with them: {}",
            db.backend
        );

        let again = store
            .import_flag_set(&actor, "production", file.clone())
            .await
            .unwrap();
        assert_eq!(again.unchanged.len(), keys.len());
        assert_eq!(
            again.version,
            before + 1,
            "an identical import commits nothing"
        );

        // Exported and imported elsewhere, the flags come out the same.
        let (_, exported) = store.document("production").await.unwrap();
        store
            .create_flag_set(
                &actor,
                NewFlagSet {
                    key: "staging".into(),
                    ..NewFlagSet::default()
                },
            )
            .await
            .unwrap();
        store
            .import_flag_set(&actor, "staging", exported.clone())
            .await
            .unwrap();
        let (_, copy) = store.document("staging").await.unwrap();
        assert_eq!(copy["flags"], exported["flags"]);
        assert_eq!(copy["flags"], file["flags"]);

        // One bad flag refuses the whole import.
        let mut broken = file.clone();
        broken["flags"]["brand_new"] =
            json!({"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "b"});
        broken["flags"][&keys[0]]["state"] = json!("DISABLED");
        let audits = count(store, "audit_events").await;
        let error = store
            .import_flag_set(&actor, "production", broken)
            .await
            .unwrap_err();
        assert_eq!(error.code(), "INVALID_DEFINITION", "{error}");
        assert_eq!(count(store, "audit_events").await, audits);
        assert!(store.flag("production", "brand_new").await.is_err());
        assert_eq!(
            store.flag("production", &keys[0]).await.unwrap().definition,
            file["flags"][&keys[0]]
        );
        db.drop_all().await;
    }
}

#[tokio::test]
async fn tokens_authenticate_until_revoked() {
    use store::TokenRole;
    for db in TestDb::both("tokens_authenticate_until_revoked").await {
        let store = &db.store;
        let actor = with_flag_set(store).await;
        let admin = store
            .create_token(&actor, "ops", TokenRole::Admin, None)
            .await
            .unwrap();
        let sdk = store
            .create_token(&actor, "web", TokenRole::Client, Some("production"))
            .await
            .unwrap();
        let found = store.authenticate(&admin.secret).await.unwrap().unwrap();
        assert_eq!((found.name.as_str(), found.role), ("ops", TokenRole::Admin));
        let found = store.authenticate(&sdk.secret).await.unwrap().unwrap();
        assert_eq!(found.flag_set.as_deref(), Some("production"));
        assert_eq!(found.role, TokenRole::Client);
        assert!(store.authenticate("ens_adm_wrong").await.unwrap().is_none());

        let revoked = store.revoke_token(&actor, sdk.record.id).await.unwrap();
        assert!(revoked.revoked_at.is_some());
        assert!(store.authenticate(&sdk.secret).await.unwrap().is_none());
        assert!(store.authenticate(&admin.secret).await.unwrap().is_some());

        let error = store
            .create_token(&actor, "server", TokenRole::Server, None)
            .await
            .unwrap_err();
        assert_eq!(error.code(), "INVALID_INPUT");
        let error = store
            .create_token(&actor, "x", TokenRole::Editor, Some("production"))
            .await
            .unwrap_err();
        assert_eq!(error.code(), "INVALID_INPUT");
        let error = store
            .create_token(&actor, "x", TokenRole::Server, Some("nowhere"))
            .await
            .unwrap_err();
        assert_eq!(error.code(), "FLAG_SET_NOT_FOUND");

        let tokens = store.tokens().await.unwrap();
        assert_eq!(tokens.len(), 2);
        let audit = store
            .audit(&AuditFilter {
                actor: Some("ada".into()),
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        let token_events: Vec<String> = audit
            .items
            .iter()
            .filter(|e| e.subject == Subject::Token)
            .map(|e| format!("{}:{}", e.action, e.subject_key))
            .collect();
        assert_eq!(token_events, ["revoke:web", "create:web", "create:ops"]);
        // The secret itself is never stored or audited.
        for event in &audit.items {
            let text = format!("{:?}", event.after);
            assert!(!text.contains(&sdk.secret) && !text.contains(&admin.secret));
        }
        db.drop_all().await;
    }
}

/// The embedded store grows up: everything moves to PostgreSQL, verified
/// by counts and checksums, and the copy keeps working there.
#[tokio::test]
async fn a_sqlite_store_copies_to_postgres_verified() {
    let Some(target) = TestDb::postgres("a_sqlite_store_copies_to_postgres_verified").await else {
        return;
    };
    let source = TestDb::sqlite().await;
    let store = &source.store;
    let actor = with_flag_set(store).await;
    let file: Value = serde_json::from_str(EXAMPLES).unwrap();
    store
        .import_flag_set(&actor, "production", file)
        .await
        .unwrap();
    let kill = |definition: &mut Value| {
        definition["state"] = json!("DISABLED");
        Ok(())
    };
    store
        .write_flag(
            &actor,
            "production",
            "new-checkout",
            FlagChange::Edit {
                expected_version: None,
                action: Action::Kill,
                edit: &kill,
            },
        )
        .await
        .unwrap();
    let token = store
        .create_token(&actor, "ops", store::TokenRole::Admin, None)
        .await
        .unwrap();
    // A scheduled rollout moves with its flag.
    let weight = |variant: &str, weight| store::RolloutWeight {
        variant: variant.into(),
        weight,
    };
    let rollout = store
        .schedule_rollout(
            &actor,
            store::NewRollout {
                flag_set: "production".into(),
                flag: "new-checkout".into(),
                steps: vec![store::RolloutStep {
                    at: time::OffsetDateTime::UNIX_EPOCH,
                    weights: vec![weight("on", 50), weight("off", 50)],
                }],
                guard: None,
            },
        )
        .await
        .unwrap();

    // An alert cursor, as an alerter leaves one for each webhook target.
    store
        .register_cursor("webhook:hook", "https://hooks.example.com")
        .await
        .unwrap();
    // A running experiment, which marks its flag set's tracked flags.
    store
        .create_experiment(
            &actor,
            "production",
            "checkout-test",
            store::ExperimentInput {
                flag: "new-checkout".into(),
                control: "off".into(),
                weights: None,
                metrics: vec![store::Metric {
                    name: "purchases".into(),
                    event: "purchase".into(),
                    kind: store::MetricKind::Conversion,
                }],
                window_seconds: None,
                alpha: None,
                sequential_tuning: None,
            },
        )
        .await
        .unwrap();
    store
        .start_experiment(&actor, "production", "checkout-test")
        .await
        .unwrap();
    store
        .write_exposures(
            "node:1",
            &[store::ExposureRow {
                flag_set: "production".into(),
                experiment: "checkout-test".into(),
                flag: "new-checkout".into(),
                variant: "on".into(),
                targeting_key: "user-1".into(),
                flag_set_version: "00ff".into(),
                surface: "ofrep_single".into(),
                exposed_at: time::OffsetDateTime::UNIX_EPOCH,
            }],
        )
        .await
        .unwrap();
    // An analysis of the experiment.
    store
        .record_result(
            "production",
            "checkout-test",
            store::NewResult {
                computed_at: time::OffsetDateTime::UNIX_EPOCH,
                users: 1,
                srm_mismatch: false,
                report: serde_json::json!({"verdict": "Not enough data yet."}),
            },
        )
        .await
        .unwrap();
    // A tracking event, and counts, which fill the minute, hourly and
    // usage tables.
    store
        .write_events(
            "node:events:1",
            &[store::EventRow {
                flag_set: "production".into(),
                name: "purchase".into(),
                targeting_key: "user-1".into(),
                value: Some(12.5),
                attributes: r#"{"currency":"EUR"}"#.into(),
                occurred_at: time::OffsetDateTime::UNIX_EPOCH,
                received_at: time::OffsetDateTime::UNIX_EPOCH,
            }],
        )
        .await
        .unwrap();
    store
        .write_evaluation_counts(
            "node:counts:1",
            &[store::CountRow {
                flag_set: "production".into(),
                flag: "new-checkout".into(),
                variant: "on".into(),
                reason: "TARGETING_MATCH".into(),
                minute: 1_800_000_000,
                count: 3,
            }],
        )
        .await
        .unwrap();
    let copied = store.copy_to(&target.store).await.unwrap();
    assert_eq!(copied, target.store.table_summary().await.unwrap());
    let rows: Vec<(&str, usize)> = copied.iter().map(|t| (t.table, t.rows)).collect();
    assert!(rows.iter().all(|(_, n)| *n > 0), "{rows:?}");

    // Nothing was mistaken for an out-of-band edit, ids and history moved.
    let history = target
        .store
        .history("production", "new-checkout")
        .await
        .unwrap();
    assert_eq!(
        history
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>(),
        ["import", "kill"]
    );
    assert!(history.iter().all(|e| !e.out_of_band));
    assert_eq!(
        target
            .store
            .rollouts("production", Some("new-checkout"))
            .await
            .unwrap(),
        [rollout]
    );
    assert!(
        target
            .store
            .authenticate(&token.secret)
            .await
            .unwrap()
            .is_some()
    );
    // New rows get fresh ids after the copied ones.
    target
        .store
        .write_flag(
            &actor,
            "production",
            "after-copy",
            FlagChange::Create(input(boolean_flag("on"))),
        )
        .await
        .unwrap();
    let event = target
        .store
        .events("production", &store::EventFilter::default())
        .await
        .unwrap();
    assert_eq!(event.len(), 1);
    assert_eq!(
        target
            .store
            .write_events("node:events:2", &event)
            .await
            .unwrap(),
        store::BatchWrite::Written { rows: 1 }
    );
    assert_eq!(
        target
            .store
            .write_events("node:events:1", &event)
            .await
            .unwrap(),
        store::BatchWrite::AlreadyWritten
    );

    // A second copy into a store with data is refused, and changes nothing.
    let before = target.store.table_summary().await.unwrap();
    let error = store.copy_to(&target.store).await.unwrap_err();
    assert!(
        matches!(error, store::CopyError::TargetNotEmpty { .. }),
        "{error}"
    );
    assert_eq!(target.store.table_summary().await.unwrap(), before);
    source.drop_all().await;
    target.drop_all().await;
}

/// Every table of the migrated schema is one the copy moves (or the
/// migrator's own), so a new table cannot be left behind silently.
#[tokio::test]
async fn the_copy_covers_every_table() {
    let db = TestDb::sqlite().await;
    let rows = db
        .store
        .connection()
        .query_all_raw(sea_orm::Statement::from_string(
            db.store.backend(),
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        ))
        .await
        .unwrap();
    let mut tables: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .filter(|t| t != "seaql_migrations")
        .collect();
    tables.sort();
    let mut copied: Vec<String> = store::TABLES.iter().map(|t| t.to_string()).collect();
    copied.sort();
    assert_eq!(tables, copied);
    db.drop_all().await;
}

/// Segments are validated against the flags that use them, versioned,
/// audited, and published as `$evaluators`.
#[tokio::test]
async fn segments_are_validated_against_the_flags_that_use_them() {
    for db in TestDb::both("segments_are_validated_against_the_flags_that_use_them").await {
        let store = &db.store;
        let actor = with_flag_set(store).await;
        let staff = json!({"ends_with": [{"var": "email"}, "@example.com"]});
        let created = store
            .write_segment(&actor, "production", "staff", staff.clone(), None)
            .await
            .unwrap();
        assert_eq!(created.version, 1);
        let error = store
            .write_segment(&actor, "production", "staff", staff.clone(), None)
            .await
            .unwrap_err();
        assert_eq!(error.code(), "ALREADY_EXISTS");

        let mut uses = boolean_flag("off");
        uses["targeting"] = json!({"if": [{"$ref": "staff"}, "on", "off"]});
        store
            .write_flag(
                &actor,
                "production",
                "banner",
                FlagChange::Create(input(uses)),
            )
            .await
            .unwrap();
        let (_, document) = store.document("production").await.unwrap();
        assert_eq!(document["$evaluators"]["staff"], staff);
        let audits = count(store, "audit_events").await;

        // A rule that no longer compiles, or deleting a segment in use, is
        // refused; so is a stale version.
        let error = store
            .write_segment(
                &actor,
                "production",
                "staff",
                json!({"no_such_op": [1]}),
                Some(1),
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), "INVALID_DEFINITION", "{error}");
        let error = store
            .delete_segment(&actor, "production", "staff", 1)
            .await
            .unwrap_err();
        assert_eq!(error.code(), "INVALID_DEFINITION", "{error}");
        let error = store
            .write_segment(&actor, "production", "staff", staff.clone(), Some(7))
            .await
            .unwrap_err();
        assert_eq!(error.code(), "VERSION_CONFLICT");
        let error = store
            .delete_segment(&actor, "production", "nobody", 1)
            .await
            .unwrap_err();
        assert_eq!(error.code(), "SEGMENT_NOT_FOUND");
        assert_eq!(count(store, "audit_events").await, audits);

        let wider = json!({"ends_with": [{"var": "email"}, "example.com"]});
        let updated = store
            .write_segment(&actor, "production", "staff", wider.clone(), Some(1))
            .await
            .unwrap();
        assert_eq!((updated.version, &updated.definition), (2, &wider));
        store
            .write_flag(
                &actor,
                "production",
                "banner",
                FlagChange::Archive {
                    expected_version: 1,
                },
            )
            .await
            .unwrap();
        store
            .delete_segment(&actor, "production", "staff", 2)
            .await
            .unwrap();
        assert!(store.segments("production").await.unwrap().is_empty());
        let actions: Vec<Action> = store
            .audit(&AuditFilter {
                flag_set: Some("production".into()),
                ..AuditFilter::default()
            })
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.subject == Subject::Segment)
            .map(|e| e.action)
            .collect();
        assert_eq!(actions, [Action::Delete, Action::Update, Action::Create]);
        db.drop_all().await;
    }
}

/// Keys the store refuses: flagd accepts any non-empty key, but a stored
/// key must be 1 to 255 bytes with no control, format (bidirectional
/// overrides, zero-width marks), line or paragraph separator characters
/// and no surrounding white space.
const BAD_KEYS: &[&str] = &[
    "",
    " padded",
    "padded ",
    "\u{3000}ideographic-space",
    "tab\there",
    "new\nline",
    "nul\u{0}",
    "del\u{7f}",
    "c1\u{85}control",
    "admin\u{202e}txt.exe",
    "\u{202a}embedding",
    "isolate\u{2066}x\u{2069}",
    "zero\u{200b}width",
    "joiner\u{200d}",
    "mark\u{200f}",
    "\u{feff}bom",
    "soft\u{ad}hyphen",
    "line\u{2028}separator",
    "paragraph\u{2029}separator",
    "tag\u{e0041}",
    "arabic\u{61c}mark",
];

/// Keys the rule keeps: flagd's wide key space minus the invisible.
const GOOD_KEYS: &[&str] = &[
    "banner",
    "new-checkout.v2",
    "with space inside",
    "ünïcode-clé",
    "日本語",
    "emoji-🚀",
    "a",
];

#[track_caller]
fn check_refused(key: &str, error: StoreError, what: &str) {
    assert_eq!(error.code(), "INVALID_KEY", "{what} {key:?}: {error}");
    assert!(error.to_string().contains(what), "{error}");
}

#[tokio::test]
async fn flag_and_segment_keys_follow_the_store_key_rule() {
    let db = TestDb::sqlite().await;
    let store = &db.store;
    let actor = with_flag_set(store).await;
    let long = "k".repeat(256);
    let mut bad: Vec<&str> = BAD_KEYS.to_vec();
    bad.push(&long);
    let audits = count(store, "audit_events").await;
    for &key in &bad {
        let error = store
            .write_flag(
                &actor,
                "production",
                key,
                FlagChange::Create(input(boolean_flag("off"))),
            )
            .await
            .unwrap_err();
        check_refused(key, error, "flag key");
        let error = store
            .write_segment(&actor, "production", key, json!({"==": [1, 1]}), None)
            .await
            .unwrap_err();
        check_refused(key, error, "segment key");
        let mut file = json!({"flags": {}});
        file["flags"][key] = boolean_flag("off");
        let error = store
            .import_flag_set(&actor, "production", file)
            .await
            .unwrap_err();
        check_refused(key, error, "flag key");
        let mut file = json!({"flags": {}, "$evaluators": {}});
        file["$evaluators"][key] = json!({"==": [1, 1]});
        let error = store
            .import_flag_set(&actor, "production", file)
            .await
            .unwrap_err();
        check_refused(key, error, "segment key");
    }
    assert_eq!(
        count(store, "audit_events").await,
        audits,
        "nothing written"
    );
    assert_eq!(count(store, "flags").await, 0);
    assert_eq!(count(store, "segments").await, 0);

    let exactly = "k".repeat(255);
    let mut good: Vec<&str> = GOOD_KEYS.to_vec();
    good.push(&exactly);
    for key in good {
        store
            .write_flag(
                &actor,
                "production",
                key,
                FlagChange::Create(input(boolean_flag("off"))),
            )
            .await
            .unwrap_or_else(|e| panic!("{key:?}: {e}"));
        store
            .write_segment(&actor, "production", key, json!({"==": [1, 1]}), None)
            .await
            .unwrap_or_else(|e| panic!("segment {key:?}: {e}"));
    }
    db.drop_all().await;
}

/// A segment is a plain rule: any `$ref` inside it (to another segment,
/// to itself, through a cycle) is refused, located by its JSON pointer,
/// whether written directly or imported as `$evaluators`.
#[tokio::test]
async fn segments_may_not_refer_to_segments() {
    for db in TestDb::both("segments_may_not_refer_to_segments").await {
        let store = &db.store;
        let actor = with_flag_set(store).await;
        let staff = json!({"ends_with": [{"var": "email"}, "@example.com"]});
        store
            .write_segment(&actor, "production", "staff", staff.clone(), None)
            .await
            .unwrap();
        let audits = count(store, "audit_events").await;
        let cases = [
            (json!({"$ref": "staff"}), "/$evaluators/admins/$ref"),
            (
                json!({"and": [{"==": [1, 1]}, {"$ref": "staff"}]}),
                "/$evaluators/admins/and/1/$ref",
            ),
            (
                json!({"!": {"$ref": "admins"}}),
                "/$evaluators/admins/!/$ref",
            ),
        ];
        for (rule, pointer) in &cases {
            let error = store
                .write_segment(&actor, "production", "admins", rule.clone(), None)
                .await
                .unwrap_err();
            assert_eq!(error.code(), "SEGMENT_REF", "{}: {error}", db.backend);
            let StoreError::SegmentRef { diagnostics, .. } = &error else {
                panic!("{error:?} carries its diagnostics");
            };
            assert_eq!(diagnostics[0].pointer, *pointer, "{diagnostics:?}");
            // The words of the engine's warning for a `$ref` inside
            // `$evaluators`.
            assert_eq!(
                diagnostics[0].message,
                engine::evaluators::EVALUATOR_REF_MESSAGE
            );
        }
        // Updating an existing segment to refer to another is refused too,
        // and so is a cycle arriving through an import.
        let error = store
            .write_segment(
                &actor,
                "production",
                "staff",
                json!({"$ref": "staff"}),
                Some(1),
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), "SEGMENT_REF", "{error}");
        let file = json!({"flags": {}, "$evaluators": {
            "a": {"$ref": "b"},
            "b": {"or": [{"$ref": "a"}, false]},
        }});
        let error = store
            .import_flag_set(&actor, "production", file)
            .await
            .unwrap_err();
        assert_eq!(error.code(), "SEGMENT_REF", "{error}");
        assert_eq!(
            count(store, "audit_events").await,
            audits,
            "nothing written"
        );
        let segments = store.segments("production").await.unwrap();
        assert_eq!(segments.len(), 1);
        assert_eq!(segments[0].definition, staff);
        db.drop_all().await;
    }
}

/// The migration that inlines segment references.
const INLINE_SEGMENT_REFS: &str = "m20261206_000001_inline_segment_refs";

/// Sets a segment's rule in SQL, as a store could hold it before segments
/// were refused a `$ref`.
async fn set_segment_by_hand(store: &Store, key: &str, rule: &Value) {
    store
        .connection()
        .execute_raw(sea_orm::Statement::from_string(
            store.backend(),
            format!("UPDATE segments SET definition = '{rule}' WHERE key = '{key}'"),
        ))
        .await
        .expect("segment updated by hand");
}

/// How the flag set's `panel` flag resolves for a context, as published.
async fn published_panel(store: &Store, context: Value) -> String {
    let (_, document) = store.document("production").await.unwrap();
    let (file, _) = engine::model::from_value(document).unwrap();
    let (set, _) = engine::FlagSet::compile(
        "production",
        &file,
        &engine::CompileOptions::default(),
        None,
    );
    let prepared = set.prepare(&context);
    let r = set.evaluate("panel", &prepared);
    format!(
        "{} {}",
        r.value.map_or("-".to_owned(), Value::to_string),
        r.reason
    )
}

/// Rule 3 of flagd parity: segments that refer to segments, stored before
/// the store refused them, would leave their flag set unpublishable under
/// flagd's one-pass substitution (segments are published in key order);
/// the migration inlines the references as they were expanded before, so
/// behaviour is unchanged, and audits each rewrite.
#[tokio::test]
async fn rule_3_a_migration_inlines_segments_that_refer_to_segments() {
    for db in
        TestDb::both_unmigrated("rule_3_a_migration_inlines_segments_that_refer_to_segments").await
    {
        let store = &db.store;
        use migrations::{Migrator, MigratorTrait};
        let before_inlining = Migrator::migrations()
            .iter()
            .position(|m| m.name() == INLINE_SEGMENT_REFS)
            .expect("the migration is listed");
        // The data is written through today's store, so with today's
        // schema; the migration and the later ones are then rolled back
        // (the inlining's own `down` changes nothing) to run again below.
        Migrator::up(store.connection(), None).await.unwrap();
        let actor = with_flag_set(store).await;
        let staff = json!({"ends_with": [{"var": "email"}, "@example.com"]});
        for (key, rule) in [
            ("staff", staff.clone()),
            ("staff_or_beta", json!({"var": "beta"})),
            ("vip", json!({"var": "vip"})),
        ] {
            store
                .write_segment(&actor, "production", key, rule, None)
                .await
                .unwrap();
        }
        store
            .write_flag(
                &actor,
                "production",
                "panel",
                FlagChange::Create(input(json!({
                    "state": "ENABLED", "variants": {"on": true, "off": false},
                    "defaultVariant": "off",
                    "targeting": {"if": [{"$ref": "vip"}, "on", "off"]},
                }))),
            )
            .await
            .unwrap();
        // A chain: vip -> staff_or_beta -> staff, each naming a segment
        // published before it.
        let staff_or_beta = json!({"or": [{"$ref": "staff"}, {"var": "beta"}]});
        let vip = json!({"!": [{"!": [{"$ref": "staff_or_beta"}]}]});
        set_segment_by_hand(store, "staff_or_beta", &staff_or_beta).await;
        set_segment_by_hand(store, "vip", &vip).await;
        let (_, document) = store.document("production").await.unwrap();
        let held_back = store::publication_errors(&document);
        assert_eq!(
            held_back.len(),
            1,
            "{}: without the migration: {held_back:?}",
            db.backend
        );
        let set_version = store.flag_set("production").await.unwrap().version;
        let from_inlining = Migrator::migrations().len() - before_inlining;
        Migrator::down(
            store.connection(),
            Some(u32::try_from(from_inlining).unwrap()),
        )
        .await
        .unwrap();

        store.migrate().await.unwrap();

        let inlined = json!({"or": [staff, {"var": "beta"}]});
        let found: Vec<(String, Value, i64)> = store
            .segments("production")
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.key, s.definition, s.version))
            .collect();
        assert_eq!(
            found,
            [
                ("staff".to_owned(), staff.clone(), 1),
                ("staff_or_beta".to_owned(), inlined.clone(), 2),
                ("vip".to_owned(), json!({"!": [{"!": [inlined]}]}), 2),
            ],
            "{}",
            db.backend
        );
        assert_eq!(
            store.flag_set("production").await.unwrap().version,
            set_version + 1,
            "republished"
        );
        let (_, document) = store.document("production").await.unwrap();
        assert_eq!(store::publication_errors(&document), [], "{}", db.backend);
        for (context, expect) in [
            (json!({"email": "ada@example.com"}), "true TARGETING_MATCH"),
            (json!({"beta": true}), "true TARGETING_MATCH"),
            (json!({"email": "eve@example.org"}), "false TARGETING_MATCH"),
        ] {
            assert_eq!(
                published_panel(store, context.clone()).await,
                expect,
                "{context}"
            );
        }
        // What the migration did, in the audit trail.
        let events = store
            .audit(&AuditFilter {
                actor: Some(format!("migration:{INLINE_SEGMENT_REFS}")),
                ..AuditFilter::default()
            })
            .await
            .unwrap()
            .items;
        let mut found: Vec<String> = events
            .iter()
            .map(|e| {
                format!(
                    "{} {} {} v{} {} -> {} {}",
                    e.flag_set.as_deref().unwrap_or("-"),
                    e.subject,
                    e.subject_key,
                    e.version.unwrap_or(0),
                    e.before.clone().unwrap_or_default(),
                    e.after.clone().unwrap_or_default(),
                    e.diff.clone().unwrap_or_default(),
                )
            })
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                format!(
                    "production segment staff_or_beta v2 {staff_or_beta} -> {inlined} {}",
                    json!([{"op": "replace", "path": "/or/0", "value": staff}])
                ),
                format!(
                    "production segment vip v2 {vip} -> {} {}",
                    json!({"!": [{"!": [inlined]}]}),
                    json!([{"op": "replace", "path": "/!/0/!/0", "value": inlined}])
                ),
            ],
            "{}",
            db.backend
        );
        assert!(
            events
                .iter()
                .all(|e| e.action == Action::Update && !e.out_of_band)
        );
        db.drop_all().await;
    }
}

/// Every audit entry comes from the one writer, so entries of every kind
/// follow the same rules: a segment changed by an import records its
/// before-state and a diff like any other update, and an entry without a
/// before-state has no diff at all (SQL NULL, never a JSON null).
#[tokio::test]
async fn imports_audit_segments_with_their_before_state_and_diff() {
    for db in TestDb::both("imports_audit_segments_with_their_before_state_and_diff").await {
        let store = &db.store;
        let actor = with_flag_set(store).await;
        let file = |age: i64| {
            json!({
                "flags": {"banner": {
                    "state": "ENABLED",
                    "variants": {"on": true, "off": false},
                    "defaultVariant": "off",
                    "targeting": {"if": [{"$ref": "adults"}, "on", null]},
                }},
                "$evaluators": {"adults": {">=": [{"var": "age"}, age]}},
            })
        };
        store
            .import_flag_set(&actor, "production", file(18))
            .await
            .unwrap();
        store
            .import_flag_set(&actor, "production", file(21))
            .await
            .unwrap();
        let segment_entries: Vec<_> = store
            .audit(&store::AuditFilter {
                flag_set: Some("production".into()),
                ..store::AuditFilter::default()
            })
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.subject == Subject::Segment)
            .collect();
        let [second, first] = segment_entries.as_slice() else {
            panic!("two segment entries: {segment_entries:?}");
        };
        assert_eq!(
            (first.action, second.action),
            (Action::Import, Action::Import)
        );
        assert_eq!(first.before, None);
        assert_eq!(first.diff, None);
        assert_eq!(second.before, Some(json!({">=": [{"var": "age"}, 18]})));
        assert_eq!(second.after, Some(json!({">=": [{"var": "age"}, 21]})));
        assert_eq!(
            second.diff,
            Some(json!([{"op": "replace", "path": "/>=/1", "value": 21}]))
        );
        // No entry of any kind stores a JSON null where it has no diff.
        let null_diffs: i64 = store
            .connection()
            .query_one_raw(sea_orm::Statement::from_string(
                store.backend(),
                "SELECT COUNT(*) AS n FROM audit_events WHERE diff IS NOT NULL \
                 AND (before IS NULL OR CAST(diff AS TEXT) = 'null')",
            ))
            .await
            .unwrap()
            .and_then(|row| row.try_get::<i64>("", "n").ok())
            .unwrap();
        assert_eq!(null_diffs, 0);
        db.drop_all().await;
    }
}

/// A server's store opens its whole PostgreSQL pool at start, so that no
/// commit waits while a connection is set up; other callers open
/// connections as they need them.
#[tokio::test]
async fn a_server_store_opens_its_connections_up_front() {
    let test = "a_server_store_opens_its_connections_up_front";
    let Some(db) = TestDb::postgres(test).await else {
        return;
    };
    let url = test_support::postgres_url();
    let warm = Store::connect_warm(&url).await.unwrap();
    let pool = warm.connection().get_postgres_connection_pool();
    assert_eq!((pool.size(), pool.num_idle()), (10, 10));
    let lazy = Store::connect(&url).await.unwrap();
    assert_eq!(lazy.connection().get_postgres_connection_pool().size(), 1);
    db.drop_all().await;
}

#[tokio::test]
async fn a_committed_document_is_handed_to_the_publisher_as_the_database_holds_it() {
    let test = "a_committed_document_is_handed_to_the_publisher_as_the_database_holds_it";
    for db in TestDb::both(test).await {
        let statements = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = std::sync::Arc::clone(&statements);
        let store = &db.store.clone().with_metric_callback(move |_| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        let other = db.reopen().await;
        let actor = with_flag_set(store).await;
        // A flag broken by hand: later writes keep its error, and the
        // document must carry it so that publication waits.
        store
            .write_flag(
                &actor,
                "production",
                "legacy",
                FlagChange::Create(input(boolean_flag("off"))),
            )
            .await
            .unwrap();
        store
            .connection()
            .execute_unprepared(
                r#"UPDATE flags SET definition = '{"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "gone"}' WHERE key = 'legacy'"#,
            )
            .await
            .unwrap();
        // Its access too: a live and a revoked key, a client-visible flag.
        let server = store
            .create_token(&actor, "server", TokenRole::Server, Some("production"))
            .await
            .unwrap();
        store
            .create_token(&actor, "client", TokenRole::Client, Some("production"))
            .await
            .unwrap();
        store.revoke_token(&actor, server.record.id).await.unwrap();
        let mut visible = input(boolean_flag("on"));
        visible.client_visible = Some(true);
        store
            .write_flag(&actor, "production", "banner", FlagChange::Create(visible))
            .await
            .unwrap();
        let version = store.flag_set("production").await.unwrap().version;

        let before = statements.load(std::sync::atomic::Ordering::SeqCst);
        let mine = store
            .document_to_publish("production", version)
            .await
            .unwrap();
        assert_eq!(
            statements.load(std::sync::atomic::Ordering::SeqCst),
            before,
            "{}: the writer's own commit is not read back",
            db.backend
        );
        let read = other
            .document_to_publish("production", version)
            .await
            .unwrap();
        assert_eq!(mine, read, "{}", db.backend);
        assert_eq!(mine.version, version, "{}", db.backend);
        assert_eq!(mine.access.keys.len(), 1, "{}", db.backend);
        assert!(mine.access.keys[0].client, "{}", db.backend);
        assert!(mine.access.required, "{}", db.backend);
        assert_eq!(mine.access.client_visible, ["banner"], "{}", db.backend);
        assert_eq!(mine.errors.len(), 1, "{}: {:?}", db.backend, mine.errors);
        assert_eq!(mine.errors[0].flag_key.as_deref(), Some("legacy"));
        assert_eq!(
            mine.content["flags"]["banner"]["defaultVariant"],
            json!("on")
        );

        // A version committed elsewhere is read from the database.
        other
            .write_flag(
                &actor,
                "production",
                "banner",
                FlagChange::Update {
                    expected_version: 1,
                    input: input(boolean_flag("off")),
                },
            )
            .await
            .unwrap();
        let newer = store
            .document_to_publish("production", version + 1)
            .await
            .unwrap();
        assert_eq!(newer.version, version + 1, "{}", db.backend);
        assert_eq!(
            newer.content["flags"]["banner"]["defaultVariant"],
            json!("off"),
            "{}",
            db.backend
        );
        db.drop_all().await;
    }
}
