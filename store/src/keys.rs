//! Typed keys: a flag, segment or flag set key that the store may write,
//! checked once, when it is built. Every write path takes these types, so
//! the rule for each kind of key is applied in one place.
//!
//! Flag and segment keys follow the stored-key rule
//! ([`engine::flag_key::check_store_key`]): visible, bounded, without
//! surrounding white space. Flag set keys name Redis keys and selectors, so
//! they are narrower: 1 to 64 ASCII letters, digits, `_`, `-` or `.`.
//!
//! Rows already stored are read as plain strings and never checked again:
//! a rule made stricter later must not make existing data unreadable.

use std::fmt;

use crate::StoreError;

/// The longest flag set key, in bytes.
pub const MAX_FLAG_SET_KEY_BYTES: usize = 64;

/// Why a key cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The stored-key rule of flag and segment keys refuses it.
    #[error(transparent)]
    Stored(#[from] engine::flag_key::KeyError),
    /// A flag set key is empty or longer than [`MAX_FLAG_SET_KEY_BYTES`].
    #[error("is {len} bytes long; a flag set key has 1 to {MAX_FLAG_SET_KEY_BYTES}")]
    FlagSetLength {
        /// Its length in bytes.
        len: usize,
    },
    /// A flag set key holds a character outside its alphabet.
    #[error(
        "contains {character:?} at byte {at}; a flag set key holds only ASCII letters, digits, '_', '-' and '.'"
    )]
    FlagSetCharacter {
        /// The character.
        character: char,
        /// Its byte offset in the key.
        at: usize,
    },
}

macro_rules! key_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The key, if the store may write it; otherwise
            /// [`StoreError::InvalidKey`] (`INVALID_KEY`) saying why.
            pub fn new(key: impl Into<String>) -> Result<$name, StoreError> {
                let key = key.into();
                match $check(&key) {
                    Ok(()) => Ok($name(key)),
                    Err(source) => Err(StoreError::InvalidKey {
                        what: $what,
                        key,
                        source,
                    }),
                }
            }

            /// The key as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The key as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = StoreError;

            fn try_from(key: String) -> Result<$name, StoreError> {
                $name::new(key)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = StoreError;

            fn try_from(key: &str) -> Result<$name, StoreError> {
                $name::new(key)
            }
        }

        impl TryFrom<&String> for $name {
            type Error = StoreError;

            fn try_from(key: &String) -> Result<$name, StoreError> {
                $name::new(key.as_str())
            }
        }

        impl From<&$name> for $name {
            fn from(key: &$name) -> $name {
                key.clone()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

key_type!(
    /// A flag key the store may write.
    FlagKey,
    "flag key",
    check_stored
);

key_type!(
    /// A segment key the store may write (what flags name in `$ref`, shown
    /// like flag keys).
    SegmentKey,
    "segment key",
    check_stored
);

key_type!(
    /// An experiment key the store may write (exposures name it, as flag
    /// metadata `ensign.experiment` does).
    ExperimentKey,
    "experiment key",
    check_stored
);

key_type!(
    /// A flag set key the store may write (it names Redis keys and
    /// selectors, and is the `flagSetId` evaluation nodes answer with).
    FlagSetKey,
    "flag set key",
    check_flag_set
);

fn check_stored(key: &str) -> Result<(), KeyError> {
    Ok(engine::flag_key::check_store_key(key)?)
}

fn check_flag_set(key: &str) -> Result<(), KeyError> {
    if key.is_empty() || key.len() > MAX_FLAG_SET_KEY_BYTES {
        return Err(KeyError::FlagSetLength { len: key.len() });
    }
    match key
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        Some((at, character)) => Err(KeyError::FlagSetCharacter { character, at }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(made: Result<impl fmt::Display, StoreError>, expect: &str) {
        let found = match made {
            Ok(key) => format!("ok {key}"),
            Err(error) => format!("{} {error}", error.code()),
        };
        assert_eq!(found, expect);
    }

    #[test]
    fn each_kind_of_key_has_its_rule() {
        check(FlagKey::new("new-checkout"), "ok new-checkout");
        check(FlagKey::new("clé à molette"), "ok clé à molette");
        check(
            FlagKey::new(""),
            r#"INVALID_KEY invalid flag key "": it is empty"#,
        );
        check(
            SegmentKey::new(" adults"),
            r#"INVALID_KEY invalid segment key " adults": it starts or ends with white space"#,
        );
        check(
            FlagKey::new("a\u{202e}b"),
            r#"INVALID_KEY invalid flag key "a\u{202e}b": it contains U+202E (a format character such as a bidirectional override) at byte 1"#,
        );
        check(FlagSetKey::new("prod-eu.1_a"), "ok prod-eu.1_a");
        check(
            FlagSetKey::new(""),
            r#"INVALID_KEY invalid flag set key "": it is 0 bytes long; a flag set key has 1 to 64"#,
        );
        check(
            FlagSetKey::new("x".repeat(65)),
            &format!(
                r#"INVALID_KEY invalid flag set key "{}": it is 65 bytes long; a flag set key has 1 to 64"#,
                "x".repeat(65)
            ),
        );
        check(
            FlagSetKey::new("prod eu"),
            r#"INVALID_KEY invalid flag set key "prod eu": it contains ' ' at byte 4; a flag set key holds only ASCII letters, digits, '_', '-' and '.'"#,
        );
        check(
            FlagSetKey::new("clé"),
            r#"INVALID_KEY invalid flag set key "clé": it contains 'é' at byte 2; a flag set key holds only ASCII letters, digits, '_', '-' and '.'"#,
        );
        // A flag key may be what a flag set key may not.
        check(FlagKey::new("prod eu"), "ok prod eu");
    }
}
