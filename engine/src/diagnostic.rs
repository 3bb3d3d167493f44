//! Diagnostics: located findings about flag definitions.

use std::fmt;

use serde::Serialize;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The definition violates flagd's schema but flagd evaluates it anyway
    /// (and so does Ensign, the same way), or it is the targeting of a
    /// disabled flag that does not compile, which no evaluation reads (the
    /// flag resolves to DISABLED). `ensign validate` rejects it.
    Warning,
    /// The definition cannot be used: the flag keeps its last good version, or
    /// evaluates to `PARSE_ERROR` if it never had one.
    Error,
}

impl Severity {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A finding about a flag file, located by flag key and JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The flag concerned, if the finding is about one flag.
    #[serde(rename = "flagKey", skip_serializing_if = "Option::is_none")]
    pub flag_key: Option<String>,
    /// JSON pointer of the problem within the file ("" for the whole file).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.severity.as_str())?;
        if let Some(key) = &self.flag_key {
            write!(f, "flag {key:?}: ")?;
        }
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{pointer}: {}", self.message)
    }
}
