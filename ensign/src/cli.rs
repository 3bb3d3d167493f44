//! Command-line arguments.

use std::path::PathBuf;

use clap::{CommandFactory as _, Parser, Subcommand, ValueEnum};

use provider::server::listen::ConnectionLimits;

/// Ensign: an OpenFeature- and flagd-compatible feature-flag service.
#[derive(Debug, Parser)]
#[command(name = "ensign", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The command line to parse. Help shows which environment variable feeds
/// each option but never its value: `ENSIGN_DATABASE_URL` and
/// `ENSIGN_REDIS_URL` carry passwords, and so may any other value.
pub fn command() -> clap::Command {
    hide_env_values(Cli::command())
}

/// `command` and every subcommand under it with environment values hidden.
fn hide_env_values(command: clap::Command) -> clap::Command {
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    let mut command = command.mut_args(|arg| arg.hide_env_values(true));
    for name in names {
        command = command.mut_subcommand(name, hide_env_values);
    }
    command
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Checks flag files and prints every diagnostic; exits 1 if any file is
    /// not valid against flagd's schema or does not compile.
    Validate(ValidateArgs),
    /// Evaluates a flag (or a file of cases) and prints OFREP-shaped JSON.
    Eval(EvalArgs),
    /// Serves flags over OFREP and flagd's gRPC protocols. Option names
    /// follow `flagd start`.
    Serve(Box<ServeArgs>),
    /// Applies the store's pending migrations.
    Migrate(StoreArgs),
    /// Manages API tokens in the store.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Moves a whole store to another database.
    #[command(subcommand)]
    Store(StoreCommand),
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copies everything (flag sets, flags, segments, audit history, tokens)
    /// from one store into an empty one, e.g. from the embedded SQLite file
    /// to PostgreSQL, verified table by table by counts and checksums.
    Copy(StoreCopyArgs),
}

#[derive(Debug, clap::Args)]
pub struct StoreCopyArgs {
    /// The store to copy: sqlite:PATH or postgres://….
    #[arg(long)]
    pub from: String,
    /// The empty store to copy into (migrated first).
    #[arg(long)]
    pub to: String,
}

/// Where the store is.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// The store: postgres://USER@HOST/DB, or sqlite:PATH (created when
    /// missing).
    #[arg(long, env = "ENSIGN_DATABASE_URL", default_value = "sqlite:ensign.db")]
    pub database_url: String,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Creates a token and prints it once: an admin token to bootstrap the
    /// admin API, or an SDK key bound to a flag set.
    Create(TokenCreateArgs),
}

#[derive(Debug, clap::Args)]
pub struct TokenCreateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The token's name: the actor of the audit events it causes.
    #[arg(long)]
    pub name: String,
    /// viewer, editor or admin (admin API); server or client (SDK keys).
    #[arg(long, default_value = "admin")]
    pub role: String,
    /// The flag set an SDK key is bound to.
    #[arg(long)]
    pub flag_set: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// A flag source, repeatable: file:PATH, http(s)://URL, grpc://HOST:PORT,
    /// grpcs://HOST:PORT or redis://HOST:PORT[?prefix=…] (an admin node's
    /// publications). A later source wins for the same flag key.
    /// Without any source, the store is served (see --database-url).
    #[arg(long = "uri", short = 'f', env = "ENSIGN_URI", value_delimiter = ',')]
    pub uri: Vec<String>,
    /// Sources as flagd's JSON list: [{"uri": ..., "provider": "file"|"http"|"grpc", ...}].
    #[arg(long, short = 's', env = "ENSIGN_SOURCES")]
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
    #[arg(
        long = "context-value",
        short = 'X',
        env = "ENSIGN_CONTEXT_VALUE",
        value_delimiter = ','
    )]
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
    /// (evaluation and sync). Environment
    /// variables and options override it.
    #[arg(long, env = "ENSIGN_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Flag files (JSON, or YAML by extension .yaml/.yml).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// What the files hold: flag files, or bare targeting rules
    /// (flagd's targeting.json schema).
    #[arg(long, value_enum, default_value_t = FileKind::Flags)]
    pub kind: FileKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// One line per diagnostic.
    Text,
    /// One JSON document, for CI pipelines.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileKind {
    /// Flag files (flagd.json, or flags.json when `$schema` names it).
    Flags,
    /// A single JSONLogic targeting rule per file.
    Targeting,
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The flag file to evaluate against.
    #[arg(long, short = 'f')]
    pub flags: PathBuf,
    /// The flag to evaluate.
    #[arg(long, required_unless_present = "cases", conflicts_with = "cases")]
    pub flag: Option<String>,
    /// Evaluation context as a JSON object.
    #[arg(long, default_value = "{}")]
    pub context: String,
    /// The type the caller expects; a flag of another type gives TYPE_MISMATCH.
    #[arg(long = "type", value_enum)]
    pub flag_type: Option<TypeArg>,
    /// Adds the decision path to the output.
    #[arg(long)]
    pub explain: bool,
    /// A file with one case per line: {"flag": KEY, "context": {...}, "type": "boolean"}.
    #[arg(long)]
    pub cases: Option<PathBuf>,
    /// Bucketing scheme of `fractional` (flag-set metadata
    /// "ensign.fractional" overrides it).
    #[arg(long, env = "ENSIGN_FRACTIONAL", default_value = "v2")]
    pub fractional: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TypeArg {
    Boolean,
    String,
    Integer,
    Float,
    Object,
}

impl From<TypeArg> for engine::FlagType {
    fn from(t: TypeArg) -> Self {
        match t {
            TypeArg::Boolean => engine::FlagType::Boolean,
            TypeArg::String => engine::FlagType::String,
            TypeArg::Integer => engine::FlagType::Integer,
            TypeArg::Float => engine::FlagType::Float,
            TypeArg::Object => engine::FlagType::Object,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every option of every subcommand, for checks that must hold for all.
    fn all_args(command: &clap::Command) -> Vec<(String, clap::Arg)> {
        let mut args: Vec<(String, clap::Arg)> = command
            .get_arguments()
            .map(|a| (command.get_name().to_owned(), a.clone()))
            .collect();
        for sub in command.get_subcommands() {
            args.extend(all_args(sub));
        }
        args
    }

    #[test]
    fn no_environment_value_is_shown_in_help() {
        let args = all_args(&command());
        assert!(args.iter().any(|(_, a)| a.get_env().is_some()));
        for (command, arg) in args {
            if arg.get_env().is_some() {
                assert!(
                    arg.is_hide_env_values_set(),
                    "{command} --{}: its environment value would be shown in help",
                    arg.get_id()
                );
            }
        }
    }
}
