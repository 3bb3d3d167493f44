//! What the testbed's tags ask of the engine: `@fractional-v1`, `-v2` and
//! `-v3` pick the bucketing scheme a scenario or example expects.

use engine::FractionalVersion;

/// Tag prefix that names a fractional bucketing scheme.
const FRACTIONAL_PREFIX: &str = "fractional-v";

/// A tag set that asks for something impossible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// A `@fractional-vN` tag with a scheme the engine does not know.
    #[error("unknown fractional version tag @{tag}")]
    UnknownFractional {
        /// The tag, without `@`.
        tag: String,
    },
    /// Two different `@fractional-vN` tags on one scenario.
    #[error("conflicting fractional version tags @{first} and @{second}")]
    ConflictingFractional {
        /// The first tag, without `@`.
        first: String,
        /// The second tag, without `@`.
        second: String,
    },
}

/// The fractional scheme the tags (feature, rule, scenario and examples
/// together, without `@`) ask for, or `None` when they name none.
pub fn fractional_version<'t>(
    tags: impl IntoIterator<Item = &'t String>,
) -> Result<Option<FractionalVersion>, TagError> {
    let mut found: Option<(FractionalVersion, &String)> = None;
    for tag in tags {
        let Some(number) = tag.strip_prefix(FRACTIONAL_PREFIX) else {
            continue;
        };
        let version = match number {
            "1" => FractionalVersion::V1,
            "2" => FractionalVersion::V2,
            "3" => FractionalVersion::V3,
            _ => return Err(TagError::UnknownFractional { tag: tag.clone() }),
        };
        match found {
            Some((seen, first)) if seen != version => {
                return Err(TagError::ConflictingFractional {
                    first: first.clone(),
                    second: tag.clone(),
                });
            }
            _ => found = Some((version, tag)),
        }
    }
    Ok(found.map(|(version, _)| version))
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(tags: &[&str], expect: Expect) {
        test_support::refuse_update_expect_under_ci();
        let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
        let actual = match fractional_version(&tags) {
            Ok(Some(version)) => version.as_str().to_owned(),
            Ok(None) => "none".to_owned(),
            Err(e) => e.to_string(),
        };
        expect.assert_eq(&actual);
    }

    #[test]
    fn versions_from_tags() {
        check(&[], expect!["none"]);
        check(
            &["fractional", "fractional-nested", "targeting"],
            expect!["none"],
        );
        check(&["fractional", "fractional-v1"], expect!["v1"]);
        check(&["fractional-v3", "semver"], expect!["v3"]);
        check(&["fractional-v2", "fractional-v2"], expect!["v2"]);
        check(
            &["fractional-v1", "fractional-v3"],
            expect!["conflicting fractional version tags @fractional-v1 and @fractional-v3"],
        );
        check(
            &["fractional-v9"],
            expect!["unknown fractional version tag @fractional-v9"],
        );
    }
}
