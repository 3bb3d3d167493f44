//! The document of each flag set's latest commit made through this store,
//! with its access, kept in memory so that the publisher need not read
//! back from the database what a writer has just written and compiled.
//!
//! An entry is exact: it is built from the rows the writer read under the
//! flag set's lock plus its change, and recorded only once the transaction
//! has committed, under the version that transaction gave the flag set.
//! A version that this process did not commit itself (another admin node,
//! a write that records nothing here, an edit by hand in SQL, which the
//! PostgreSQL trigger versions too) is simply absent, and the document is
//! read from the database as before.

use std::collections::HashMap;
use std::sync::Mutex;

use engine::Diagnostic;
use engine::publication::Access;
use serde_json::Value;

use super::{Store, StoreError};

/// A flag set's document at one version, with the errors that hold it back
/// from publication.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The flag set's version this is the content of.
    pub version: i64,
    /// The flagd JSON document.
    pub content: Value,
    /// Its error diagnostics; publication waits while there are any.
    pub errors: Vec<Diagnostic>,
    /// Who may evaluate it: published with it.
    pub access: Access,
}

/// The latest committed document per flag set key.
#[derive(Debug, Default)]
pub(crate) struct Committed {
    by_flag_set: Mutex<HashMap<String, Document>>,
}

impl Committed {
    /// Records `document` as flag set `key`'s, unless a later version is
    /// already recorded (two writers may finish in either order).
    pub(crate) fn record(&self, key: &str, document: Document) {
        let mut by_flag_set = self
            .by_flag_set
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match by_flag_set.get_mut(key) {
            Some(held) if held.version >= document.version => {}
            Some(held) => *held = document,
            None => {
                by_flag_set.insert(key.to_owned(), document);
            }
        }
    }

    /// Each flag set with a recorded document, and that document's version.
    fn versions(&self) -> Vec<(String, i64)> {
        let by_flag_set = self
            .by_flag_set
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        by_flag_set
            .iter()
            .map(|(key, held)| (key.clone(), held.version))
            .collect()
    }

    /// Flag set `key`'s document at exactly `version`, if recorded.
    fn get(&self, key: &str, version: i64) -> Option<Document> {
        let by_flag_set = self
            .by_flag_set
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        by_flag_set
            .get(key)
            .filter(|held| held.version == version)
            .cloned()
    }
}

impl Store {
    /// The flag sets this store has committed a document of, each with the
    /// version of the latest one, without reading the database: what a
    /// publisher can publish before it asks the database for anything.
    pub fn committed_versions(&self) -> Vec<(String, i64)> {
        self.committed.versions()
    }

    /// Flag set `flag_set`'s document for publication at `version`, with
    /// its access: from memory when this store committed that version
    /// itself, otherwise read from the database, in which case it may be
    /// of a later version than asked (the returned version says).
    pub async fn document_to_publish(
        &self,
        flag_set: &str,
        version: i64,
    ) -> Result<Document, StoreError> {
        if let Some(document) = self.committed.get(flag_set, version) {
            return Ok(document);
        }
        // The SDK keys are read beside the document rather than after it: a
        // round of reads less on the way to the nodes.
        let ((version, content), access) =
            futures::try_join!(self.document(flag_set), self.access(flag_set))?;
        let errors = super::publication_errors(&content);
        Ok(Document {
            version,
            content,
            errors,
            access,
        })
    }
}
