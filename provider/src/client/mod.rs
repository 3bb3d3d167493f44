//! Ensign's Rust OpenFeature provider, in two modes:
//!
//! - [`InProcessProvider`] embeds the engine and follows the flag
//!   definitions over flagd's sync protocol (`FlagSyncService/SyncFlags`),
//!   evaluating locally: no network hop per evaluation. A lost stream is
//!   re-opened with capped backoff while the last good state stays served.
//! - [`RemoteProvider`] asks an OFREP server: one request per evaluation,
//!   or, in bulk mode, every flag evaluated once for a static context,
//!   cached under its ETag and re-fetched when the server's event stream
//!   says the flags changed.
//!
//! Both implement [`open_feature::provider::FeatureProvider`] and are
//! cheap to clone: keep a clone to follow [`ProviderEvent`]s after handing
//! one to `OpenFeature::set_provider`.
//!
//! # What open-feature 0.3 decides
//!
//! - The SDK never tells a provider the caller's default value. A flag that
//!   resolves to the code default (disabled, or no default variant) is
//!   returned as an error with code `General("DISABLED")` or
//!   `General("DEFAULT")`, so `client.get_bool_value(..).await
//!   .unwrap_or(default)` yields the caller's default;
//!   [`code_default_reason`] tells these apart from failures.
//! - The SDK has no event API: providers expose [`ProviderEvent`]s through
//!   their own `events()` subscription, and `status()` through the trait.
//!   They move to the SDK's events once it has them.
//! - The SDK has no tracking API (OpenFeature section 6): both providers
//!   have a `track` method of their own, taking the context the
//!   application merged and [`TrackingDetails`], and sending events to a
//!   node's `POST /ensign/v1/events` in batches; `flush` sends what is
//!   queued. `track` moves behind the SDK's client once it has one.

mod batch;
mod convert;
mod events;
mod exposures;
mod in_process;
mod remote;
mod sse;
mod tracking;

pub use convert::{
    ContextError, code_default_reason, context_to_json, struct_from_json, value_from_json,
};
pub use events::ProviderEvent;
pub use in_process::{InProcessBuilder, InProcessProvider};
pub use remote::{Refresh, RemoteBuilder, RemoteProvider};
pub use tracking::{TrackingCounts, TrackingDetails};

/// Why a provider could not be built, or a bulk refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The sync target is not a usable address.
    #[error("sync target {target:?} is not valid: {reason}")]
    InvalidTarget {
        /// The target, with its secrets hidden.
        target: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The OFREP base URL is not a usable URL.
    #[error("OFREP base URL {url:?} is not valid: {reason}")]
    InvalidBaseUrl {
        /// The URL, with its secrets hidden.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header value (API key, token, selector) is not a valid header.
    #[error("the {header} value is not a valid HTTP header value")]
    InvalidHeader {
        /// Which header.
        header: &'static str,
    },
    /// The static context of bulk mode cannot be sent as JSON.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// Providers run background tasks and must be built inside a tokio
    /// runtime.
    #[error("providers must be built inside a tokio runtime")]
    NoRuntime,
    /// The HTTP client could not be set up.
    #[error("the HTTP client could not be built: {0}")]
    Http(#[source] reqwest::Error),
    /// An OFREP request failed.
    #[error("OFREP request to {url} failed: {source}")]
    Request {
        /// The request's URL, with its secrets hidden.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// An OFREP server answered with an unexpected status.
    #[error("OFREP server answered {status}: {details}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The body's `errorDetails`, or the body.
        details: String,
    },
    /// An OFREP body was not what the protocol defines.
    #[error("OFREP body from {url} is not valid: {reason}")]
    Body {
        /// The request's URL, with its secrets hidden.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The operation needs bulk mode.
    #[error("this remote provider is not in bulk mode")]
    NotBulk,
}

/// A background task that stops when its owner is dropped.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Spawns `task` on the current runtime.
fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Result<AbortOnDrop, ClientError> {
    Ok(AbortOnDrop(runtime()?.spawn(task)))
}

/// The current tokio runtime.
fn runtime() -> Result<tokio::runtime::Handle, ClientError> {
    tokio::runtime::Handle::try_current().map_err(|_| ClientError::NoRuntime)
}
