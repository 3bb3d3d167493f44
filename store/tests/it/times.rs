//! Times on both backends compare as times: SQLite keeps them as RFC 3339
//! text, which does not sort as the times do, and neither the flag list's
//! time orders nor the audit log's `since` and `until` may follow the
//! text.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use store::entity::{audit_event, flag};
use store::{AuditFilter, FlagChange, FlagFilter, FlagSort, Store};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use test_support::{TestDb, boolean_flag, input, with_flag_set};

fn at(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339).unwrap()
}

/// Times one whole second and sub-seconds of different widths apart, in
/// their order in time; as text: "00.25Z" < "00.501Z" < "00.5Z" < "00Z" <
/// "01Z".
const TIMES: [(&str, &str); 5] = [
    ("whole", "2026-01-01T10:00:00Z"),
    ("quarter", "2026-01-01T10:00:00.25Z"),
    ("half", "2026-01-01T10:00:00.5Z"),
    ("later", "2026-01-01T10:00:00.501Z"),
    ("next", "2026-01-01T10:00:01Z"),
];

/// Creates a flag per time of [`TIMES`], its row and its audit event set
/// to that time.
async fn flags_at_times(store: &Store) {
    let actor = with_flag_set(store).await;
    for (key, time) in TIMES {
        store
            .write_flag(
                &actor,
                "production",
                key,
                FlagChange::Create(input(boolean_flag("off"))),
            )
            .await
            .unwrap();
        flag::Entity::update_many()
            .col_expr(flag::Column::UpdatedAt, Expr::value(at(time)))
            .filter(flag::Column::Key.eq(key))
            .exec(store.connection())
            .await
            .unwrap();
        audit_event::Entity::update_many()
            .col_expr(audit_event::Column::CreatedAt, Expr::value(at(time)))
            .filter(audit_event::Column::SubjectKind.eq("flag"))
            .filter(audit_event::Column::SubjectKey.eq(key))
            // Not the event PostgreSQL's trigger adds for the edit above.
            .filter(audit_event::Column::Action.eq("create"))
            .exec(store.connection())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_flag_list_orders_times_as_times() {
    for db in TestDb::both("the_flag_list_orders_times_as_times").await {
        let store = &db.store;
        flags_at_times(store).await;
        let in_time: Vec<&str> = TIMES.iter().map(|(key, _)| *key).collect();
        for sort in [FlagSort::UpdatedAsc, FlagSort::UpdatedDesc] {
            // One flag a page, so that each page starts from a cursor.
            let mut keys = Vec::new();
            let mut after = None;
            loop {
                let filter = FlagFilter {
                    sort,
                    limit: 1,
                    after,
                    ..FlagFilter::default()
                };
                let page = store.flags("production", &filter).await.unwrap();
                keys.extend(page.items.into_iter().map(|f| f.key));
                match page.next {
                    Some(next) if keys.len() <= TIMES.len() => after = Some(next),
                    _ => break,
                }
            }
            let mut expected = in_time.clone();
            if sort == FlagSort::UpdatedDesc {
                expected.reverse();
            }
            assert_eq!(keys, expected, "{} {sort:?}", db.backend);
        }
        db.drop_all().await;
    }
}

#[tokio::test]
async fn the_audit_log_filters_times_as_times() {
    for db in TestDb::both("the_audit_log_filters_times_as_times").await {
        let store = &db.store;
        flags_at_times(store).await;
        let between = |since: &str, until: &str| {
            let filter = AuditFilter {
                since: Some(at(since)),
                until: Some(at(until)),
                ..AuditFilter::default()
            };
            async move {
                let mut keys: Vec<String> = store
                    .audit(&filter)
                    .await
                    .unwrap()
                    .items
                    .into_iter()
                    .map(|e| e.subject_key)
                    .collect();
                keys.reverse();
                keys
            }
        };
        let cases = [
            (
                "2026-01-01T10:00:00Z",
                "2026-01-01T10:00:01Z",
                vec!["whole", "quarter", "half", "later"],
            ),
            (
                "2026-01-01T10:00:00.3Z",
                "2026-01-01T10:00:01Z",
                vec!["half", "later"],
            ),
            (
                "2026-01-01T10:00:00.5Z",
                "2026-01-01T10:00:00.501Z",
                vec!["half"],
            ),
            (
                "2026-01-01T10:00:00.001Z",
                "2026-01-01T10:00:00.5Z",
                vec!["quarter"],
            ),
            ("2026-01-01T10:00:01Z", "2026-01-01T11:00:00Z", vec!["next"]),
        ];
        for (since, until, expected) in cases {
            assert_eq!(
                between(since, until).await,
                expected,
                "{} {since} .. {until}",
                db.backend
            );
        }
        db.drop_all().await;
    }
}
