//! What the CSV imports share: reading the file (or standard input) whole,
//! and the batch id that makes importing the same file twice write it
//! once.

use std::io::Read as _;
use std::path::Path;

use anyhow::Context as _;
use sha2::{Digest, Sha256};

/// The bytes of `file`, or of standard input for `-`.
pub fn read(file: &Path) -> anyhow::Result<Vec<u8>> {
    if file.as_os_str() == "-" {
        let mut text = Vec::new();
        std::io::stdin()
            .read_to_end(&mut text)
            .context("reading standard input")?;
        Ok(text)
    } else {
        std::fs::read(file).with_context(|| format!("reading {}", file.display()))
    }
}

/// The batch id of `text` imported into `scope` (an experiment, a flag
/// set): the same file into the same scope has the same id.
pub fn batch_id(scope: &str, text: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(scope.as_bytes());
    hasher.update([0]);
    hasher.update(text);
    let hash: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("import:{hash}")
}
