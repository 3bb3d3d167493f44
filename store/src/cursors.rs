//! Persisted cursors over the audit trail: the id of the last audit event
//! each consumer (an alert target) has handled, and the events after it,
//! oldest first.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use time::OffsetDateTime;

use crate::entity::{alert_cursor, audit_event, flag_set};
use crate::{AuditRecord, Store, StoreError};

impl Store {
    /// The consumer's cursor, created at the newest audit event when it has
    /// none (a new target hears about changes from now on, not the history).
    pub async fn register_cursor(&self, consumer: &str) -> Result<i64, StoreError> {
        let db = self.connection();
        if let Some(found) = find(db, consumer).await? {
            return Ok(found.last_event_id);
        }
        let newest = audit_event::Entity::find()
            .select_only()
            .column_as(audit_event::Column::Id.max(), "id")
            .into_tuple::<Option<i64>>()
            .one(db)
            .await?
            .flatten()
            .unwrap_or(0);
        // Two nodes may register the same consumer at once: the first insert
        // wins and both read its row.
        alert_cursor::Entity::insert(alert_cursor::ActiveModel {
            consumer: Set(consumer.to_owned()),
            last_event_id: Set(newest),
            updated_at: Set(OffsetDateTime::now_utc()),
            ..Default::default()
        })
        .on_conflict_do_nothing_on([alert_cursor::Column::Consumer])
        .exec(db)
        .await?;
        let row = find(db, consumer).await?;
        Ok(row.map_or(newest, |r| r.last_event_id))
    }

    /// Moves the consumer's cursor from `from` to `to`, unless another node
    /// moved it first; returns where the cursor now is.
    pub async fn advance_cursor(
        &self,
        consumer: &str,
        from: i64,
        to: i64,
    ) -> Result<i64, StoreError> {
        let db = self.connection();
        let moved = alert_cursor::Entity::update_many()
            .col_expr(alert_cursor::Column::LastEventId, Expr::value(to))
            .col_expr(
                alert_cursor::Column::UpdatedAt,
                Expr::value(OffsetDateTime::now_utc()),
            )
            .filter(alert_cursor::Column::Consumer.eq(consumer))
            .filter(alert_cursor::Column::LastEventId.eq(from))
            .exec(db)
            .await?;
        if moved.rows_affected == 1 {
            return Ok(to);
        }
        let row = find(db, consumer).await?;
        Ok(row.map_or(to, |r| r.last_event_id.max(to)))
    }

    /// At most `limit` audit events with an id above `after`, oldest first.
    pub async fn audit_after(
        &self,
        after: i64,
        limit: u64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let txn = self.connection().begin().await?;
        let events = audit_event::Entity::find()
            .filter(audit_event::Column::Id.gt(after))
            .order_by_asc(audit_event::Column::Id)
            .limit(limit)
            .all(&txn)
            .await?;
        let mut set_ids: Vec<i64> = events.iter().filter_map(|e| e.flag_set_id).collect();
        set_ids.sort_unstable();
        set_ids.dedup();
        let sets = if set_ids.is_empty() {
            Vec::new()
        } else {
            flag_set::Entity::find()
                .filter(flag_set::Column::Id.is_in(set_ids))
                .all(&txn)
                .await?
        };
        txn.commit().await?;
        let key_of = |id: Option<i64>| {
            id.and_then(|id| sets.iter().find(|s| s.id == id))
                .map(|s| s.key.clone())
        };
        events
            .into_iter()
            .map(|e| AuditRecord::from_model(key_of(e.flag_set_id), e))
            .collect()
    }
}

async fn find(
    db: &impl ConnectionTrait,
    consumer: &str,
) -> Result<Option<alert_cursor::Model>, StoreError> {
    Ok(alert_cursor::Entity::find()
        .filter(alert_cursor::Column::Consumer.eq(consumer))
        .one(db)
        .await?)
}
