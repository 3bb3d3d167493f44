//! `ensign serve`'s settings, each declared once: an option, its `ENSIGN_*`
//! environment twin and its key in the `--config` file (YAML or JSON).
//! Precedence: options > environment > file > default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, FromArgMatches as _};
use serde::{Deserialize, Deserializer};

use graphql_admin::alerts::WebhookConfig;
use provider::server::admission::{ApiKey, RateLimit};
use provider::server::listen::ConnectionLimits;

/// The settings of `ensign serve`. clap reads the options and the
/// environment; serde reads the file, whose keys are the option names.
/// Unknown keys are refused, so a typo is an error rather than a silently
/// ignored setting; a key missing from the file leaves the default.
#[derive(Debug, clap::Args, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    default = "ServeSettings::defaults"
)]
pub struct ServeSettings {
    /// A flag source, repeatable: file:PATH, http(s)://URL, grpc://HOST:PORT,
    /// grpcs://HOST:PORT or redis://HOST:PORT[?prefix=…] (an admin node's
    /// publications). A later source wins for the same flag key.
    /// Without any source, the store is served (see --database-url).
    #[arg(long = "uri", short = 'f', env = "ENSIGN_URI", value_delimiter = ',')]
    pub uri: Vec<String>,
    /// Sources as flagd's JSON list: [{"uri": ..., "provider": "file"|"http"|"grpc", ...}].
    #[arg(long, short = 's', env = "ENSIGN_SOURCES")]
    #[serde(deserialize_with = "sources_json")]
    pub sources: Option<String>,
    /// Port of flagd's evaluation gRPC service.
    #[arg(long, short = 'p', env = "ENSIGN_PORT", default_value_t = 8013)]
    pub port: u16,
    /// Port of flagd's sync gRPC service.
    #[arg(long, env = "ENSIGN_SYNC_PORT", default_value_t = 8015)]
    pub sync_port: u16,
    /// Port of the OFREP service.
    #[arg(long, env = "ENSIGN_OFREP_PORT", default_value_t = 8016)]
    pub ofrep_port: u16,
    /// Port of /healthz, /readyz and /metrics.
    #[arg(
        long,
        short = 'm',
        env = "ENSIGN_MANAGEMENT_PORT",
        default_value_t = 8014
    )]
    pub management_port: u16,
    /// Unix socket for flagd's evaluation gRPC service, instead of --port.
    #[arg(long, short = 'd', env = "ENSIGN_SOCKET_PATH")]
    pub socket_path: Option<PathBuf>,
    /// Unix socket for flagd's sync gRPC service, instead of --sync-port.
    #[arg(long, short = 'e', env = "ENSIGN_SYNC_SOCKET_PATH")]
    pub sync_socket_path: Option<PathBuf>,
    /// Address the evaluation (OFREP, gRPC evaluation and sync) and
    /// management listeners bind; the admin API has --admin-bind.
    #[arg(long, env = "ENSIGN_BIND", default_value = "0.0.0.0")]
    pub bind: std::net::IpAddr,
    /// Origins allowed by CORS on the OFREP service, repeatable; * allows any.
    #[arg(long, env = "ENSIGN_CORS_ORIGIN", value_delimiter = ',')]
    pub cors_origin: Vec<String>,
    /// TLS certificate (PEM) for every listener.
    #[arg(
        long,
        short = 'c',
        env = "ENSIGN_SERVER_CERT_PATH",
        requires = "server_key_path"
    )]
    pub server_cert_path: Option<PathBuf>,
    /// TLS private key (PEM) for every listener.
    #[arg(
        long,
        short = 'k',
        env = "ENSIGN_SERVER_KEY_PATH",
        requires = "server_cert_path"
    )]
    pub server_key_path: Option<PathBuf>,
    /// Static context merged into every evaluation, repeatable: key=value.
    /// In the file: a map of key to value.
    #[arg(
        long = "context-value",
        short = 'X',
        env = "ENSIGN_CONTEXT_VALUE",
        value_delimiter = ','
    )]
    #[serde(deserialize_with = "context_pairs")]
    pub context_value: Vec<String>,
    /// Largest OFREP request body, in bytes.
    #[arg(long, env = "ENSIGN_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// The store (postgres://… or sqlite:PATH). Without it and without any
    /// --uri source, the embedded store sqlite:ensign.db in the working
    /// directory is used; with --uri sources and no store, there is no
    /// admin API.
    #[arg(long, env = "ENSIGN_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Port of the GraphQL admin API (served when there is a store).
    #[arg(long, env = "ENSIGN_ADMIN_PORT", default_value_t = 8017)]
    pub admin_port: u16,
    /// Address the GraphQL admin API binds. Loopback by default: the admin
    /// API is reachable from other machines only when asked for (0.0.0.0,
    /// or an interface's address), preferably with TLS.
    #[arg(long, env = "ENSIGN_ADMIN_BIND", default_value = "127.0.0.1")]
    pub admin_bind: std::net::IpAddr,
    /// Refuse to start if the store needs migrations, instead of applying
    /// them.
    #[arg(long, env = "ENSIGN_SKIP_MIGRATIONS")]
    pub skip_migrations: bool,
    /// Redis to publish every committed flag set to (admin nodes, with a
    /// store), for evaluation nodes started with --uri redis://….
    #[arg(long, env = "ENSIGN_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Where a node without a store sends what it records (the exposures
    /// of running experiments, tracking events, evaluation counts): a
    /// Redis (redis://host:port[/db][?prefix=…]) whose streams the nodes
    /// with a store consume. By default the Redis of its --uri redis://…
    /// source, if it has one; a node with a store writes them to the
    /// store. A node with neither refuses tracking events.
    #[arg(long, env = "ENSIGN_EXPOSURES_REDIS")]
    pub exposures_redis: Option<String>,
    /// Seconds between roll-ups of the evaluation counts (1 to 60): every
    /// minute's counts are written by the end of the minute, and within it
    /// every this many seconds.
    #[arg(long, env = "ENSIGN_EVALUATION_COUNT_INTERVAL", default_value_t = 60)]
    pub evaluation_count_interval: u64,
    /// Seconds between analyses of every running experiment (nodes with a
    /// store; one node at a time), each result kept with its time; 0 runs
    /// none (the admin API's runAnalysis still does).
    #[arg(long, env = "ENSIGN_ANALYSIS_INTERVAL", default_value_t = 3600)]
    pub analysis_interval: u64,
    /// Prefix of the published Redis keys and channel (evaluation nodes
    /// name it in their URI: redis://host:port?prefix=…).
    #[arg(long, env = "ENSIGN_REDIS_PREFIX", default_value = "ensign")]
    pub redis_prefix: String,
    /// File where an evaluation node keeps the last state it loaded from
    /// Redis, served at start when Redis is down.
    #[arg(
        long,
        env = "ENSIGN_REDIS_SNAPSHOT",
        default_value = "ensign-redis-snapshot.json"
    )]
    pub redis_snapshot: PathBuf,
    /// Bucketing scheme of `fractional` (flag-set metadata
    /// "ensign.fractional" overrides it).
    #[arg(long, env = "ENSIGN_FRACTIONAL", default_value = "v2")]
    pub fractional: String,
    /// Seconds a client may take to send a request's headers, on every
    /// listener (HTTP/1.1; an HTTP/1.1 connection waiting for its next
    /// request is bound by it too).
    #[arg(long, env = "ENSIGN_HEADER_READ_TIMEOUT", default_value_t = ConnectionLimits::default().header_read_timeout.as_secs())]
    pub header_read_timeout: u64,
    /// Seconds a client may take to send a request's body once its headers
    /// arrived, on every listener.
    #[arg(long, env = "ENSIGN_BODY_READ_TIMEOUT", default_value_t = ConnectionLimits::default().body_read_timeout.as_secs())]
    pub body_read_timeout: u64,
    /// Seconds a client may take to complete the TLS handshake, on every
    /// listener.
    #[arg(long, env = "ENSIGN_TLS_HANDSHAKE_TIMEOUT", default_value_t = ConnectionLimits::default().tls_handshake_timeout.as_secs())]
    pub tls_handshake_timeout: u64,
    /// Seconds a connection may stay open with no request in flight, on
    /// every listener; open SSE, WebSocket and gRPC streams are in flight,
    /// so they are never idle.
    #[arg(long, env = "ENSIGN_IDLE_TIMEOUT", default_value_t = ConnectionLimits::default().idle_timeout.as_secs())]
    pub idle_timeout: u64,
    /// Open connections per listener (OFREP, gRPC evaluation, sync,
    /// management, admin); one more is closed as soon as it is accepted.
    /// Keep the sum over the listeners under the open-file limit
    /// (`ulimit -n`).
    #[arg(long, env = "ENSIGN_MAX_CONNECTIONS", default_value_t = ConnectionLimits::default().max_connections)]
    pub max_connections: usize,
    /// Open long-lived streams per listener (SSE, WebSocket, gRPC event and
    /// sync streams); one more is refused (HTTP 503, gRPC
    /// RESOURCE_EXHAUSTED) while other requests go on.
    #[arg(long, env = "ENSIGN_MAX_STREAMS", default_value_t = ConnectionLimits::default().max_streams)]
    pub max_streams: usize,
    /// A YAML (or JSON) file with any of these settings, by their option
    /// names, plus `api-keys` and `rate-limit` for OFREP and flagd gRPC
    /// (evaluation and sync) and `webhooks` for flag changes and alerts.
    /// Environment variables and options override it.
    #[arg(long, env = "ENSIGN_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// OFREP and flagd gRPC API keys. File only, as they are secrets: no
    /// option, no environment variable.
    #[arg(skip)]
    pub api_keys: Vec<ApiKey>,
    /// OFREP and flagd gRPC rate limit (file only, beside the API keys).
    #[arg(skip)]
    pub rate_limit: Option<RateLimit>,
    /// Webhook targets of flag changes and alerts (file only: they hold
    /// secrets).
    #[arg(skip)]
    pub webhooks: Vec<WebhookConfig>,
}

impl ServeSettings {
    /// Every setting at its default, as an empty command line gives it in
    /// an empty environment: what a key missing from the file means.
    fn defaults() -> Self {
        let matches = Self::augment_args(clap::Command::new("serve"))
            .mut_args(|arg| arg.env(None))
            .try_get_matches_from(["serve"])
            .and_then(|matches| Self::from_arg_matches(&matches));
        match matches {
            Ok(settings) => settings,
            // No setting is required, so an empty command line always parses.
            Err(error) => unreachable!("the serve settings have no defaults: {error}"),
        }
    }
}

/// The settings of `ensign serve`: `matches` (the `serve` subcommand's,
/// holding the options and the environment) over the file `config`, if
/// any.
pub fn load(config: Option<&Path>, matches: &ArgMatches) -> anyhow::Result<ServeSettings> {
    let file = match config {
        Some(path) => read_file(path)?,
        None => ServeSettings::defaults(),
    };
    merge(file, matches)
}

/// A config file's settings, over the defaults.
fn read_file(path: &Path) -> anyhow::Result<ServeSettings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    serde_yaml_ng::from_str(&text)
        .with_context(|| format!("reading config file {}", path.display()))
}

/// `file` with every setting that the command line or the environment
/// gave in `matches` put over it. clap already put the command line over
/// the environment; a setting left at its default keeps the file's value.
pub fn merge(file: ServeSettings, matches: &ArgMatches) -> anyhow::Result<ServeSettings> {
    let mut given = matches.clone();
    for id in matches.ids() {
        let source = matches.value_source(id.as_str());
        if !matches!(
            source,
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            // Unmatched, a setting is left as the file has it.
            given.try_clear_id(id.as_str())?;
        }
    }
    let mut settings = file;
    settings.update_from_arg_matches(&given)?;
    if settings.server_cert_path.is_some() != settings.server_key_path.is_some() {
        anyhow::bail!("server-cert-path and server-key-path must be given together");
    }
    Ok(settings)
}

/// `sources` in the file: flagd's list written as YAML or JSON, or a
/// string holding it as JSON, as the option takes it.
fn sources_json<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(
        Option::<serde_json::Value>::deserialize(deserializer)?.map(|sources| match sources {
            serde_json::Value::String(json) => json,
            list => list.to_string(),
        }),
    )
}

/// `context-value` in the file: a map of key to value, as the option's
/// key=value pairs.
fn context_pairs<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let context = BTreeMap::<String, String>::deserialize(deserializer)?;
    Ok(context
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect())
}

#[cfg(test)]
mod tests;
