//! `ensign serve --config FILE`: the serve options in a YAML (or JSON)
//! file, by their option names, plus what has no option (OFREP API keys and
//! rate limit, webhooks). Precedence: file < environment < command line.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use serde::Deserialize;

use graphql_admin::alerts::WebhookConfig;
use provider::server::admission::{ApiKey, RateLimit};

use crate::cli::ServeArgs;

/// A config file's contents. Every field is optional; unknown ones are
/// refused, so a typo is an error rather than a silently ignored setting.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeFile {
    uri: Option<Vec<String>>,
    /// flagd's source list, written as YAML or JSON.
    sources: Option<serde_json::Value>,
    port: Option<u16>,
    sync_port: Option<u16>,
    ofrep_port: Option<u16>,
    management_port: Option<u16>,
    socket_path: Option<PathBuf>,
    sync_socket_path: Option<PathBuf>,
    bind: Option<IpAddr>,
    cors_origin: Option<Vec<String>>,
    server_cert_path: Option<PathBuf>,
    server_key_path: Option<PathBuf>,
    context_value: Option<BTreeMap<String, String>>,
    max_body_bytes: Option<usize>,
    fractional: Option<String>,
    database_url: Option<String>,
    admin_port: Option<u16>,
    admin_bind: Option<IpAddr>,
    skip_migrations: Option<bool>,
    redis_url: Option<String>,
    redis_prefix: Option<String>,
    redis_snapshot: Option<PathBuf>,
    header_read_timeout: Option<u64>,
    body_read_timeout: Option<u64>,
    tls_handshake_timeout: Option<u64>,
    idle_timeout: Option<u64>,
    max_connections: Option<usize>,
    max_streams: Option<usize>,
    #[serde(default)]
    api_keys: Vec<ApiKey>,
    rate_limit: Option<RateLimit>,
    /// Webhook targets of flag changes and alerts (file only: they hold
    /// secrets).
    #[serde(default)]
    webhooks: Vec<WebhookConfig>,
}

/// The serve settings after merging.
#[derive(Debug)]
pub struct Settings {
    /// The options, with the file's values where none was given.
    pub args: ServeArgs,
    /// OFREP API keys (file only).
    pub api_keys: Vec<ApiKey>,
    /// OFREP rate limit (file only).
    pub rate_limit: Option<RateLimit>,
    /// Webhook targets (file only).
    pub webhooks: Vec<WebhookConfig>,
}

/// Reads the file named by `--config`, if any, and merges it under the
/// options; `given(id)` tells whether option `id` came from the command
/// line or the environment.
pub fn load(args: ServeArgs, given: impl Fn(&str) -> bool) -> anyhow::Result<Settings> {
    let file = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            serde_yaml_ng::from_str(&text)
                .with_context(|| format!("reading config file {}", path.display()))?
        }
        None => ServeFile::default(),
    };
    merge(args, file, given)
}

/// Fills every option not `given` from the file.
pub fn merge(
    mut args: ServeArgs,
    file: ServeFile,
    given: impl Fn(&str) -> bool,
) -> anyhow::Result<Settings> {
    macro_rules! fill {
        ($($field:ident),*) => {$(
            if !given(stringify!($field)) && let Some(value) = file.$field {
                args.$field = value;
            }
        )*};
    }
    macro_rules! fill_option {
        ($($field:ident),*) => {$(
            if !given(stringify!($field)) && file.$field.is_some() {
                args.$field = file.$field;
            }
        )*};
    }
    fill!(
        uri,
        port,
        sync_port,
        ofrep_port,
        management_port,
        bind,
        cors_origin,
        max_body_bytes,
        fractional,
        admin_port,
        admin_bind,
        skip_migrations,
        redis_prefix,
        redis_snapshot,
        header_read_timeout,
        body_read_timeout,
        tls_handshake_timeout,
        idle_timeout,
        max_connections,
        max_streams
    );
    fill_option!(
        socket_path,
        sync_socket_path,
        server_cert_path,
        server_key_path,
        database_url,
        redis_url
    );
    if !given("sources")
        && let Some(sources) = file.sources
    {
        args.sources = Some(match sources {
            serde_json::Value::String(json) => json,
            list => list.to_string(),
        });
    }
    if !given("context_value")
        && let Some(context) = file.context_value
    {
        args.context_value = context
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
    }
    if args.server_cert_path.is_some() != args.server_key_path.is_some() {
        anyhow::bail!("server-cert-path and server-key-path must be given together");
    }
    Ok(Settings {
        args,
        api_keys: file.api_keys,
        rate_limit: file.rate_limit,
        webhooks: file.webhooks,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn serve_args(argv: &[&str]) -> ServeArgs {
        let mut all = vec!["ensign", "serve"];
        all.extend_from_slice(argv);
        match Cli::try_parse_from(all).map(|c| c.command) {
            Ok(Command::Serve(args)) => *args,
            other => panic!("not serve arguments: {other:?}"),
        }
    }

    const FILE: &str = r#"
port: 9013
ofrep-port: 9016
uri: [file:a.json]
context-value: {env: prod}
sources:
  - uri: https://flags.example/f.json
    provider: http
api-keys:
  - key: secret
    selector: flagSetId=shop
rate-limit: {requests-per-second: 50}
idle-timeout: 30
max-streams: 10
"#;

    #[test]
    fn the_file_fills_what_options_leave_unset() {
        let file: ServeFile = serde_yaml_ng::from_str(FILE).expect("the file parses");
        let args = serve_args(&["--port", "7013"]);
        let settings = merge(args, file, |id| id == "port").expect("merges");
        assert_eq!(settings.args.port, 7013, "the option wins");
        assert_eq!(settings.args.ofrep_port, 9016, "the file fills a default");
        assert_eq!(settings.args.sync_port, 8015, "neither: the default");
        assert_eq!(settings.args.uri, ["file:a.json"]);
        assert_eq!(settings.args.context_value, ["env=prod"]);
        let sources = settings.args.sources.unwrap_or_default();
        assert!(sources.contains("\"provider\":\"http\""), "{sources}");
        assert_eq!(settings.args.idle_timeout, 30);
        assert_eq!(settings.args.max_streams, 10);
        assert_eq!(settings.args.max_connections, 200, "the default");
        assert_eq!(settings.api_keys.len(), 1);
        assert_eq!(
            settings.rate_limit.map(|r| r.requests_per_second.get()),
            Some(50)
        );
    }

    #[test]
    fn unknown_settings_and_half_tls_are_refused() {
        assert!(serde_yaml_ng::from_str::<ServeFile>("prot: 1").is_err());
        let file: ServeFile = serde_yaml_ng::from_str("server-cert-path: c.pem").expect("parses");
        assert!(merge(serve_args(&[]), file, |_| false).is_err());
    }
}
