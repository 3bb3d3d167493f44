//! Naming sources as `flagd start` does: `--uri` (`file:PATH`,
//! `http(s)://…`, `grpc://host:port`, `grpcs://host:port`, and Ensign's
//! own `redis://host:port[/db][?prefix=…]` and `rediss://…`) and
//! `--sources` (a JSON list of `{uri, provider, …}`).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Default HTTP polling interval, as flagd's.
pub const DEFAULT_HTTP_INTERVAL: Duration = Duration::from_secs(5);

/// Default time between two reconciliations of a Redis source with Redis
/// (announcements bring changes sooner).
pub const DEFAULT_REDIS_INTERVAL: Duration = Duration::from_secs(5);

/// One configured source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// Its name: the selector `source=…` picks it, and logs, metric
    /// labels and flag-set ids show it. A file's path as given; any other
    /// URI with its credentials, query values and fragment hidden
    /// (`redact::url`).
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
    /// The flag sets the admin side publishes to Redis, followed through
    /// its announcements and reconciled periodically.
    Redis {
        /// `redis://…` or `rediss://…`, without the `prefix` parameter.
        url: String,
        /// The prefix of the publisher's keys and channel.
        prefix: String,
        /// A local file holding the last state loaded from Redis, served at
        /// start when Redis cannot be reached. `None`: no file.
        snapshot: Option<PathBuf>,
        /// Time between reconciliations.
        interval: Duration,
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
        "source URI {uri:?} is not file:PATH, http(s)://…, grpc://host:port, grpcs://host:port \
         or redis(s)://host:port"
    )]
    UnknownUri {
        /// The URI, with its secrets hidden.
        uri: String,
    },
    /// A `redis://` or `rediss://` URI that does not parse, or names an
    /// empty prefix.
    #[error("source URI {uri:?} is not a usable Redis URL: {reason}")]
    InvalidRedisUri {
        /// The URI, with its secrets hidden.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `--sources` is not the JSON list flagd takes.
    #[error("--sources is not a JSON list of sources: {0}")]
    Sources(String),
    /// An entry names a provider Ensign does not have.
    #[error("source {uri:?}: unknown provider {provider:?} (expected file, http, grpc or redis)")]
    UnknownProvider {
        /// The URI, with its secrets hidden.
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
        } else if uri.starts_with("redis://") || uri.starts_with("rediss://") {
            return redis_source(uri, DEFAULT_REDIS_INTERVAL);
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
                uri: redact::url(uri),
            });
        };
        Ok(SourceSpec {
            name: shown(uri, &kind),
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
                    "redis" => {
                        let interval = e
                            .interval
                            .map_or(DEFAULT_REDIS_INTERVAL, Duration::from_secs);
                        return redis_source(&e.uri, interval);
                    }
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
                            uri: redact::url(&e.uri),
                            provider: e.provider,
                        });
                    }
                };
                Ok(SourceSpec {
                    name: shown(&e.uri, &kind),
                    kind,
                })
            })
            .collect()
    }
}

/// A source's name: a file's path as given (a path carries no
/// credentials, and may hold `@` or `?`), any other URI redacted.
fn shown(uri: &str, kind: &SourceKind) -> String {
    match kind {
        SourceKind::File { .. } => uri.to_owned(),
        _ => redact::url(uri),
    }
}

/// A Redis source from its URI: Ensign's `prefix` parameter is taken out
/// (the others are the Redis client's), and the name hides the secrets
/// but shows the prefix, which is Ensign's own and not a secret.
fn redis_source(uri: &str, interval: Duration) -> Result<SourceSpec, SpecError> {
    let invalid = |reason: String| SpecError::InvalidRedisUri {
        uri: redact::url(uri),
        reason,
    };
    let (base, query) = match uri.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (uri, None),
    };
    let mut prefix = engine::publication::DEFAULT_PREFIX.to_owned();
    let mut prefix_given = false;
    let mut rest = Vec::new();
    for pair in query.into_iter().flat_map(|q| q.split('&')) {
        match pair.split_once('=') {
            Some(("prefix", value)) => {
                if value.is_empty() || value.contains(char::is_whitespace) {
                    return Err(invalid(format!("prefix {value:?} is empty or has spaces")));
                }
                value.clone_into(&mut prefix);
                prefix_given = true;
            }
            _ if pair.is_empty() => {}
            _ => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    redis::Client::open(url.as_str()).map_err(|error| invalid(error.to_string()))?;
    let mut name = redact::url(&url);
    if prefix_given {
        let separator = if name.contains('?') { '&' } else { '?' };
        name = format!("{name}{separator}prefix={prefix}");
    }
    Ok(SourceSpec {
        name,
        kind: SourceKind::Redis {
            url,
            prefix,
            snapshot: None,
            interval,
        },
    })
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
    fn names_hide_credentials_and_query_values() {
        let http = SourceSpec::from_uri("https://ops:hunter2@h/f.json?token=t0k#frag").unwrap();
        assert_eq!(http.name, "https://***@h/f.json?token=***");
        assert_eq!(
            http.kind,
            SourceKind::Http {
                url: "https://ops:hunter2@h/f.json?token=t0k#frag".into(),
                bearer_token: None,
                interval: DEFAULT_HTTP_INTERVAL,
            },
            "the source itself still uses the URL as given"
        );
        let listed = SourceSpec::from_sources_json(
            r#"[{"uri":"http://u:p@h/f.json?k=v","provider":"http"}]"#,
        )
        .unwrap();
        assert_eq!(listed[0].name, "http://***@h/f.json?k=***");
        // A file's path is no URL: it keeps its name, `@` and `?` included.
        let file = SourceSpec::from_uri("file:flags/team@shop?.json").unwrap();
        assert_eq!(file.name, "file:flags/team@shop?.json");
        let listed =
            SourceSpec::from_sources_json(r#"[{"uri":"flags/a@b.json","provider":"file"}]"#)
                .unwrap();
        assert_eq!(listed[0].name, "flags/a@b.json");
        assert_eq!(
            SourceSpec::from_uri("ftp://u:p@h/f.json"),
            Err(SpecError::UnknownUri {
                uri: "ftp://***@h/f.json".into()
            })
        );
        assert!(matches!(
            SourceSpec::from_sources_json(r#"[{"uri":"s3://k:s@b/f","provider":"s3"}]"#),
            Err(SpecError::UnknownProvider { uri, .. }) if uri == "s3://***@b/f"
        ));
    }

    #[track_caller]
    fn check_redis(uri: &str, name: &str, url: &str, prefix: &str) {
        let spec = SourceSpec::from_uri(uri).unwrap();
        assert_eq!(spec.name, name);
        assert_eq!(
            spec.kind,
            SourceKind::Redis {
                url: url.into(),
                prefix: prefix.into(),
                snapshot: None,
                interval: DEFAULT_REDIS_INTERVAL,
            }
        );
    }

    #[test]
    fn redis_uris() {
        check_redis(
            "redis://127.0.0.1:6379",
            "redis://127.0.0.1:6379",
            "redis://127.0.0.1:6379",
            "ensign",
        );
        check_redis(
            "redis://cache:6380/2?prefix=shop",
            "redis://cache:6380/2?prefix=shop",
            "redis://cache:6380/2",
            "shop",
        );
        check_redis(
            "rediss://default:secret@cache:6380?protocol=resp3&prefix=eu.ensign",
            "rediss://***@cache:6380?protocol=***&prefix=eu.ensign",
            "rediss://default:secret@cache:6380?protocol=resp3",
            "eu.ensign",
        );
        check_redis(
            "rediss://:secret@cache/1",
            "rediss://***@cache/1",
            "rediss://:secret@cache/1",
            "ensign",
        );
        assert_eq!(
            SourceSpec::from_uri("redis://cache?prefix="),
            Err(SpecError::InvalidRedisUri {
                uri: "redis://cache?prefix=***".into(),
                reason: "prefix \"\" is empty or has spaces".into(),
            })
        );
        assert!(matches!(
            SourceSpec::from_uri("redis://:secret@cache:notaport"),
            Err(SpecError::InvalidRedisUri { uri, .. }) if uri == "redis://***@***"
        ));
        let listed = SourceSpec::from_sources_json(
            r#"[{"uri":"redis://cache:6379?prefix=shop","provider":"redis","interval":30}]"#,
        )
        .unwrap();
        assert_eq!(
            listed[0].kind,
            SourceKind::Redis {
                url: "redis://cache:6379".into(),
                prefix: "shop".into(),
                snapshot: None,
                interval: Duration::from_secs(30),
            }
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
