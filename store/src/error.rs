//! The store's errors, each with a stable code for the API edge.

use engine::Diagnostic;
use sea_orm::DbErr;

use crate::keys::KeyError;

/// Why a store operation failed. Nothing is written when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached.
    #[error("cannot connect to {url}")]
    Connect {
        /// The URL, without its password.
        url: String,
        /// The driver's error.
        #[source]
        source: DbErr,
    },
    /// Applying migrations failed.
    #[error("migrating the store failed")]
    Migrate(#[source] DbErr),
    /// A query failed (connection lost, constraint, ...).
    #[error("store query failed")]
    Database(#[source] DbErr),
    /// No flag set with this key.
    #[error("flag set {key:?} not found")]
    FlagSetNotFound {
        /// The key asked for.
        key: String,
    },
    /// No flag with this key in the flag set.
    #[error("flag {key:?} not found in flag set {flag_set:?}")]
    FlagNotFound {
        /// The flag set.
        flag_set: String,
        /// The flag key asked for.
        key: String,
    },
    /// No segment with this key in the flag set.
    #[error("segment {key:?} not found in flag set {flag_set:?}")]
    SegmentNotFound {
        /// The flag set.
        flag_set: String,
        /// The segment key asked for.
        key: String,
    },
    /// No experiment with this key in the flag set.
    #[error("experiment {key:?} not found in flag set {flag_set:?}")]
    ExperimentNotFound {
        /// The flag set.
        flag_set: String,
        /// The experiment key asked for.
        key: String,
    },
    /// No version of the flag with this number.
    #[error("flag {key:?} has no version {version}")]
    VersionNotFound {
        /// The flag key.
        key: String,
        /// The version asked for.
        version: i64,
    },
    /// No rollout with this id.
    #[error("rollout {id} not found")]
    RolloutNotFound {
        /// The id asked for.
        id: i64,
    },
    /// Creating something whose key is taken.
    #[error("{kind} {key:?} already exists")]
    AlreadyExists {
        /// "flag set", "flag", ...
        kind: &'static str,
        /// The key.
        key: String,
    },
    /// Restoring a flag that is not archived.
    #[error(
        "flag {key:?} in flag set {flag_set:?} is not archived: only an archived flag can be restored"
    )]
    NotArchived {
        /// The flag set.
        flag_set: String,
        /// The flag key.
        key: String,
    },
    /// The write named a version that is no longer current.
    #[error("{kind} {key:?} is at version {actual}, not {expected}: reload it and retry")]
    Conflict {
        /// "flag", "segment", "flag set" or "experiment".
        kind: &'static str,
        /// Its key.
        key: String,
        /// The version the write named.
        expected: i64,
        /// The current version.
        actual: i64,
    },
    /// The definition does not compile, or violates flagd's schema.
    #[error("invalid definition of {key:?}: {}", first_message(.diagnostics))]
    Invalid {
        /// The flag (or segment, or flag set) key.
        key: String,
        /// What the engine's compiler found.
        diagnostics: Vec<Diagnostic>,
    },
    /// A flag, segment or flag set key that its rule refuses (see
    /// [`crate::FlagKey`], [`crate::SegmentKey`], [`crate::FlagSetKey`]).
    #[error("invalid {what} {key:?}: it {source}")]
    InvalidKey {
        /// "flag key", "segment key" or "flag set key".
        what: &'static str,
        /// The key.
        key: String,
        /// What is wrong with it.
        #[source]
        source: KeyError,
    },
    /// A segment that refers to a segment (`$ref`): segments are plain
    /// rules, so that they can never form a cycle.
    #[error("segment {key:?} may not refer to another segment: {}", first_message(.diagnostics))]
    SegmentRef {
        /// The segment key.
        key: String,
        /// Where each `$ref` is.
        diagnostics: Vec<Diagnostic>,
    },
    /// A `fractional` weight, or the sum of one rule's weights, above what
    /// the evaluator accepts ([`engine::ops::fractional::MAX_WEIGHT`]).
    #[error("{}{} is above {max}, the largest weight the evaluator accepts", step_label(*.step), weight_label(.variant.as_deref(), *.weight))]
    WeightTooLarge {
        /// The rollout step (from 1), when scheduling a rollout.
        step: Option<usize>,
        /// The variant whose weight is too large; `None` for the sum.
        variant: Option<String>,
        /// The weight, or the sum.
        weight: u64,
        /// The cap.
        max: u64,
    },
    /// A key or name that cannot be used.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// What was wrong ("flag key", "flag set key", ...).
        what: &'static str,
        /// Why.
        reason: String,
    },
}

impl StoreError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Connect { .. } | StoreError::Database(_) => "STORE_UNAVAILABLE",
            StoreError::Migrate(_) => "MIGRATION_FAILED",
            StoreError::FlagSetNotFound { .. } => "FLAG_SET_NOT_FOUND",
            StoreError::FlagNotFound { .. } => "FLAG_NOT_FOUND",
            StoreError::SegmentNotFound { .. } => "SEGMENT_NOT_FOUND",
            StoreError::ExperimentNotFound { .. } => "EXPERIMENT_NOT_FOUND",
            StoreError::VersionNotFound { .. } => "VERSION_NOT_FOUND",
            StoreError::RolloutNotFound { .. } => "ROLLOUT_NOT_FOUND",
            StoreError::AlreadyExists { .. } => "ALREADY_EXISTS",
            StoreError::NotArchived { .. } => "NOT_ARCHIVED",
            StoreError::Conflict { .. } => "VERSION_CONFLICT",
            StoreError::Invalid { .. } => "INVALID_DEFINITION",
            StoreError::InvalidInput { .. } => "INVALID_INPUT",
            StoreError::InvalidKey { .. } => "INVALID_KEY",
            StoreError::SegmentRef { .. } => "SEGMENT_REF",
            StoreError::WeightTooLarge { .. } => "WEIGHT_TOO_LARGE",
        }
    }
}

impl From<DbErr> for StoreError {
    fn from(error: DbErr) -> Self {
        StoreError::Database(error)
    }
}

fn first_message(diagnostics: &[Diagnostic]) -> String {
    match diagnostics {
        [] => "no diagnostics".into(),
        [one] => one.to_string(),
        [first, rest @ ..] => format!("{first} (and {} more)", rest.len()),
    }
}

fn step_label(step: Option<usize>) -> String {
    step.map(|n| format!("step {n}: ")).unwrap_or_default()
}

fn weight_label(variant: Option<&str>, weight: u64) -> String {
    match variant {
        Some(variant) => format!("the weight {weight} of variant {variant:?}"),
        None => format!("the sum of the weights, {weight},"),
    }
}
