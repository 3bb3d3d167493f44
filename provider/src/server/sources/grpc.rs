//! flagd sync over gRPC from another flagd-compatible server
//! (`flagd.sync.v1.FlagSyncService/SyncFlags`): every message carries the
//! whole flag configuration for the selector, which replaces this source's
//! state. A lost stream is re-opened with capped exponential backoff; the
//! last good state stays served meanwhile.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tonic::metadata::MetadataValue;
use tonic::transport::{ClientTlsConfig, Endpoint};

use engine::Format;

use crate::proto::sync::v1::SyncFlagsRequest;
use crate::proto::sync::v1::flag_sync_service_client::FlagSyncServiceClient;
use crate::server::sources::Loader;

/// First and longest wait between reconnection attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(10));

/// Syncs source `index` from `target` (`host:port`) until `shutdown`
/// resolves.
pub async fn run(
    loader: Arc<Loader>,
    index: usize,
    target: String,
    tls: bool,
    selector: Option<String>,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut backoff = BACKOFF.0;
    loop {
        tokio::select! {
            outcome = follow(&loader, index, &target, tls, selector.as_deref()) => {
                match outcome {
                    // The stream delivered before it ended: retry promptly.
                    Ok(true) => backoff = BACKOFF.0,
                    Ok(false) => {}
                    Err(error) => loader.failed(
                        index,
                        &format!("syncing from {}: {error}", redact::url(&target)),
                    ),
                }
            }
            () = &mut shutdown => return,
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = &mut shutdown => return,
        }
        backoff = (backoff * 2).min(BACKOFF.1);
    }
}

/// Opens one stream and loads what it delivers until it ends. Returns
/// whether anything was loaded.
async fn follow(
    loader: &Loader,
    index: usize,
    target: &str,
    tls: bool,
    selector: Option<&str>,
) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let scheme = if tls { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{target}"))?
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(30));
    if tls {
        crate::tls::ensure_crypto_provider();
        endpoint = endpoint.tls_config(ClientTlsConfig::new().with_webpki_roots())?;
    }
    let channel = endpoint.connect().await?;
    #[expect(
        deprecated,
        reason = "older flagd servers read the selector only from this field; newer ones from the header set below"
    )]
    let mut request = tonic::Request::new(SyncFlagsRequest {
        provider_id: "ensign".to_owned(),
        selector: selector.unwrap_or_default().to_owned(),
    });
    if let Some(selector) = selector
        && let Ok(value) = MetadataValue::try_from(selector)
    {
        request.metadata_mut().insert("flagd-selector", value);
    }
    let mut stream = FlagSyncServiceClient::new(channel)
        .sync_flags(request)
        .await?
        .into_inner();
    let mut loaded = false;
    while let Some(message) = stream.next().await {
        let message = message?;
        // A payload that does not parse is counted by the loader; the
        // stream goes on, and the next payload may be good.
        if loader
            .load(index, &message.flag_configuration, Format::Json)
            .await
            .is_ok()
        {
            loaded = true;
        }
    }
    Ok(loaded)
}
