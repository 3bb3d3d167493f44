//! Ensign's targeting engine: flagd-compatible flag definitions, JSONLogic
//! compiled once and evaluated many times, flagd's custom operators,
//! immutable snapshots and the change events between them.
//!
//! The engine does no I/O. A typical use:
//!
//! ```
//! use engine::{CompileOptions, Format, Selector, Snapshot};
//!
//! let text = r#"{"flags": {"banner": {
//!     "state": "ENABLED",
//!     "variants": {"on": true, "off": false},
//!     "defaultVariant": "off",
//!     "targeting": {"if": [{"ends_with": [{"var": "email"}, "@example.com"]}, "on"]}
//! }}}"#;
//! let (snapshot, diagnostics) =
//!     Snapshot::from_text("example", text, Format::Json, &CompileOptions::default()).unwrap();
//! assert!(diagnostics.is_empty());
//! let context = serde_json::json!({"email": "ada@example.com"});
//! let resolution = snapshot.evaluate("banner", &Selector::All, &context);
//! assert_eq!(resolution.value, Some(&serde_json::json!(true)));
//! assert_eq!(resolution.reason.as_str(), "TARGETING_MATCH");
//! ```

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod context;
pub mod diagnostic;
pub mod evaluators;
pub mod extract;
pub mod flag_key;
pub mod flagset;
pub mod hash;
pub mod logic;
pub mod model;
pub mod ops;
pub mod pointer;
pub mod publication;
pub mod resolution;
pub mod snapshot;
pub mod streams;

/// The deepest nesting of arrays and objects accepted in any data Ensign
/// reads: request contexts (OFREP, gRPC), GraphQL literals and variables,
/// WebSocket messages and flag documents. serde_json refuses the 128th
/// level, so 127 levels are accepted, as there. Rules have their own,
/// smaller bound ([`CompileLimits`]).
pub const MAX_DATA_DEPTH: usize = 127;

pub use context::{PathTable, Prepared};
pub use diagnostic::{Diagnostic, Severity};
pub use evaluators::Evaluators;
pub use extract::{ContextError, PathTrie};
pub use flagset::{
    CompileOptions, EXPERIMENT_KEY, FLAG_SET_ID_KEY, FRACTIONAL_VERSION_KEY, Flag, FlagEntry,
    FlagSet, FlagState,
};
pub use logic::{CompileLimits, Trace};
pub use model::{FlagFile, Format, ParseError, Schema};
pub use ops::fractional::FractionalVersion;
pub use resolution::{ErrorCode, EvalError, FlagType, Reason, Resolution};
pub use snapshot::{Changes, Selector, Snapshot, SnapshotCell, SourceState};
