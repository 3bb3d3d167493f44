//! `ensign serve` with a store: the embedded default (a SQLite file in the
//! working directory) or an admin node on PostgreSQL. It migrates the
//! store, seeds it on first start (the bundled example flags in flag set
//! `default`, and an admin token printed once), serves the GraphQL admin
//! API and the dashboard, feeds the evaluation server in-process with every
//! committed state, runs scheduled rollouts and the periodic analysis of
//! running experiments (each one node at a time), sends
//! signed webhooks for flag changes and alerts (`webhooks` in the config
//! file), and, given a Redis URL, publishes each commit there for
//! evaluation nodes.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;
use tokio::sync::{broadcast, watch};
use warp::Filter as _;

use engine::publication::{TIMING_TARGET, timestamp_micros};
use graphql_admin::alerts::{AlertSettings, Alerter, WebhookConfig};
use graphql_admin::api::{Admin, ReadOnlySets, routes_with};
use graphql_admin::consumer::{
    ConsumerObserver, ConsumerSettings, CountStream, EventStream, ExposureStream, StreamConsumer,
    StreamKind,
};
use graphql_admin::publisher::{Publisher, PublisherSettings};
use graphql_admin::scheduler::{Scheduler, SchedulerSettings};
use provider::server::Recorders;
use provider::server::listen::{self, ConnectionLimits, Tls};
use provider::server::sources::feed::{self, Feed, FeedSender};
use store::{Actor, Store};
use store::{NewFlagSet, TokenRole};

use crate::analysis;
use crate::dashboard;
use crate::records::StreamMetrics;

/// The prefix of the selector names of the store's flag sets
/// (`source=store:default`).
pub const STORE_SOURCE_PREFIX: &str = "store:";

/// The flag set the embedded store starts with.
pub const DEFAULT_FLAG_SET: &str = "default";
/// The audit actor of what the server does by itself (seeding).
const SERVER_ACTOR: &str = "ensign-server";
/// How often the store is checked for changes made elsewhere (another
/// admin node, SQL by hand), besides this node's own commits.
const RECONCILE_INTERVAL: Duration = Duration::from_secs(2);
/// How often expired evaluation counts are deleted.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// A store opened, migrated and seeded, ready to feed a server.
#[derive(Debug)]
pub struct Prepared {
    store: Store,
    feed: Feed,
    sender: FeedSender,
}

impl Prepared {
    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// Opens the store at `url`, applies pending migrations (unless
/// `skip_migrations`), and seeds an empty store.
pub async fn prepare(url: &str, skip_migrations: bool, seed: &str) -> anyhow::Result<Prepared> {
    let store = Store::connect_warm(url)
        .await
        .context("opening the store")?;
    if skip_migrations {
        let pending = store.pending_migrations().await?;
        anyhow::ensure!(
            pending.is_empty(),
            "the store needs migrations ({}); run `ensign migrate` or drop --skip-migrations",
            pending.join(", ")
        );
    } else {
        store.migrate().await.context("applying migrations")?;
    }
    if store.flag_sets().await?.is_empty() {
        let actor = Actor::named(SERVER_ACTOR);
        store
            .create_flag_set(
                &actor,
                NewFlagSet {
                    key: DEFAULT_FLAG_SET.into(),
                    name: "Default".into(),
                    ..NewFlagSet::default()
                },
            )
            .await?;
        let file: Value = serde_json::from_str(seed).context("reading the bundled flags")?;
        store
            .import_flag_set(&actor, DEFAULT_FLAG_SET, file)
            .await
            .context("importing the bundled flags")?;
        tracing::info!(
            flag_set = DEFAULT_FLAG_SET,
            "Store seeded with the example flags."
        );
    }
    let (sender, feed) = feed::channel();
    Ok(Prepared {
        store,
        feed,
        sender,
    })
}

impl Prepared {
    /// The source the evaluation server reads the store through.
    pub fn feed(&self) -> Feed {
        self.feed.clone()
    }
}

/// How a node with a store runs its admin side.
#[derive(Debug)]
pub struct NodeOptions {
    /// Address the admin listener binds.
    pub bind: IpAddr,
    /// Its port (0: a free one).
    pub admin_port: u16,
    /// TLS for the admin listener.
    pub tls: Option<Tls>,
    /// Its connection limits (every listener's).
    pub connections: ConnectionLimits,
    /// Where to publish commits for evaluation nodes, if anywhere.
    pub publish: Option<PublisherSettings>,
    /// Webhook targets of flag changes and alerts.
    pub webhooks: Vec<WebhookConfig>,
    /// Flag sets that `--uri` sources serve beside the store.
    pub read_only: ReadOnlySets,
    /// The node's recorders, whose metrics the streams' consumers report
    /// to.
    pub recorders: Recorders,
    /// How often running experiments are analysed; `None` for never.
    pub analysis_interval: Option<Duration>,
}

/// Starts the admin listener and the feed. Returns the admin address.
pub async fn start(
    prepared: Prepared,
    options: NodeOptions,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<SocketAddr> {
    let NodeOptions {
        bind,
        admin_port,
        tls,
        connections,
        publish,
        webhooks,
        read_only,
        recorders,
        analysis_interval,
    } = options;
    let Prepared { store, sender, .. } = prepared;
    let (commits, _) = broadcast::channel(256);
    // The alerter follows commits, and the analysis wakes it when a result
    // finds a sample-ratio mismatch.
    let alerts = if webhooks.is_empty() {
        None
    } else {
        let alerter = Alerter::new(store.clone(), AlertSettings::new(webhooks))
            .await
            .context("starting the alerter")?
            .follow(commits.subscribe());
        let waker = alerter.waker();
        tokio::spawn(alerter.run(wait_for(shutdown.clone())));
        Some(waker)
    };
    let admin = Admin {
        store: store.clone(),
        commits: commits.clone(),
        analysis: Some(Arc::new(analysis::stored::Runner {
            store: store.clone(),
            alerts: alerts.clone(),
        })),
    };
    let listener = listen::bind(SocketAddr::new(bind, admin_port)).await?;
    let addr = listener
        .local_addr()
        .unwrap_or(SocketAddr::new(bind, admin_port));
    let scheme = if tls.is_some() { "https" } else { "http" };
    // Where a browser on this machine reaches the listener.
    let host = if bind.is_unspecified() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        bind
    };
    let reachable = SocketAddr::new(host, addr.port());
    let built = if dashboard::Embedded::is_built() {
        ""
    } else {
        " (not built into this binary: the page says how to build it)"
    };
    eprintln!("\nDashboard: {scheme}://{reachable}/{built}");
    if store.tokens().await?.iter().all(|t| t.role.is_sdk()) {
        let token = store
            .create_token(&Actor::named(SERVER_ACTOR), "admin", TokenRole::Admin, None)
            .await?;
        eprintln!(
            "Admin API: {scheme}://{reachable}/graphql\nAdmin token (shown only now): {}",
            token.secret
        );
    }
    eprintln!();
    tracing::info!(listener = "admin", %addr, %scheme, "Listener started.");
    let stopped = wait_for(shutdown.clone());
    tokio::spawn(listen::serve_http(
        "admin",
        listener,
        tls,
        dashboard::routes(dashboard::Embedded, routes_with(admin, read_only).boxed()),
        connections,
        stopped,
    ));
    if let Some(settings) = publish {
        // Every node with a store and a Redis writes what evaluation nodes
        // append to the streams.
        let consumers = ConsumerSettings::new(settings.redis_url.clone(), settings.prefix.clone());
        let metrics = Arc::new(StreamMetrics(recorders));
        spawn_consumer::<ExposureStream>(&store, &consumers, &metrics, &shutdown)?;
        spawn_consumer::<EventStream>(&store, &consumers, &metrics, &shutdown)?;
        spawn_consumer::<CountStream>(&store, &consumers, &metrics, &shutdown)?;
        let publisher =
            Publisher::new(store.clone(), settings).context("starting the publisher")?;
        let wake = publisher.notifier();
        let mut announced = commits.subscribe();
        tokio::spawn(async move {
            // Every commit on this node wakes a publication pass at once;
            // the publisher's own interval covers everything else.
            loop {
                match announced.recv().await {
                    Ok(commit) => tracing::debug!(
                        target: TIMING_TARGET,
                        flag_set = %commit.flag_set,
                        committed_us = timestamp_micros(),
                        "Commit received."
                    ),
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
                wake.notify_one();
            }
        });
        tokio::spawn(publisher.run(wait_for(shutdown.clone())));
    }
    tokio::spawn(prune_counts(store.clone(), wait_for(shutdown.clone())));
    // Every node with a store may run rollouts; on PostgreSQL an advisory
    // lock lets exactly one of them do it.
    let scheduler = Scheduler::new(store.clone(), commits.clone(), SchedulerSettings::default());
    tokio::spawn(scheduler.run(wait_for(shutdown.clone())));
    if let Some(interval) = analysis_interval {
        // Likewise one node at a time analyses the running experiments.
        tokio::spawn(analysis::job::run(
            store.clone(),
            interval,
            alerts,
            commits.clone(),
            wait_for(shutdown.clone()),
        ));
    }
    tokio::spawn(pump(store, sender, commits.subscribe(), shutdown));
    Ok(addr)
}

/// Deletes evaluation counts past their retention, at start and every
/// [`PRUNE_INTERVAL`]; every node with a store does (deleting twice
/// deletes nothing more).
async fn prune_counts(store: Store, stop: impl Future<Output = ()>) {
    let mut stop = std::pin::pin!(stop);
    loop {
        match store
            .prune_evaluation_counts(time::OffsetDateTime::now_utc())
            .await
        {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, "Expired evaluation counts deleted."),
            Err(error) => tracing::warn!(%error, "Deleting expired evaluation counts failed."),
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(PRUNE_INTERVAL) => {}
        }
    }
}

/// Starts the consumer of one stream, reporting to the node's metrics.
fn spawn_consumer<K>(
    store: &Store,
    settings: &ConsumerSettings,
    metrics: &Arc<StreamMetrics>,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<()>
where
    K: StreamKind,
    StreamMetrics: ConsumerObserver<K::Rows>,
{
    let consumer = StreamConsumer::<K>::new(store.clone(), settings.clone())
        .with_context(|| format!("starting the consumer of {}", K::WHAT))?
        .observed_by(Arc::clone(metrics) as Arc<_>);
    tokio::spawn(consumer.run(wait_for(shutdown.clone())));
    Ok(())
}

/// Sends the store's flag sets to the feed at start, after each commit on
/// this node, and whenever a periodic check finds that a flag set's version
/// moved (a commit on another node, or an edit by hand).
async fn pump(
    store: Store,
    sender: FeedSender,
    mut commits: broadcast::Receiver<store::Commit>,
    shutdown: watch::Receiver<bool>,
) {
    let mut seen: BTreeMap<String, i64> = BTreeMap::new();
    let mut stopped = std::pin::pin!(wait_for(shutdown));
    loop {
        match store.flag_sets().await {
            Ok(sets) => {
                let versions: BTreeMap<String, i64> = sets
                    .iter()
                    .filter(|s| !s.archived)
                    .map(|s| (s.key.clone(), s.version))
                    .collect();
                if versions != seen {
                    match documents(&store, versions.keys()).await {
                        Ok((documents, access)) => {
                            sender.send_with_access(documents, access);
                            seen = versions;
                        }
                        Err(error) => {
                            tracing::warn!(%error, "Reading flag sets from the store failed; serving the last state.");
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "The store is unreachable; serving the last state.");
            }
        }
        tokio::select! {
            _ = commits.recv() => {}
            () = tokio::time::sleep(RECONCILE_INTERVAL) => {}
            () = &mut stopped => return,
        }
    }
}

/// Every flag set's document and SDK keys.
async fn documents(
    store: &Store,
    keys: impl Iterator<Item = &String>,
) -> Result<(feed::Documents, feed::AccessList), store::StoreError> {
    let mut documents = Vec::new();
    let mut access = Vec::new();
    for key in keys {
        let (_, document) = store.document(key).await?;
        // Named apart from `--uri` sources, which the admin API lists as
        // read-only.
        documents.push((format!("{STORE_SOURCE_PREFIX}{key}"), document));
        access.push((key.clone(), store.access(key).await?));
    }
    Ok((documents, access))
}

async fn wait_for(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
