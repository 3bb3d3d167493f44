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

/// The places allowed to write an audit row besides the one writer
/// (`store/src/audit.rs`): store copy, which moves rows as they are, and
/// the migrations, which hold the PostgreSQL trigger that audits edits
/// made by hand and data migrations (released, so never edited).
const AUDIT_WRITERS: [&str; 3] = ["store/src/audit.rs", "store/src/copy.rs", "migrations/src/"];

/// Every audited change goes through the store's one audit writer: no
/// other source file builds an `audit_events` row. (The patterns are split
/// so that this file does not match them.)
#[test]
fn audit_rows_are_written_in_one_place() {
    let patterns = [
        concat!("audit_event", "::ActiveModel"),
        concat!("audit_event", "::Entity::insert"),
        concat!("insert into ", "audit_events"),
        concat!("AuditEvents", "::Table"),
    ];
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut writers: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let relative = path.strip_prefix(&root).unwrap_or(path);
            let name = relative.to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(path).ok()?.to_lowercase();
            let hit = patterns.iter().any(|p| text.contains(&p.to_lowercase()));
            (hit && !AUDIT_WRITERS.iter().any(|w| name.starts_with(w))).then_some(name)
        })
        .collect();
    writers.sort();
    assert!(
        writers.is_empty(),
        "audit rows are built outside store/src/audit.rs in:\n  {}",
        writers.join("\n  ")
    );
    let writer = std::fs::read_to_string(root.join("store/src/audit.rs")).expect("the writer");
    assert!(
        writer.contains(patterns[0]),
        "the one writer no longer builds the row the way this check looks for"
    );
}
