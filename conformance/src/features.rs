//! Reading upstream `.feature` files for cucumber, as the official Gherkin
//! parser reads them.
//!
//! The official parser keeps a backslash that does not start one of the
//! table-cell escapes (`\\`, `\|`, `\n`), and the testbed relies on it: its
//! example tables hold JSON such as `{\"a\": 1}`, which the steps' `{string}`
//! parameters later unescape. The `gherkin` crate rejects the whole file
//! instead, so [`FeatureFiles`] doubles such a backslash in memory before
//! parsing; the files on disk are never changed or copied.

use std::path::{Path, PathBuf};
use std::{fs, io, vec};

use cucumber::feature::Ext as _;
use cucumber::gherkin::{self, GherkinEnv};
use cucumber::{cli, parser};
use futures::stream;

/// A cucumber [`parser::Parser`] over an explicit list of feature files,
/// read in the given order.
#[derive(Debug, Clone, Copy, Default)]
pub struct FeatureFiles;

impl parser::Parser<Vec<PathBuf>> for FeatureFiles {
    type Cli = cli::Empty;
    type Output = stream::Iter<vec::IntoIter<parser::Result<gherkin::Feature>>>;

    fn parse(self, input: Vec<PathBuf>, _cli: cli::Empty) -> Self::Output {
        let features: Vec<_> = input.iter().map(|path| load(path)).collect();
        stream::iter(features)
    }
}

/// Reads one feature file and expands its scenario outlines.
pub fn load(path: &Path) -> parser::Result<gherkin::Feature> {
    let text = fs::read_to_string(path).map_err(|source| gherkin::ParseFileError::Reading {
        path: path.to_owned(),
        source,
    })?;
    let mut feature =
        gherkin::Feature::parse(escape_stray_backslashes(&text), GherkinEnv::default()).map_err(
            |source| gherkin::ParseFileError::Parsing {
                path: path.to_owned(),
                error: None,
                source,
            },
        )?;
    feature.path = Some(path.to_owned());
    Ok(feature.expand_examples()?)
}

/// The `.feature` files directly in `dir`, sorted by name.
pub fn feature_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "feature") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// `path` relative to `dir` for messages, or a placeholder without a path.
pub fn display_path(path: Option<&Path>, dir: &Path) -> String {
    match path {
        Some(path) => path.strip_prefix(dir).unwrap_or(path).display().to_string(),
        None => "(unknown file)".to_owned(),
    }
}

/// Doubles every backslash in a table row that does not start a Gherkin
/// table-cell escape, so that the cell keeps it literally.
pub fn escape_stray_backslashes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if !line.trim_start().starts_with('|') {
            out.push_str(line);
            continue;
        }
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            out.push(c);
            if c != '\\' {
                continue;
            }
            match chars.peek() {
                Some(&next @ ('\\' | '|' | 'n')) => {
                    out.push(next);
                    chars.next();
                }
                _ => out.push('\\'),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(input: &str, expect: Expect) {
        test_support::refuse_update_expect_under_ci();
        expect.assert_eq(&escape_stray_backslashes(input));
    }

    #[test]
    fn escapes_only_stray_backslashes_in_table_rows() {
        check(r#"  | {\"a\": 1} |"#, expect![[r#"  | {\\"a\\": 1} |"#]]);
        check(
            r"  | A\u0000B | \| | \\ | \n |",
            expect![[r"  | A\\u0000B | \| | \\ | \n |"]],
        );
        check(r"  | trailing \", expect![[r"  | trailing \\"]]);
        check(
            r#"    Then the value should be "\"""#,
            expect![[r#"    Then the value should be "\"""#]],
        );
    }

    #[test]
    fn parsed_cells_keep_the_backslash() {
        let text = "Feature: f\n  Scenario Outline: s\n    Given \"<v>\"\n    Examples:\n      | v |\n      | {\\\"a\\\": 1} |\n";
        let feature =
            gherkin::Feature::parse(escape_stray_backslashes(text), GherkinEnv::default())
                .map(|f| f.expand_examples());
        let step = match feature {
            Ok(Ok(f)) => f
                .scenarios
                .first()
                .and_then(|s| s.steps.first())
                .map(|s| s.value.clone()),
            _ => None,
        };
        assert_eq!(step.as_deref(), Some(r#""{\"a\": 1}""#));
    }
}
