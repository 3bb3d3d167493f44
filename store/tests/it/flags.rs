//! Listing flags on both backends: thousands of flags paged under every
//! order without gaps or duplicates, and the state and tag filters, the
//! counts and the tag list, all answered by the database.

use std::collections::BTreeSet;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Map, Value, json};
use store::entity::flag;
use store::{Action, FlagChange, FlagFilter, FlagRecord, FlagSort, FlagState, Store};
use time::Duration;

use test_support::{TestDb, boolean_flag, input, with_flag_set};

/// Every page of `filter`'s list, followed through the cursors.
async fn every_page(store: &Store, filter: &FlagFilter) -> Vec<FlagRecord> {
    let mut flags = Vec::new();
    let mut after = None;
    for _ in 0..1000 {
        let page = store
            .flags(
                "production",
                &FlagFilter {
                    after,
                    ..filter.clone()
                },
            )
            .await
            .unwrap();
        flags.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return flags,
        }
    }
    panic!("the cursors never reach the end");
}

fn keys(flags: &[FlagRecord]) -> Vec<&str> {
    flags.iter().map(|f| f.key.as_str()).collect()
}

/// Checks that each flag comes before the next in `sort`'s order: by key,
/// or by time and, on the same time, by key. SQLite compares times to the
/// millisecond, so two times less than a millisecond apart may tie there.
#[track_caller]
fn check_order(sort: FlagSort, flags: &[FlagRecord], backend: &str) {
    for pair in flags.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let (first, second) = match sort {
            FlagSort::KeyAsc => {
                assert!(
                    a.key < b.key,
                    "{backend} {sort:?}: {} then {}",
                    a.key,
                    b.key
                );
                continue;
            }
            FlagSort::KeyDesc => {
                assert!(
                    a.key > b.key,
                    "{backend} {sort:?}: {} then {}",
                    a.key,
                    b.key
                );
                continue;
            }
            FlagSort::UpdatedDesc => (b.updated_at, a.updated_at),
            FlagSort::UpdatedAsc => (a.updated_at, b.updated_at),
        };
        let tie = match backend {
            "sqlite" => (second - first).abs() < Duration::milliseconds(1),
            _ => first == second,
        };
        assert!(
            first < second || (tie && a.key < b.key),
            "{backend} {sort:?}: {} at {} then {} at {}",
            a.key,
            a.updated_at,
            b.key,
            b.updated_at
        );
    }
}

const SORTS: [FlagSort; 4] = [
    FlagSort::KeyAsc,
    FlagSort::KeyDesc,
    FlagSort::UpdatedDesc,
    FlagSort::UpdatedAsc,
];

#[tokio::test]
async fn thousands_of_flags_page_without_gaps_or_duplicates_under_every_order() {
    const FLAGS: usize = 3000;
    for db in
        TestDb::both("thousands_of_flags_page_without_gaps_or_duplicates_under_every_order").await
    {
        let store = &db.store;
        let actor = with_flag_set(store).await;
        // One import: every flag has the same time, so the time orders
        // rest on the key for all but the flags changed afterwards.
        let flags: Map<String, Value> = (0..FLAGS)
            .map(|i| (format!("flag-{i:04}"), boolean_flag("off")))
            .collect();
        store
            .import_flag_set(&actor, "production", json!({ "flags": flags }))
            .await
            .unwrap();
        let kill = |definition: &mut Value| {
            definition["state"] = json!("DISABLED");
            Ok(())
        };
        let mut changed = Vec::new();
        let mut killed = BTreeSet::new();
        for i in 0..20 {
            let key = format!("flag-{:04}", (i * 397) % FLAGS);
            let change = if i % 2 == 0 {
                killed.insert(key.clone());
                FlagChange::Edit {
                    expected_version: None,
                    action: Action::Kill,
                    edit: &kill,
                }
            } else {
                FlagChange::Update {
                    expected_version: 1,
                    input: input(boolean_flag("on")),
                }
            };
            store
                .write_flag(&actor, "production", key.as_str(), change)
                .await
                .unwrap();
            changed.push(key);
        }
        let all: BTreeSet<String> = flags.keys().cloned().collect();
        for sort in SORTS {
            let listed = every_page(
                store,
                &FlagFilter {
                    sort,
                    limit: 100,
                    ..FlagFilter::default()
                },
            )
            .await;
            let unique: BTreeSet<String> = listed.iter().map(|f| f.key.clone()).collect();
            assert_eq!(
                listed.len(),
                FLAGS,
                "{} {sort:?}: no duplicates",
                db.backend
            );
            assert_eq!(unique, all, "{} {sort:?}: no gaps", db.backend);
            check_order(sort, &listed, db.backend);
            let changed_first: BTreeSet<&str> = match sort {
                FlagSort::UpdatedDesc => keys(&listed[..changed.len()]).into_iter().collect(),
                FlagSort::UpdatedAsc => {
                    keys(&listed[FLAGS - changed.len()..]).into_iter().collect()
                }
                _ => continue,
            };
            assert_eq!(
                changed_first,
                changed.iter().map(String::as_str).collect(),
                "{} {sort:?}: the flags changed after the import come last in time",
                db.backend
            );
        }

        // Filters page the same way, and the count is the whole list's.
        for (state, expected) in [
            (FlagState::Disabled, killed.len()),
            (FlagState::Enabled, FLAGS - killed.len()),
        ] {
            let filter = FlagFilter {
                state: Some(state),
                sort: FlagSort::UpdatedDesc,
                limit: 7,
                ..FlagFilter::default()
            };
            let listed = every_page(store, &filter).await;
            assert_eq!(listed.len(), expected, "{} {state:?}", db.backend);
            assert!(
                listed
                    .iter()
                    .all(|f| f.definition["state"] == state.as_str()),
                "{} {state:?}",
                db.backend
            );
            check_order(FlagSort::UpdatedDesc, &listed, db.backend);
            let count = store.count_flags("production", &filter).await.unwrap();
            assert_eq!(count, expected as u64, "{} {state:?}", db.backend);
        }
        let disabled: BTreeSet<String> = every_page(
            store,
            &FlagFilter {
                state: Some(FlagState::Disabled),
                ..FlagFilter::default()
            },
        )
        .await
        .into_iter()
        .map(|f| f.key)
        .collect();
        assert_eq!(disabled, killed, "{}", db.backend);
        db.drop_all().await;
    }
}

/// Sets a flag's definition in the database directly, as an edit outside
/// Ensign would: writes refuse `metadata` entries that are not strings,
/// numbers or booleans (flagd's schema), so only such rows hold arrays.
async fn set_definition(store: &Store, key: &str, definition: Value) {
    flag::Entity::update_many()
        .col_expr(flag::Column::Definition, Expr::value(definition))
        .filter(flag::Column::Key.eq(key))
        .exec(store.connection())
        .await
        .unwrap();
}

fn tagged(tags: Value) -> Value {
    let mut definition = boolean_flag("off");
    definition["metadata"] = json!({ "tags": tags });
    definition
}

/// The keys of the flags tagged `tag`, checked against their count.
async fn by_tag(store: &Store, tag: &str, include_archived: bool) -> Vec<String> {
    let filter = FlagFilter {
        tag: Some(tag.to_owned()),
        include_archived,
        ..FlagFilter::default()
    };
    let count = store.count_flags("production", &filter).await.unwrap();
    let flags = every_page(store, &filter).await;
    assert_eq!(count, flags.len() as u64, "{tag}");
    flags.into_iter().map(|f| f.key).collect()
}

#[tokio::test]
async fn flags_are_filtered_by_state_and_tag() {
    for db in TestDb::both("flags_are_filtered_by_state_and_tag").await {
        let store = &db.store;
        let actor = with_flag_set(store).await;
        let rows = [
            ("both", tagged(json!(["beta", "checkout"]))),
            (
                "mixed",
                tagged(json!([1, "beta", {"x": "checkout"}, ["nested"]])),
            ),
            ("string", tagged(json!("beta"))),
            ("nested", tagged(json!([["beta"]]))),
            ("number", tagged(json!([1]))),
            ("untagged", boolean_flag("off")),
            ("archived", tagged(json!(["old", "beta"]))),
        ];
        for (key, _) in &rows {
            store
                .write_flag(
                    &actor,
                    "production",
                    *key,
                    FlagChange::Create(input(boolean_flag("off"))),
                )
                .await
                .unwrap();
        }
        for (key, definition) in &rows {
            set_definition(store, key, definition.clone()).await;
        }
        let archived = store.flag("production", "archived").await.unwrap();
        store
            .write_flag(
                &actor,
                "production",
                "archived",
                FlagChange::Archive {
                    expected_version: archived.version,
                },
            )
            .await
            .unwrap();

        assert_eq!(
            by_tag(store, "beta", false).await,
            ["both", "mixed"],
            "{}",
            db.backend
        );
        assert_eq!(
            by_tag(store, "beta", true).await,
            ["archived", "both", "mixed"],
            "{}",
            db.backend
        );
        assert_eq!(
            by_tag(store, "checkout", false).await,
            ["both"],
            "{}",
            db.backend
        );
        assert_eq!(
            by_tag(store, "1", false).await,
            Vec::<String>::new(),
            "{}",
            db.backend
        );
        assert_eq!(
            by_tag(store, "nested", false).await,
            Vec::<String>::new(),
            "{}",
            db.backend
        );
        assert_eq!(
            by_tag(store, "bet", false).await,
            Vec::<String>::new(),
            "{}",
            db.backend
        );

        assert_eq!(
            store.flag_tags("production", false).await.unwrap(),
            ["beta", "checkout"],
            "{}",
            db.backend
        );
        assert_eq!(
            store.flag_tags("production", true).await.unwrap(),
            ["beta", "checkout", "old"],
            "{}",
            db.backend
        );
        for (key, definition) in &rows {
            let flag = store.flag("production", key).await.unwrap();
            assert_eq!(&flag.definition, definition, "{}", db.backend);
        }
        let tags =
            |key: &'static str| async move { store.flag("production", key).await.unwrap().tags() };
        assert_eq!(tags("both").await, ["beta", "checkout"]);
        assert_eq!(tags("mixed").await, ["beta"]);
        assert_eq!(tags("string").await, Vec::<String>::new());
        assert_eq!(tags("untagged").await, Vec::<String>::new());

        // The state filter and the tag filter together, with the search.
        let kill = |definition: &mut Value| {
            definition["state"] = json!("DISABLED");
            Ok(())
        };
        store
            .write_flag(
                &actor,
                "production",
                "mixed",
                FlagChange::Edit {
                    expected_version: None,
                    action: Action::Kill,
                    edit: &kill,
                },
            )
            .await
            .unwrap();
        let filter = |state, search: Option<&str>| FlagFilter {
            state: Some(state),
            tag: Some("beta".into()),
            search: search.map(str::to_owned),
            ..FlagFilter::default()
        };
        for (state, search, expected) in [
            (FlagState::Disabled, None, vec!["mixed"]),
            (FlagState::Enabled, None, vec!["both"]),
            (FlagState::Enabled, Some("BOT"), vec!["both"]),
            (FlagState::Enabled, Some("mix"), vec![]),
        ] {
            let filter = filter(state, search);
            let listed = every_page(store, &filter).await;
            assert_eq!(
                keys(&listed),
                expected,
                "{} {state:?} {search:?}",
                db.backend
            );
            let count = store.count_flags("production", &filter).await.unwrap();
            assert_eq!(count, expected.len() as u64);
        }
        assert_eq!(
            store.flag_tags("nowhere", false).await.unwrap_err().code(),
            "FLAG_SET_NOT_FOUND"
        );
        db.drop_all().await;
    }
}
