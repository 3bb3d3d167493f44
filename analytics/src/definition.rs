//! An experiment as the analysis reads it: its flag, control, variants
//! with their expected weights, metrics, attribution window, α and the
//! sequential test's tuning, from a JSON or YAML file or from the store.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::stats::sequential::DEFAULT_TUNING;

/// The attribution window when none is given: 7 days (as the store's).
pub const DEFAULT_WINDOW_SECONDS: i64 = 7 * 24 * 60 * 60;
/// The longest attribution window: 365 days (as the store's).
pub const MAX_WINDOW_SECONDS: i64 = 365 * 24 * 60 * 60;
/// α when none is given.
pub const DEFAULT_ALPHA: f64 = 0.05;

/// How a metric reads its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// 1 if the user has at least one attributed event, else 0.
    Conversion,
    /// The per-user sum of the attributed events' values (none counts 0).
    Sum,
}

/// One metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    /// Its name, unique within the experiment.
    pub name: String,
    /// The tracking event it reads.
    pub event: String,
    /// How it reads it.
    pub kind: MetricKind,
}

/// One variant and the share of users it is expected to get.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// The flag's variant.
    pub name: String,
    /// Its expected weight, relative to the others'.
    pub weight: f64,
}

/// An experiment's definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Its name, as reports show it.
    pub name: String,
    /// The flag whose exposures it reads.
    pub flag: String,
    /// The control variant.
    pub control: String,
    /// The variants compared, the control among them.
    pub variants: Vec<Variant>,
    /// Its metrics; the first decides the verdict.
    pub metrics: Vec<Metric>,
    /// The attribution window in seconds.
    #[serde(default = "default_window")]
    pub window_seconds: i64,
    /// The tests' α: intervals are at level 1 − α.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// The sequential test's tuning N*.
    #[serde(default = "default_tuning")]
    pub sequential_tuning: f64,
}

fn default_window() -> i64 {
    DEFAULT_WINDOW_SECONDS
}

fn default_alpha() -> f64 {
    DEFAULT_ALPHA
}

fn default_tuning() -> f64 {
    DEFAULT_TUNING
}

/// What is wrong with a definition.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DefinitionError {
    /// Not JSON or YAML of the definition's shape.
    #[error("not an experiment definition: {reason}")]
    Syntax {
        /// The parser's words.
        reason: String,
    },
    /// A name that must not be empty is.
    #[error("`{field}` must not be empty")]
    Empty {
        /// The field.
        field: &'static str,
    },
    /// Fewer than two variants.
    #[error("an experiment compares at least 2 variants, {count} given")]
    TooFewVariants {
        /// How many were given.
        count: usize,
    },
    /// A variant listed twice.
    #[error("variant {name:?} is listed twice")]
    DuplicateVariant {
        /// The variant.
        name: String,
    },
    /// A weight that is not a positive finite number.
    #[error("variant {name:?} has weight {weight}; weights must be positive")]
    InvalidWeight {
        /// The variant.
        name: String,
        /// Its weight.
        weight: f64,
    },
    /// The control is not among the variants.
    #[error("the control {control:?} is not among the variants")]
    UnknownControl {
        /// The control.
        control: String,
    },
    /// No metric.
    #[error("an experiment has at least one metric")]
    NoMetrics,
    /// A metric listed twice.
    #[error("metric {name:?} is listed twice")]
    DuplicateMetric {
        /// The metric.
        name: String,
    },
    /// A window out of range.
    #[error("window_seconds is {window}; it must be between 1 and {MAX_WINDOW_SECONDS}")]
    InvalidWindow {
        /// The window.
        window: i64,
    },
    /// α out of range.
    #[error("alpha is {alpha}; it must be above 0 and below 0.5")]
    InvalidAlpha {
        /// α.
        alpha: f64,
    },
    /// A tuning that is not a positive finite number.
    #[error("sequential_tuning is {tuning}; it must be positive")]
    InvalidTuning {
        /// The tuning.
        tuning: f64,
    },
}

impl Experiment {
    /// Reads a definition from JSON or YAML text (JSON is YAML) and checks it.
    pub fn parse(text: &str) -> Result<Experiment, DefinitionError> {
        let experiment: Experiment =
            serde_yaml_ng::from_str(text).map_err(|error| DefinitionError::Syntax {
                reason: error.to_string(),
            })?;
        experiment.check()?;
        Ok(experiment)
    }

    /// Checks what the analysis relies on.
    pub fn check(&self) -> Result<(), DefinitionError> {
        for (field, value) in [
            ("name", &self.name),
            ("flag", &self.flag),
            ("control", &self.control),
        ] {
            if value.is_empty() {
                return Err(DefinitionError::Empty { field });
            }
        }
        if self.variants.len() < 2 {
            return Err(DefinitionError::TooFewVariants {
                count: self.variants.len(),
            });
        }
        let mut names = HashSet::new();
        for variant in &self.variants {
            if variant.name.is_empty() {
                return Err(DefinitionError::Empty {
                    field: "variants[].name",
                });
            }
            if !names.insert(variant.name.as_str()) {
                return Err(DefinitionError::DuplicateVariant {
                    name: variant.name.clone(),
                });
            }
            if !(variant.weight > 0.0 && variant.weight.is_finite()) {
                return Err(DefinitionError::InvalidWeight {
                    name: variant.name.clone(),
                    weight: variant.weight,
                });
            }
        }
        if !names.contains(self.control.as_str()) {
            return Err(DefinitionError::UnknownControl {
                control: self.control.clone(),
            });
        }
        if self.metrics.is_empty() {
            return Err(DefinitionError::NoMetrics);
        }
        let mut metrics = HashSet::new();
        for metric in &self.metrics {
            if metric.name.is_empty() {
                return Err(DefinitionError::Empty {
                    field: "metrics[].name",
                });
            }
            if metric.event.is_empty() {
                return Err(DefinitionError::Empty {
                    field: "metrics[].event",
                });
            }
            if !metrics.insert(metric.name.as_str()) {
                return Err(DefinitionError::DuplicateMetric {
                    name: metric.name.clone(),
                });
            }
        }
        if !(1..=MAX_WINDOW_SECONDS).contains(&self.window_seconds) {
            return Err(DefinitionError::InvalidWindow {
                window: self.window_seconds,
            });
        }
        if !(self.alpha > 0.0 && self.alpha < 0.5) {
            return Err(DefinitionError::InvalidAlpha { alpha: self.alpha });
        }
        if !(self.sequential_tuning > 0.0 && self.sequential_tuning.is_finite()) {
            return Err(DefinitionError::InvalidTuning {
                tuning: self.sequential_tuning,
            });
        }
        Ok(())
    }

    /// The index of the control among the variants.
    pub fn control_index(&self) -> usize {
        self.variants
            .iter()
            .position(|variant| variant.name == self.control)
            .unwrap_or(0)
    }
}
