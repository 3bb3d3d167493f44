//! The testbed suites the runners execute: which feature files, and which
//! flag files, merged into the one document their scenarios read.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::features::feature_files;

/// One suite as declared: its feature files and flag files.
#[derive(Debug)]
pub struct SuiteSpec {
    /// A short name for summaries.
    pub name: &'static str,
    /// A directory of feature files, or one feature file.
    pub features: &'static str,
    /// Flag files, merged into the one source of the suite's snapshots.
    pub flags: &'static [&'static str],
}

/// The suites every runner executes, with the flag files their scenarios read
/// (paths relative to the conformance directory).
pub const SUITES: [SuiteSpec; 2] = [
    SuiteSpec {
        name: "evaluator",
        features: "flagd-testbed/evaluator/gherkin",
        flags: &["flagd-testbed/evaluator/flags/testkit-flags.json"],
    },
    SuiteSpec {
        name: "targeting",
        features: "flagd-testbed/gherkin/targeting.feature",
        // The four files the feature's header names, plus the two that define
        // the rest of the flags its scenarios read: testing-flags.json
        // (timestamp-flag, targeting-key-flag) and edge-case-flags.json
        // ("Errors and edge cases" and the operator-error flags). They are
        // merged into one document, as upstream does (see merge_flag_files).
        flags: &[
            "flagd-testbed/flags/changing-flag.json",
            "flagd-testbed/flags/zero-flags.json",
            "flagd-testbed/flags/custom-ops.json",
            "flagd-testbed/flags/evaluator-refs.json",
            "flagd-testbed/flags/testing-flags.json",
            "flagd-testbed/flags/edge-case-flags.json",
        ],
    },
];

/// Why a suite's files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// A feature directory could not be listed.
    #[error("listing {}: {source}", path.display())]
    Listing {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The suite's feature path names nothing.
    #[error("feature file {} not found", path.display())]
    NoFeatureFile {
        /// The path as resolved.
        path: PathBuf,
    },
    /// A feature directory holds no `.feature` file.
    #[error("no feature files in {}", path.display())]
    NoFeatures {
        /// The directory.
        path: PathBuf,
    },
    /// A flag file could not be read.
    #[error("reading flag file {}: {source}", path.display())]
    Reading {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A flag file is not JSON.
    #[error("parsing flag file {}: {source}", path.display())]
    Parsing {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// A flag file's root is not an object.
    #[error("flag file {name} is not a JSON object")]
    NotAnObject {
        /// The file, as the suite names it.
        name: String,
    },
    /// Two flag files define the same flag (or evaluator).
    #[error("{member}/{key} is defined in both {first} and {second}")]
    Duplicate {
        /// `flags` or `$evaluators`.
        member: String,
        /// The key both define.
        key: String,
        /// The earlier file.
        first: String,
        /// The later file.
        second: String,
    },
    /// Two flag files disagree on a non-object member (such as `metadata`).
    #[error("{member} differs between {name} and an earlier flag file")]
    Differs {
        /// The member.
        member: String,
        /// The later file.
        name: String,
    },
}

impl SuiteSpec {
    /// The suite's feature files, sorted by name.
    pub fn feature_paths(&self, dir: &Path) -> Result<Vec<PathBuf>, SuiteError> {
        let path = dir.join(self.features);
        let features = if path.is_dir() {
            feature_files(&path).map_err(|source| SuiteError::Listing {
                path: path.clone(),
                source,
            })?
        } else if path.is_file() {
            vec![path.clone()]
        } else {
            return Err(SuiteError::NoFeatureFile { path });
        };
        if features.is_empty() {
            return Err(SuiteError::NoFeatures { path });
        }
        Ok(features)
    }

    /// The suite's flag files merged into one flag-file document.
    pub fn flag_document(&self, dir: &Path) -> Result<Value, SuiteError> {
        merge_flag_files(dir, self.flags)
    }

    /// A name for the merged flag document, for diagnostics.
    pub fn source_name(&self) -> String {
        self.flags.join(" + ")
    }
}

/// Unites flag files into one flag-file document, as the testbed's launchpad
/// combines its flag directory before flagd reads it (zero-flags.json's rules
/// `$ref` an evaluator that only evaluator-refs.json defines). A member that
/// two files both define is an error rather than a silent override.
pub fn merge_flag_files(dir: &Path, names: &[&str]) -> Result<Value, SuiteError> {
    let mut merged = Map::new();
    let mut owners: HashMap<(String, String), &str> = HashMap::new();
    for &name in names {
        let path = dir.join(name);
        let text = fs::read_to_string(&path).map_err(|source| SuiteError::Reading {
            path: path.clone(),
            source,
        })?;
        let document: Value =
            serde_json::from_str(&text).map_err(|source| SuiteError::Parsing { path, source })?;
        let Value::Object(root) = document else {
            return Err(SuiteError::NotAnObject {
                name: name.to_owned(),
            });
        };
        for (member, value) in root {
            match (merged.get_mut(&member), value) {
                (Some(Value::Object(into)), Value::Object(entries)) => {
                    for (key, entry) in entries {
                        if let Some(other) = owners.insert((member.clone(), key.clone()), name) {
                            return Err(SuiteError::Duplicate {
                                member,
                                key,
                                first: other.to_owned(),
                                second: name.to_owned(),
                            });
                        }
                        into.insert(key, entry);
                    }
                }
                (Some(existing), value) => {
                    if *existing != value {
                        return Err(SuiteError::Differs {
                            member,
                            name: name.to_owned(),
                        });
                    }
                }
                (None, value) => {
                    if let Value::Object(entries) = &value {
                        for key in entries.keys() {
                            owners.insert((member.clone(), key.clone()), name);
                        }
                    }
                    merged.insert(member, value);
                }
            }
        }
    }
    Ok(Value::Object(merged))
}
