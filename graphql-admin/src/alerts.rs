//! Alerts: a signed webhook for every flag change, and an alert for the
//! unexpected ones (edits made by hand in SQL, kill switches, changes to
//! flags marked `locked`).
//!
//! # Source of events
//!
//! The [`Alerter`] reads the audit trail by increasing id. Each webhook
//! target has a cursor in the `alert_cursors` table (the id of the last
//! audit event it has handled, under a hash of its URL), so no event is lost
//! across restarts, and a node that takes over resumes where another left
//! off. A new target starts at the newest event. A pass runs when woken
//! (after each commit, through [`AlertWaker`] or [`Alerter::follow`]; on
//! PostgreSQL also on every `ensign_out_of_band` notification of the audit
//! trigger) and every [`AlertSettings::poll_interval`].
//!
//! Ids are allocated before their transaction commits, so an id can appear
//! after a higher one. A pass therefore stops at a gap in the ids and waits
//! up to [`AlertSettings::gap_grace`] for it to fill before it moves past
//! it (a rolled-back transaction leaves a gap for good). On SQLite, with
//! its single writer, there are no such gaps and no wait.
//!
//! # What is delivered
//!
//! Every change of a flag is a `flag.changed` event. A change that is out
//! of band, disables a flag (the `kill` action, or any change that sets
//! `state` to `DISABLED`) or concerns a flag that is `locked` before or
//! after it, is also a `flag.alert` event with a `severity`, a `kind` (and
//! every `kinds`) and a `message`. For an out-of-band edit the alert
//! compiles the flag set's document as stored and says whether it is
//! published or, because it does not compile, the evaluation nodes keep
//! serving the last valid version (`publication.published`, the errors,
//! and severity `critical`).
//!
//! The body is JSON: `id`, `type`, `auditEventId`, `occurredAt`,
//! `flagSet`, `flag`, `action`, `actor`, `requestId`, `version`,
//! `outOfBand`, `before`, `after`, `diff`, and `alert` for `flag.alert`.
//!
//! The onset of a running experiment's sample-ratio mismatch (an audit
//! event `sample_ratio_mismatch` that the analysis writes when a result
//! finds one and the result before did not) is an `experiment.alert`:
//! `id`, `type`, `auditEventId`, `occurredAt`, `flagSet`, `experiment`,
//! `action`, `actor`, `analysis` (its time, users, the test's figures, the
//! users per variant, the expected weights) and `alert` (`severity`
//! warning, `kind` sample_ratio_mismatch, `message`).
//!
//! A guarded rollout's stop (an audit event `guard_stop`, which the
//! analysis writes when the guard finds the new variant worse than it
//! tolerates) is a `rollout.alert`: `id`, `type`, `auditEventId`,
//! `occurredAt`, `flagSet`, `flag`, `rollout` (its id), `status` (paused
//! or restored), `action`, `actor`, `guard` (metric, direction, tolerance,
//! minimum of users, action, variant), `check` (step, time, verdict, users
//! per side, lift, interval) and `alert` (`severity` warning, `kind`
//! guard_stop, `message` saying all of it in words). The check that
//! clears a step (audited as `guard_clear`) is a `rollout.cleared` of the
//! same shape, with `severity` info and `kind` guard_clear.
//!
//! # Signature
//!
//! Each attempt is a `POST` with these headers:
//!
//! - `X-Ensign-Delivery`: the delivery id (`evt-<audit id>-changed`,
//!   `evt-<audit id>-alert`, `evt-<audit id>-experiment-alert`,
//!   `evt-<audit id>-rollout-alert` or `evt-<audit id>-rollout-cleared`),
//!   the same
//!   on every attempt and equal to the body's `id`;
//! - `X-Ensign-Event`: `flag.changed`, `flag.alert`, `experiment.alert`,
//!   `rollout.alert` or `rollout.cleared`;
//! - `X-Ensign-Timestamp`: the attempt's Unix time in seconds, in decimal;
//! - `X-Ensign-Signature`: `sha256=` and the lowercase hex of
//!   HMAC-SHA256(secret, timestamp + "." + body), where `timestamp` is the
//!   header's text and `body` the exact bytes received.
//!
//! A receiver recomputes the HMAC, compares it in constant time, rejects a
//! timestamp too far from its clock (five minutes, say) so a captured
//! request cannot be replayed later, and ignores a delivery id it has
//! already handled.
//!
//! # Guarantees
//!
//! Delivery is at least once: a target's cursor moves past an event only
//! after every one of its deliveries was answered 2xx. A failed attempt is
//! retried with exponential backoff (from [`AlertSettings::retry_initial`],
//! doubling up to [`AlertSettings::retry_max`]) until it succeeds; later
//! events of that target wait, in order, while other targets go on.
//! Receivers deduplicate by delivery id. Nothing here runs inside a
//! commit: waking the alerter never waits.

mod classify;
mod webhook;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use sea_orm::DbBackend;
use time::OffsetDateTime;
use tokio::sync::{broadcast, watch};

use store::Commit;
use store::{AuditRecord, Store, StoreError, Subject};

pub use classify::{
    Alert, AlertKind, Publication, Severity, alert, alert_kinds, assess, publication,
};
pub use webhook::{
    DELIVERY_HEADER, DeliveryError, EVENT_HEADER, EventType, SIGNATURE_HEADER, TIMESTAMP_HEADER,
    UnknownEvent, WebhookConfig, delivery_id, signature, verify,
};

use webhook::Delivery;

/// The PostgreSQL channel the audit trigger notifies with the id of each
/// out-of-band event.
pub const OUT_OF_BAND_CHANNEL: &str = "ensign_out_of_band";

/// Where alerts go and how hard delivery tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    /// The webhook targets.
    pub webhooks: Vec<WebhookConfig>,
    /// Time between passes when nothing wakes the alerter.
    pub poll_interval: Duration,
    /// Wait before the first retry of a failed delivery.
    pub retry_initial: Duration,
    /// Longest wait between retries.
    pub retry_max: Duration,
    /// How long one attempt may take.
    pub request_timeout: Duration,
    /// How long a gap in the audit ids may stay open before a pass moves
    /// past it (PostgreSQL only).
    pub gap_grace: Duration,
    /// Most audit events read per pass.
    pub batch: u64,
}

impl AlertSettings {
    /// Settings for `webhooks` with the defaults: a pass every 5 s,
    /// retries from 1 s up to 5 min, 10 s per attempt, a 10 s gap grace,
    /// 100 events per pass.
    pub fn new(webhooks: Vec<WebhookConfig>) -> AlertSettings {
        AlertSettings {
            webhooks,
            poll_interval: Duration::from_secs(5),
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            request_timeout: Duration::from_secs(10),
            gap_grace: Duration::from_secs(10),
            batch: 100,
        }
    }
}

/// Why the alerter cannot start.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// A webhook URL that does not parse or is not `http(s)`.
    #[error("invalid webhook URL for host {host}: {reason}")]
    InvalidUrl {
        /// The URL's origin, if it has one (the rest may be secret).
        host: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A webhook without a secret: its deliveries could not be verified.
    #[error("the webhook to {host} has an empty secret")]
    EmptySecret {
        /// The URL's host.
        host: String,
    },
    /// The same URL configured twice.
    #[error("the webhook to {host} is configured twice with the same URL")]
    DuplicateUrl {
        /// The URL's host.
        host: String,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot build the webhook HTTP client")]
    Client(#[source] reqwest::Error),
    /// Reading or creating the cursors failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Wakes the alerter for a pass; cheap, never waits.
#[derive(Debug, Clone)]
pub struct AlertWaker {
    sender: Arc<watch::Sender<u64>>,
}

impl AlertWaker {
    /// Asks for a pass as soon as possible.
    pub fn wake(&self) {
        self.sender.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Turns audit events into webhook deliveries; see the module docs.
#[derive(Debug)]
pub struct Alerter {
    store: Store,
    settings: AlertSettings,
    client: reqwest::Client,
    targets: Vec<Target>,
    waker: AlertWaker,
    commits: Option<broadcast::Receiver<Commit>>,
    listener: Option<PgListener>,
}

/// One webhook target and where its cursor was at start.
#[derive(Debug, Clone)]
struct Target {
    config: WebhookConfig,
    consumer: String,
    host: String,
    start: i64,
}

impl Alerter {
    /// Checks the settings, builds the HTTP client, registers each
    /// target's cursor (a new one starts at the newest audit event, so
    /// changes committed after this returns are delivered) and, on
    /// PostgreSQL, starts listening for out-of-band edits (when that fails
    /// it is retried by [`Alerter::run`], and polling covers the gap).
    pub async fn new(store: Store, settings: AlertSettings) -> Result<Alerter, AlertError> {
        let mut targets: Vec<Target> = Vec::new();
        for config in &settings.webhooks {
            let host = redact::origin(&config.url);
            check_url(&config.url, &host)?;
            if config.secret.is_empty() {
                return Err(AlertError::EmptySecret { host });
            }
            let consumer = webhook::consumer(&config.url);
            if targets.iter().any(|t| t.consumer == consumer) {
                return Err(AlertError::DuplicateUrl { host });
            }
            let start = store.register_cursor(&consumer, &host).await?;
            targets.push(Target {
                config: config.clone(),
                consumer,
                host,
                start,
            });
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ensign/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(AlertError::Client)?;
        let listener = if targets.is_empty() {
            None
        } else {
            connect_listener(&store).await.unwrap_or_else(|error| {
                tracing::warn!(%error, "Cannot listen for out-of-band edits yet; retrying when running.");
                None
            })
        };
        Ok(Alerter {
            store,
            settings,
            client,
            targets,
            waker: AlertWaker {
                sender: Arc::new(watch::channel(0).0),
            },
            commits: None,
            listener,
        })
    }

    /// A handle that wakes the alerter, for whatever commits changes.
    pub fn waker(&self) -> AlertWaker {
        self.waker.clone()
    }

    /// Wakes the alerter on every commit announced on `commits` (the
    /// admin API's [`crate::api::Admin::commits`]).
    pub fn follow(mut self, commits: broadcast::Receiver<Commit>) -> Alerter {
        self.commits = Some(commits);
        self
    }

    /// Delivers until `shutdown` completes. An attempt in flight finishes
    /// (and its cursor is saved) before this returns; a delivery waiting
    /// for a retry is left for the next start.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let (stop, stopped) = watch::channel(false);
        let Alerter {
            store,
            settings,
            client,
            targets,
            waker,
            commits,
            listener,
        } = self;
        let gap_grace = if store.backend() == DbBackend::Postgres {
            settings.gap_grace
        } else {
            Duration::ZERO
        };
        let shared = Shared {
            store,
            settings,
            client,
            gap_grace,
        };
        let workers = targets.into_iter().map(|target| {
            let shared = &shared;
            let wake = waker.sender.subscribe();
            let stopped = stopped.clone();
            async move { shared.follow_target(target, wake, stopped).await }
        });
        let listener = listen(&shared, listener, &waker, stopped.clone());
        let follower = follow_commits(commits, &waker, stopped.clone());
        let stopper = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        tracing::info!(
            webhooks = shared.settings.webhooks.len(),
            "Alerter started."
        );
        futures::join!(join_all(workers), listener, follower, stopper);
        tracing::info!("Alerter stopped.");
    }
}

fn check_url(url: &str, host: &str) -> Result<(), AlertError> {
    let invalid = |reason| AlertError::InvalidUrl {
        host: host.to_owned(),
        reason,
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| invalid("it does not parse"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("only http and https are supported"));
    }
    if parsed.host_str().is_none() {
        return Err(invalid("it has no host"));
    }
    Ok(())
}

/// What every target's loop shares.
struct Shared {
    store: Store,
    settings: AlertSettings,
    client: reqwest::Client,
    gap_grace: Duration,
}

/// How a pass ended.
enum Pass {
    /// It handled a full batch: more may be waiting.
    More,
    /// It caught up.
    Idle,
    /// It waits for a gap in the ids to fill, for at most this long.
    Gap(Duration),
    /// Shutdown was asked for.
    Stopped,
}

impl Shared {
    async fn follow_target(
        &self,
        target: Target,
        mut wake: watch::Receiver<u64>,
        mut stopped: watch::Receiver<bool>,
    ) {
        let mut position = target.start;
        let mut gap: Option<(i64, Instant)> = None;
        loop {
            if *stopped.borrow() {
                return;
            }
            let pause = match self
                .pass(&target, &mut position, &mut gap, &mut stopped)
                .await
            {
                Ok(Pass::More) => continue,
                Ok(Pass::Idle) => self.settings.poll_interval,
                Ok(Pass::Gap(left)) => left.min(self.settings.poll_interval),
                Ok(Pass::Stopped) => return,
                Err(error) => {
                    tracing::warn!(
                        webhook = %target.host,
                        error = %error,
                        cause = ?std::error::Error::source(&error),
                        "Reading the audit trail for alerts failed; retrying."
                    );
                    self.settings.poll_interval
                }
            };
            tokio::select! {
                _ = stopped.changed() => {}
                _ = wake.changed() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Delivers the events after `position` to `target`, in order, moving
    /// its cursor after each one.
    async fn pass(
        &self,
        target: &Target,
        position: &mut i64,
        gap: &mut Option<(i64, Instant)>,
        stopped: &mut watch::Receiver<bool>,
    ) -> Result<Pass, StoreError> {
        let events = self
            .store
            .audit_after(*position, self.settings.batch)
            .await?;
        let full = events.len() as u64 >= self.settings.batch;
        for event in &events {
            if event.id <= *position {
                // Another node moved the cursor past it meanwhile.
                continue;
            }
            let expected = *position + 1;
            if event.id != expected {
                match gap {
                    Some((at, since)) if *at == expected => {
                        let open = since.elapsed();
                        if open < self.gap_grace {
                            return Ok(Pass::Gap(self.gap_grace - open));
                        }
                        tracing::debug!(
                            webhook = %target.host,
                            from = expected,
                            to = event.id - 1,
                            "Moving past a gap in the audit ids."
                        );
                    }
                    _ if self.gap_grace > Duration::ZERO => {
                        *gap = Some((expected, Instant::now()));
                        return Ok(Pass::Gap(self.gap_grace));
                    }
                    _ => {}
                }
            }
            *gap = None;
            if *stopped.borrow() {
                return Ok(Pass::Stopped);
            }
            for delivery in self.deliveries(event).await? {
                if !target.config.wants(delivery.event) {
                    continue;
                }
                if !self.deliver(target, &delivery, stopped).await {
                    return Ok(Pass::Stopped);
                }
            }
            *position = self
                .store
                .advance_cursor(&target.consumer, *position, event.id)
                .await?;
        }
        Ok(if full { Pass::More } else { Pass::Idle })
    }

    async fn deliveries(&self, event: &AuditRecord) -> Result<Vec<Delivery>, StoreError> {
        if event.subject == Subject::Experiment {
            let deliveries = webhook::deliveries(event, None);
            if !deliveries.is_empty() {
                tracing::warn!(
                    audit_event = event.id,
                    flag_set = event.flag_set.as_deref().unwrap_or(""),
                    experiment = %event.subject_key,
                    "Experiment's users do not match its weights (sample-ratio mismatch)."
                );
            }
            return Ok(deliveries);
        }
        if event.subject == Subject::Rollout {
            let deliveries = webhook::deliveries(event, None);
            if event.action == store::Action::GuardStop {
                tracing::warn!(
                    audit_event = event.id,
                    flag_set = event.flag_set.as_deref().unwrap_or(""),
                    flag = %event.subject_key,
                    "Guarded rollout stopped by its guard."
                );
            }
            return Ok(deliveries);
        }
        if event.subject != Subject::Flag {
            return Ok(Vec::new());
        }
        let alert = assess(&self.store, event).await?;
        if let Some(alert) = &alert {
            tracing::warn!(
                audit_event = event.id,
                flag_set = event.flag_set.as_deref().unwrap_or(""),
                flag = %event.subject_key,
                kind = alert.kind.as_str(),
                severity = alert.severity.as_str(),
                message = %alert.message,
                "Flag change raised an alert."
            );
        }
        Ok(webhook::deliveries(event, alert.as_ref()))
    }

    /// Sends `delivery` until it is accepted; `false` when shutdown came
    /// first.
    async fn deliver(
        &self,
        target: &Target,
        delivery: &Delivery,
        stopped: &mut watch::Receiver<bool>,
    ) -> bool {
        let mut delay = self.settings.retry_initial;
        let mut attempt: u32 = 1;
        loop {
            let now = OffsetDateTime::now_utc().unix_timestamp();
            match webhook::send(
                &self.client,
                &target.config,
                delivery,
                now,
                self.settings.request_timeout,
            )
            .await
            {
                Ok(()) => {
                    tracing::debug!(
                        webhook = %target.host,
                        delivery = %delivery.id,
                        attempt,
                        "Webhook delivered."
                    );
                    let at = OffsetDateTime::now_utc();
                    if let Err(error) = self.store.record_delivery(&target.consumer, at).await {
                        tracing::warn!(webhook = %target.host, %error, "Recording a webhook delivery failed.");
                    }
                    return true;
                }
                Err(error) => {
                    tracing::warn!(
                        webhook = %target.host,
                        delivery = %delivery.id,
                        attempt,
                        retry_in_ms = delay.as_millis() as u64,
                        error = %error,
                        cause = ?std::error::Error::source(&error),
                        "Webhook delivery failed; retrying."
                    );
                    let at = OffsetDateTime::now_utc();
                    let said = error_chain(&error);
                    if let Err(error) = self
                        .store
                        .record_delivery_failure(&target.consumer, &said, at)
                        .await
                    {
                        tracing::warn!(webhook = %target.host, %error, "Recording a failed webhook delivery failed.");
                    }
                }
            }
            tokio::select! {
                _ = stopped.changed() => return false,
                () = tokio::time::sleep(delay) => {}
            }
            if *stopped.borrow() {
                return false;
            }
            delay = (delay * 2).min(self.settings.retry_max);
            attempt = attempt.saturating_add(1);
        }
    }
}

type PgListener = sea_orm::sqlx::postgres::PgListener;

/// An error and its causes, as one line: what a failed delivery records
/// (the delivery errors name the target's origin only, never its path).
fn error_chain(error: &DeliveryError) -> String {
    let mut said = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(next) = cause {
        said.push_str(": ");
        said.push_str(&next.to_string());
        cause = next.source();
    }
    said
}

/// On PostgreSQL (with targets to feed), a connection that listens to the
/// audit trigger's channel; `None` elsewhere.
async fn connect_listener(store: &Store) -> Result<Option<PgListener>, sea_orm::sqlx::Error> {
    if store.backend() != DbBackend::Postgres {
        return Ok(None);
    }
    let pool = store.connection().get_postgres_connection_pool();
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(OUT_OF_BAND_CHANNEL).await?;
    Ok(Some(listener))
}

/// On PostgreSQL, wakes the alerter on every notification of the audit
/// trigger (an out-of-band edit) and after the listening connection was
/// lost (notifications may have been missed). Elsewhere, does nothing.
async fn listen(
    shared: &Shared,
    listener: Option<PgListener>,
    waker: &AlertWaker,
    mut stopped: watch::Receiver<bool>,
) {
    if shared.store.backend() != DbBackend::Postgres || shared.settings.webhooks.is_empty() {
        return;
    }
    let mut listener = match listener {
        Some(listener) => listener,
        None => loop {
            match connect_listener(&shared.store).await {
                Ok(Some(listener)) => {
                    // Edits made while it was not listening are found now.
                    waker.wake();
                    break listener;
                }
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(%error, "Cannot listen for out-of-band edits; polling meanwhile.");
                    tokio::select! {
                        _ = stopped.changed() => return,
                        () = tokio::time::sleep(shared.settings.poll_interval) => {}
                    }
                }
            }
        },
    };
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            received = listener.try_recv() => match received {
                Ok(Some(_)) => waker.wake(),
                Ok(None) => {
                    tracing::info!("Listening connection for out-of-band edits was lost and is restored.");
                    waker.wake();
                }
                Err(error) => {
                    tracing::warn!(%error, "Listening for out-of-band edits failed; retrying.");
                    tokio::select! {
                        _ = stopped.changed() => return,
                        () = tokio::time::sleep(shared.settings.poll_interval) => {}
                    }
                    waker.wake();
                }
            },
        }
    }
}

/// Wakes the alerter on every announced commit.
async fn follow_commits(
    commits: Option<broadcast::Receiver<Commit>>,
    waker: &AlertWaker,
    mut stopped: watch::Receiver<bool>,
) {
    let Some(mut commits) = commits else {
        return;
    };
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            received = commits.recv() => match received {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => waker.wake(),
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}
