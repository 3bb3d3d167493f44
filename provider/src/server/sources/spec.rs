//! Naming sources as `flagd start` does: `--uri` (`file:PATH`,
//! `http(s)://…`, `grpc://host:port`, `grpcs://host:port`) and `--sources`
//! (a JSON list of `{uri, provider, …}`).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Default HTTP polling interval, as flagd's.
pub const DEFAULT_HTTP_INTERVAL: Duration = Duration::from_secs(5);

/// One configured source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// Its name: the selector `source=…` picks it (the URI as given).
    pub name: String,
    /// What it is.
    pub kind: SourceKind,
}

/// Where a source reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// A flag file, watched.
    File {
        /// Its path.
        path: PathBuf,
    },
    /// An HTTP(S) URL, polled.
    Http {
        /// The URL.
        url: String,
        /// Sent as `Authorization: Bearer …`.
        bearer_token: Option<String>,
        /// How often to poll.
        interval: Duration,
    },
    /// Fixed text (the bundled example flags, tests).
    Text {
        /// The flag file's text; the source's name gives its format.
        text: String,
    },
    /// Flag sets handed over in-process by the embedding application (the
    /// embedded store).
    Feed {
        /// The receiving end of the application's channel.
        feed: super::feed::Feed,
    },
    /// flagd sync gRPC from another server.
    Grpc {
        /// `host:port`.
        target: String,
        /// Whether to use TLS.
        tls: bool,
        /// The selector to ask for.
        selector: Option<String>,
    },
}

/// Why a source description was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A URI of no known form.
    #[error(
        "source URI {uri:?} is not file:PATH, http(s)://…, grpc://host:port or grpcs://host:port"
    )]
    UnknownUri {
        /// The URI.
        uri: String,
    },
    /// `--sources` is not the JSON list flagd takes.
    #[error("--sources is not a JSON list of sources: {0}")]
    Sources(String),
    /// An entry names a provider Ensign does not have.
    #[error("source {uri:?}: unknown provider {provider:?} (expected file, http or grpc)")]
    UnknownProvider {
        /// The URI.
        uri: String,
        /// The provider named.
        provider: String,
    },
}

impl SourceSpec {
    /// Parses one `--uri`.
    pub fn from_uri(uri: &str) -> Result<SourceSpec, SpecError> {
        let kind = if let Some(path) = uri.strip_prefix("file:") {
            SourceKind::File {
                path: PathBuf::from(path),
            }
        } else if uri.starts_with("http://") || uri.starts_with("https://") {
            SourceKind::Http {
                url: uri.to_owned(),
                bearer_token: None,
                interval: DEFAULT_HTTP_INTERVAL,
            }
        } else if let Some(target) = uri.strip_prefix("grpc://") {
            SourceKind::Grpc {
                target: target.to_owned(),
                tls: false,
                selector: None,
            }
        } else if let Some(target) = uri.strip_prefix("grpcs://") {
            SourceKind::Grpc {
                target: target.to_owned(),
                tls: true,
                selector: None,
            }
        } else {
            return Err(SpecError::UnknownUri {
                uri: uri.to_owned(),
            });
        };
        Ok(SourceSpec {
            name: uri.to_owned(),
            kind,
        })
    }

    /// Parses flagd's `--sources` JSON list.
    pub fn from_sources_json(json: &str) -> Result<Vec<SourceSpec>, SpecError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Entry {
            uri: String,
            provider: String,
            bearer_token: Option<String>,
            /// Seconds between polls.
            interval: Option<u64>,
            tls: Option<bool>,
            selector: Option<String>,
        }
        let entries: Vec<Entry> =
            serde_json::from_str(json).map_err(|e| SpecError::Sources(e.to_string()))?;
        entries
            .into_iter()
            .map(|e| {
                let kind = match e.provider.as_str() {
                    "file" | "fsnotify" | "fileinfo" => SourceKind::File {
                        path: PathBuf::from(e.uri.strip_prefix("file:").unwrap_or(&e.uri)),
                    },
                    "http" => SourceKind::Http {
                        url: e.uri.clone(),
                        bearer_token: e.bearer_token,
                        interval: e
                            .interval
                            .map_or(DEFAULT_HTTP_INTERVAL, Duration::from_secs),
                    },
                    "grpc" => SourceKind::Grpc {
                        target: e
                            .uri
                            .trim_start_matches("grpc://")
                            .trim_start_matches("grpcs://")
                            .to_owned(),
                        tls: e.tls.unwrap_or(e.uri.starts_with("grpcs://")),
                        selector: e.selector,
                    },
                    _ => {
                        return Err(SpecError::UnknownProvider {
                            uri: e.uri,
                            provider: e.provider,
                        });
                    }
                };
                Ok(SourceSpec { name: e.uri, kind })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        let file = SourceSpec::from_uri("file:config/flags.json");
        assert_eq!(
            file.map(|s| s.kind),
            Ok(SourceKind::File {
                path: "config/flags.json".into()
            })
        );
        let grpc = SourceSpec::from_uri("grpcs://flags.internal:8015");
        assert_eq!(
            grpc.map(|s| s.kind),
            Ok(SourceKind::Grpc {
                target: "flags.internal:8015".into(),
                tls: true,
                selector: None
            })
        );
        assert!(matches!(
            SourceSpec::from_uri("https://x/flags.json").map(|s| s.kind),
            Ok(SourceKind::Http { .. })
        ));
        assert_eq!(
            SourceSpec::from_uri("flags.json"),
            Err(SpecError::UnknownUri {
                uri: "flags.json".into()
            })
        );
    }

    #[test]
    fn sources_json() {
        let specs = SourceSpec::from_sources_json(
            r#"[{"uri":"config/a.yaml","provider":"file"},
                {"uri":"https://h/f.json","provider":"http","bearerToken":"t","interval":30},
                {"uri":"grpc://h:8015","provider":"grpc","selector":"flagSetId=shop"}]"#,
        );
        let specs = specs.unwrap_or_default();
        assert_eq!(specs.len(), 3);
        assert_eq!(
            specs[1].kind,
            SourceKind::Http {
                url: "https://h/f.json".into(),
                bearer_token: Some("t".into()),
                interval: Duration::from_secs(30)
            }
        );
        assert_eq!(
            specs[2].kind,
            SourceKind::Grpc {
                target: "h:8015".into(),
                tls: false,
                selector: Some("flagSetId=shop".into())
            }
        );
        assert!(matches!(
            SourceSpec::from_sources_json(r#"[{"uri":"x","provider":"kubernetes"}]"#),
            Err(SpecError::UnknownProvider { .. })
        ));
        assert!(matches!(
            SourceSpec::from_sources_json("{"),
            Err(SpecError::Sources(_))
        ));
    }
}
