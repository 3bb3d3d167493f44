//! Reads: flags with filters, orders and pagination, and their tags; a
//! flag's history, the audit log, and a flag set's publishable document.

use std::collections::{BTreeSet, HashMap};

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, DbBackend, EntityTrait, FromQueryResult, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde_json::Value;
use time::OffsetDateTime;

use super::document::document;
use super::entity::{audit_event, flag, flag_set, segment};
use super::tags;
use super::{Action, AuditRecord, FlagRecord, Store, StoreError, Subject};

/// The most items one page holds.
pub const MAX_PAGE: u64 = 500;

/// Which flags to list, in which order, from where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagFilter {
    /// Only flags whose key contains this text (case-insensitive).
    pub search: Option<String>,
    /// Include archived flags.
    pub include_archived: bool,
    /// Only flags whose definition's `state` is this one.
    pub state: Option<FlagState>,
    /// Only flags that have this tag (see [`FlagRecord::tags`]): one of
    /// the comma-separated tags of their `metadata.tags` string, compared
    /// exactly. A tag no flag can have (empty, holding a comma, or starting
    /// or ending with white space) matches none.
    pub tag: Option<String>,
    /// The order of the list.
    pub sort: FlagSort,
    /// Start after this flag (the previous page's `next`), which must have
    /// been made under the same `sort`.
    pub after: Option<FlagCursor>,
    /// At most this many (capped at [`MAX_PAGE`]; 50 when 0).
    pub limit: u64,
}

/// A flag's `state`, as its flagd definition spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlagState {
    /// `"ENABLED"`: the flag is evaluated.
    Enabled,
    /// `"DISABLED"`: the flag resolves to `DISABLED` (the kill switch).
    Disabled,
}

impl FlagState {
    /// The spelling in a flagd definition.
    pub fn as_str(self) -> &'static str {
        match self {
            FlagState::Enabled => "ENABLED",
            FlagState::Disabled => "DISABLED",
        }
    }
}

/// The order of a list of flags. Flags that tie on the time are ordered by
/// key, so every order is total and pages never overlap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum FlagSort {
    /// By key, `a` to `z`.
    #[default]
    KeyAsc,
    /// By key, `z` to `a`.
    KeyDesc,
    /// Last changed first. SQLite compares times to the millisecond
    /// (its date functions' precision), PostgreSQL to the microsecond.
    UpdatedDesc,
    /// Last changed last (to the same precision).
    UpdatedAsc,
}

/// Where a page of flags ends: the last flag's key and time of change,
/// which is what every [`FlagSort`] orders by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagCursor {
    /// The flag's key.
    pub key: String,
    /// When the flag last changed, as stored.
    pub updated_at: OffsetDateTime,
}

/// Which audit events to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this flag set's events.
    pub flag_set: Option<String>,
    /// Only events about this flag: its changes, and its rollouts'
    /// scheduling, cancellation and guard stops.
    pub flag: Option<String>,
    /// Only this actor's events.
    pub actor: Option<String>,
    /// Only events at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only events before this time.
    pub until: Option<OffsetDateTime>,
    /// Only events older than this id (the previous page's `next`).
    pub before_id: Option<i64>,
    /// At most this many (capped at [`MAX_PAGE`]; 50 when 0).
    pub limit: u64,
}

/// One page of results and the cursor of the next, if there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, C> {
    /// The items.
    pub items: Vec<T>,
    /// Pass this as the next request's cursor; `None` on the last page.
    pub next: Option<C>,
}

impl Store {
    /// One flag (archived ones included).
    pub async fn flag(&self, flag_set: &str, key: &str) -> Result<FlagRecord, StoreError> {
        let set = self.find_set(flag_set).await?;
        flag::Entity::find()
            .filter(flag::Column::FlagSetId.eq(set.id))
            .filter(flag::Column::Key.eq(key))
            .one(&self.db)
            .await?
            .map(|model| FlagRecord::from_model(&set.key, model))
            .ok_or_else(|| StoreError::FlagNotFound {
                flag_set: flag_set.to_owned(),
                key: key.to_owned(),
            })
    }

    /// A page of a flag set's flags that match `filter`, in its order.
    /// Filtering, ordering and paging all happen in the database.
    pub async fn flags(
        &self,
        flag_set: &str,
        filter: &FlagFilter,
    ) -> Result<Page<FlagRecord, FlagCursor>, StoreError> {
        let set = self.find_set(flag_set).await?;
        let limit = page_size(filter.limit);
        let backend = self.db.get_database_backend();
        let mut query = flag::Entity::find().filter(matching(set.id, filter, backend));
        if let Some(after) = &filter.after {
            query = query.filter(after_cursor(filter.sort, after, backend));
        }
        query = match filter.sort {
            FlagSort::KeyAsc => query.order_by_asc(flag::Column::Key),
            FlagSort::KeyDesc => query.order_by_desc(flag::Column::Key),
            FlagSort::UpdatedDesc => query
                .order_by(updated_at(backend), Order::Desc)
                .order_by_asc(flag::Column::Key),
            FlagSort::UpdatedAsc => query
                .order_by(updated_at(backend), Order::Asc)
                .order_by_asc(flag::Column::Key),
        };
        let mut models = query.limit(limit + 1).all(&self.db).await?;
        let next = if models.len() as u64 > limit {
            models.truncate(limit as usize);
            models.last().map(|m| FlagCursor {
                key: m.key.clone(),
                updated_at: m.updated_at,
            })
        } else {
            None
        };
        Ok(Page {
            items: models
                .into_iter()
                .map(|m| FlagRecord::from_model(&set.key, m))
                .collect(),
            next,
        })
    }

    /// How many flags of a flag set match `filter`, on every page (its
    /// `sort`, `after` and `limit` do not count).
    pub async fn count_flags(
        &self,
        flag_set: &str,
        filter: &FlagFilter,
    ) -> Result<u64, StoreError> {
        let set = self.find_set(flag_set).await?;
        let backend = self.db.get_database_backend();
        Ok(flag::Entity::find()
            .filter(matching(set.id, filter, backend))
            .count(&self.db)
            .await?)
    }

    /// The distinct tags of a flag set's flags (see [`FlagRecord::tags`]),
    /// sorted, for a tag filter's options; archived flags' tags only when
    /// `include_archived`.
    pub async fn flag_tags(
        &self,
        flag_set: &str,
        include_archived: bool,
    ) -> Result<Vec<String>, StoreError> {
        let set = self.find_set(flag_set).await?;
        let backend = self.db.get_database_backend();
        // The database picks the `tags` strings; Rust splits them, by the
        // rule `FlagRecord::tags` reads.
        let (sql, archived) = match backend {
            DbBackend::Postgres => (
                "SELECT DISTINCT flags.definition -> 'metadata' ->> 'tags' AS tags FROM flags \
                 WHERE flags.flag_set_id = $1 \
                 AND jsonb_typeof(flags.definition -> 'metadata' -> 'tags') = 'string'",
                " AND flags.archived = $2",
            ),
            _ => (
                "SELECT DISTINCT json_extract(flags.definition, '$.metadata.tags') AS tags \
                 FROM flags WHERE flags.flag_set_id = ? \
                 AND json_type(flags.definition, '$.metadata.tags') = 'text'",
                " AND flags.archived = ?",
            ),
        };
        let mut values: Vec<sea_orm::Value> = vec![set.id.into()];
        let mut sql = sql.to_owned();
        if !include_archived {
            sql.push_str(archived);
            values.push(false.into());
        }
        let strings =
            TagString::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
                .all(&self.db)
                .await?;
        // A `BTreeSet`, so the order does not depend on the database's
        // collation.
        let tags: BTreeSet<String> = strings
            .iter()
            .flat_map(|row| tags::split(&row.tags))
            .collect();
        Ok(tags.into_iter().collect())
    }

    /// Every audit event of one flag, oldest first.
    pub async fn history(&self, flag_set: &str, key: &str) -> Result<Vec<AuditRecord>, StoreError> {
        let set = self.find_set(flag_set).await?;
        let events = audit_event::Entity::find()
            .filter(audit_event::Column::FlagSetId.eq(set.id))
            .filter(audit_event::Column::SubjectKind.eq(Subject::Flag.as_str()))
            .filter(audit_event::Column::SubjectKey.eq(key))
            .order_by_asc(audit_event::Column::Id)
            .all(&self.db)
            .await?;
        events
            .into_iter()
            .map(|e| AuditRecord::from_model(Some(set.key.clone()), e))
            .collect()
    }

    /// A page of the history of each flag in `keys` (flags of
    /// `flag_set`), newest first: at most `limit` events per flag (capped
    /// at [`MAX_PAGE`]; 50 when 0), older than `before_id` when given. One
    /// query answers every flag, so a page of flags with their histories
    /// costs the same number of statements whatever its size. Flags without
    /// events get an empty page.
    pub async fn histories(
        &self,
        flag_set: &str,
        keys: &[String],
        limit: u64,
        before_id: Option<i64>,
    ) -> Result<HashMap<String, Page<AuditRecord, i64>>, StoreError> {
        let set = self.find_set(flag_set).await?;
        let mut pages: HashMap<String, Page<AuditRecord, i64>> = keys
            .iter()
            .map(|key| {
                let empty = Page {
                    items: Vec::new(),
                    next: None,
                };
                (key.clone(), empty)
            })
            .collect();
        if keys.is_empty() {
            return Ok(pages);
        }
        let limit = page_size(limit);
        let backend = self.db.get_database_backend();
        let mut values: Vec<sea_orm::Value> = Vec::new();
        let mut bind = |value: sea_orm::Value| {
            values.push(value);
            match backend {
                DbBackend::Postgres => format!("${}", values.len()),
                _ => "?".to_owned(),
            }
        };
        // The newest `limit + 1` events of each flag (one more than a page,
        // to know whether another page follows), ranked per flag by a
        // window function, which PostgreSQL and SQLite (3.25+) both have.
        let set_id = bind(set.id.into());
        let kind = bind(Subject::Flag.as_str().into());
        let key_list: Vec<String> = keys.iter().map(|k| bind(k.clone().into())).collect();
        let before = before_id
            .map(|id| format!(" AND e.id < {}", bind(id.into())))
            .unwrap_or_default();
        let per_flag = bind(i64::try_from(limit + 1).unwrap_or(i64::MAX).into());
        let sql = format!(
            "SELECT * FROM (SELECT e.*, ROW_NUMBER() OVER \
             (PARTITION BY e.subject_key ORDER BY e.id DESC) AS page_rank \
             FROM audit_events e WHERE e.flag_set_id = {set_id} AND e.subject_kind = {kind} \
             AND e.subject_key IN ({}){before}) ranked \
             WHERE ranked.page_rank <= {per_flag} ORDER BY ranked.id DESC",
            key_list.join(", ")
        );
        let events = audit_event::Model::find_by_statement(Statement::from_sql_and_values(
            backend, sql, values,
        ))
        .all(&self.db)
        .await?;
        for event in events {
            let Some(page) = pages.get_mut(&event.subject_key) else {
                continue;
            };
            if page.items.len() as u64 == limit {
                page.next = page.items.last().map(|e| e.id);
            } else {
                page.items
                    .push(AuditRecord::from_model(Some(set.key.clone()), event)?);
            }
        }
        Ok(pages)
    }

    /// A page of the audit log, newest first.
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Page<AuditRecord, i64>, StoreError> {
        let limit = page_size(filter.limit);
        let sets = flag_set::Entity::find().all(&self.db).await?;
        let mut condition = Condition::all();
        if let Some(key) = &filter.flag_set {
            let set = sets
                .iter()
                .find(|s| &s.key == key)
                .ok_or_else(|| StoreError::FlagSetNotFound { key: key.clone() })?;
            condition = condition.add(audit_event::Column::FlagSetId.eq(set.id));
        }
        if let Some(flag) = &filter.flag {
            condition = condition
                .add(
                    audit_event::Column::SubjectKind
                        .is_in([Subject::Flag.as_str(), Subject::Rollout.as_str()]),
                )
                .add(audit_event::Column::SubjectKey.eq(flag.as_str()));
        }
        if let Some(actor) = &filter.actor {
            condition = condition.add(audit_event::Column::Actor.eq(actor.as_str()));
        }
        let backend = self.db.get_database_backend();
        if let Some(since) = filter.since {
            condition = condition.add(created_at(backend).gte(time_value(since, backend)));
        }
        if let Some(until) = filter.until {
            condition = condition.add(created_at(backend).lt(time_value(until, backend)));
        }
        if let Some(before) = filter.before_id {
            condition = condition.add(audit_event::Column::Id.lt(before));
        }
        let mut events = audit_event::Entity::find()
            .filter(condition)
            .order_by_desc(audit_event::Column::Id)
            .limit(limit + 1)
            .all(&self.db)
            .await?;
        let next = if events.len() as u64 > limit {
            events.truncate(limit as usize);
            events.last().map(|e| e.id)
        } else {
            None
        };
        let key_of = |id: Option<i64>| {
            id.and_then(|id| sets.iter().find(|s| s.id == id))
                .map(|s| s.key.clone())
        };
        Ok(Page {
            items: events
                .into_iter()
                .map(|e| AuditRecord::from_model(key_of(e.flag_set_id), e))
                .collect::<Result<_, _>>()?,
            next,
        })
    }

    /// A flag set's version and its flagd document (live flags, segments as
    /// `$evaluators`, metadata), read in one consistent view.
    pub async fn document(&self, flag_set: &str) -> Result<(i64, Value), StoreError> {
        let (set, flags, segments) = self.snapshot(flag_set).await?;
        Ok((set.version, document(&set, &flags, &segments)))
    }

    /// A flag set's row with its flags and segments, read in one snapshot,
    /// so that they are exactly the content of one version even while
    /// others commit.
    pub(crate) async fn snapshot(
        &self,
        flag_set: &str,
    ) -> Result<(flag_set::Model, Vec<flag::Model>, Vec<segment::Model>), StoreError> {
        let isolation = match self.db.get_database_backend() {
            sea_orm::DbBackend::Postgres => Some(sea_orm::IsolationLevel::RepeatableRead),
            _ => None,
        };
        let txn = sea_orm::TransactionTrait::begin_with_config(&self.db, isolation, None).await?;
        let set = flag_set::Entity::find()
            .filter(flag_set::Column::Key.eq(flag_set))
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::FlagSetNotFound {
                key: flag_set.to_owned(),
            })?;
        let flags = flag::Entity::find()
            .filter(flag::Column::FlagSetId.eq(set.id))
            .all(&txn)
            .await?;
        let segments = segment::Entity::find()
            .filter(segment::Column::FlagSetId.eq(set.id))
            .all(&txn)
            .await?;
        txn.commit().await?;
        Ok((set, flags, segments))
    }

    async fn find_set(&self, key: &str) -> Result<flag_set::Model, StoreError> {
        flag_set::Entity::find()
            .filter(flag_set::Column::Key.eq(key))
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::FlagSetNotFound {
                key: key.to_owned(),
            })
    }
}

/// A row of [`Store::flag_tags`]: one flag's `metadata.tags` string.
#[derive(Debug, FromQueryResult)]
struct TagString {
    tags: String,
}

/// The condition of the flags of flag set `set_id` that `filter` lists.
fn matching(set_id: i64, filter: &FlagFilter, backend: DbBackend) -> Condition {
    let mut condition = Condition::all().add(flag::Column::FlagSetId.eq(set_id));
    if !filter.include_archived {
        condition = condition.add(flag::Column::Archived.eq(false));
    }
    if let Some(search) = filter.search.as_deref().filter(|s| !s.is_empty()) {
        condition = condition.add(Expr::expr(Func::lower(Expr::col(flag::Column::Key))).like(
            LikeExpr::new(format!("%{}%", escape_like(&search.to_lowercase()))).escape('\\'),
        ));
    }
    if let Some(state) = filter.state {
        let state_of = match backend {
            DbBackend::Postgres => Expr::cust(r#""flags"."definition" ->> 'state'"#),
            _ => Expr::cust(r#"json_extract("flags"."definition", '$.state')"#),
        };
        condition = condition.add(state_of.eq(state.as_str()));
    }
    if let Some(tag) = &filter.tag {
        condition = condition.add(has_tag(tag, backend));
    }
    condition
}

/// Whether a flag has the tag `tag`, in the database, meaning exactly
/// what [`FlagRecord::tags`] reads: `metadata.tags` is a string, and one of
/// its comma-separated pieces, trimmed of [`tags::WHITESPACE`] (bound as
/// the set of characters `btrim` and `trim` remove), equals `tag`. A tag
/// that no flag can have matches none, before the database is asked: an
/// empty `tag` would otherwise match an empty piece.
///
/// PostgreSQL splits the string with `string_to_array`. SQLite has no
/// split function: it quotes the string as JSON (`json_quote` escapes
/// only `"`, `\` and control characters, never a comma), turns each comma
/// into `","`, so that the quoted string becomes a JSON array of the
/// pieces, and reads them back with `json_each`. Either way the pieces are
/// compared with `=`, never with `LIKE`, so `%` and `_` are plain
/// characters.
fn has_tag(tag: &str, backend: DbBackend) -> Expr {
    if !tags::is_tag(tag) {
        return Expr::cust("1 = 0");
    }
    match backend {
        DbBackend::Postgres => Expr::cust_with_values(
            r#"(jsonb_typeof("flags"."definition" -> 'metadata' -> 'tags') = 'string' AND EXISTS (SELECT 1 FROM unnest(string_to_array("flags"."definition" -> 'metadata' ->> 'tags', ',')) AS "piece"("tag") WHERE btrim("piece"."tag", $2) = $1))"#,
            [tag, tags::WHITESPACE],
        ),
        _ => Expr::cust_with_values(
            r#"(json_type("flags"."definition", '$.metadata.tags') = 'text' AND EXISTS (SELECT 1 FROM json_each('[' || replace(json_quote(json_extract("flags"."definition", '$.metadata.tags')), ',', '","') || ']') AS "piece" WHERE trim("piece"."value", ?) = ?))"#,
            [tags::WHITESPACE, tag],
        ),
    }
}

/// A flag's time of change as the database orders it (see [`time_of`]).
fn updated_at(backend: DbBackend) -> Expr {
    time_of(
        Expr::col((flag::Entity, flag::Column::UpdatedAt)),
        r#"julianday("flags"."updated_at")"#,
        backend,
    )
}

/// An audit event's time as the database compares it (see [`time_of`]).
fn created_at(backend: DbBackend) -> Expr {
    time_of(
        Expr::col((audit_event::Entity, audit_event::Column::CreatedAt)),
        r#"julianday("audit_events"."created_at")"#,
        backend,
    )
}

/// A time column as the database orders and compares it: PostgreSQL's
/// `timestamptz` as it is; on SQLite, `julianday` of it (`on_sqlite`).
/// SQLite stores times as RFC 3339 text with as many digits of a second as
/// needed, which does not sort as the times do (`…00.501Z` comes before
/// `…00.5Z`, and a whole second `…00Z` after both), so it compares the
/// number `julianday` reads from the text, to the millisecond.
fn time_of(column: Expr, on_sqlite: &'static str, backend: DbBackend) -> Expr {
    match backend {
        DbBackend::Postgres => column,
        _ => Expr::cust(on_sqlite),
    }
}

/// A time to compare with [`time_of`] a column, read the same way.
fn time_value(time: OffsetDateTime, backend: DbBackend) -> Expr {
    match backend {
        DbBackend::Postgres => Expr::val(time),
        _ => Expr::cust_with_values("julianday(?)", [time]),
    }
}

/// The flags after `cursor` in `sort`'s order: a later key, or a later
/// time and, on the same time, a later key (ties go by key, ascending).
fn after_cursor(sort: FlagSort, cursor: &FlagCursor, backend: DbBackend) -> Condition {
    let key = cursor.key.as_str();
    let later_on_tie = |time: Expr| {
        Condition::any().add(time).add(
            Condition::all()
                .add(updated_at(backend).eq(time_value(cursor.updated_at, backend)))
                .add(flag::Column::Key.gt(key)),
        )
    };
    match sort {
        FlagSort::KeyAsc => Condition::all().add(flag::Column::Key.gt(key)),
        FlagSort::KeyDesc => Condition::all().add(flag::Column::Key.lt(key)),
        FlagSort::UpdatedDesc => {
            later_on_tie(updated_at(backend).lt(time_value(cursor.updated_at, backend)))
        }
        FlagSort::UpdatedAsc => {
            later_on_tie(updated_at(backend).gt(time_value(cursor.updated_at, backend)))
        }
    }
}

fn page_size(limit: u64) -> u64 {
    match limit {
        0 => 50,
        n => Ord::min(n, MAX_PAGE),
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

impl AuditRecord {
    /// The record of a stored row. Every row holds a subject and an action
    /// that [`Subject`] and [`Action`] name (Ensign's writer, the trigger
    /// and the migrations write no other); one that does not is reported,
    /// not guessed at.
    pub(crate) fn from_model(
        flag_set: Option<String>,
        model: audit_event::Model,
    ) -> Result<AuditRecord, StoreError> {
        let unknown = |column: &str, value: &str| {
            StoreError::Database(sea_orm::DbErr::Type(format!(
                "audit event {}: unknown {column} {value:?}",
                model.id
            )))
        };
        let subject = Subject::parse(&model.subject_kind)
            .ok_or_else(|| unknown("subject_kind", &model.subject_kind))?;
        let action =
            Action::parse(&model.action).ok_or_else(|| unknown("action", &model.action))?;
        Ok(AuditRecord {
            id: model.id,
            flag_set,
            subject,
            subject_key: model.subject_key,
            action,
            actor: model.actor,
            request_id: model.request_id,
            version: model.version,
            before: model.before,
            after: model.after,
            diff: model.diff,
            out_of_band: model.out_of_band,
            created_at: model.created_at,
        })
    }
}
