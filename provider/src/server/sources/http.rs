//! A flag file at an HTTP(S) URL, polled with `If-None-Match` so an
//! unchanged file costs the server a 304.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, ETAG, IF_NONE_MATCH};

use engine::Format;

use crate::server::sources::Loader;

/// Time allowed for one fetch.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Loads source `index` from `url`, then polls it every `interval` until
/// `shutdown` resolves.
pub async fn run(
    loader: Arc<Loader>,
    index: usize,
    url: String,
    bearer_token: Option<String>,
    interval: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(client) => client,
        Err(error) => {
            loader.failed(index, &format!("building the HTTP client: {error}"));
            return;
        }
    };
    let format = Format::from_path(url.split('?').next().unwrap_or(&url));
    let mut etag: Option<String> = None;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        poll(
            &loader,
            index,
            &client,
            &url,
            bearer_token.as_deref(),
            format,
            &mut etag,
        )
        .await;
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = &mut shutdown => break,
        }
    }
}

/// Fetches once; loads the body if it changed.
async fn poll(
    loader: &Loader,
    index: usize,
    client: &reqwest::Client,
    url: &str,
    bearer_token: Option<&str>,
    format: Format,
    etag: &mut Option<String>,
) {
    let mut request = client.get(url);
    if let Some(token) = bearer_token {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(tag) = etag.as_deref() {
        request = request.header(IF_NONE_MATCH, tag);
    }
    // The URL may carry credentials or a token in its query: messages show
    // it redacted, and the client's errors without their copy of it.
    let shown = || redact::url(url);
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            let error = error.without_url();
            return loader.failed(index, &format!("fetching {}: {error}", shown()));
        }
    };
    match response.status() {
        StatusCode::NOT_MODIFIED => {}
        status if status.is_success() => {
            let tag = response
                .headers()
                .get(ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            match response.text().await {
                Ok(text) => {
                    // Remember the tag only for text that loaded, so a
                    // broken file is fetched again rather than skipped.
                    if loader.load(index, &text, format).await.is_ok() {
                        *etag = tag;
                    }
                }
                Err(error) => {
                    let error = error.without_url();
                    loader.failed(index, &format!("reading {}: {error}", shown()));
                }
            }
        }
        status => loader.failed(index, &format!("fetching {}: HTTP {status}", shown())),
    }
}
