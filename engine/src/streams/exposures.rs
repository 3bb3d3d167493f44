//! The exposure stream's format.
//!
//! ```text
//! {prefix}:exposures    STREAM, one entry per batch: id = the batch id,
//!                       format = FORMAT, batch = a StreamBatch as JSON
//! ```
//!
//! A batch names each scope its exposures share (experiment, flag set,
//! flag, variant, flag set version, surface) once, and each exposure as
//! `[scope index, targeting key, time]`, so an entry carries little more
//! than its users.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The entry format this build writes and reads.
pub const FORMAT: u32 = 2;

/// The consumer group of the nodes that write exposures to their store.
pub const GROUP: &str = "ensign-exposure-writers";

/// The stream's key under `prefix`.
pub fn stream_key(prefix: &str) -> String {
    format!("{prefix}:exposures")
}

/// One exposure of a stream entry's batch, with its scope. Its text
/// borrows what it is written from, and is read borrowing the entry's
/// text where no escape must be undone, so neither side copies each field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StreamExposure<'a> {
    /// The experiment's key.
    #[serde(borrow)]
    pub experiment: Cow<'a, str>,
    /// The flag set's id.
    #[serde(borrow)]
    pub flag_set: Cow<'a, str>,
    /// The flag's key.
    #[serde(borrow)]
    pub flag: Cow<'a, str>,
    /// The variant served.
    #[serde(borrow)]
    pub variant: Cow<'a, str>,
    /// The user's targeting key.
    #[serde(borrow)]
    pub targeting_key: Cow<'a, str>,
    /// The flag set's content version, in hex.
    #[serde(borrow)]
    pub flag_set_version: Cow<'a, str>,
    /// Where it was answered (`ofrep_single`, ...).
    #[serde(borrow)]
    pub surface: Cow<'a, str>,
    /// When, in microseconds since the Unix epoch.
    pub at: i64,
}

impl StreamExposure<'_> {
    /// The same exposure, owning its text.
    pub fn into_owned(self) -> StreamExposure<'static> {
        StreamExposure {
            experiment: self.experiment.into_owned().into(),
            flag_set: self.flag_set.into_owned().into(),
            flag: self.flag.into_owned().into(),
            variant: self.variant.into_owned().into(),
            targeting_key: self.targeting_key.into_owned().into(),
            flag_set_version: self.flag_set_version.into_owned().into(),
            surface: self.surface.into_owned().into(),
            at: self.at,
        }
    }
}

/// What a stream entry's `batch` holds: the scopes, and the exposures by
/// scope index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamBatch<'a> {
    /// What the exposures share, each named once.
    #[serde(borrow)]
    pub scopes: Vec<StreamScope<'a>>,
    /// The exposures.
    #[serde(borrow)]
    pub exposures: Vec<StreamUser<'a>>,
}

/// What exposures of one variant, flag set version and surface share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StreamScope<'a> {
    /// The experiment's key.
    #[serde(borrow)]
    pub experiment: Cow<'a, str>,
    /// The flag set's id.
    #[serde(borrow)]
    pub flag_set: Cow<'a, str>,
    /// The flag's key.
    #[serde(borrow)]
    pub flag: Cow<'a, str>,
    /// The variant served.
    #[serde(borrow)]
    pub variant: Cow<'a, str>,
    /// The flag set's content version, in hex.
    #[serde(borrow)]
    pub flag_set_version: Cow<'a, str>,
    /// Where it was answered (`ofrep_single`, ...).
    #[serde(borrow)]
    pub surface: Cow<'a, str>,
}

/// One exposure in a batch: its scope's index, the user's targeting key,
/// and when (microseconds since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamUser<'a>(pub u32, #[serde(borrow)] pub Cow<'a, str>, pub i64);

/// Why a batch cannot be read as exposures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("exposure {index} names scope {scope}, but the batch has {scopes}")]
pub struct MissingScope {
    /// The exposure's place in the batch.
    pub index: usize,
    /// The scope it names.
    pub scope: u32,
    /// How many scopes the batch has.
    pub scopes: usize,
}

impl<'a> StreamBatch<'a> {
    /// A batch of `exposures`, each scope named once.
    pub fn of(exposures: &[StreamExposure<'a>]) -> StreamBatch<'a> {
        let mut batch = StreamBatch {
            scopes: Vec::new(),
            exposures: Vec::with_capacity(exposures.len()),
        };
        for exposure in exposures {
            let scope = StreamScope {
                experiment: exposure.experiment.clone(),
                flag_set: exposure.flag_set.clone(),
                flag: exposure.flag.clone(),
                variant: exposure.variant.clone(),
                flag_set_version: exposure.flag_set_version.clone(),
                surface: exposure.surface.clone(),
            };
            let index = batch.scope_index(scope);
            batch.exposures.push(StreamUser(
                index,
                exposure.targeting_key.clone(),
                exposure.at,
            ));
        }
        batch
    }

    /// The index of `scope`, added if the batch does not name it yet.
    pub fn scope_index(&mut self, scope: StreamScope<'a>) -> u32 {
        let at = match self.scopes.iter().position(|held| *held == scope) {
            Some(at) => at,
            None => {
                self.scopes.push(scope);
                self.scopes.len() - 1
            }
        };
        u32::try_from(at).unwrap_or(u32::MAX)
    }

    /// The exposures, each with its scope.
    pub fn into_exposures(self) -> Result<Vec<StreamExposure<'a>>, MissingScope> {
        let StreamBatch { scopes, exposures } = self;
        exposures
            .into_iter()
            .enumerate()
            .map(|(index, StreamUser(scope, targeting_key, at))| {
                let named = usize::try_from(scope)
                    .ok()
                    .and_then(|at| scopes.get(at))
                    .ok_or(MissingScope {
                        index,
                        scope,
                        scopes: scopes.len(),
                    })?;
                Ok(StreamExposure {
                    experiment: named.experiment.clone(),
                    flag_set: named.flag_set.clone(),
                    flag: named.flag.clone(),
                    variant: named.variant.clone(),
                    targeting_key,
                    flag_set_version: named.flag_set_version.clone(),
                    surface: named.surface.clone(),
                    at,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposures_read_back_as_written() {
        let exposure = |user: &'static str, variant: &'static str| StreamExposure {
            experiment: "checkout-test".into(),
            flag_set: "production".into(),
            flag: "checkout".into(),
            variant: variant.into(),
            targeting_key: user.into(),
            flag_set_version: "00000000000000ff".into(),
            surface: "grpc".into(),
            at: 1_800_000_000_000_000,
        };
        let written = [
            exposure("user-1", "treatment"),
            exposure("user-2", "control"),
            exposure("user-3", "treatment"),
        ];
        let text = serde_json::to_string(&StreamBatch::of(&written)).unwrap();
        assert_eq!(
            text,
            r#"{"scopes":[{"experiment":"checkout-test","flagSet":"production","flag":"checkout","variant":"treatment","flagSetVersion":"00000000000000ff","surface":"grpc"},{"experiment":"checkout-test","flagSet":"production","flag":"checkout","variant":"control","flagSetVersion":"00000000000000ff","surface":"grpc"}],"exposures":[[0,"user-1",1800000000000000],[1,"user-2",1800000000000000],[0,"user-3",1800000000000000]]}"#
        );
        let read: StreamBatch = serde_json::from_str(&text).unwrap();
        let read = read.into_exposures().unwrap();
        assert_eq!(read, written);
        // Read without copying the text it came in.
        assert!(matches!(read[0].targeting_key, Cow::Borrowed("user-1")));
        assert!(matches!(read[0].experiment, Cow::Borrowed("checkout-test")));
        assert_eq!(read[0].clone().into_owned(), written[0]);
        assert_eq!(stream_key("ensign"), "ensign:exposures");
    }

    #[test]
    fn an_exposure_must_name_a_scope_of_its_batch() {
        let text = r#"{"scopes":[],"exposures":[[0,"user-1",1]]}"#;
        let read: StreamBatch = serde_json::from_str(text).unwrap();
        assert_eq!(
            read.into_exposures().unwrap_err().to_string(),
            "exposure 0 names scope 0, but the batch has 0"
        );
    }
}
