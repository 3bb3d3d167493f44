//! Tracking events (a purchase, a sign-up) sent by applications through
//! the evaluation nodes, written in batches, each batch in one transaction
//! with its id, so that a batch delivered twice is written once.
//!
//! Every event is kept: a purchase made twice is two events, so rows are
//! never merged, and only the batch id keeps an event from being stored
//! twice.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    Set, TransactionTrait, sqlx,
};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::batches::{
    BatchWrite, check_batch_id, check_field, from_micros, micros, row_count, sqlx_error,
};
use super::entity::{event, event_batch};
use super::{Store, StoreError};

/// The longest attributes an event may carry (the text of their JSON
/// object), in bytes: the bound the events endpoint holds them to.
pub const MAX_EVENT_ATTRIBUTES_BYTES: usize = engine::streams::events::MAX_ATTRIBUTES_BYTES;

/// One tracking event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// The flag set's key.
    pub flag_set: String,
    /// What happened (`purchase`).
    pub name: String,
    /// The user's targeting key.
    pub targeting_key: String,
    /// Its value (the purchase's amount), finite, when it has one.
    pub value: Option<f64>,
    /// The text of a JSON object with the event's other details; empty
    /// when it has none.
    pub attributes: String,
    /// When it happened, as the application says.
    pub occurred_at: OffsetDateTime,
    /// When a node received it.
    pub received_at: OffsetDateTime,
}

/// Which events [`Store::events`] lists; the default lists them all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events with this name.
    pub name: Option<String>,
    /// Only events that occurred at or after this time.
    pub from: Option<OffsetDateTime>,
    /// Only events that occurred before this time.
    pub until: Option<OffsetDateTime>,
}

impl Store {
    /// Writes batch `batch_id` of events in one transaction with its id:
    /// all of it, or nothing. A batch id written before writes nothing
    /// ([`BatchWrite::AlreadyWritten`]). An event with an empty or
    /// oversized field, a value that is not finite, or attributes that are
    /// not the text of a JSON object refuses the batch (`INVALID_INPUT`,
    /// naming the event by its index).
    pub async fn write_events(
        &self,
        batch_id: &str,
        rows: &[EventRow],
    ) -> Result<BatchWrite, StoreError> {
        check_batch(batch_id, rows)?;
        if self.db.get_database_backend() == DbBackend::Postgres {
            write_postgres(self.db.get_postgres_connection_pool(), batch_id, rows)
                .await
                .map_err(sqlx_error)
        } else {
            write_chunked(&self.db, batch_id, rows).await
        }
    }

    /// The events of flag set `flag_set` that `filter` selects, by the time
    /// they occurred, then targeting key, then name, then the order they
    /// were written in.
    pub async fn events(
        &self,
        flag_set: &str,
        filter: &EventFilter,
    ) -> Result<Vec<EventRow>, StoreError> {
        let mut condition = Condition::all().add(event::Column::FlagSet.eq(flag_set));
        if let Some(name) = &filter.name {
            condition = condition.add(event::Column::Name.eq(name.as_str()));
        }
        if let Some(from) = filter.from {
            condition = condition.add(event::Column::OccurredAtUs.gte(micros(from)));
        }
        if let Some(until) = filter.until {
            condition = condition.add(event::Column::OccurredAtUs.lt(micros(until)));
        }
        let models = event::Entity::find()
            .filter(condition)
            .order_by_asc(event::Column::OccurredAtUs)
            .order_by_asc(event::Column::TargetingKey)
            .order_by_asc(event::Column::Name)
            .order_by_asc(event::Column::Id)
            .all(&self.db)
            .await?;
        Ok(models
            .into_iter()
            .map(|m| EventRow {
                flag_set: m.flag_set,
                name: m.name,
                targeting_key: m.targeting_key,
                value: m.value,
                attributes: m.attributes,
                occurred_at: from_micros(m.occurred_at_us),
                received_at: from_micros(m.received_at_us),
            })
            .collect())
    }
}

/// Rows per `INSERT` on SQLite.
const ROWS_PER_STATEMENT: usize = 1_000;

const CLAIM_BATCH: &str = "INSERT INTO event_batches (batch_id, rows, written_at) \
     VALUES ($1, $2, $3) ON CONFLICT (batch_id) DO NOTHING";

/// Each column as an array: the whole batch in one statement.
const INSERT_UNNESTED: &str = "INSERT INTO events (flag_set, name, targeting_key, value, \
     attributes, occurred_at_us, received_at_us, batch_id) \
     SELECT e.flag_set, e.name, e.targeting_key, e.value, e.attributes, e.occurred_at_us, \
     e.received_at_us, $8 \
     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::float8[], $5::text[], $6::int8[], \
     $7::int8[]) AS e(flag_set, name, targeting_key, value, attributes, occurred_at_us, \
     received_at_us)";

/// PostgreSQL: the batch's id claimed and its rows written in one
/// transaction, through the driver itself and in one statement, each field
/// copied once, into the statement (as exposures are written, and for the
/// same reason).
async fn write_postgres(
    pool: &sqlx::PgPool,
    batch_id: &str,
    rows: &[EventRow],
) -> Result<BatchWrite, sqlx::Error> {
    let mut txn = pool.begin().await?;
    let claimed = sqlx::query(CLAIM_BATCH)
        .bind(batch_id)
        .bind(row_count(rows.len()))
        .bind(OffsetDateTime::now_utc())
        .execute(&mut *txn)
        .await?
        .rows_affected();
    if claimed == 0 {
        return Ok(BatchWrite::AlreadyWritten);
    }
    let text = |field: fn(&EventRow) -> &str| -> Vec<&str> { rows.iter().map(field).collect() };
    let written = sqlx::query(INSERT_UNNESTED)
        .bind(text(|e| &e.flag_set))
        .bind(text(|e| &e.name))
        .bind(text(|e| &e.targeting_key))
        .bind(rows.iter().map(|e| e.value).collect::<Vec<_>>())
        .bind(text(|e| &e.attributes))
        .bind(
            rows.iter()
                .map(|e| micros(e.occurred_at))
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|e| micros(e.received_at))
                .collect::<Vec<_>>(),
        )
        .bind(batch_id)
        .execute(&mut *txn)
        .await?
        .rows_affected();
    txn.commit().await?;
    Ok(BatchWrite::Written { rows: written })
}

/// SQLite: multi-row `INSERT`s of [`ROWS_PER_STATEMENT`] rows through
/// SeaORM, in one transaction with the batch's id.
async fn write_chunked(
    db: &DatabaseConnection,
    batch_id: &str,
    rows: &[EventRow],
) -> Result<BatchWrite, StoreError> {
    let txn = db.begin().await?;
    let claimed = event_batch::Entity::insert(event_batch::ActiveModel {
        batch_id: Set(batch_id.to_owned()),
        rows: Set(row_count(rows.len())),
        written_at: Set(OffsetDateTime::now_utc()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(event_batch::Column::BatchId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if claimed == 0 {
        return Ok(BatchWrite::AlreadyWritten);
    }
    let mut written = 0;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let models = chunk.iter().map(|e| event::ActiveModel {
            flag_set: Set(e.flag_set.clone()),
            name: Set(e.name.clone()),
            targeting_key: Set(e.targeting_key.clone()),
            value: Set(e.value),
            attributes: Set(e.attributes.clone()),
            occurred_at_us: Set(micros(e.occurred_at)),
            received_at_us: Set(micros(e.received_at)),
            batch_id: Set(batch_id.to_owned()),
            ..Default::default()
        });
        written += event::Entity::insert_many(models)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(BatchWrite::Written { rows: written })
}

/// Refuses a batch with an empty or oversized field, a value that is not
/// finite, or attributes that are not a JSON object, naming the event.
fn check_batch(batch_id: &str, rows: &[EventRow]) -> Result<(), StoreError> {
    let invalid = |reason: String| StoreError::InvalidInput {
        what: "events",
        reason,
    };
    check_batch_id("events", batch_id)?;
    for (i, row) in rows.iter().enumerate() {
        for (field, value) in [
            ("flag set", &row.flag_set),
            ("name", &row.name),
            ("targeting key", &row.targeting_key),
        ] {
            check_field("events", "event", i, field, value, false)?;
        }
        if let Some(value) = row.value
            && !value.is_finite()
        {
            return Err(invalid(format!(
                "event {i}: its value {value} is not a finite number"
            )));
        }
        if row.attributes.len() > MAX_EVENT_ATTRIBUTES_BYTES {
            return Err(invalid(format!(
                "event {i}: its attributes have {} bytes; they take at most \
                 {MAX_EVENT_ATTRIBUTES_BYTES}",
                row.attributes.len()
            )));
        }
        if !row.attributes.is_empty()
            && let Err(error) = serde_json::from_str::<Map<String, Value>>(&row.attributes)
        {
            return Err(invalid(format!(
                "event {i}: its attributes are not the text of a JSON object ({error})"
            )));
        }
    }
    Ok(())
}
