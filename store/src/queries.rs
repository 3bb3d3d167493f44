//! Reads: flags with filters and pagination, a flag's history, the audit
//! log, and a flag set's publishable document.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use serde_json::Value;
use time::OffsetDateTime;

use super::document::document;
use super::entity::{audit_event, flag, flag_set, segment};
use super::{Action, AuditRecord, FlagRecord, Store, StoreError, Subject};

/// The most items one page holds.
pub const MAX_PAGE: u64 = 500;

/// Which flags to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagFilter {
    /// Only flags whose key contains this text (case-insensitive).
    pub search: Option<String>,
    /// Include archived flags.
    pub include_archived: bool,
    /// Start after this key (the previous page's `next`).
    pub after: Option<String>,
    /// At most this many (capped at [`MAX_PAGE`]; 50 when 0).
    pub limit: u64,
}

/// Which audit events to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this flag set's events.
    pub flag_set: Option<String>,
    /// Only events about this flag.
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

    /// A page of a flag set's flags, ordered by key.
    pub async fn flags(
        &self,
        flag_set: &str,
        filter: &FlagFilter,
    ) -> Result<Page<FlagRecord, String>, StoreError> {
        let set = self.find_set(flag_set).await?;
        let limit = page_size(filter.limit);
        let mut query = flag::Entity::find().filter(flag::Column::FlagSetId.eq(set.id));
        if !filter.include_archived {
            query = query.filter(flag::Column::Archived.eq(false));
        }
        if let Some(search) = filter.search.as_deref().filter(|s| !s.is_empty()) {
            query = query.filter(Expr::expr(Func::lower(Expr::col(flag::Column::Key))).like(
                LikeExpr::new(format!("%{}%", escape_like(&search.to_lowercase()))).escape('\\'),
            ));
        }
        if let Some(after) = &filter.after {
            query = query.filter(flag::Column::Key.gt(after.as_str()));
        }
        let mut models = query
            .order_by_asc(flag::Column::Key)
            .limit(limit + 1)
            .all(&self.db)
            .await?;
        let next = if models.len() as u64 > limit {
            models.truncate(limit as usize);
            models.last().map(|m| m.key.clone())
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
                .add(audit_event::Column::SubjectKind.eq(Subject::Flag.as_str()))
                .add(audit_event::Column::SubjectKey.eq(flag.as_str()));
        }
        if let Some(actor) = &filter.actor {
            condition = condition.add(audit_event::Column::Actor.eq(actor.as_str()));
        }
        if let Some(since) = filter.since {
            condition = condition.add(audit_event::Column::CreatedAt.gte(since));
        }
        if let Some(until) = filter.until {
            condition = condition.add(audit_event::Column::CreatedAt.lt(until));
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
        // One snapshot for the version and the rows, so that the document is
        // exactly the content of that version even while others commit.
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
        Ok((set.version, document(&set, &flags, &segments)))
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
