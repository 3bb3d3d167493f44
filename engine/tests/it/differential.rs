//! Differential tests against jsonlogic-rs (being written).
