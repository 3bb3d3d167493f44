//! The in-process provider's exposure reporter: the evaluations whose flag
//! serves an experiment and whose split picked the variant, for a context
//! with a targeting key, sent in batches to a node's
//! `POST /ensign/v1/exposures`, so that applications evaluating locally
//! are not blind spots in an experiment.
//!
//! Reporting never slows an evaluation: an exposure is pushed into a
//! bounded queue (a full queue drops it and counts the drop) and a
//! background task posts batches. A user already reported in a variant is
//! not reported again while a small cache remembers them; the node and the
//! store deduplicate too. [`InProcessProvider::flush`] sends what is
//! queued, for an application about to exit.
//!
//! [`InProcessProvider::flush`]: crate::client::InProcessProvider::flush

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::Mutex;

use crate::client::batch::{Batcher, Deliver, Shape, WhenDropped};
use crate::client::{ClientError, runtime};

/// Exposures queued before new ones are dropped.
const QUEUE: usize = 10_000;
/// The most exposures in one request (the endpoint's limit).
const BATCH: usize = 1_000;
/// How long a batch waits to fill before it is sent.
const LINGER: Duration = Duration::from_millis(500);
/// (flag, user, variant) keys remembered as reported.
const REMEMBERED: usize = 100_000;

/// Where and how exposures are sent.
#[derive(Debug, Clone)]
pub(crate) struct ReporterSettings {
    /// The node's OFREP base URL (`http://host:8016`).
    pub(crate) base_url: String,
    /// The SDK key, if the node requires one.
    pub(crate) api_key: Option<String>,
}

/// One exposure as the endpoint takes it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Sent {
    flag_key: String,
    variant: String,
    targeting_key: String,
    timestamp: String,
}

/// The reporter: a queue and the task that empties it.
#[derive(Debug)]
pub(crate) struct Reporter {
    batcher: Batcher<Sent>,
    seen: Mutex<HashSet<(String, String, String)>>,
    /// Exposures dropped: the queue was full, or the node refused or could
    /// not be reached.
    dropped: Arc<AtomicU64>,
    /// Exposures the node accepted.
    sent: Arc<AtomicU64>,
}

impl Reporter {
    /// Starts a reporter on the current runtime.
    pub(crate) fn start(settings: ReporterSettings) -> Result<Reporter, ClientError> {
        let url = format!(
            "{}/ensign/v1/exposures",
            settings.base_url.trim_end_matches('/')
        );
        reqwest::Url::parse(&url).map_err(|error| ClientError::InvalidBaseUrl {
            url: redact::url(&settings.base_url),
            reason: error.to_string(),
        })?;
        let mut headers = HeaderMap::new();
        if let Some(key) = &settings.api_key {
            let value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                ClientError::InvalidHeader {
                    header: "authorization",
                }
            })?;
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(ClientError::Http)?;
        let runtime = runtime()?;
        let dropped = Arc::new(AtomicU64::new(0));
        let sent = Arc::new(AtomicU64::new(0));
        let post = Post {
            http,
            url,
            dropped: Arc::clone(&dropped),
            sent: Arc::clone(&sent),
        };
        let shape = Shape {
            queue: QUEUE,
            batch: BATCH,
            linger: LINGER,
        };
        Ok(Reporter {
            batcher: Batcher::start(post, shape, WhenDropped::Abort, &runtime),
            seen: Mutex::new(HashSet::new()),
            dropped,
            sent,
        })
    }

    /// Queues an exposure, unless this user was reported in this variant
    /// already; never waits.
    pub(crate) fn report(&self, flag: &str, variant: &str, targeting_key: &str) {
        let key = (
            flag.to_owned(),
            variant.to_owned(),
            targeting_key.to_owned(),
        );
        // A busy cache only means the node deduplicates instead.
        if let Ok(mut seen) = self.seen.try_lock() {
            if seen.contains(&key) {
                return;
            }
            if seen.len() >= REMEMBERED {
                seen.clear();
            }
            seen.insert(key);
        }
        let sent = Sent {
            flag_key: flag.to_owned(),
            variant: variant.to_owned(),
            targeting_key: targeting_key.to_owned(),
            timestamp: OffsetDateTime::now_utc()
                .format(&Rfc3339)
                .unwrap_or_default(),
        };
        if !self.batcher.push(sent) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends what is queued and waits until it has been sent (or given up).
    pub(crate) async fn flush(&self) {
        self.batcher.flush().await;
    }

    /// Exposures accepted by the node, and dropped.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
        )
    }
}

/// Posts one batch of exposures, retrying a failed post a few times before
/// dropping it.
#[derive(Debug)]
struct Post {
    http: reqwest::Client,
    url: String,
    dropped: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
}

impl Deliver<Sent> for Post {
    async fn deliver(&self, batch: &[Sent]) {
        post(&self.http, &self.url, batch, &self.dropped, &self.sent).await;
    }
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    batch: &[Sent],
    dropped: &AtomicU64,
    sent: &AtomicU64,
) {
    let body = serde_json::json!({ "exposures": batch });
    let mut backoff = Duration::from_millis(200);
    for attempt in 1..=3 {
        match http.post(url).json(&body).send().await {
            Ok(response) if response.status() == reqwest::StatusCode::ACCEPTED => {
                let answer: serde_json::Value = response.json().await.unwrap_or_default();
                let accepted = answer["accepted"].as_u64().unwrap_or(0);
                sent.fetch_add(accepted, Ordering::Relaxed);
                dropped.fetch_add(
                    batch.len() as u64 - accepted.min(batch.len() as u64),
                    Ordering::Relaxed,
                );
                return;
            }
            Ok(response) => {
                tracing::warn!(status = %response.status(), attempt, "The node refused exposures.");
                // A refusal is not retried: the same body would be refused.
                if response.status().is_client_error()
                    && response.status() != reqwest::StatusCode::TOO_MANY_REQUESTS
                {
                    break;
                }
            }
            Err(error) => {
                // The URL may carry credentials: logged without it.
                let error = error.without_url();
                tracing::warn!(%error, attempt, "Sending exposures failed.");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff *= 2;
    }
    dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
}
