//! The document of each flag set's latest commit made through this store,
//! kept in memory so that the publisher need not read back from the
//! database what a writer has just written and compiled.
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
    /// Flag set `flag_set`'s document for publication at `version`, its
    /// version as last read: from memory when this store committed that
    /// version itself, otherwise read from the database, in which case it
    /// may be of a later version than asked (the returned version says).
    pub async fn document_to_publish(
        &self,
        flag_set: &str,
        version: i64,
    ) -> Result<Document, StoreError> {
        if let Some(document) = self.committed.get(flag_set, version) {
            return Ok(document);
        }
        let (version, content) = self.document(flag_set).await?;
        let errors = super::publication_errors(&content);
        Ok(Document {
            version,
            content,
            errors,
        })
    }
}
