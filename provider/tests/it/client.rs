//! The Rust OpenFeature provider in process, through the real OpenFeature
//! client against a whole server on ephemeral ports: every value type,
//! targeting, static context, selectors, errors, change events, and a
//! server that goes away and comes back. Shared fixtures for the remote
//! provider's tests live here too.

use std::time::Duration;

use open_feature::provider::{FeatureProvider, ProviderStatus};
use open_feature::{
    Client, EvaluationContext, EvaluationErrorCode, EvaluationReason, OpenFeature, StructValue,
};
use serde_json::{Map, json};
use tokio::sync::broadcast;

use engine::{CompileOptions, Format, Snapshot};
use provider::client::{InProcessProvider, ProviderEvent, code_default_reason};
use provider::server::sources::{SourceKind, SourceSpec};
use provider::server::{Server, ServerConfig};

/// Flags of every type, with targeting on the caller's context and on the
/// server's static context.
pub(crate) const APP: &str = r##"{
  "metadata": { "flagSetId": "app", "team": "web" },
  "flags": {
    "banner": {
      "state": "ENABLED",
      "variants": { "on": true, "off": false },
      "defaultVariant": "off",
      "targeting": { "if": [{ "ends_with": [{ "var": "email" }, "@example.com"] }, "on", null] }
    },
    "greeting": {
      "state": "ENABLED",
      "variants": { "en": "hello", "es": "hola" },
      "defaultVariant": "en",
      "targeting": { "if": [{ "==": [{ "var": "locale" }, "es"] }, "es", null] }
    },
    "max-items": {
      "state": "ENABLED",
      "variants": { "small": 10, "large": 50, "half": 12.5 },
      "defaultVariant": "small",
      "targeting": { "if": [{ "==": [{ "var": "plan" }, "pro"] }, "large", { "if": [{ "==": [{ "var": "plan" }, "odd"] }, "half", null] }] }
    },
    "ratio": {
      "state": "ENABLED",
      "variants": { "low": 0.25, "high": 0.75 },
      "defaultVariant": "low",
      "targeting": { "if": [{ "==": [{ "var": "targetingKey" }, "vip"] }, "high", null] }
    },
    "layout": {
      "state": "ENABLED",
      "variants": { "roomy": { "columns": 2, "dense": false, "name": "roomy" }, "dense": { "columns": 3, "dense": true, "name": "dense" } },
      "defaultVariant": "roomy",
      "metadata": { "owner": "design" }
    },
    "env-label": {
      "state": "ENABLED",
      "variants": { "prod": "production", "other": "elsewhere" },
      "defaultVariant": "other",
      "targeting": { "if": [{ "==": [{ "var": "env" }, "prod"] }, "prod", "other"] }
    },
    "retired": {
      "state": "DISABLED",
      "variants": { "on": true, "off": false },
      "defaultVariant": "off"
    }
  }
}"##;

/// Another flag set, which a selector for `app` must not see.
pub(crate) const OTHER: &str = r#"{
  "metadata": { "flagSetId": "other" },
  "flags": {
    "elsewhere": { "state": "ENABLED", "variants": { "on": true }, "defaultVariant": "on" }
  }
}"#;

pub(crate) fn config(sources: Vec<SourceSpec>) -> ServerConfig {
    let mut static_context = Map::new();
    static_context.insert("env".into(), json!("prod"));
    ServerConfig {
        bind: [127, 0, 0, 1].into(),
        port: 0,
        sync_port: 0,
        ofrep_port: 0,
        management_port: 0,
        sources,
        static_context,
        ..ServerConfig::default()
    }
}

pub(crate) fn app_sources() -> Vec<SourceSpec> {
    vec![
        SourceSpec {
            name: "app.json".into(),
            kind: SourceKind::Text { text: APP.into() },
        },
        SourceSpec {
            name: "other.json".into(),
            kind: SourceKind::Text { text: OTHER.into() },
        },
    ]
}

/// A server with the app and other flag sets, loaded.
pub(crate) async fn start() -> Server {
    let server = Server::start(config(app_sources()))
        .await
        .expect("the server starts");
    for _ in 0..200 {
        if server.flags().is_ready() {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the server never loaded its flags");
}

/// Publishes the app flags with `banner` defaulting to on.
pub(crate) async fn turn_banner_on(server: &Server) {
    let edited = APP.replacen(
        "\"defaultVariant\": \"off\"",
        "\"defaultVariant\": \"on\"",
        1,
    );
    let (app, _) = Snapshot::from_text(
        "app.json",
        &edited,
        Format::Json,
        &CompileOptions::default(),
    )
    .expect("the edited flags parse");
    let (snapshot, _) = app
        .reload_source(
            "other.json",
            OTHER,
            Format::Json,
            &CompileOptions::default(),
        )
        .expect("the other flags parse");
    let changes = server.flags().publish(snapshot).await;
    assert_eq!(changes.changed, ["banner"]);
}

/// The next event, within a few seconds.
pub(crate) async fn next_event(events: &mut broadcast::Receiver<ProviderEvent>) -> ProviderEvent {
    tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("an event arrives in time")
        .expect("the event feed is open")
}

/// An OpenFeature API of its own (not the global singleton, which tests
/// running in parallel would share) with `provider` set.
pub(crate) async fn client_for(provider: impl FeatureProvider) -> (OpenFeature, Client) {
    let mut api = OpenFeature::default();
    api.set_provider(provider).await;
    let client = api.create_client();
    (api, client)
}

/// Resolves every type through `client`, as both modes must. With
/// `dynamic`, the caller's context decides targeting; without it (remote
/// bulk mode), only the defaults are checked.
pub(crate) async fn check_every_type(client: &Client, dynamic: bool) {
    let nobody = EvaluationContext::default().with_targeting_key("user-1");

    // Booleans, with variant, reason and flag-set metadata.
    let banner = client
        .get_bool_details("banner", Some(&nobody), None)
        .await
        .expect("banner resolves");
    assert!(!banner.value);
    assert_eq!(banner.variant.as_deref(), Some("off"));
    assert_eq!(banner.reason, Some(EvaluationReason::Default));
    assert_eq!(
        banner.flag_metadata.values.get("team"),
        Some(&open_feature::FlagMetadataValue::String("web".into()))
    );

    // Strings, integers, floats.
    assert_eq!(
        client
            .get_string_value("greeting", Some(&nobody), None)
            .await,
        Ok("hello".to_owned())
    );
    assert_eq!(
        client.get_int_value("max-items", Some(&nobody), None).await,
        Ok(10)
    );
    assert_eq!(
        client.get_float_value("ratio", Some(&nobody), None).await,
        Ok(0.25)
    );

    // Objects, with the flag's own metadata over its set's.
    let layout = client
        .get_struct_details::<StructValue>("layout", Some(&nobody), None)
        .await
        .expect("layout resolves");
    assert_eq!(
        layout.value,
        StructValue::default()
            .with_field("columns", 2)
            .with_field("dense", false)
            .with_field("name", "roomy")
    );
    assert_eq!(layout.variant.as_deref(), Some("roomy"));
    assert_eq!(layout.reason, Some(EvaluationReason::Static));
    assert_eq!(
        layout.flag_metadata.values.get("owner"),
        Some(&open_feature::FlagMetadataValue::String("design".into()))
    );

    // The server's static context reaches the rules.
    assert_eq!(
        client
            .get_string_value("env-label", Some(&nobody), None)
            .await,
        Ok("production".to_owned())
    );

    // Unknown flags, type mismatches, disabled flags.
    let missing = client
        .get_bool_value("no-such-flag", Some(&nobody), None)
        .await
        .expect_err("no such flag");
    assert_eq!(missing.code, EvaluationErrorCode::FlagNotFound);
    let mismatch = client
        .get_int_value("greeting", Some(&nobody), None)
        .await
        .expect_err("a string is not an integer");
    assert_eq!(mismatch.code, EvaluationErrorCode::TypeMismatch);
    let mismatch = client
        .get_bool_value("layout", Some(&nobody), None)
        .await
        .expect_err("an object is not a boolean");
    assert_eq!(mismatch.code, EvaluationErrorCode::TypeMismatch);
    let retired = client.get_bool_value("retired", Some(&nobody), None).await;
    assert!(retired.clone().unwrap_or(true), "the caller's default");
    assert_eq!(
        code_default_reason(
            &retired.expect_err("the code default is an error in open-feature 0.3")
        ),
        Some(EvaluationReason::Disabled)
    );

    if !dynamic {
        return;
    }
    let ada = EvaluationContext::default()
        .with_targeting_key("vip")
        .with_custom_field("email", "ada@example.com")
        .with_custom_field("locale", "es")
        .with_custom_field("plan", "pro");
    let banner = client
        .get_bool_details("banner", Some(&ada), None)
        .await
        .expect("banner resolves");
    assert!(banner.value);
    assert_eq!(banner.reason, Some(EvaluationReason::TargetingMatch));
    assert_eq!(
        client.get_string_value("greeting", Some(&ada), None).await,
        Ok("hola".to_owned())
    );
    assert_eq!(
        client.get_int_value("max-items", Some(&ada), None).await,
        Ok(50)
    );
    assert_eq!(
        client.get_float_value("ratio", Some(&ada), None).await,
        Ok(0.75)
    );
    // An integer request for a fractional number is a mismatch, not a
    // truncation.
    let odd = EvaluationContext::default().with_custom_field("plan", "odd");
    assert_eq!(
        client.get_float_value("max-items", Some(&odd), None).await,
        Ok(12.5)
    );
    assert_eq!(
        client
            .get_int_value("max-items", Some(&odd), None)
            .await
            .map_err(|e| e.code),
        Err(EvaluationErrorCode::TypeMismatch)
    );
    // The static context wins over the caller's, as on the server.
    let staging = EvaluationContext::default().with_custom_field("env", "staging");
    assert_eq!(
        client
            .get_string_value("env-label", Some(&staging), None)
            .await,
        Ok("production".to_owned())
    );
}

fn in_process(server: &Server) -> InProcessProvider {
    InProcessProvider::builder(server.sync_addr.expect("a TCP sync listener").to_string())
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .expect("the provider builds")
}

#[tokio::test]
async fn in_process_resolves_every_type() {
    let server = start().await;
    let provider = in_process(&server);
    let (_api, client) = client_for(provider.clone()).await;
    assert_eq!(
        provider.status(),
        ProviderStatus::Ready,
        "set_provider waits for the first state"
    );
    check_every_type(&client, true).await;
    // Without a selector every flag set is synced.
    assert_eq!(
        client.get_bool_value("elsewhere", None, None).await,
        Ok(true)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn in_process_selectors_pick_flag_sets() {
    let server = start().await;
    let provider = InProcessProvider::builder(format!(
        "http://{}",
        server.sync_addr.expect("a TCP sync listener")
    ))
    .selector("flagSetId=app")
    .build()
    .expect("the provider builds");
    let (_api, client) = client_for(provider).await;
    assert_eq!(
        client.get_string_value("greeting", None, None).await,
        Ok("hello".to_owned())
    );
    assert_eq!(
        client
            .get_bool_value("elsewhere", None, None)
            .await
            .map_err(|e| e.code),
        Err(EvaluationErrorCode::FlagNotFound)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn in_process_is_not_ready_without_a_server() {
    // A port nothing listens on: bind one, note it, let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let provider = InProcessProvider::builder(format!("127.0.0.1:{port}"))
        .init_timeout(Duration::from_secs(2))
        .build()
        .expect("the provider builds");
    let mut events = provider.events();
    let (_api, client) = client_for(provider.clone()).await;
    assert!(matches!(
        next_event(&mut events).await,
        ProviderEvent::Error { .. }
    ));
    assert_eq!(provider.status(), ProviderStatus::Error);
    assert_eq!(
        client
            .get_bool_value("banner", None, None)
            .await
            .map_err(|e| e.code),
        Err(EvaluationErrorCode::ProviderNotReady)
    );
}

#[tokio::test]
async fn in_process_follows_changes_and_survives_a_server_restart() {
    let server = start().await;
    let sync_addr = server.sync_addr.expect("a TCP sync listener");
    let provider = in_process(&server);
    let mut events = provider.events();
    let (_api, client) = client_for(provider.clone()).await;
    assert_eq!(next_event(&mut events).await, ProviderEvent::Ready);
    assert_eq!(client.get_bool_value("banner", None, None).await, Ok(false));

    // A change on the server is announced with its keys and served.
    turn_banner_on(&server).await;
    assert_eq!(
        next_event(&mut events).await,
        ProviderEvent::ConfigurationChanged {
            flag_keys: vec!["banner".into()]
        }
    );
    assert_eq!(client.get_bool_value("banner", None, None).await, Ok(true));

    // The server goes away: stale, and the last good state is served.
    server.shutdown().await;
    assert!(matches!(
        next_event(&mut events).await,
        ProviderEvent::Stale { .. }
    ));
    assert_eq!(provider.status(), ProviderStatus::STALE);
    assert_eq!(client.get_bool_value("banner", None, None).await, Ok(true));
    assert_eq!(client.get_int_value("max-items", None, None).await, Ok(10));

    // It comes back on the same port with the original flags: ready again,
    // and the difference is announced.
    let restarted = Server::start(ServerConfig {
        sync_port: sync_addr.port(),
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
    assert_eq!(provider.status(), ProviderStatus::Ready);
    assert_eq!(client.get_bool_value("banner", None, None).await, Ok(false));
    restarted.shutdown().await;
}

/// The in-process provider reports the exposures its evaluations make to
/// the node's `POST /ensign/v1/exposures`: one per user and variant, only
/// when the split decided, and all of them once flushed.
#[tokio::test]
async fn in_process_evaluations_report_their_exposures() {
    const TRACKED: &str = r#"{"metadata": {"flagSetId": "lab"}, "flags": {
        "checkout": {"state": "ENABLED", "variants": {"a": "A", "b": "B", "staff": "S"},
            "defaultVariant": "a", "metadata": {"ensign.experiment": "checkout-test"},
            "targeting": {"if": [{"var": "staff"}, "staff", {"fractional": [["a", 50], ["b", 50]]}]}}
    }}"#;
    let server = Server::start(config(vec![SourceSpec {
        name: "lab.json".into(),
        kind: SourceKind::Text {
            text: TRACKED.into(),
        },
    }]))
    .await
    .expect("the server starts");
    let mut queue = server
        .flags()
        .exposures()
        .attach(&provider::server::exposures::ExposureSettings::default())
        .expect("a writer queue");
    let sync = server.sync_addr.expect("a sync port");
    let provider = InProcessProvider::builder(sync.to_string())
        .report_exposures(format!("http://{}", server.ofrep_addr), None)
        .build()
        .expect("the provider builds");
    let (_api, client) = client_for(provider.clone()).await;
    let mut served = std::collections::BTreeMap::new();
    for round in 0..2 {
        for i in 0..50 {
            let user = format!("user-{i}");
            let context = EvaluationContext::default().with_targeting_key(user.clone());
            let details = client
                .get_string_details("checkout", Some(&context), None)
                .await
                .expect("an evaluation");
            if round == 0 {
                served.insert(user, details.variant.expect("a variant"));
            }
        }
    }
    // Staff and anonymous evaluations are not exposures.
    let staff = EvaluationContext::default()
        .with_targeting_key("boss")
        .with_custom_field("staff", true);
    client
        .get_string_value("checkout", Some(&staff), None)
        .await
        .expect("an evaluation");
    client
        .get_string_value("checkout", None, None)
        .await
        .expect("an evaluation");
    provider.flush().await;
    assert_eq!(provider.exposure_counts(), (50, 0));
    let reported: std::collections::BTreeMap<String, String> = queue
        .drain()
        .into_iter()
        .map(|e| {
            assert_eq!(
                (e.scope.experiment.as_str(), e.scope.surface),
                (
                    "checkout-test",
                    provider::server::exposures::Surface::InProcess
                )
            );
            (e.targeting_key, e.scope.variant.clone())
        })
        .collect();
    assert_eq!(reported, served);
}
