//! The Redis publication format: the payload the admin side writes for each
//! published version of a flag set, the announcement it sends, and the
//! names of the keys and channel that carry them.
//!
//! # Keys
//!
//! Every name lives under a configurable prefix (default
//! [`DEFAULT_PREFIX`]) followed by the payload format, so that one Redis
//! serves several deployments and several formats side by side:
//!
//! ```text
//! {prefix}:v{format}:flag-sets                     SET of published flag set keys
//! {prefix}:v{format}:latest:{flagSet}              the latest published version (an integer)
//! {prefix}:v{format}:payload:{flagSet}:{version}   a Publication, as JSON
//! {prefix}:v{format}:announcements                 channel: an Announcement per new version
//! ```
//!
//! Flag set keys hold only letters, digits, `_`, `-` and `.`, so a name
//! splits back into its parts without ambiguity.
//!
//! # Versions
//!
//! A flag set's version is its store version: it rises by one per
//! committed change. A writer stores the payload under its versioned key and
//! moves the `latest` pointer in one atomic step that refuses to move it
//! backwards, so a reader that follows `latest` never sees an older state
//! after a newer one, whatever the order in which writers finish. Superseded
//! payloads expire a while later, long enough for a reader that has just
//! read the pointer to fetch the payload it names.
//!
//! # Formats and rolling upgrades
//!
//! The payload carries its own `format` number, and the format is part of
//! every key, so formats never overwrite each other. A writer writes every
//! format in [`WRITTEN_FORMATS`]; a reader reads the newest format in
//! [`READABLE_FORMATS`] that a writer has published ([`choose_format`]).
//! A new format therefore rolls out in three steps: writers learn to write
//! it (alongside the old one), then readers learn to read it, and once no
//! reader of the old format is left, writers stop writing the old one. A
//! reader handed a payload of a format it does not know refuses it with
//! [`PublicationError::UnknownFormat`] and keeps its last good state.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The payload format this build writes by default and reads best.
pub const FORMAT: u32 = 1;

/// The formats a writer of this build writes for every version.
pub const WRITTEN_FORMATS: &[u32] = &[1];

/// The formats a reader of this build understands, newest first.
pub const READABLE_FORMATS: &[u32] = &[1];

/// The key prefix used when none is configured.
pub const DEFAULT_PREFIX: &str = "ensign";

/// The `tracing` target of the timing events along the publication path:
/// the commit, the publisher's pass, and each evaluation node's fetch,
/// compilation and swap. They are logged at debug level, so they cost
/// nothing unless enabled (`ENSIGN_LOG=info,propagation=debug`), and carry
/// stamps from [`timestamp_micros`] in fields ending in `_us`.
pub const TIMING_TARGET: &str = "propagation";

/// Microseconds since the Unix epoch by the system clock: the stamps of
/// [`TIMING_TARGET`] events, comparable between processes on one machine.
pub fn timestamp_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
        })
}

/// One published version of a flag set: what the `payload` key holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Publication {
    /// The payload format ([`FORMAT`]).
    pub format: u32,
    /// The flag set's key, which is also the document's `flagSetId`.
    pub flag_set: String,
    /// The flag set's store version.
    pub version: i64,
    /// The flag set as one flagd flag file.
    pub document: Value,
    /// Who may evaluate it: its SDK keys and its client-visible flags.
    /// Empty when the flag set has no keys. (Added within format 1: older
    /// readers ignore it.)
    #[serde(default, skip_serializing_if = "Access::is_empty")]
    pub access: Access,
}

/// The SDK keys of a flag set, as evaluation nodes check them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Access {
    /// Live keys, as SHA-256 hashes (hex) of the secrets.
    #[serde(default)]
    pub keys: Vec<SdkKey>,
    /// The flags a client key may evaluate.
    #[serde(default)]
    pub client_visible: Vec<String>,
    /// Whether requests need a key even when no key is live (all of them
    /// revoked): revoking the last key must not open the flag set.
    #[serde(default)]
    pub required: bool,
}

impl Access {
    /// Whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.client_visible.is_empty() && !self.required
    }

    /// Whether requests need a key.
    pub fn requires_keys(&self) -> bool {
        self.required || !self.keys.is_empty()
    }
}

/// One SDK key of a flag set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SdkKey {
    /// SHA-256 of the secret, lowercase hex.
    pub hash: String,
    /// `true` for a client key (browsers, apps: client-visible flags
    /// only), `false` for a server key (every flag of the flag set).
    pub client: bool,
}

/// The message sent on the announcement channel when a flag set's
/// `latest` pointer moves forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Announcement {
    /// The flag set's key.
    pub flag_set: String,
    /// The version that is now the latest.
    pub version: i64,
}

/// Why a payload or announcement could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PublicationError {
    /// The payload is of a format this build does not read (or, when
    /// writing, does not write).
    #[error(
        "payload format {format} is not one this build understands (it knows {known:?}); \
         upgrade this node or keep writing an older format"
    )]
    UnknownFormat {
        /// The format found or asked for.
        format: u64,
        /// The formats this build knows for the operation.
        known: &'static [u32],
    },
    /// The text is not a payload (or announcement) of any format.
    #[error("malformed {what}: {source}")]
    Malformed {
        /// "payload" or "announcement".
        what: &'static str,
        /// The JSON parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// The payload names another flag set or version than the key it was
    /// read from.
    #[error(
        "payload under {expected_flag_set:?} version {expected_version} holds \
         {flag_set:?} version {version}"
    )]
    Mismatch {
        /// The flag set the key names.
        expected_flag_set: String,
        /// The version the key names.
        expected_version: i64,
        /// The flag set the payload names.
        flag_set: String,
        /// The version the payload names.
        version: i64,
    },
}

impl Publication {
    /// A payload of the current [`FORMAT`].
    pub fn new(flag_set: impl Into<String>, version: i64, document: Value) -> Publication {
        Publication {
            format: FORMAT,
            flag_set: flag_set.into(),
            version,
            document,
            access: Access::default(),
        }
    }

    /// The same payload with `access`.
    pub fn with_access(mut self, access: Access) -> Publication {
        self.access = access;
        self
    }

    /// The payload's text in `format`, one of [`WRITTEN_FORMATS`].
    pub fn encode(&self, format: u32) -> Result<String, PublicationError> {
        match format {
            1 => {
                let v1 = Publication {
                    format: 1,
                    ..self.clone()
                };
                serde_json::to_string(&v1).map_err(|source| PublicationError::Malformed {
                    what: "payload",
                    source,
                })
            }
            other => Err(PublicationError::UnknownFormat {
                format: u64::from(other),
                known: WRITTEN_FORMATS,
            }),
        }
    }

    /// Reads a payload, refusing formats outside [`READABLE_FORMATS`].
    pub fn decode(bytes: &[u8]) -> Result<Publication, PublicationError> {
        #[derive(Deserialize)]
        struct Probe {
            format: u64,
        }
        let malformed = |source| PublicationError::Malformed {
            what: "payload",
            source,
        };
        let probe: Probe = serde_json::from_slice(bytes).map_err(malformed)?;
        if !READABLE_FORMATS
            .iter()
            .any(|&known| u64::from(known) == probe.format)
        {
            return Err(PublicationError::UnknownFormat {
                format: probe.format,
                known: READABLE_FORMATS,
            });
        }
        serde_json::from_slice(bytes).map_err(malformed)
    }

    /// Reads a payload and checks that it is the one the key names.
    pub fn decode_expected(
        bytes: &[u8],
        flag_set: &str,
        version: i64,
    ) -> Result<Publication, PublicationError> {
        let publication = Publication::decode(bytes)?;
        if publication.flag_set != flag_set || publication.version != version {
            return Err(PublicationError::Mismatch {
                expected_flag_set: flag_set.to_owned(),
                expected_version: version,
                flag_set: publication.flag_set,
                version: publication.version,
            });
        }
        Ok(publication)
    }
}

impl Announcement {
    /// The announcement's text.
    pub fn encode(&self) -> String {
        // Two plain fields: serializing cannot fail, and the fallback is
        // never taken.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads an announcement.
    pub fn decode(bytes: &[u8]) -> Result<Announcement, PublicationError> {
        serde_json::from_slice(bytes).map_err(|source| PublicationError::Malformed {
            what: "announcement",
            source,
        })
    }
}

/// The names of one payload format's keys and channel under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// `{prefix}:v{format}`.
    base: String,
    format: u32,
}

impl Keys {
    /// The names for `format` under `prefix` (no trailing `:`).
    pub fn new(prefix: &str, format: u32) -> Keys {
        Keys {
            base: format!("{prefix}:v{format}"),
            format,
        }
    }

    /// The payload format these names are for.
    pub fn format(&self) -> u32 {
        self.format
    }

    /// The set of published flag set keys.
    pub fn index(&self) -> String {
        format!("{}:flag-sets", self.base)
    }

    /// The key holding a flag set's latest published version.
    pub fn latest(&self, flag_set: &str) -> String {
        format!("{}:latest:{flag_set}", self.base)
    }

    /// The key holding one published version of a flag set.
    pub fn payload(&self, flag_set: &str, version: i64) -> String {
        format!("{}{version}", self.payload_prefix(flag_set))
    }

    /// What every payload key of a flag set starts with: the version
    /// follows.
    pub fn payload_prefix(&self, flag_set: &str) -> String {
        format!("{}:payload:{flag_set}:", self.base)
    }

    /// The announcement channel.
    pub fn channel(&self) -> String {
        format!("{}:announcements", self.base)
    }
}

/// The format a reader should follow, given the formats writers have
/// published (those whose index exists): the newest it can read, or `None`
/// when writers publish none it can read.
pub fn choose_format(published: &[u32]) -> Option<u32> {
    READABLE_FORMATS
        .iter()
        .copied()
        .find(|format| published.contains(format))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn access_travels_in_the_payload_and_is_optional() {
        let access = Access {
            keys: vec![SdkKey {
                hash: "ab".repeat(32),
                client: true,
            }],
            client_visible: vec!["banner".into()],
            required: true,
        };
        let publication =
            Publication::new("web", 2, json!({"flags": {}})).with_access(access.clone());
        let text = publication.encode(FORMAT).unwrap();
        assert!(text.contains("\"clientVisible\":[\"banner\"]"), "{text}");
        assert_eq!(Publication::decode(text.as_bytes()).unwrap().access, access);
        // A payload without access (no keys, or an older writer) has none.
        let bare = Publication::new("web", 2, json!({"flags": {}}))
            .encode(FORMAT)
            .unwrap();
        assert!(!bare.contains("access"), "{bare}");
        assert!(
            Publication::decode(bare.as_bytes())
                .unwrap()
                .access
                .is_empty()
        );
    }

    #[test]
    fn keys_carry_prefix_and_format() {
        let keys = Keys::new("ensign-test", 1);
        assert_eq!(keys.format(), 1);
        assert_eq!(keys.index(), "ensign-test:v1:flag-sets");
        assert_eq!(
            keys.latest("production"),
            "ensign-test:v1:latest:production"
        );
        assert_eq!(
            keys.payload("production", 42),
            "ensign-test:v1:payload:production:42"
        );
        assert_eq!(
            keys.payload_prefix("production"),
            "ensign-test:v1:payload:production:"
        );
        assert_eq!(keys.channel(), "ensign-test:v1:announcements");
        // Formats never share a key.
        let v2 = Keys::new("ensign-test", 2);
        assert_ne!(keys.index(), v2.index());
        assert_ne!(keys.latest("p"), v2.latest("p"));
        assert_ne!(keys.payload("p", 1), v2.payload("p", 1));
        assert_ne!(keys.channel(), v2.channel());
    }

    #[test]
    fn payloads_round_trip_with_their_format() {
        let document = json!({"flags": {}, "metadata": {"flagSetId": "production"}});
        let publication = Publication::new("production", 7, document.clone());
        let text = publication.encode(FORMAT).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            json!({"format": 1, "flagSet": "production", "version": 7, "document": document})
        );
        assert_eq!(Publication::decode(text.as_bytes()).unwrap(), publication);
        assert_eq!(
            Publication::decode_expected(text.as_bytes(), "production", 7).unwrap(),
            publication
        );
    }

    #[track_caller]
    fn check_refused(text: &str, expect: &str) {
        let error = Publication::decode(text.as_bytes()).unwrap_err();
        assert_eq!(error.to_string(), expect);
    }

    #[test]
    fn readers_refuse_unknown_formats_and_garbage() {
        check_refused(
            r#"{"format": 2, "flagSet": "p", "version": 1, "document": {}}"#,
            "payload format 2 is not one this build understands (it knows [1]); \
             upgrade this node or keep writing an older format",
        );
        // A future format may change every other field: the format is read
        // first, so the error names the format, not a missing field.
        check_refused(
            r#"{"format": 3, "sets": []}"#,
            "payload format 3 is not one this build understands (it knows [1]); \
             upgrade this node or keep writing an older format",
        );
        check_refused(
            r#"{"flagSet": "p", "version": 1, "document": {}}"#,
            "malformed payload: missing field `format` at line 1 column 46",
        );
        check_refused(
            r#"{"format": 1, "flagSet": "p", "document": {}}"#,
            "malformed payload: missing field `version` at line 1 column 45",
        );
        check_refused(
            "not json",
            "malformed payload: expected ident at line 1 column 2",
        );
        assert!(matches!(
            Publication::decode(br#"{"format": 9, "flagSet": "p", "version": 1, "document": {}}"#),
            Err(PublicationError::UnknownFormat { format: 9, .. })
        ));
    }

    #[test]
    fn a_payload_under_the_wrong_key_is_refused() {
        let text = Publication::new("staging", 3, json!({"flags": {}}))
            .encode(FORMAT)
            .unwrap();
        let error = Publication::decode_expected(text.as_bytes(), "production", 3).unwrap_err();
        assert_eq!(
            error.to_string(),
            "payload under \"production\" version 3 holds \"staging\" version 3"
        );
        assert!(Publication::decode_expected(text.as_bytes(), "staging", 4).is_err());
    }

    #[test]
    fn writers_refuse_formats_they_do_not_know() {
        let publication = Publication::new("p", 1, json!({}));
        assert!(matches!(
            publication.encode(2),
            Err(PublicationError::UnknownFormat { format: 2, .. })
        ));
        for &format in WRITTEN_FORMATS {
            let text = publication.encode(format).unwrap();
            let probe: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(probe["format"], format);
        }
    }

    #[test]
    fn announcements_round_trip() {
        let announcement = Announcement {
            flag_set: "production".into(),
            version: 12,
        };
        let text = announcement.encode();
        assert_eq!(text, r#"{"flagSet":"production","version":12}"#);
        assert_eq!(Announcement::decode(text.as_bytes()).unwrap(), announcement);
        assert!(matches!(
            Announcement::decode(b"{}"),
            Err(PublicationError::Malformed {
                what: "announcement",
                ..
            })
        ));
    }

    #[test]
    fn readers_follow_the_newest_format_they_read() {
        assert_eq!(choose_format(&[1]), Some(1));
        // A writer already writing a format this reader does not know.
        assert_eq!(choose_format(&[1, 2]), Some(1));
        assert_eq!(choose_format(&[2]), None);
        assert_eq!(choose_format(&[]), None);
    }
}
