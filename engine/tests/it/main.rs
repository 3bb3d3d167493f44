//! Integration tests of the engine, one binary for the crate.

/// Which evaluations a flag's `fractional` split decides (exposures).
mod attribution;
/// The evaluation budget: failing evaluations, exact limits, refused constants.
mod budget;
/// Differential tests: the engine against jsonlogic-rs on generated rules.
mod differential;
/// `fractional` with constant buckets against the general path, on
/// generated rules and contexts.
mod fractional;
/// Flag documents' nesting limit, in JSON and YAML.
mod nesting;
/// Operator semantics, one data-driven case per line.
mod operators;
/// The rules of COMPATIBILITY.md, one check per rule, named after it.
mod parity;
/// Shared evaluators: one-pass `$ref` substitution in declaration order.
mod refs;
/// Flag files, resolution semantics, reloads, snapshots and diffs.
mod resolution;
