//! Evaluation counts: added once per batch id across batches and nodes,
//! read back as each flag's usage over windows of a controlled clock,
//! judged stale by the module's rules, and pruned when expired.

use futures::future::join_all;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use store::entity::{evaluation_count, evaluation_count_hourly, flag, flag_usage};
use store::{BatchWrite, CountRow, FlagChange, FlagUsage, Staleness, Store, VariantUsage};
use time::{Duration, OffsetDateTime};

use test_support::{TestDb, boolean_flag, input, with_flag_set};

/// The clock's origin in these tests: a whole hour (Unix seconds).
const T0: i64 = 1_800_000_000;
const MINUTE: i64 = 60;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

/// `seconds` after [`T0`].
fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(T0 + seconds).unwrap()
}

/// `count` evaluations of `flag` to `variant` for `reason` in the minute
/// starting `minute` seconds after [`T0`].
fn counted(flag: &str, variant: &str, reason: &str, minute: i64, count: u64) -> CountRow {
    CountRow {
        flag_set: "production".into(),
        flag: flag.into(),
        variant: variant.into(),
        reason: reason.into(),
        minute: T0 + minute,
        count,
    }
}

/// [`counted`] for the reason `TARGETING_MATCH`.
fn served(flag: &str, variant: &str, minute: i64, count: u64) -> CountRow {
    counted(flag, variant, "TARGETING_MATCH", minute, count)
}

/// `flag variant reason minute count` of every minute row.
async fn minute_rows(store: &Store) -> Vec<String> {
    evaluation_count::Entity::find()
        .order_by_asc(evaluation_count::Column::FlagKey)
        .order_by_asc(evaluation_count::Column::Variant)
        .order_by_asc(evaluation_count::Column::Reason)
        .order_by_asc(evaluation_count::Column::Minute)
        .all(store.connection())
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            format!(
                "{} {:?} {} {} {}",
                r.flag_key,
                r.variant,
                r.reason,
                r.minute - T0,
                r.count
            )
        })
        .collect()
}

/// `flag variant reason hour count` of every hourly row.
async fn hourly_rows(store: &Store) -> Vec<String> {
    evaluation_count_hourly::Entity::find()
        .order_by_asc(evaluation_count_hourly::Column::FlagKey)
        .order_by_asc(evaluation_count_hourly::Column::Variant)
        .order_by_asc(evaluation_count_hourly::Column::Reason)
        .order_by_asc(evaluation_count_hourly::Column::Hour)
        .all(store.connection())
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            format!(
                "{} {:?} {} {} {}",
                r.flag_key,
                r.variant,
                r.reason,
                r.hour - T0,
                r.count
            )
        })
        .collect()
}

/// `flag variant first last` of every usage row.
async fn usage_rows(store: &Store) -> Vec<String> {
    flag_usage::Entity::find()
        .order_by_asc(flag_usage::Column::FlagKey)
        .order_by_asc(flag_usage::Column::Variant)
        .all(store.connection())
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            format!(
                "{} {:?} {} {}",
                r.flag_key,
                r.variant,
                r.first_minute - T0,
                r.last_minute - T0
            )
        })
        .collect()
}

/// The first flag's evaluations in the last day and month, and each of
/// its variants' in the last day.
fn totals(usage: &[FlagUsage]) -> (u64, u64, Vec<(Option<&str>, u64)>) {
    let flag = &usage[0];
    let variants = flag
        .variants
        .iter()
        .map(|v| (v.variant.as_deref(), v.evaluations_24h))
        .collect();
    (flag.evaluations_24h, flag.evaluations_30d, variants)
}

/// Creates flag set `production` with flags `keys`, each created at
/// `created` seconds after [`T0`].
async fn with_flags(store: &Store, keys: &[&str], created: i64) {
    let actor = with_flag_set(store).await;
    for key in keys {
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
    created_at(store, keys, created).await;
}

/// Sets the creation time of flags `keys` to `seconds` after [`T0`].
async fn created_at(store: &Store, keys: &[&str], seconds: i64) {
    flag::Entity::update_many()
        .col_expr(flag::Column::CreatedAt, Expr::value(at(seconds)))
        .filter(flag::Column::Key.is_in(keys.iter().copied()))
        .exec(store.connection())
        .await
        .unwrap();
}

async fn archive(store: &Store, key: &str) {
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
        .unwrap();
}

#[tokio::test]
async fn counts_add_up_across_batches_and_nodes() {
    for db in TestDb::both("counts_add_up_across_batches_and_nodes").await {
        let store = &db.store;
        let first = [
            served("checkout", "on", 0, 5),
            // The same flag, outcome and minute again in one batch: summed.
            served("checkout", "on", 0, 2),
            counted("checkout", "off", "DEFAULT", MINUTE, 1),
            counted("checkout", "", "ERROR", HOUR, 4),
        ];
        assert_eq!(
            store
                .write_evaluation_counts("node-a:1", &first)
                .await
                .unwrap(),
            BatchWrite::Written { rows: 3 },
            "{}",
            db.backend
        );
        // Delivered again: added once.
        assert_eq!(
            store
                .write_evaluation_counts("node-a:1", &first)
                .await
                .unwrap(),
            BatchWrite::AlreadyWritten
        );
        // Another node adds to the same minute, to a later one, and to an
        // earlier one, which moves the outcome's first minute back.
        let other = db.reopen().await;
        assert_eq!(
            other
                .write_evaluation_counts(
                    "node-b:1",
                    &[
                        served("checkout", "on", 0, 10),
                        served("checkout", "on", 2 * MINUTE, 1),
                        served("checkout", "on", -MINUTE, 1),
                    ],
                )
                .await
                .unwrap(),
            BatchWrite::Written { rows: 3 }
        );
        // Twenty batches from both nodes at once, on shared rows, one of
        // them twice.
        let nodes = [store.clone(), other];
        let writes = (0..20).map(|i| {
            let node = nodes[i % 2].clone();
            async move {
                let id = format!("burst:{}", i.min(18));
                node.write_evaluation_counts(
                    &id,
                    &[served("banner", "on", 0, 1), served("checkout", "on", 0, 1)],
                )
                .await
                .unwrap()
            }
        });
        let written = join_all(writes).await;
        assert_eq!(
            written
                .iter()
                .filter(|w| **w == BatchWrite::AlreadyWritten)
                .count(),
            1,
            "{written:?}"
        );
        assert_eq!(
            minute_rows(store).await,
            [
                "banner \"on\" TARGETING_MATCH 0 19",
                "checkout \"\" ERROR 3600 4",
                "checkout \"off\" DEFAULT 60 1",
                "checkout \"on\" TARGETING_MATCH -60 1",
                "checkout \"on\" TARGETING_MATCH 0 36",
                "checkout \"on\" TARGETING_MATCH 120 1",
            ]
        );
        assert_eq!(
            hourly_rows(store).await,
            [
                "banner \"on\" TARGETING_MATCH 0 19",
                "checkout \"\" ERROR 3600 4",
                "checkout \"off\" DEFAULT 0 1",
                "checkout \"on\" TARGETING_MATCH -3600 1",
                "checkout \"on\" TARGETING_MATCH 0 37",
            ]
        );
        assert_eq!(
            usage_rows(store).await,
            [
                "banner \"on\" 0 0",
                "checkout \"\" 3600 3600",
                "checkout \"off\" 60 60",
                "checkout \"on\" -60 120",
            ]
        );
        db.drop_all().await;
    }
}

#[tokio::test]
async fn invalid_counts_refuse_the_whole_batch() {
    for db in TestDb::both("invalid_counts_refuse_the_whole_batch").await {
        let store = &db.store;
        let with = |change: fn(&mut CountRow)| {
            let mut row = served("checkout", "on", 0, 1);
            change(&mut row);
            row
        };
        let cases: [(CountRow, &str); 9] = [
            (with(|c| c.minute += 30), "count 1: its minute 1800000030"),
            (
                with(|c| c.minute = i64::MAX - i64::MAX % 60),
                "count 1: its minute 9223372036854775800",
            ),
            (with(|c| c.flag.clear()), "count 1: its flag has 0 bytes"),
            (
                with(|c| c.flag_set.clear()),
                "count 1: its flag set has 0 bytes",
            ),
            (
                with(|c| c.reason.clear()),
                "count 1: its reason has 0 bytes",
            ),
            (
                with(|c| c.variant = "v".repeat(1025)),
                "count 1: its variant has 1025 bytes",
            ),
            (with(|c| c.count = 0), "count 1: its count 0 is not"),
            (
                with(|c| c.count = u64::MAX),
                "count 1: its count 18446744073709551615 is not",
            ),
            // Fine alone, but past i64::MAX with the first row.
            (
                with(|c| c.count = i64::MAX as u64),
                "count 1: the batch's counts",
            ),
        ];
        for (bad, message) in cases {
            let error = store
                .write_evaluation_counts("batch", &[served("checkout", "on", 0, 1), bad])
                .await
                .unwrap_err();
            assert_eq!(error.code(), "INVALID_INPUT", "{error}");
            assert!(
                error.to_string().contains(message),
                "{}: {error} lacks {message:?}",
                db.backend
            );
        }
        for batch_id in [String::new(), "b".repeat(1025)] {
            let error = store
                .write_evaluation_counts(&batch_id, &[served("checkout", "on", 0, 1)])
                .await
                .unwrap_err();
            assert_eq!(error.code(), "INVALID_INPUT", "{error}");
            assert!(error.to_string().contains("batch id"), "{error}");
        }
        assert!(minute_rows(store).await.is_empty());
        assert!(hourly_rows(store).await.is_empty());
        assert!(usage_rows(store).await.is_empty());
        // The refused batch's id was not taken; the largest count and an
        // outcome with no variant are accepted.
        assert_eq!(
            store
                .write_evaluation_counts(
                    "batch",
                    &[
                        served("checkout", "on", 0, i64::MAX as u64),
                        counted("checkout", "", "ERROR", -MINUTE, 1),
                    ]
                )
                .await
                .unwrap(),
            BatchWrite::Written { rows: 2 }
        );
        assert_eq!(
            minute_rows(store).await,
            [
                "checkout \"\" ERROR -60 1",
                "checkout \"on\" TARGETING_MATCH 0 9223372036854775807",
            ]
        );
        db.drop_all().await;
    }
}

#[tokio::test]
async fn usage_counts_the_last_24_hours_and_30_days_of_now() {
    for db in TestDb::both("usage_counts_the_last_24_hours_and_30_days_of_now").await {
        let store = &db.store;
        with_flags(store, &["checkout"], -60 * DAY).await;
        let rows = [
            // The minute starting exactly 24 hours before now: in.
            served("checkout", "on", -DAY, 1),
            // The minute before it: out of the day, in the month.
            served("checkout", "on", -DAY - MINUTE, 2),
            // The minute starting now: in.
            served("checkout", "off", 0, 4),
            // A minute after now: out of the day; its hour starts now, in.
            served("checkout", "off", MINUTE, 8),
            // An hour after now: out of both.
            served("checkout", "off", HOUR, 16),
            // The first and the last minute of the hour starting exactly 30
            // days before now: in the month.
            served("checkout", "on", -30 * DAY, 32),
            served("checkout", "on", -30 * DAY + HOUR - MINUTE, 64),
            // The last minute of the hour before: out.
            served("checkout", "on", -30 * DAY - MINUTE, 128),
        ];
        store
            .write_evaluation_counts("node-a:1", &rows)
            .await
            .unwrap();
        let usage = store.flag_usage("production", at(0)).await.unwrap();
        assert_eq!(
            totals(&usage),
            (
                1 + 4,
                1 + 2 + 4 + 8 + 32 + 64,
                vec![(Some("off"), 4), (Some("on"), 1)]
            ),
            "{}",
            db.backend
        );
        // Half a minute later both windows start later: the day loses its
        // first minute, and the month its first hour, whole.
        let usage = store.flag_usage("production", at(30)).await.unwrap();
        assert_eq!(
            totals(&usage),
            (4, 1 + 2 + 4 + 8, vec![(Some("off"), 4), (Some("on"), 0)])
        );
        db.drop_all().await;
    }
}

#[tokio::test]
async fn flag_usage_lists_every_live_flag() {
    for db in TestDb::both("flag_usage_lists_every_live_flag").await {
        let store = &db.store;
        with_flags(store, &["banner", "checkout", "old", "zeta"], -DAY).await;
        archive(store, "old").await;
        store
            .write_evaluation_counts(
                "node-a:1",
                &[
                    served("checkout", "on", -2 * MINUTE, 3),
                    served("checkout", "on", -HOUR, 1),
                    counted("checkout", "", "ERROR", -MINUTE, 2),
                    counted("checkout", "off", "DEFAULT", -3 * HOUR, 5),
                    counted("checkout", "off", "DISABLED", -3 * HOUR, 6),
                    // An archived flag and one that no longer exists.
                    served("old", "on", -MINUTE, 1),
                    served("ghost", "on", -MINUTE, 1),
                ],
            )
            .await
            .unwrap();
        let never = |flag: &str| FlagUsage {
            flag: flag.into(),
            last_evaluated: None,
            first_evaluated: None,
            evaluations_24h: 0,
            evaluations_30d: 0,
            variants: Vec::new(),
        };
        assert_eq!(
            store.flag_usage("production", at(0)).await.unwrap(),
            [
                never("banner"),
                FlagUsage {
                    flag: "checkout".into(),
                    last_evaluated: Some(at(-MINUTE)),
                    first_evaluated: Some(at(-3 * HOUR)),
                    evaluations_24h: 17,
                    evaluations_30d: 17,
                    variants: vec![
                        VariantUsage {
                            variant: None,
                            evaluations_24h: 2,
                            last_served: at(-MINUTE),
                        },
                        VariantUsage {
                            variant: Some("off".into()),
                            evaluations_24h: 11,
                            last_served: at(-3 * HOUR),
                        },
                        VariantUsage {
                            variant: Some("on".into()),
                            evaluations_24h: 4,
                            last_served: at(-2 * MINUTE),
                        },
                    ],
                },
                never("zeta"),
            ],
            "{}",
            db.backend
        );
        let error = store.flag_usage("missing", at(0)).await.unwrap_err();
        assert_eq!(error.code(), "FLAG_SET_NOT_FOUND", "{error}");
        db.drop_all().await;
    }
}

#[tokio::test]
async fn stale_flags_follow_a_controlled_clock() {
    for db in TestDb::both("stale_flags_follow_a_controlled_clock").await {
        let store = &db.store;
        let week = Duration::days(7);
        // Now is half a minute past T0, so the cutoff is half a minute into
        // the minute starting at `cutoff`.
        let now = 30;
        let cutoff = -7 * DAY;
        with_flags(
            store,
            &[
                "always-on",
                "archived",
                "at-cutoff",
                "errors",
                "forgotten",
                "fresh",
                "recent",
                "switched",
                "switched-at-edge",
                "two-variants",
                "unused",
            ],
            cutoff - 30 * DAY,
        )
        .await;
        created_at(store, &["fresh"], cutoff + 31).await;
        created_at(store, &["at-cutoff"], cutoff + 30).await;
        archive(store, "archived").await;
        store
            .write_evaluation_counts(
                "node-a:1",
                &[
                    // Only the minute ending at the cutoff's minute start:
                    // wholly before the window.
                    served("forgotten", "on", cutoff - MINUTE, 1),
                    served("forgotten", "off", cutoff - HOUR, 1),
                    // The minute the cutoff falls in: in the window, but so
                    // is its first count, so not observed for the window.
                    served("recent", "on", cutoff, 1),
                    // Both variants in the window.
                    served("two-variants", "on", cutoff - 10 * DAY, 1),
                    served("two-variants", "on", -MINUTE, 1),
                    served("two-variants", "off", cutoff + HOUR, 1),
                    // `off` last served in the minute the cutoff falls in.
                    served("switched-at-edge", "off", cutoff - 10 * DAY, 1),
                    served("switched-at-edge", "off", cutoff, 1),
                    served("switched-at-edge", "on", cutoff - 10 * DAY, 1),
                    served("switched-at-edge", "on", 0, 1),
                    // `off` until the minute ending a minute before the
                    // cutoff, then `on`.
                    served("switched", "off", cutoff - 10 * DAY, 1),
                    served("switched", "off", cutoff - 2 * MINUTE, 1),
                    served("switched", "on", cutoff - MINUTE, 1),
                    served("switched", "on", 0, 1),
                    // Only ever one outcome.
                    served("always-on", "on", cutoff - DAY, 1),
                    served("always-on", "on", -MINUTE, 1),
                    counted("errors", "", "ERROR", cutoff - 2 * DAY, 1),
                    counted("errors", "", "ERROR", 0, 1),
                    // Archived flags and unknown ones are not listed.
                    served("archived", "on", cutoff - DAY, 1),
                    served("archived", "on", 0, 1),
                    served("ghost", "on", cutoff - DAY, 1),
                    served("ghost", "on", 0, 1),
                ],
            )
            .await
            .unwrap();
        let stale: Vec<(String, Staleness)> = store
            .stale_flags("production", week, at(now))
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.flag, s.staleness))
            .collect();
        let one = |variant: Option<&str>, since: i64| Staleness::OneVariant {
            variant: variant.map(str::to_owned),
            since: at(since),
        };
        let not_evaluated = |last: Option<i64>| Staleness::NotEvaluated {
            last_evaluated: last.map(at),
        };
        assert_eq!(
            stale,
            [
                ("always-on".to_owned(), one(Some("on"), cutoff - DAY)),
                ("at-cutoff".to_owned(), not_evaluated(None)),
                ("errors".to_owned(), one(None, cutoff - 2 * DAY)),
                ("forgotten".to_owned(), not_evaluated(Some(cutoff - MINUTE))),
                ("switched".to_owned(), one(Some("on"), cutoff - MINUTE)),
                ("unused".to_owned(), not_evaluated(None)),
            ],
            "{}",
            db.backend
        );

        // A day later, `recent` was last evaluated before the window, and
        // `two-variants` served only `on` in it since its `off`.
        let later: Vec<String> = store
            .stale_flags("production", week, at(now + DAY))
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.flag)
            .collect();
        assert_eq!(
            later,
            [
                "always-on",
                "at-cutoff",
                "errors",
                "forgotten",
                "fresh",
                "recent",
                "switched",
                "switched-at-edge",
                "two-variants",
                "unused",
            ]
        );
        let error = store
            .stale_flags("production", -week, at(now))
            .await
            .unwrap_err();
        assert_eq!(error.code(), "INVALID_INPUT", "{error}");
        db.drop_all().await;
    }
}

#[tokio::test]
async fn pruning_deletes_only_expired_counts() {
    for db in TestDb::both("pruning_deletes_only_expired_counts").await {
        let store = &db.store;
        with_flags(store, &["checkout"], -60 * DAY).await;
        let minute_kept = -25 * HOUR;
        let month = -31 * DAY;
        store
            .write_evaluation_counts(
                "node-a:1",
                &[
                    served("checkout", "on", minute_kept, 1),
                    served("checkout", "on", minute_kept - MINUTE, 2),
                    served("checkout", "on", month, 4),
                    served("checkout", "on", month - MINUTE, 8),
                ],
            )
            .await
            .unwrap();
        assert_eq!(
            store.prune_evaluation_counts(at(0)).await.unwrap(),
            3 + 1,
            "{}",
            db.backend
        );
        assert_eq!(
            minute_rows(store).await,
            ["checkout \"on\" TARGETING_MATCH -90000 1"]
        );
        assert_eq!(
            hourly_rows(store).await,
            [
                "checkout \"on\" TARGETING_MATCH -2678400 4",
                "checkout \"on\" TARGETING_MATCH -93600 2",
                "checkout \"on\" TARGETING_MATCH -90000 1",
            ]
        );
        // What the flag served is kept.
        assert_eq!(usage_rows(store).await, ["checkout \"on\" -2678460 -90000"]);
        assert_eq!(store.prune_evaluation_counts(at(0)).await.unwrap(), 0);
        let usage = store.flag_usage("production", at(0)).await.unwrap();
        assert_eq!(usage[0].last_evaluated, Some(at(minute_kept)));
        assert_eq!(usage[0].first_evaluated, Some(at(month - MINUTE)));
        db.drop_all().await;
    }
}
