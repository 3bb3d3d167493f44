//! SeaORM entities: one module per table of the `migrations` crate's schema.
//!
//! These are the store's rows, not its API: [`super`] converts them to the
//! record types it returns.

/// A flag set: an environment, the unit that is compiled, versioned and
/// published as one engine flag set.
pub mod flag_set {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "flag_sets")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub key: String,
        pub name: String,
        #[sea_orm(column_type = "JsonBinary")]
        pub metadata: Json,
        pub fractional: Option<String>,
        pub version: i64,
        pub published_version: i64,
        pub archived: bool,
        /// `{flagKey: experimentKey}` for the set's running experiments.
        #[sea_orm(column_type = "JsonBinary")]
        pub tracked: Json,
        pub created_at: TimeDateTimeWithTimeZone,
        pub updated_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A flag: its flagd definition and its own version.
pub mod flag {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "flags")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub flag_set_id: i64,
        pub key: String,
        #[sea_orm(column_type = "JsonBinary")]
        pub definition: Json,
        pub version: i64,
        pub client_visible: bool,
        pub locked: bool,
        pub archived: bool,
        pub created_at: TimeDateTimeWithTimeZone,
        pub updated_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A segment: a shared rule, published as one of the flag set's
/// `$evaluators`.
pub mod segment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "segments")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub flag_set_id: i64,
        pub key: String,
        #[sea_orm(column_type = "JsonBinary")]
        pub definition: Json,
        pub version: i64,
        pub created_at: TimeDateTimeWithTimeZone,
        pub updated_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One entry of the audit trail.
pub mod audit_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub flag_set_id: Option<i64>,
        pub subject_kind: String,
        pub subject_key: String,
        pub action: String,
        pub actor: String,
        pub request_id: Option<String>,
        pub version: Option<i64>,
        #[sea_orm(column_type = "JsonBinary", nullable)]
        pub before: Option<Json>,
        #[sea_orm(column_type = "JsonBinary", nullable)]
        pub after: Option<Json>,
        #[sea_orm(column_type = "JsonBinary", nullable)]
        pub diff: Option<Json>,
        pub out_of_band: bool,
        pub created_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// An API token: an admin token or an SDK key, stored as a hash.
pub mod api_token {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub kind: String,
        pub role: String,
        pub flag_set_id: Option<i64>,
        #[sea_orm(unique)]
        pub token_hash: String,
        pub prefix: String,
        pub created_at: TimeDateTimeWithTimeZone,
        pub revoked_at: Option<TimeDateTimeWithTimeZone>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `rollouts` table (migrations `m20261125_000002_rollouts` and
/// `m20261209_000001_rollout_guards`).
pub mod rollout {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "rollouts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub flag_set_id: i64,
        pub flag_key: String,
        #[sea_orm(column_type = "JsonBinary")]
        pub steps: Json,
        pub next_step: i32,
        pub status: String,
        #[sea_orm(column_type = "Text", nullable)]
        pub last_error: Option<String>,
        pub created_by: String,
        pub created_at: TimeDateTimeWithTimeZone,
        pub updated_at: TimeDateTimeWithTimeZone,
        #[sea_orm(column_type = "JsonBinary", nullable)]
        pub guard: Option<Json>,
        #[sea_orm(column_type = "JsonBinary", nullable)]
        pub initial_weights: Option<Json>,
        pub step_started_at: Option<TimeDateTimeWithTimeZone>,
        #[sea_orm(column_type = "JsonBinary", nullable)]
        pub guard_check: Option<Json>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `alert_cursors` table (migrations `m20261125_000003_alerts` and
/// `m20261210_000001_webhook_delivery`).
pub mod alert_cursor {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "alert_cursors")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub consumer: String,
        pub last_event_id: i64,
        pub updated_at: TimeDateTimeWithTimeZone,
        pub target: Option<String>,
        pub delivered_at: Option<TimeDateTimeWithTimeZone>,
        pub attempted_at: Option<TimeDateTimeWithTimeZone>,
        pub failing_since: Option<TimeDateTimeWithTimeZone>,
        pub failed_attempts: i32,
        #[sea_orm(column_type = "Text", nullable)]
        pub last_error: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `experiments` table (migration `m20261206_000002_experiments`).
pub mod experiment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "experiments")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub flag_set_id: i64,
        pub key: String,
        pub flag_key: String,
        pub control: String,
        #[sea_orm(column_type = "JsonBinary", nullable)]
        pub weights: Option<Json>,
        #[sea_orm(column_type = "JsonBinary")]
        pub metrics: Json,
        pub window_seconds: i64,
        pub status: String,
        pub started_at: Option<TimeDateTimeWithTimeZone>,
        pub stopped_at: Option<TimeDateTimeWithTimeZone>,
        pub version: i64,
        pub created_by: String,
        pub created_at: TimeDateTimeWithTimeZone,
        pub updated_at: TimeDateTimeWithTimeZone,
        /// Added by `m20261208_000001_experiment_results`.
        pub alpha: f64,
        pub sequential_tuning: f64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `experiment_results` table (migration
/// `m20261208_000001_experiment_results`).
pub mod experiment_result {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "experiment_results")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub experiment_id: i64,
        pub computed_at: TimeDateTimeWithTimeZone,
        pub users: i64,
        pub srm_mismatch: bool,
        #[sea_orm(column_type = "JsonBinary")]
        pub report: Json,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `exposures` table (migration `m20261206_000003_exposures`).
pub mod exposure {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "exposures")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub flag_set: String,
        pub experiment: String,
        pub flag_key: String,
        pub variant: String,
        pub targeting_key: String,
        pub flag_set_version: String,
        pub surface: String,
        /// Microseconds since the Unix epoch.
        pub exposed_at_us: i64,
        pub batch_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `exposure_batches` table (migration `m20261206_000003_exposures`).
pub mod exposure_batch {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "exposure_batches")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub batch_id: String,
        pub rows: i32,
        pub written_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `events` table (migration `m20261207_000001_events_and_counts`):
/// tracking events, every one kept.
pub mod event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub flag_set: String,
        pub name: String,
        pub targeting_key: String,
        pub value: Option<f64>,
        /// The text of a JSON object, or empty.
        #[sea_orm(column_type = "Text")]
        pub attributes: String,
        /// Microseconds since the Unix epoch.
        pub occurred_at_us: i64,
        /// Microseconds since the Unix epoch.
        pub received_at_us: i64,
        pub batch_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `event_batches` table (migration
/// `m20261207_000001_events_and_counts`).
pub mod event_batch {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "event_batches")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub batch_id: String,
        pub rows: i32,
        pub written_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `evaluation_counts` table (migration
/// `m20261207_000001_events_and_counts`): evaluations per flag, outcome
/// and minute.
pub mod evaluation_count {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "evaluation_counts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub flag_set: String,
        pub flag_key: String,
        /// Empty when no variant was served.
        pub variant: String,
        pub reason: String,
        /// The Unix seconds of the minute's start.
        pub minute: i64,
        pub count: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `evaluation_counts_hourly` table (migration
/// `m20261207_000001_events_and_counts`): evaluations per flag, outcome
/// and hour.
pub mod evaluation_count_hourly {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "evaluation_counts_hourly")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub flag_set: String,
        pub flag_key: String,
        /// Empty when no variant was served.
        pub variant: String,
        pub reason: String,
        /// The Unix seconds of the hour's start.
        pub hour: i64,
        pub count: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `flag_usage` table (migration `m20261207_000001_events_and_counts`):
/// the first and latest minute each flag served each variant in.
pub mod flag_usage {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "flag_usage")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub flag_set: String,
        pub flag_key: String,
        /// Empty when no variant was served.
        pub variant: String,
        /// The Unix seconds of the first minute counted.
        pub first_minute: i64,
        /// The Unix seconds of the latest minute counted.
        pub last_minute: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `count_batches` table (migration
/// `m20261207_000001_events_and_counts`).
pub mod count_batch {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "count_batches")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub batch_id: String,
        pub rows: i32,
        pub written_at: TimeDateTimeWithTimeZone,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
