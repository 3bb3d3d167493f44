//! The Rust OpenFeature provider over OFREP, through the real OpenFeature
//! client against a whole server: single evaluations of every type with
//! targeting, the bulk cache with its ETag and change events, a server
//! that goes away and comes back, API keys and rate limits.

use std::num::NonZeroU32;
use std::time::Duration;

use open_feature::provider::{FeatureProvider, ProviderStatus};
use open_feature::{EvaluationContext, EvaluationErrorCode};

use provider::client::{ProviderEvent, Refresh, RemoteProvider};
use provider::server::admission::{ApiKey, RateLimit};
use provider::server::ofrep::OfrepConfig;
use provider::server::{Server, ServerConfig};

use crate::client::{
    app_sources, check_every_type, client_for, config, next_event, start, turn_banner_on,
};

fn base(server: &Server) -> String {
    format!("http://{}", server.ofrep_addr)
}

#[tokio::test]
async fn remote_resolves_every_type() {
    let server = start().await;
    let provider = RemoteProvider::builder(base(&server))
        .build()
        .expect("the provider builds");
    let (_api, client) = client_for(provider.clone()).await;
    assert_eq!(provider.status(), ProviderStatus::Ready);
    check_every_type(&client, true).await;
    server.shutdown().await;
}

#[tokio::test]
async fn remote_bulk_answers_from_its_cache() {
    let server = start().await;
    let provider = RemoteProvider::builder(base(&server))
        .bulk(EvaluationContext::default().with_targeting_key("user-1"))
        .build()
        .expect("the provider builds");
    let (_api, client) = client_for(provider.clone()).await;
    assert_eq!(
        provider.status(),
        ProviderStatus::Ready,
        "set_provider waits for the first fetch"
    );
    check_every_type(&client, false).await;

    // The cache answers for the bulk context, not the caller's.
    let ada = EvaluationContext::default().with_custom_field("email", "ada@example.com");
    assert_eq!(
        client.get_bool_value("banner", Some(&ada), None).await,
        Ok(false)
    );
    let vip = RemoteProvider::builder(base(&server))
        .bulk(
            EvaluationContext::default()
                .with_targeting_key("vip")
                .with_custom_field("email", "ada@example.com"),
        )
        .build()
        .expect("the provider builds");
    let (_vip_api, vip_client) = client_for(vip).await;
    assert_eq!(
        vip_client.get_bool_value("banner", None, None).await,
        Ok(true)
    );
    assert_eq!(
        vip_client.get_float_value("ratio", None, None).await,
        Ok(0.75)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn remote_bulk_revalidates_and_follows_change_events() {
    let server = start().await;
    let ofrep_addr = server.ofrep_addr;
    let provider = RemoteProvider::builder(base(&server))
        .bulk(EvaluationContext::default())
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .expect("the provider builds");
    let mut events = provider.events();
    let (_api, client) = client_for(provider.clone()).await;
    assert_eq!(next_event(&mut events).await, ProviderEvent::Ready);

    // Nothing changed: the server answers 304 to the cached ETag.
    assert_eq!(
        provider.refresh().await.expect("revalidates"),
        Refresh::NotModified
    );

    // A change reaches the provider over the event stream, which re-fetches.
    turn_banner_on(&server).await;
    assert_eq!(
        next_event(&mut events).await,
        ProviderEvent::ConfigurationChanged {
            flag_keys: vec!["banner".into()]
        }
    );
    assert_eq!(client.get_bool_value("banner", None, None).await, Ok(true));
    assert_eq!(
        provider.refresh().await.expect("revalidates"),
        Refresh::NotModified
    );

    // The server goes away: stale, and the cache still answers.
    server.shutdown().await;
    assert!(matches!(
        next_event(&mut events).await,
        ProviderEvent::Stale { .. }
    ));
    assert_eq!(provider.status(), ProviderStatus::STALE);
    assert_eq!(client.get_bool_value("banner", None, None).await, Ok(true));

    // Back on the same port with the original flags: ready, and re-fetched.
    let restarted = Server::start(ServerConfig {
        ofrep_port: ofrep_addr.port(),
        ..config(app_sources())
    })
    .await
    .expect("the server restarts on its port");
    assert_eq!(next_event(&mut events).await, ProviderEvent::Ready);
    assert_eq!(
        next_event(&mut events).await,
        ProviderEvent::ConfigurationChanged {
            flag_keys: vec!["banner".into()]
        }
    );
    assert_eq!(client.get_bool_value("banner", None, None).await, Ok(false));
    restarted.shutdown().await;
}

#[tokio::test]
async fn remote_sends_api_keys_and_backs_off_when_rate_limited() {
    let server = Server::start(ServerConfig {
        ofrep: OfrepConfig {
            api_keys: vec![ApiKey {
                key: "s3cret".into(),
                selector: None,
            }],
            rate_limit: Some(RateLimit {
                requests_per_second: NonZeroU32::MIN,
                burst: Some(NonZeroU32::new(2).expect("nonzero")),
            }),
            ..OfrepConfig::default()
        },
        ..config(app_sources())
    })
    .await
    .expect("the server starts");
    while !server.flags().is_ready() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Without the key: refused, and the provider says so.
    let anonymous = RemoteProvider::builder(base(&server))
        .build()
        .expect("the provider builds");
    let mut events = anonymous.events();
    let (_anonymous_api, anonymous_client) = client_for(anonymous.clone()).await;
    let refused = anonymous_client
        .get_bool_value("banner", None, None)
        .await
        .expect_err("refused");
    assert_eq!(refused.code, EvaluationErrorCode::General("GENERAL".into()));
    assert!(matches!(
        next_event(&mut events).await,
        ProviderEvent::Error { .. }
    ));
    assert_eq!(anonymous.status(), ProviderStatus::Error);

    // With it: answered, until the burst is spent; then the provider waits
    // out Retry-After without asking.
    let keyed = RemoteProvider::builder(base(&server))
        .api_key("s3cret")
        .build()
        .expect("the provider builds");
    let (_keyed_api, keyed_client) = client_for(keyed).await;
    assert_eq!(
        keyed_client.get_bool_value("banner", None, None).await,
        Ok(false)
    );
    assert_eq!(
        keyed_client.get_string_value("greeting", None, None).await,
        Ok("hello".into())
    );
    let limited = keyed_client
        .get_bool_value("banner", None, None)
        .await
        .expect_err("rate limited");
    assert!(
        limited
            .message
            .as_deref()
            .is_some_and(|m| m.contains("rate limited")),
        "{limited:?}"
    );
    let paused = keyed_client
        .get_bool_value("banner", None, None)
        .await
        .expect_err("still paused");
    assert!(
        paused
            .message
            .as_deref()
            .is_some_and(|m| m.contains("retrying in")),
        "{paused:?}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        keyed_client.get_bool_value("banner", None, None).await,
        Ok(false)
    );
    server.shutdown().await;
}
