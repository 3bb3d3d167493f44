//! `ensign serve`: runs the evaluation server until SIGTERM or Ctrl-C.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Map, Value};

use engine::CompileOptions;
use provider::server::listen::ConnectionLimits;
use provider::server::ofrep::OfrepConfig;
use provider::server::sources::{SourceKind, SourceSpec};
use provider::server::{Recorders, Server, ServerConfig};

use crate::banner::{self, Access, Endpoint, Listener};
use crate::config::ServeSettings;
use crate::records::{Target, Writers};
use crate::store_node;

/// The example flags the embedded store starts with.
const BUNDLED_FLAGS: &str = include_str!("../../examples/flags.json");

pub fn run(settings: &ServeSettings) -> anyhow::Result<ExitCode> {
    let config = config(settings)?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ENSIGN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let args = settings;
    runtime.block_on(async move {
        let stopped = stop_signal();
        let mut config = config;
        let store = match store_url(args) {
            Some(url) => {
                let prepared =
                    store_node::prepare(&url, args.skip_migrations, BUNDLED_FLAGS).await?;
                config.sources.push(SourceSpec {
                    name: STORE_SOURCE.to_owned(),
                    kind: SourceKind::Feed {
                        feed: prepared.feed(),
                    },
                });
                Some(prepared)
            }
            None => None,
        };
        let tls = match &config.tls {
            Some((cert, key)) if store.is_some() => {
                provider::tls::ensure_crypto_provider();
                Some(provider::server::listen::Tls::from_pem_files(cert, key)?)
            }
            _ => None,
        };
        let tls_on = config.tls.is_some();
        let evaluation_access = if settings.api_keys.is_empty() {
            Access::SdkKeys
        } else {
            Access::ApiKey
        };
        let connections = config.connections;
        // A node without a store hands what it records to the nodes that
        // have one, through the Redis it follows.
        let target = match (&store, &args.exposures_redis) {
            (Some(prepared), _) => Some(Target::Store(prepared.store().clone())),
            (None, Some(uri)) => match SourceSpec::from_uri(uri) {
                Ok(SourceSpec {
                    kind: SourceKind::Redis { url, prefix, .. },
                    ..
                }) => Some(Target::Streams { url, prefix }),
                Ok(_) => bail!("--exposures-redis must be a redis:// or rediss:// URL"),
                Err(error) => return Err(error).context("--exposures-redis"),
            },
            (None, None) => config.sources.iter().find_map(|source| match &source.kind {
                SourceKind::Redis { url, prefix, .. } => Some(Target::Streams {
                    url: url.clone(),
                    prefix: prefix.clone(),
                }),
                _ => None,
            }),
        };
        let count_interval = match args.evaluation_count_interval {
            seconds @ 1..=60 => Duration::from_secs(seconds),
            seconds => bail!("--evaluation-count-interval takes 1 to 60 seconds, not {seconds}"),
        };
        // Attached before the listeners serve, so the first request is
        // recorded; the writers outlive the listeners, so that what requests
        // still being answered at shutdown record is written too.
        let writers = target
            .map(|target| Writers::start(&config.recorders, &target, count_interval))
            .transpose()?;
        let config_recorders = config.recorders.clone();
        let server = Server::start(config).await?;
        let evaluation_endpoint = grpc_endpoint(
            server.evaluation_addr,
            &args.socket_path,
            args.bind,
            args.port,
        );
        let sync_endpoint = grpc_endpoint(
            server.sync_addr,
            &args.sync_socket_path,
            args.bind,
            args.sync_port,
        );
        let mut listeners = vec![
            Listener {
                name: "ofrep",
                endpoint: Endpoint::Tcp(server.ofrep_addr),
                tls: tls_on,
                access: evaluation_access,
            },
            Listener {
                name: "evaluation",
                // Unix sockets are served without TLS.
                tls: tls_on && matches!(evaluation_endpoint, Endpoint::Tcp(_)),
                endpoint: evaluation_endpoint,
                access: evaluation_access,
            },
            Listener {
                name: "sync",
                tls: tls_on && matches!(sync_endpoint, Endpoint::Tcp(_)),
                endpoint: sync_endpoint,
                access: evaluation_access,
            },
            Listener {
                name: "management",
                endpoint: Endpoint::Tcp(server.management_addr),
                tls: tls_on,
                access: Access::Open,
            },
        ];
        let (stop, stopping) = tokio::sync::watch::channel(false);
        if let Some(prepared) = store {
            let publish = args.redis_url.as_ref().map(|url| {
                let mut settings = graphql_admin::publisher::PublisherSettings::new(url.clone());
                settings.prefix = args.redis_prefix.clone();
                settings
            });
            let admin_tls = tls.is_some();
            let options = store_node::NodeOptions {
                bind: args.admin_bind,
                admin_port: args.admin_port,
                tls,
                connections,
                publish,
                webhooks: settings.webhooks.clone(),
                read_only: read_only_sets(server.flags()),
                recorders: config_recorders.clone(),
                analysis_interval: (args.analysis_interval > 0)
                    .then(|| Duration::from_secs(args.analysis_interval)),
            };
            let admin = store_node::start(prepared, options, stopping).await?;
            listeners.push(Listener {
                name: "admin",
                endpoint: Endpoint::Tcp(admin),
                tls: admin_tls,
                access: Access::AdminToken,
            });
        }
        banner::announce(&listeners);
        stopped.await;
        tracing::info!("Shutting down.");
        let _ = stop.send(true);
        server.shutdown().await;
        if let Some(writers) = writers {
            writers.stop().await;
        }
        tracing::info!("Stopped.");
        Ok(ExitCode::SUCCESS)
    })
}

/// The flag sets that `--uri` sources serve beside the store, which the
/// admin API lists as read-only.
/// Where a gRPC service listens: the TCP address it bound, or its unix
/// socket.
fn grpc_endpoint(
    bound: Option<std::net::SocketAddr>,
    socket: &Option<std::path::PathBuf>,
    bind: std::net::IpAddr,
    port: u16,
) -> Endpoint {
    match (bound, socket) {
        (Some(addr), _) => Endpoint::Tcp(addr),
        (None, Some(path)) => Endpoint::Unix(path.clone()),
        (None, None) => Endpoint::Tcp(std::net::SocketAddr::new(bind, port)),
    }
}

fn read_only_sets(
    flags: &std::sync::Arc<provider::server::Flags>,
) -> graphql_admin::api::ReadOnlySets {
    let flags = std::sync::Arc::clone(flags);
    graphql_admin::api::ReadOnlySets::new(move || {
        let snapshot = flags.snapshot();
        let mut sets: Vec<graphql_admin::api::ReadOnlySet> = snapshot
            .sources()
            .iter()
            .filter(|state| !state.name.starts_with(store_node::STORE_SOURCE_PREFIX))
            .map(|state| graphql_admin::api::ReadOnlySet {
                key: state.set.id().to_owned(),
                source: state.name.to_string(),
            })
            .collect();
        sets.dedup_by(|a, b| a.key == b.key);
        sets
    })
}

/// The name of the source through which the store is served.
const STORE_SOURCE: &str = "store";

/// The store to serve: the one named, or the embedded file when no source
/// is given either.
fn store_url(args: &ServeSettings) -> Option<String> {
    match &args.database_url {
        Some(url) => Some(url.clone()),
        None if args.uri.is_empty() && args.sources.is_none() => Some("sqlite:ensign.db".into()),
        None => None,
    }
}

/// Builds the server's settings from the merged settings of `serve`.
fn config(args: &ServeSettings) -> anyhow::Result<ServerConfig> {
    let mut sources = Vec::new();
    if let Some(json) = &args.sources {
        sources.extend(SourceSpec::from_sources_json(json)?);
    }
    for uri in &args.uri {
        sources.push(SourceSpec::from_uri(uri)?);
    }
    // Each Redis source keeps its last state in a file of its own.
    let mut redis_sources = 0;
    for source in &mut sources {
        if let SourceKind::Redis { snapshot, .. } = &mut source.kind {
            *snapshot = Some(numbered(&args.redis_snapshot, redis_sources));
            redis_sources += 1;
        }
    }
    let fractional = args
        .fractional
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("reading --fractional")?;
    Ok(ServerConfig {
        bind: args.bind,
        port: args.port,
        sync_port: args.sync_port,
        ofrep_port: args.ofrep_port,
        management_port: args.management_port,
        socket_path: args.socket_path.clone(),
        sync_socket_path: args.sync_socket_path.clone(),
        tls: args
            .server_cert_path
            .clone()
            .zip(args.server_key_path.clone()),
        sources,
        static_context: static_context(&args.context_value)?,
        compile: CompileOptions {
            fractional,
            ..CompileOptions::default()
        },
        ofrep: OfrepConfig {
            body_limit: args.max_body_bytes,
            cors_origins: args.cors_origin.clone(),
            api_keys: args.api_keys.clone(),
            rate_limit: args.rate_limit,
            ..OfrepConfig::default()
        },
        connections: connection_limits(args)?,
        recorders: Recorders::default(),
    })
}

/// Every listener's connection limits, from the options.
fn connection_limits(args: &ServeSettings) -> anyhow::Result<ConnectionLimits> {
    for (option, value) in [
        ("header-read-timeout", args.header_read_timeout),
        ("body-read-timeout", args.body_read_timeout),
        ("tls-handshake-timeout", args.tls_handshake_timeout),
        ("idle-timeout", args.idle_timeout),
        ("max-connections", args.max_connections as u64),
        ("max-streams", args.max_streams as u64),
    ] {
        if value == 0 {
            bail!("--{option} must be at least 1");
        }
    }
    Ok(ConnectionLimits {
        header_read_timeout: Duration::from_secs(args.header_read_timeout),
        body_read_timeout: Duration::from_secs(args.body_read_timeout),
        tls_handshake_timeout: Duration::from_secs(args.tls_handshake_timeout),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        max_connections: args.max_connections,
        max_streams: args.max_streams,
    })
}

/// `path` for the first Redis source, `path` with `.N` before its
/// extension for the others.
fn numbered(path: &std::path::Path, index: usize) -> std::path::PathBuf {
    if index == 0 {
        return path.to_owned();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{index}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{index}"),
    };
    path.with_file_name(name)
}

/// Parses `--context-value key=value` pairs (values are strings, as in
/// flagd).
fn static_context(pairs: &[String]) -> anyhow::Result<Map<String, Value>> {
    let mut context = Map::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("--context-value {pair:?} is not key=value");
        };
        context.insert(key.to_owned(), Value::String(value.to_owned()));
    }
    Ok(context)
}

/// Listens for SIGTERM and Ctrl-C from the moment it is called, and
/// resolves on the first. It is called before any listener opens: a
/// signal sent as soon as the banner says the server is up must stop it
/// cleanly, not find the default action (termination) still in place.
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        async move {
            match (term, interrupt) {
                (Ok(mut term), Ok(mut interrupt)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                (Ok(mut one), Err(_)) | (Err(_), Ok(mut one)) => {
                    one.recv().await;
                }
                (Err(_), Err(_)) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_values_are_key_value_strings() {
        let context = static_context(&["env=prod".into(), "url=a=b".into()]);
        let context = context.map(Value::Object).map_err(|e| e.to_string());
        assert_eq!(
            context,
            Ok(serde_json::json!({"env": "prod", "url": "a=b"}))
        );
        assert!(static_context(&["novalue".into()]).is_err());
    }
}
