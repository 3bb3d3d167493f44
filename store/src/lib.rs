//! The store: flag sets, flags, segments, tokens, rollouts and the audit
//! trail in PostgreSQL or SQLite, through SeaORM.
//!
//! Every write is one transaction that validates with the engine's compiler,
//! writes the row, appends the audit event and bumps the flag set's version,
//! so nothing invalid or half-written is ever stored. Writes name the version
//! they change (optimistic concurrency).
//!
//! What evaluation nodes report (exposures, tracking events, evaluation
//! counts) is written in batches instead, each in one transaction with its
//! batch id, so that a batch delivered twice is written once.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod audit;
mod batches;
mod commit;
mod committed;
mod copy;
mod cursors;
mod document;
pub mod entity;
mod error;
mod events;
mod experiments;
mod exposures;
mod flag_sets;
mod flags;
mod guards;
mod import;
mod keys;
mod leadership;
mod promotion;
mod publications;
mod queries;
mod results;
mod rollouts;
mod segments;
mod tags;
mod tokens;
mod usage;
mod weights;

use std::sync::Arc;
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
use serde_json::Value;
use time::OffsetDateTime;

pub use audit::{Action, Subject};
pub use batches::{BatchWrite, MAX_FIELD_BYTES};
pub use commit::Commit;
pub use committed::Document;
pub use copy::{CopyError, TABLES, TableCopy};
pub use cursors::DeliveryState;
pub use document::{Finding, publication_errors, validate_definition};
pub use error::StoreError;
pub use events::{EventFilter, EventRow, MAX_EVENT_ATTRIBUTES_BYTES};
pub use experiments::{
    DEFAULT_ALPHA, DEFAULT_SEQUENTIAL_TUNING, DEFAULT_WINDOW_SECONDS, ExperimentInput,
    ExperimentRecord, ExperimentStatus, MAX_METRICS, MAX_WINDOW_SECONDS, Metric, MetricKind,
};
pub use exposures::{ExposureBatch, ExposureRow, ExposureScope, MAX_EXPOSURE_FIELD_BYTES};
pub use flag_sets::NewFlagSet;
pub use flags::{FlagChange, FlagInput};
pub use guards::{
    GuardAction, GuardCheck, GuardDirection, GuardMetric, GuardVerdict, MAX_GUARD_MIN_USERS,
    RolloutGuard, ramped_variant,
};
pub use import::ImportSummary;
pub use keys::{ExperimentKey, FlagKey, FlagSetKey, KeyError, MAX_FLAG_SET_KEY_BYTES, SegmentKey};
pub use leadership::{Leadership, LeadershipError};
pub use promotion::{ComparedFlag, PromotedFrom};
pub use queries::{AuditFilter, FlagCursor, FlagFilter, FlagSort, FlagState, Page};
pub use results::{ANALYSIS_ACTOR, MAX_RESULTS, NewResult, ResultRecord};
pub use rollouts::{
    GuardStop, MAX_ROLLOUT_STEPS, NewRollout, RolloutRecord, RolloutStatus, RolloutStep,
    RolloutWeight, StepOutcome, StepRun,
};
pub use segments::SegmentRecord;
pub use tokens::{NewToken, TokenRecord, TokenRole};
pub use usage::{
    CountRow, FlagUsage, HOURLY_RETENTION, MINUTE_RETENTION, StaleFlag, Staleness, VariantUsage,
};
pub use weights::{fractional_weights, set_weights};

/// A connection pool to the store's database.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// The latest document each flag set committed through this store.
    committed: Arc<committed::Committed>,
}

/// Who makes a change, as recorded in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The name of the admin token (or the command) that made the change.
    pub name: String,
    /// The request that carried it, when there was one.
    pub request_id: Option<String>,
}

impl Actor {
    /// An actor without a request id.
    pub fn named(name: impl Into<String>) -> Actor {
        Actor {
            name: name.into(),
            request_id: None,
        }
    }
}

/// A flag set as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagSetRecord {
    /// The flag set's key, which is also its `flagSetId`.
    pub key: String,
    /// A human name.
    pub name: String,
    /// Flag-set metadata, merged under each flag's.
    pub metadata: serde_json::Map<String, Value>,
    /// The `fractional` scheme override ("v1", "v2", "v3"), if any.
    pub fractional: Option<String>,
    /// Increases by one per committed change; orders publication.
    pub version: i64,
    /// The last version published to the cache.
    pub published_version: i64,
    /// Archived flag sets are not published.
    pub archived: bool,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

/// A flag as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagRecord {
    /// The key of the flag set it belongs to.
    pub flag_set: String,
    /// The flag key.
    pub key: String,
    /// The flagd definition (`state`, `variants`, `defaultVariant`,
    /// `targeting`, `metadata`).
    pub definition: Value,
    /// Increases by one per change of this flag; writes name it.
    pub version: i64,
    /// Whether client SDK keys (browsers, apps) may evaluate it.
    pub client_visible: bool,
    /// Changes to a locked flag raise an alert.
    pub locked: bool,
    /// Archived flags are kept for history but not published.
    pub archived: bool,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

impl FlagRecord {
    /// The flag's tags, read from its definition's `metadata.tags`, a
    /// string of comma-separated tags (`"checkout, payments"`): each piece
    /// trimmed of white space (Unicode's `White_Space`), empty pieces
    /// dropped, a repeated tag kept where it first appears. A `tags` that is
    /// not a string (a number, a boolean, an array) gives none. The flag
    /// list's tag filter and [`Store::flag_tags`] read them the same way.
    pub fn tags(&self) -> Vec<String> {
        tags::of(&self.definition)
    }
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Increasing id, usable as a pagination cursor.
    pub id: i64,
    /// The flag set concerned, if any.
    pub flag_set: Option<String>,
    /// What kind of thing changed.
    pub subject: Subject,
    /// Its key.
    pub subject_key: String,
    /// What was done (for out-of-band edits: insert, update or delete).
    pub action: Action,
    /// The token name, or the database user for out-of-band edits.
    pub actor: String,
    /// The request that made the change, when known.
    pub request_id: Option<String>,
    /// The subject's version after the change.
    pub version: Option<i64>,
    /// The definition before the change.
    pub before: Option<Value>,
    /// The definition after the change.
    pub after: Option<Value>,
    /// A JSON Patch (RFC 6902) from `before` to `after`.
    pub diff: Option<Value>,
    /// Whether the change was made outside Ensign (by hand in SQL).
    pub out_of_band: bool,
    /// When it was recorded.
    pub created_at: OffsetDateTime,
}

impl Store {
    /// Connects to `url`: `postgres://…`, or `sqlite:PATH` (the file is
    /// created when missing) or `sqlite::memory:`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_in(url, None).await
    }

    /// Connects to `url` and, on PostgreSQL, works in `schema` (which must
    /// exist) instead of the search path's default.
    pub async fn connect_in(url: &str, schema: Option<&str>) -> Result<Store, StoreError> {
        Store::open(url, schema, false).await
    }

    /// Connects to `url` for a server that keeps the store open. On
    /// PostgreSQL all the pool's connections (10) are opened now and kept
    /// open (one closed for its age or idleness is replaced in the
    /// background), so that no request waits while a connection is set up:
    /// a new backend process and, by default, a TLS handshake, which take
    /// tens of milliseconds. A connection is checked with a round trip
    /// before it is handed out only when it has been idle for a second or
    /// more, rather than before every statement.
    pub async fn connect_warm(url: &str) -> Result<Store, StoreError> {
        Store::open(url, None, true).await
    }

    async fn open(url: &str, schema: Option<&str>, warm: bool) -> Result<Store, StoreError> {
        let mut options = ConnectOptions::new(sqlite_create_mode(url));
        if let Some(schema) = schema {
            options.set_schema_search_path(schema);
        }
        options
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(5))
            .sqlx_logging(false);
        if url.starts_with("sqlite:") {
            // SQLite has one writer; a single connection keeps transactions
            // from failing with SQLITE_BUSY when two of them upgrade to a
            // write at once, and lets `sqlite::memory:` be one database.
            options.max_connections(1).min_connections(1);
        } else if warm {
            options
                .max_connections(WARM_CONNECTIONS)
                .min_connections(WARM_CONNECTIONS)
                .test_before_acquire_if_idle_for(PING_AFTER_IDLE);
        }
        let db = Database::connect(options)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact::url(url),
                source,
            })?;
        if db.get_database_backend() == DbBackend::Sqlite {
            db.execute_unprepared("PRAGMA foreign_keys = ON")
                .await
                .map_err(StoreError::Database)?;
        }
        Ok(Store {
            db,
            committed: Arc::default(),
        })
    }

    /// The underlying connection.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// This store, calling `callback` after each SQL statement it runs
    /// (with the statement and its duration), for metrics and for counting
    /// the statements an operation costs. Clones made afterwards share the
    /// callback; the store it was made from does not get it.
    pub fn with_metric_callback(
        mut self,
        callback: impl Fn(&sea_orm::metric::Info<'_>) + Send + Sync + 'static,
    ) -> Store {
        self.db.set_metric_callback(callback);
        self
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None)
            .await
            .map_err(StoreError::Migrate)
    }

    /// The names of the migrations not applied yet.
    pub async fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        let pending = Migrator::get_pending_migrations(&self.db)
            .await
            .map_err(StoreError::Migrate)?;
        Ok(pending.iter().map(|m| m.name().to_owned()).collect())
    }

    /// Which database this is.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }
}

/// The size of a server's PostgreSQL pool ([`Store::connect_warm`]): the
/// pool's default, opened up front. A pool that grows on demand makes each
/// commit that finds no idle connection (the request, the publisher and the
/// embedded feed each take one at once) wait for a new one.
const WARM_CONNECTIONS: u32 = 10;

/// How long a server's PostgreSQL connection may sit idle and still be
/// handed out without a check. A connection that died sooner fails its
/// statement, which is reported as the store being unavailable, as when
/// it dies during one.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// `sqlite:PATH` opens read-write and creates the file when missing.
fn sqlite_create_mode(url: &str) -> String {
    if url.starts_with("sqlite:") && !url.contains("mode=") && !url.contains(":memory:") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}mode=rwc")
    } else {
        url.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_files_are_created() {
        assert_eq!(sqlite_create_mode("sqlite:e.db"), "sqlite:e.db?mode=rwc");
        assert_eq!(
            sqlite_create_mode("sqlite:e.db?x=1"),
            "sqlite:e.db?x=1&mode=rwc"
        );
        assert_eq!(
            sqlite_create_mode("sqlite:e.db?mode=ro"),
            "sqlite:e.db?mode=ro"
        );
        assert_eq!(sqlite_create_mode("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(sqlite_create_mode("postgres://h/d"), "postgres://h/d");
    }
}
