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
        // A third of them tagged `fizz`, a fifth `buzz`, written as any
        // flag is: tags are a string (flagd's metadata values are scalars).
        let flags: Map<String, Value> = (0..FLAGS)
            .map(|i| {
                let tags = match (i % 3, i % 5) {
                    (0, 0) => "fizz, buzz",
                    (0, _) => "fizz",
                    (_, 0) => "buzz",
                    _ => return (format!("flag-{i:04}"), boolean_flag("off")),
                };
                (format!("flag-{i:04}"), tagged(json!(tags)))
            })
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
        // Updated to an untagged definition: they lose their tags.
        let mut updated = BTreeSet::new();
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
                updated.insert(key.clone());
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

        // The tag filter pages the same way, alone and with the state.
        let tagged_with = |every: usize| -> BTreeSet<String> {
            (0..FLAGS)
                .filter(|i| i % every == 0)
                .map(|i| format!("flag-{i:04}"))
                .filter(|key| !updated.contains(key))
                .collect()
        };
        for (tag, state, expected) in [
            ("fizz", None, tagged_with(3)),
            ("buzz", None, tagged_with(5)),
            (
                "buzz",
                Some(FlagState::Disabled),
                tagged_with(5).intersection(&killed).cloned().collect(),
            ),
        ] {
            let filter = FlagFilter {
                tag: Some(tag.into()),
                state,
                sort: FlagSort::UpdatedDesc,
                limit: 100,
                ..FlagFilter::default()
            };
            let listed = every_page(store, &filter).await;
            let unique: BTreeSet<String> = listed.iter().map(|f| f.key.clone()).collect();
            assert_eq!(listed.len(), expected.len(), "{} {tag}", db.backend);
            assert_eq!(unique, expected, "{} {tag} {state:?}", db.backend);
            check_order(FlagSort::UpdatedDesc, &listed, db.backend);
            let count = store.count_flags("production", &filter).await.unwrap();
            assert_eq!(count, expected.len() as u64, "{} {tag}", db.backend);
        }
        assert!(tagged_with(5).intersection(&killed).count() > 0);
        assert_eq!(
            store.flag_tags("production", false).await.unwrap(),
            ["buzz", "fizz"],
            "{}",
            db.backend
        );
        db.drop_all().await;
    }
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
    assert_eq!(count, flags.len() as u64, "{tag:?}");
    flags.into_iter().map(|f| f.key).collect()
}

/// Flags whose `metadata.tags` strings try the tag rule's corners, each
/// written through the store's write path.
const TAGGED: [(&str, &str); 14] = [
    ("both", "beta, checkout"),
    ("whole", "beta"),
    ("spaced", "  beta\t,\n payments team \r\n"),
    ("unicode", "\u{a0}beta\u{3000},\u{2003}café\u{85}"),
    ("empty-pieces", ",, ,beta,,"),
    ("repeated", "beta, beta , Beta"),
    ("prefix", "bet, betas"),
    ("suffix", "alpha-beta, a beta"),
    ("wildcards", "50%, a_b"),
    ("literal", "axb, 50 percent"),
    ("zero-width", "\u{200b}beta"),
    ("escapes", "say \"hi\", back\\slash, [\"x\"]"),
    ("nothing", " , "),
    ("archived", "old, beta"),
];

#[tokio::test]
async fn flags_are_filtered_by_state_and_tag() {
    for db in TestDb::both("flags_are_filtered_by_state_and_tag").await {
        let store = &db.store;
        let actor = with_flag_set(store).await;
        let scalars = [
            ("number", tagged(json!(7))),
            ("boolean", tagged(json!(true))),
            ("untagged", boolean_flag("off")),
        ];
        let rows = TAGGED
            .iter()
            .map(|(key, tags)| (*key, tagged(json!(tags))))
            .chain(scalars);
        for (key, definition) in rows {
            store
                .write_flag(
                    &actor,
                    "production",
                    key,
                    FlagChange::Create(input(definition.clone())),
                )
                .await
                .unwrap();
            let flag = store.flag("production", key).await.unwrap();
            assert_eq!(flag.definition, definition, "{}", db.backend);
        }
        // An array is no flagd metadata value: the write is refused, so
        // only an edit outside Ensign can store one, and it holds no tags.
        let error = store
            .write_flag(
                &actor,
                "production",
                "array",
                FlagChange::Create(input(tagged(json!(["beta"])))),
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), "INVALID_DEFINITION", "{error}");
        store
            .write_flag(
                &actor,
                "production",
                "array",
                FlagChange::Create(input(boolean_flag("off"))),
            )
            .await
            .unwrap();
        flag::Entity::update_many()
            .col_expr(
                flag::Column::Definition,
                Expr::value(tagged(json!(["beta", "beta, checkout"]))),
            )
            .filter(flag::Column::Key.eq("array"))
            .exec(store.connection())
            .await
            .unwrap();
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

        let tags =
            |key: &'static str| async move { store.flag("production", key).await.unwrap().tags() };
        for (key, expected) in [
            ("both", vec!["beta", "checkout"]),
            ("whole", vec!["beta"]),
            ("spaced", vec!["beta", "payments team"]),
            ("unicode", vec!["beta", "café"]),
            ("empty-pieces", vec!["beta"]),
            ("repeated", vec!["beta", "Beta"]),
            ("prefix", vec!["bet", "betas"]),
            ("suffix", vec!["alpha-beta", "a beta"]),
            ("wildcards", vec!["50%", "a_b"]),
            ("literal", vec!["axb", "50 percent"]),
            ("zero-width", vec!["\u{200b}beta"]),
            ("escapes", vec!["say \"hi\"", "back\\slash", "[\"x\"]"]),
            ("nothing", vec![]),
            ("archived", vec!["old", "beta"]),
            ("number", vec![]),
            ("boolean", vec![]),
            ("untagged", vec![]),
            ("array", vec![]),
        ] {
            assert_eq!(tags(key).await, expected, "{key}");
        }

        // What the database matches, read by hand.
        for (tag, expected) in [
            (
                "beta",
                vec![
                    "both",
                    "empty-pieces",
                    "repeated",
                    "spaced",
                    "unicode",
                    "whole",
                ],
            ),
            ("Beta", vec!["repeated"]),
            ("payments team", vec!["spaced"]),
            ("café", vec!["unicode"]),
            ("bet", vec!["prefix"]),
            ("a_b", vec!["wildcards"]),
            ("50%", vec!["wildcards"]),
            ("say \"hi\"", vec!["escapes"]),
            ("back\\slash", vec!["escapes"]),
            ("[\"x\"]", vec!["escapes"]),
            ("\u{200b}beta", vec!["zero-width"]),
            ("%", vec![]),
            ("_", vec![]),
            ("a%b", vec![]),
            ("50", vec![]),
            ("eta", vec![]),
            ("payments", vec![]),
            ("beta, checkout", vec![]),
            ("", vec![]),
            (" ", vec![]),
            (" beta", vec![]),
            ("7", vec![]),
            ("true", vec![]),
            ("old", vec![]),
        ] {
            assert_eq!(
                by_tag(store, tag, false).await,
                expected,
                "{} {tag:?}",
                db.backend
            );
        }
        assert_eq!(
            by_tag(store, "old", true).await,
            ["archived"],
            "{}",
            db.backend
        );

        // And everywhere, the database's filter and list agree with
        // `FlagRecord::tags`, for every tag and for tags no flag can have.
        let all = every_page(
            store,
            &FlagFilter {
                include_archived: true,
                ..FlagFilter::default()
            },
        )
        .await;
        let every_tag: BTreeSet<String> = all.iter().flat_map(FlagRecord::tags).collect();
        let impossible = ["", ",", " ", "beta ", "\u{a0}beta", "bet,a", "beta,"];
        for tag in every_tag
            .iter()
            .map(String::as_str)
            .chain(impossible)
            .chain(["%", "_", "a", "b", "be%", "bet_"])
        {
            let expected: Vec<&str> = all
                .iter()
                .filter(|f| f.tags().iter().any(|t| t == tag))
                .map(|f| f.key.as_str())
                .collect();
            assert_eq!(
                by_tag(store, tag, true).await,
                expected,
                "{} {tag:?}",
                db.backend
            );
        }
        let live_tags: BTreeSet<String> = all
            .iter()
            .filter(|f| !f.archived)
            .flat_map(FlagRecord::tags)
            .collect();
        assert_eq!(
            store.flag_tags("production", false).await.unwrap(),
            live_tags.into_iter().collect::<Vec<_>>(),
            "{}",
            db.backend
        );
        assert_eq!(
            store.flag_tags("production", true).await.unwrap(),
            every_tag.iter().cloned().collect::<Vec<_>>(),
            "{}",
            db.backend
        );
        assert!(every_tag.contains("old") && every_tag.contains("payments team"));

        // The state filter and the tag filter together, with the search.
        let kill = |definition: &mut Value| {
            definition["state"] = json!("DISABLED");
            Ok(())
        };
        store
            .write_flag(
                &actor,
                "production",
                "spaced",
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
            (FlagState::Disabled, None, vec!["spaced"]),
            (
                FlagState::Enabled,
                None,
                vec!["both", "empty-pieces", "repeated", "unicode", "whole"],
            ),
            (FlagState::Enabled, Some("BOT"), vec!["both"]),
            (FlagState::Enabled, Some("spa"), vec![]),
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
