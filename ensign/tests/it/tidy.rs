//! Checks of the workspace's source tree itself, as a reader meets it.

use std::path::{Path, PathBuf};

use crate::workspace_root;

/// Directories that hold no source of ours: build output, installed
/// packages, fuzzing corpora and crashes, and hidden directories.
const SKIPPED_DIRS: [&str; 5] = ["target", "node_modules", "corpus", "artifacts", "coverage"];

/// Every Rust file of the workspace, fuzz targets and build scripts
/// included, under `dir`.
fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {dir:?}: {e}"));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name) {
                rust_files(&path, found);
            }
        } else if name.ends_with(".rs") {
            found.push(path);
        }
    }
}

/// Every source file says what it is for on its first line (a `//!` inner
/// doc comment), so a reader opening any file learns its purpose first.
#[test]
fn every_source_file_opens_with_a_doc_line() {
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(
        files.len() > 100,
        "the walk found only {} Rust files under {root:?}",
        files.len()
    );
    let mut missing: Vec<String> = files
        .iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            !text.starts_with("//!")
        })
        .map(|path| {
            path.strip_prefix(&root)
                .unwrap_or(path)
                .display()
                .to_string()
        })
        .collect();
    missing.sort();
    assert!(
        missing.is_empty(),
        "these files do not open with a `//!` line saying what they are for:\n  {}",
        missing.join("\n  ")
    );
}
