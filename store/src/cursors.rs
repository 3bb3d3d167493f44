//! Persisted cursors over the audit trail: the id of the last audit event
//! each consumer (an alert target) has handled, and the events after it,
//! oldest first; and each target's delivery state beside its cursor.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use time::OffsetDateTime;

use crate::entity::{alert_cursor, audit_event, flag_set};
use crate::{AuditRecord, Store, StoreError};

/// How delivery to one webhook target stands, as its cursor keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryState {
    /// The target's origin (scheme, host and port); `None` for a cursor
    /// registered before origins were kept, until its target registers
    /// again.
    pub target: Option<String>,
    /// The id of the last audit event the target has handled.
    pub last_event_id: i64,
    /// How many audit events come after it: not handled yet.
    pub pending: u64,
    /// When the cursor last moved (or was registered).
    pub updated_at: OffsetDateTime,
    /// When a delivery to it last succeeded.
    pub delivered_at: Option<OffsetDateTime>,
    /// When the last attempt, good or bad, ended.
    pub attempted_at: Option<OffsetDateTime>,
    /// While the current delivery fails: since its first failed attempt.
    pub failing_since: Option<OffsetDateTime>,
    /// While the current delivery fails: how many attempts failed.
    pub failed_attempts: u32,
    /// While the current delivery fails: the last attempt's error.
    pub last_error: Option<String>,
}

impl Store {
    /// The consumer's cursor, created at the newest audit event when it has
    /// none (a new target hears about changes from now on, not the history).
    /// `target` is the target's origin, kept for display.
    pub async fn register_cursor(&self, consumer: &str, target: &str) -> Result<i64, StoreError> {
        let db = self.connection();
        if let Some(found) = find(db, consumer).await? {
            if found.target.as_deref() != Some(target) {
                alert_cursor::Entity::update_many()
                    .col_expr(alert_cursor::Column::Target, Expr::value(target))
                    .filter(alert_cursor::Column::Consumer.eq(consumer))
                    .exec(db)
                    .await?;
            }
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
            target: Set(Some(target.to_owned())),
            failed_attempts: Set(0),
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
        Ok(row.map_or(to, |r| Ord::max(r.last_event_id, to)))
    }

    /// Records a delivery to the consumer's target that succeeded at `at`:
    /// it is no longer failing.
    pub async fn record_delivery(
        &self,
        consumer: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        alert_cursor::Entity::update_many()
            .col_expr(alert_cursor::Column::DeliveredAt, Expr::value(at))
            .col_expr(alert_cursor::Column::AttemptedAt, Expr::value(at))
            .col_expr(
                alert_cursor::Column::FailingSince,
                Expr::value(Option::<OffsetDateTime>::None),
            )
            .col_expr(alert_cursor::Column::FailedAttempts, Expr::value(0))
            .col_expr(
                alert_cursor::Column::LastError,
                Expr::value(Option::<String>::None),
            )
            .filter(alert_cursor::Column::Consumer.eq(consumer))
            .exec(self.connection())
            .await?;
        Ok(())
    }

    /// Records an attempt to deliver to the consumer's target that failed
    /// at `at` with `error` (which must name no secret): one more failed
    /// attempt, failing since the first.
    pub async fn record_delivery_failure(
        &self,
        consumer: &str,
        error: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        alert_cursor::Entity::update_many()
            .col_expr(alert_cursor::Column::AttemptedAt, Expr::value(at))
            .col_expr(
                alert_cursor::Column::FailingSince,
                Expr::col(alert_cursor::Column::FailingSince).if_null(at),
            )
            .col_expr(
                alert_cursor::Column::FailedAttempts,
                Expr::col(alert_cursor::Column::FailedAttempts).add(1),
            )
            .col_expr(alert_cursor::Column::LastError, Expr::value(error))
            .filter(alert_cursor::Column::Consumer.eq(consumer))
            .exec(self.connection())
            .await?;
        Ok(())
    }

    /// Every webhook target's delivery state, by origin.
    pub async fn delivery_states(&self) -> Result<Vec<DeliveryState>, StoreError> {
        let txn = self.read_snapshot().await?;
        let cursors = alert_cursor::Entity::find()
            .order_by_asc(alert_cursor::Column::Target)
            .order_by_asc(alert_cursor::Column::Id)
            .all(&txn)
            .await?;
        let mut states = Vec::with_capacity(cursors.len());
        for cursor in cursors {
            let pending = audit_event::Entity::find()
                .filter(audit_event::Column::Id.gt(cursor.last_event_id))
                .count(&txn)
                .await?;
            states.push(DeliveryState {
                target: cursor.target,
                last_event_id: cursor.last_event_id,
                pending,
                updated_at: cursor.updated_at,
                delivered_at: cursor.delivered_at,
                attempted_at: cursor.attempted_at,
                failing_since: cursor.failing_since,
                failed_attempts: u32::try_from(cursor.failed_attempts).unwrap_or(0),
                last_error: cursor.last_error,
            });
        }
        txn.commit().await?;
        Ok(states)
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
