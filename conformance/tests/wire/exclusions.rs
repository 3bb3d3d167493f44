//! What each client mode does not run (with the reason), and the examples
//! that fail because of a known or suspected server bug. An exclusion names
//! a client's limitation; a server bug is listed only until it is fixed, and
//! a listed example that passes fails the run so that the list stays true.

use crate::modes::{ANY, Exclusion};

/// open-feature 0.3's context holds a nested value as an opaque
/// `Arc<dyn Any>`, which open-feature-flagd 0.3's RPC resolver sends as its
/// `Debug` text (`convert_context`), so no nested context reaches flagd.
const RPC_NESTED: &str = "open-feature-flagd 0.3 (RPC) sends a nested context value as the Debug text of an opaque struct";

/// flagd answers a DISABLED flag with an empty variant and the proto3 zero
/// value; its providers substitute the caller's default
/// (js-sdk-contrib#1558, flagd ADR disabled-flag-evaluation).
const RPC_DISABLED: &str = "open-feature-flagd 0.3 (RPC) returns the proto3 zero value of a DISABLED answer instead of the caller's default";

/// flagd's gRPC statuses (`errFormat`): INVALID_ARGUMENT for TYPE_MISMATCH,
/// DATA_LOSS for PARSE_ERROR; open-feature-flagd 0.3 reads INVALID_ARGUMENT
/// as INVALID_CONTEXT and DATA_LOSS as GENERAL (`map_grpc_status_to_error_code`).
const RPC_STATUS_MAP: &str = "open-feature-flagd 0.3 (RPC) maps flagd's INVALID_ARGUMENT to INVALID_CONTEXT and DATA_LOSS to GENERAL";

/// flagd answers a flag without a default variant on evaluation v1 with
/// NOT_FOUND; only v2 can say "reason DEFAULT, use the code default"
/// (flagd#1862 added v2 for it; `flag_evaluator_types.go`). Ensign answers
/// both versions as flagd does, and open-feature-flagd 0.3 speaks v1 only.
const RPC_V1_NO_DEFAULT: &str = "open-feature-flagd 0.3 (RPC) speaks evaluation v1, on which flagd answers a flag without a default variant with NOT_FOUND; only v2 carries reason DEFAULT";

/// Evaluation v1 cannot say "reason DEFAULT, use the code default": flagd
/// answers a flag without a default variant with NOT_FOUND there
/// (`core/pkg/evaluator/json.go`, "old proto version behavior", which
/// `flag_evaluator_v1.go` selects), and so does Ensign. Those examples belong to evaluation v2, which the `grpc-v2` mode
/// runs.
const V1_NO_DEFAULT: &str = "evaluation v1 answers a flag without a default variant with NOT_FOUND, as flagd does; only v2 carries reason DEFAULT with the caller's default";

/// Raw evaluation v1 calls.
pub const GRPC_V1: &[Exclusion] = &[Exclusion {
    feature: "no-default-variant.feature",
    cells: &["DEFAULT"],
    reason: V1_NO_DEFAULT,
    ..ANY
}];

/// `open-feature-flagd` in RPC mode.
pub const FLAGD_RPC: &[Exclusion] = &[
    Exclusion {
        feature: "no-default-variant.feature",
        cells: &["DEFAULT"],
        reason: RPC_V1_NO_DEFAULT,
        ..ANY
    },
    Exclusion {
        step: Some("a nested property"),
        reason: RPC_NESTED,
        ..ANY
    },
    Exclusion {
        step: Some(r#"with type "Object""#),
        reason: RPC_NESTED,
        ..ANY
    },
    Exclusion {
        feature: "disabled.feature",
        cells: &["String"],
        reason: RPC_DISABLED,
        ..ANY
    },
    Exclusion {
        feature: "disabled.feature",
        cells: &["Integer"],
        reason: RPC_DISABLED,
        ..ANY
    },
    Exclusion {
        feature: "disabled.feature",
        cells: &["Float"],
        reason: RPC_DISABLED,
        ..ANY
    },
    Exclusion {
        feature: "errors.feature",
        scenario: Some("Type mismatch"),
        reason: RPC_STATUS_MAP,
        ..ANY
    },
    Exclusion {
        scenario: Some("Ref to nonexistent evaluator yields parse error"),
        reason: RPC_STATUS_MAP,
        ..ANY
    },
    Exclusion {
        scenario: Some("Errors and edge cases"),
        cells: &["PARSE_ERROR"],
        reason: RPC_STATUS_MAP,
        ..ANY
    },
];

/// Flags left out of the in-process mode's flag documents: the
/// flagd-evaluation-engine 0.1 parser rejects a whole flag set when one flag
/// `$ref`s an evaluator it does not define or has no `defaultVariant` string,
/// so the provider would load none.
pub const FLAGD_IN_PROCESS_OMITTED: &[&str] = &[
    "ref-to-nonexistent-evaluator-flag",
    "null-default-flag",
    "undefined-default-flag",
    "no-default-flag-null-targeting-variant",
    "no-default-flag-undefined-targeting-variant",
];

/// `open-feature-flagd` in in-process mode: its own evaluator decides.
pub const FLAGD_IN_PROCESS: &[Exclusion] = &[
    Exclusion {
        scenario: Some("Ref to nonexistent evaluator yields parse error"),
        reason: "flagd-evaluation-engine 0.1 rejects a whole flag set over one dangling $ref, so this flag is left out of the mode's flags",
        ..ANY
    },
    Exclusion {
        feature: "no-default-variant.feature",
        reason: "flagd-evaluation-engine 0.1 rejects a whole flag set over a flag without a defaultVariant string, so these flags are left out of the mode's flags",
        ..ANY
    },
    Exclusion {
        feature: "disabled.feature",
        reason: IN_PROCESS_DISABLED,
        ..ANY
    },
    Exclusion {
        tag: Some("fractional-v1"),
        reason: IN_PROCESS_BUCKETING,
        ..ANY
    },
    Exclusion {
        tag: Some("fractional-v2"),
        reason: IN_PROCESS_BUCKETING,
        ..ANY
    },
    Exclusion {
        step: Some(r#"with type "Object""#),
        reason: IN_PROCESS_NESTED,
        ..ANY
    },
    Exclusion {
        step: Some("a nested property"),
        reason: IN_PROCESS_NESTED,
        ..ANY
    },
    Exclusion {
        scenario: Some("v-prefix handling"),
        reason: IN_PROCESS_SEMVER,
        ..ANY
    },
    Exclusion {
        scenario: Some("sem_ver v-prefix handling"),
        reason: IN_PROCESS_SEMVER,
        ..ANY
    },
    Exclusion {
        scenario: Some("partial version string handling"),
        reason: IN_PROCESS_SEMVER,
        ..ANY
    },
    Exclusion {
        scenario: Some("sem_ver partial version string handling"),
        reason: IN_PROCESS_SEMVER,
        ..ANY
    },
    Exclusion {
        scenario: Some("build metadata ignored in comparison"),
        reason: IN_PROCESS_SEMVER,
        ..ANY
    },
    Exclusion {
        scenario: Some("sem_ver build metadata ignored"),
        reason: IN_PROCESS_SEMVER,
        ..ANY
    },
    Exclusion {
        scenario: Some("numeric context value coercion"),
        reason: IN_PROCESS_SEMVER,
        ..ANY
    },
    Exclusion {
        scenario: Some("sem_ver numeric context value coercion"),
        reason: IN_PROCESS_SEMVER,
        ..ANY
    },
    Exclusion {
        scenario: Some("starts_with and ends_with return null for non-string input"),
        reason: IN_PROCESS_STRING_OPS,
        ..ANY
    },
    Exclusion {
        scenario: Some("starts_with and ends_with return null for wrong argument count"),
        reason: IN_PROCESS_STRING_OPS,
        ..ANY
    },
];

/// The in-process resolver of open-feature-flagd 0.3 still treats a
/// disabled flag as an error (flagd before #1965).
const IN_PROCESS_DISABLED: &str = "open-feature-flagd 0.3 (in-process) reports a DISABLED flag as FLAG_NOT_FOUND, flagd's behaviour before #1965";

/// flagd-evaluation-engine 0.1 buckets with one scheme only.
const IN_PROCESS_BUCKETING: &str =
    "flagd-evaluation-engine 0.1 buckets fractional rules with flagd's v3 scheme only";

/// Context conversion of open-feature 0.3 / open-feature-flagd 0.3.
const IN_PROCESS_NESTED: &str = "open-feature 0.3 holds a nested context value as an opaque Arc<dyn Any> that open-feature-flagd 0.3 (in-process) cannot read";

/// flagd-evaluation-engine 0.1's sem_ver parses strictly.
const IN_PROCESS_SEMVER: &str = "flagd-evaluation-engine 0.1's sem_ver parses strictly (no v prefix, partial versions, numbers; build metadata compared)";

/// flagd-evaluation-engine 0.1's starts_with / ends_with edge cases.
const IN_PROCESS_STRING_OPS: &str = "flagd-evaluation-engine 0.1's starts_with/ends_with answer false, not null, for a non-string or a wrong argument count";

/// `open-feature-ofrep`: values only.
pub const OFREP_PROVIDER: &[Exclusion] = &[
    Exclusion {
        step: Some("a nested property"),
        reason: OFREP_NESTED,
        ..ANY
    },
    Exclusion {
        step: Some(r#"with type "Object""#),
        reason: OFREP_NESTED,
        ..ANY
    },
];

/// open-feature-ofrep 0.1.2 `context_to_json`.
const OFREP_NESTED: &str =
    "open-feature-ofrep 0.1.2 sends a nested context value as the Debug text of an opaque struct";

/// Ensign's own provider, both modes.
pub const ENSIGN_PROVIDER: &[Exclusion] = &[];

/// Known server bugs seen through raw OFREP.
pub const SERVER_BUGS_OFREP: &[Exclusion] = &[];

/// Known server bugs seen through flagd's evaluation gRPC.
pub const SERVER_BUGS_GRPC: &[Exclusion] = &[];

/// Known server bugs seen through flagd's sync gRPC.
pub const SERVER_BUGS_SYNC: &[Exclusion] = &[];
