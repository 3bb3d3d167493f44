//! What the imports share: reading a CSV file (or standard input) whole,
//! telling Parquet input (a `.parquet` file, a folder of partitions) from
//! CSV, and the batch id that makes importing the same input twice write
//! it once.

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

/// Whether `path` is Parquet: a `.parquet` file or a folder of partitions.
pub fn is_parquet(path: &Path) -> bool {
    path.as_os_str() != "-"
        && analytics::input::Format::of(path).ok() == Some(analytics::input::Format::Parquet)
}

/// The bytes of every file of a Parquet input, in path order (one file,
/// or each file under a folder), for its batch id.
pub fn read_parquet_files(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut files = Vec::new();
    let mut folders = vec![path.to_owned()];
    while let Some(next) = folders.pop() {
        if next.is_dir() {
            for entry in
                std::fs::read_dir(&next).with_context(|| format!("reading {}", next.display()))?
            {
                folders.push(entry?.path());
            }
        } else {
            files.push(next);
        }
    }
    files.sort();
    let mut bytes = Vec::new();
    for file in files {
        bytes.extend(file.to_string_lossy().as_bytes());
        bytes.push(0);
        bytes.extend(std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?);
    }
    Ok(bytes)
}

/// Microseconds since the Unix epoch.
pub fn micros(time: time::OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// The time `micros` microseconds after the Unix epoch, if representable.
pub fn from_micros(micros: i64) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).ok()
}
