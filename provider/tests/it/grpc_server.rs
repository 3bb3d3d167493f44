//! The evaluation and sync services end to end: a real tonic server on an
//! ephemeral port, flagd's generated clients, and flagd's behaviour as its
//! Go services show it (flagd/pkg/service/flag-evaluation, flag-sync).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use prost_types::value::Kind;
use prost_types::{Struct, Value as ProtoValue};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Status, Streaming};

use engine::{CompileOptions, Format, Snapshot};
use provider::grpc::{evaluation_routes, sync_routes};
use provider::proto::evaluation::{v1, v2};
use provider::proto::sync::v1 as sync;
use provider::server::Flags;
use provider::server::admission::Admission;

use v1::service_client::ServiceClient as V1Client;
use v2::service_client::ServiceClient as V2Client;

/// How long a test waits for a message before it fails.
const PATIENCE: Duration = Duration::from_secs(5);

/// The "shop" flag set: one flag of each type, and flags that fail in each
/// way flagd reports.
const SHOP: &str = r##"{
  "metadata": {"flagSetId": "shop", "team": "checkout"},
  "flags": {
    "banner": {
      "state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
      "targeting": {"if": [{"ends_with": [{"var": "email"}, "@example.com"]}, "on"]},
      "metadata": {"owner": "web"}
    },
    "color": {
      "state": "ENABLED", "variants": {"red": "#f00", "blue": "#00f"}, "defaultVariant": "red",
      "targeting": {"if": [{"==": [{"var": "region"}, "eu"]}, "blue"]}
    },
    "retries": {"state": "ENABLED", "variants": {"few": 3, "many": 10}, "defaultVariant": "few"},
    "ratio": {"state": "ENABLED", "variants": {"low": 0.25, "high": 0.75}, "defaultVariant": "high"},
    "theme": {
      "state": "ENABLED", "defaultVariant": "light",
      "variants": {"dark": {"bg": "black", "size": 2}, "light": {"bg": "white", "size": 1}}
    },
    "legacy": {"state": "DISABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"},
    "unset": {"state": "ENABLED", "variants": {"a": "x", "b": "y"}, "defaultVariant": null},
    "broken": {
      "state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on",
      "targeting": {"no_such_operator": [1]}
    },
    "stray": {
      "state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
      "targeting": {"if": [true, "neither"]}
    }
  }
}"##;

/// The "ops" flag set, from a second source.
const OPS: &str = r#"{
  "metadata": {"flagSetId": "ops"},
  "flags": {
    "maintenance": {"state": "ENABLED", "variants": {"yes": true, "no": false}, "defaultVariant": "yes"}
  }
}"#;

/// Shop's keys, sorted.
const SHOP_KEYS: [&str; 9] = [
    "banner", "broken", "color", "legacy", "ratio", "retries", "stray", "theme", "unset",
];

/// A running server: the evaluation port and the sync port over one state.
struct Harness {
    flags: Arc<Flags>,
    evaluation: SocketAddr,
    sync: SocketAddr,
    servers: Vec<JoinHandle<Result<(), tonic::transport::Error>>>,
}

impl Harness {
    async fn start() -> Harness {
        Harness::with_static_context(json!({})).await
    }

    async fn with_static_context(context: Value) -> Harness {
        let Value::Object(context) = context else {
            panic!("the static context is an object")
        };
        let flags = Flags::new(context);
        flags.publish(snapshot(SHOP, OPS)).await;
        flags.set_ready();
        let (evaluation, first) = serve(
            evaluation_routes(Arc::clone(&flags), Admission::default()),
            &flags,
        )
        .await;
        let (sync, second) = serve(
            sync_routes(Arc::clone(&flags), Admission::default()),
            &flags,
        )
        .await;
        Harness {
            flags,
            evaluation,
            sync,
            servers: vec![first, second],
        }
    }

    async fn v1(&self) -> V1Client<Channel> {
        V1Client::connect(format!("http://{}", self.evaluation))
            .await
            .expect("connects")
    }

    async fn v2(&self) -> V2Client<Channel> {
        V2Client::connect(format!("http://{}", self.evaluation))
            .await
            .expect("connects")
    }

    async fn sync(&self) -> sync::flag_sync_service_client::FlagSyncServiceClient<Channel> {
        sync::flag_sync_service_client::FlagSyncServiceClient::connect(format!(
            "http://{}",
            self.sync
        ))
        .await
        .expect("connects")
    }
}

async fn serve(
    routes: Routes,
    flags: &Arc<Flags>,
) -> (SocketAddr, JoinHandle<Result<(), tonic::transport::Error>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("has an address");
    let server = Server::builder()
        .add_routes(routes)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), flags.shutdown_signal());
    (addr, tokio::spawn(server))
}

/// A snapshot of the two sources, shop first.
fn snapshot(shop: &str, ops: &str) -> Snapshot {
    let options = CompileOptions::default();
    let (snapshot, _) =
        Snapshot::from_text("shop.json", shop, Format::Json, &options).expect("shop parses");
    let (snapshot, _) = snapshot
        .reload_source("ops.json", ops, Format::Json, &options)
        .expect("ops parses");
    snapshot
}

/// A request whose context is `context`, optionally with a selector header.
fn request<T>(message: T, selector: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(selector) = selector {
        request
            .metadata_mut()
            .insert("flagd-selector", selector.parse().expect("ASCII"));
    }
    request
}

fn context(value: Value) -> Option<Struct> {
    Some(to_struct(&value))
}

fn to_struct(value: &Value) -> Struct {
    let Value::Object(map) = value else {
        panic!("an object")
    };
    Struct {
        fields: map.iter().map(|(k, v)| (k.clone(), to_proto(v))).collect(),
    }
}

fn to_proto(value: &Value) -> ProtoValue {
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().expect("finite")),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(to_proto).collect(),
        }),
        Value::Object(_) => Kind::StructValue(to_struct(value)),
    };
    ProtoValue { kind: Some(kind) }
}

/// A `Struct` as JSON (numbers as floats).
fn json_of(s: &Struct) -> Value {
    Value::Object(
        s.fields
            .iter()
            .map(|(k, v)| (k.clone(), json_value(v)))
            .collect(),
    )
}

fn json_value(value: &ProtoValue) -> Value {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => json!(b),
        Some(Kind::NumberValue(n)) => json!(n),
        Some(Kind::StringValue(s)) => json!(s),
        Some(Kind::ListValue(list)) => Value::Array(list.values.iter().map(json_value).collect()),
        Some(Kind::StructValue(s)) => json_of(s),
    }
}

fn metadata(m: Option<&Struct>) -> Value {
    json_of(m.expect("metadata is always set"))
}

/// The next message of a stream, failing the test after [`PATIENCE`].
async fn next<T>(stream: &mut Streaming<T>) -> Option<T> {
    tokio::time::timeout(PATIENCE, stream.message())
        .await
        .expect("a message in time")
        .expect("no stream error")
}

/// v1 and v2 events alike.
struct Event(String, Option<Struct>);

impl From<v1::EventStreamResponse> for Event {
    fn from(e: v1::EventStreamResponse) -> Self {
        Event(e.r#type, e.data)
    }
}

impl From<v2::EventStreamResponse> for Event {
    fn from(e: v2::EventStreamResponse) -> Self {
        Event(e.r#type, e.data)
    }
}

#[track_caller]
fn check_status(result: Result<impl std::fmt::Debug, Status>, code: Code, message: &str) {
    let status = result.expect_err("an error status");
    assert_eq!((status.code(), status.message()), (code, message));
}

#[tokio::test]
async fn v1_resolves_each_type() {
    let harness = Harness::start().await;
    let mut client = harness.v1().await;

    let boolean = client
        .resolve_boolean(v1::ResolveBooleanRequest {
            flag_key: "banner".into(),
            context: None,
        })
        .await
        .expect("resolves")
        .into_inner();
    assert_eq!(
        (
            boolean.value,
            boolean.variant.as_str(),
            boolean.reason.as_str()
        ),
        (false, "off", "DEFAULT")
    );
    // Flag metadata over the flag set's.
    assert_eq!(
        metadata(boolean.metadata.as_ref()),
        json!({"flagSetId": "shop", "team": "checkout", "owner": "web"})
    );

    let string = client
        .resolve_string(v1::ResolveStringRequest {
            flag_key: "color".into(),
            context: context(json!({"region": "us"})),
        })
        .await
        .expect("resolves")
        .into_inner();
    assert_eq!(
        (
            string.value.as_str(),
            string.variant.as_str(),
            string.reason.as_str()
        ),
        ("#f00", "red", "DEFAULT")
    );

    let int = client
        .resolve_int(v1::ResolveIntRequest {
            flag_key: "retries".into(),
            context: None,
        })
        .await
        .expect("resolves")
        .into_inner();
    assert_eq!(
        (int.value, int.variant.as_str(), int.reason.as_str()),
        (3, "few", "STATIC")
    );

    let float = client
        .resolve_float(v1::ResolveFloatRequest {
            flag_key: "ratio".into(),
            context: None,
        })
        .await
        .expect("resolves")
        .into_inner();
    assert_eq!(
        (float.value, float.variant.as_str(), float.reason.as_str()),
        (0.75, "high", "STATIC")
    );

    let object = client
        .resolve_object(v1::ResolveObjectRequest {
            flag_key: "theme".into(),
            context: None,
        })
        .await
        .expect("resolves")
        .into_inner();
    assert_eq!(
        json_of(object.value.as_ref().expect("a value")),
        json!({"bg": "white", "size": 1.0})
    );
    assert_eq!(
        (object.variant.as_str(), object.reason.as_str()),
        ("light", "STATIC")
    );

    // Every evaluation was counted by flag set, reason and error code.
    let rendered = harness.flags.metrics().render(0, Duration::ZERO, true);
    assert!(
        rendered.contains(
            "ensign_evaluations_total{flag_set=\"shop\",reason=\"STATIC\",error_code=\"\"} 3"
        ),
        "{rendered}"
    );
}

#[tokio::test]
async fn v2_resolves_each_type() {
    let harness = Harness::start().await;
    let mut client = harness.v2().await;

    let boolean = client
        .resolve_boolean(v2::ResolveBooleanRequest {
            flag_key: "banner".into(),
            context: context(json!({"email": "ada@example.com"})),
        })
        .await
        .expect("resolves")
        .into_inner();
    assert_eq!(
        (
            boolean.value,
            boolean.variant.as_deref(),
            boolean.reason.as_str()
        ),
        (Some(true), Some("on"), "TARGETING_MATCH")
    );

    let string = client
        .resolve_string(v2::ResolveStringRequest {
            flag_key: "color".into(),
            context: context(json!({"region": "eu"})),
        })
        .await
        .expect("resolves")
        .into_inner();
    assert_eq!(
        (string.value.as_deref(), string.variant.as_deref()),
        (Some("#00f"), Some("blue"))
    );

    let int = client
        .resolve_int(v2::ResolveIntRequest {
            flag_key: "retries".into(),
            context: None,
        })
        .await
        .expect("resolves")
        .into_inner();
    assert_eq!(int.value, Some(3));

    let float = client
        .resolve_float(v2::ResolveFloatRequest {
            flag_key: "ratio".into(),
            context: None,
        })
        .await
        .expect("resolves")
        .into_inner();
    assert_eq!(float.value, Some(0.75));

    let object = client
        .resolve_object(v2::ResolveObjectRequest {
            flag_key: "theme".into(),
            context: None,
        })
        .await
        .expect("resolves")
        .into_inner();
    assert_eq!(
        object.value.as_ref().map(json_of),
        Some(json!({"bg": "white", "size": 1.0}))
    );
    assert_eq!(
        metadata(object.metadata.as_ref()),
        json!({"flagSetId": "shop", "team": "checkout"})
    );
}

#[tokio::test]
async fn targeting_reads_the_request_context() {
    let harness = Harness::start().await;
    let mut client = harness.v1().await;
    for (email, expected) in [
        ("ada@example.com", (true, "on", "TARGETING_MATCH")),
        ("ada@example.org", (false, "off", "DEFAULT")),
    ] {
        let response = client
            .resolve_boolean(v1::ResolveBooleanRequest {
                flag_key: "banner".into(),
                context: context(json!({"email": email, "targetingKey": "user-1"})),
            })
            .await
            .expect("resolves")
            .into_inner();
        assert_eq!(
            (
                response.value,
                response.variant.as_str(),
                response.reason.as_str()
            ),
            expected,
            "{email}"
        );
    }
}

#[tokio::test]
async fn the_static_context_overrides_the_request() {
    let harness = Harness::with_static_context(json!({"region": "eu"})).await;
    let mut client = harness.v2().await;
    let response = client
        .resolve_string(v2::ResolveStringRequest {
            flag_key: "color".into(),
            context: context(json!({"region": "us"})),
        })
        .await
        .expect("resolves")
        .into_inner();
    assert_eq!(
        (response.value.as_deref(), response.reason.as_str()),
        (Some("#00f"), "TARGETING_MATCH")
    );
}

#[tokio::test]
async fn errors_are_flagds_statuses() {
    let harness = Harness::start().await;
    let mut v1 = harness.v1().await;
    let mut v2 = harness.v2().await;
    let boolean = |key: &str| v1::ResolveBooleanRequest {
        flag_key: key.into(),
        context: None,
    };
    let boolean_v2 = |key: &str| v2::ResolveBooleanRequest {
        flag_key: key.into(),
        context: None,
    };

    check_status(
        v1.resolve_boolean(boolean("missing")).await,
        Code::NotFound,
        "Flag not found",
    );
    check_status(
        v2.resolve_boolean(boolean_v2("missing")).await,
        Code::NotFound,
        "Flag not found",
    );
    check_status(
        v1.resolve_string(v1::ResolveStringRequest {
            flag_key: "banner".into(),
            context: None,
        })
        .await,
        Code::InvalidArgument,
        "Type mismatch error",
    );
    check_status(
        v2.resolve_int(v2::ResolveIntRequest {
            flag_key: "color".into(),
            context: None,
        })
        .await,
        Code::InvalidArgument,
        "Type mismatch error",
    );
    check_status(
        v1.resolve_boolean(boolean("broken")).await,
        Code::DataLoss,
        "Error parsing input or configuration",
    );
    check_status(
        v2.resolve_boolean(boolean_v2("broken")).await,
        Code::DataLoss,
        "Error parsing input or configuration",
    );
    check_status(
        v1.resolve_boolean(boolean("stray")).await,
        Code::Unknown,
        "General error",
    );
    // v1 knows no "caller's default": a flag without a default variant is
    // not found.
    check_status(
        v1.resolve_string(v1::ResolveStringRequest {
            flag_key: "unset".into(),
            context: None,
        })
        .await,
        Code::NotFound,
        "Flag not found",
    );
}

#[tokio::test]
async fn disabled_and_defaultless_flags_answer_without_error() {
    let harness = Harness::start().await;
    let mut v1 = harness.v1().await;
    let mut v2 = harness.v2().await;

    // v1: the type's zero value, no variant.
    let legacy = v1
        .resolve_boolean(v1::ResolveBooleanRequest {
            flag_key: "legacy".into(),
            context: None,
        })
        .await
        .expect("answers")
        .into_inner();
    assert_eq!(
        (
            legacy.value,
            legacy.variant.as_str(),
            legacy.reason.as_str()
        ),
        (false, "", "DISABLED")
    );

    // v2: a reason and no value.
    let legacy = v2
        .resolve_boolean(v2::ResolveBooleanRequest {
            flag_key: "legacy".into(),
            context: None,
        })
        .await
        .expect("answers")
        .into_inner();
    assert_eq!(
        (legacy.value, legacy.variant, legacy.reason.as_str()),
        (None, None, "DISABLED")
    );
    assert_eq!(
        metadata(legacy.metadata.as_ref()),
        json!({"flagSetId": "shop", "team": "checkout"})
    );
    let unset = v2
        .resolve_string(v2::ResolveStringRequest {
            flag_key: "unset".into(),
            context: None,
        })
        .await
        .expect("answers")
        .into_inner();
    assert_eq!(
        (unset.value, unset.variant, unset.reason.as_str()),
        (None, None, "DEFAULT")
    );
}

/// The flagd parity rules over gRPC: a disabled flag whose targeting does
/// not compile answers as any disabled flag; `defaultVariant: ""` is no
/// default variant (v1 answers NOT_FOUND and leaves the flag out of
/// ResolveAll, v2 answers DEFAULT), even beside a variant named ""; a
/// typed object request for an array variant is a type mismatch.
#[tokio::test]
async fn flagd_parity_rules_hold_over_grpc() {
    let harness = Harness::start().await;
    let shop = SHOP
        .replace(
            r#""legacy": {"state": "DISABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"},"#,
            r#""legacy": {"state": "DISABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on",
                          "targeting": {"no_such_operator": [1]}},
               "lists": {"state": "ENABLED", "variants": {"a": [1, 2], "b": {"k": 1}}, "defaultVariant": "a"},"#,
        )
        .replace(
            r#""unset": {"state": "ENABLED", "variants": {"a": "x", "b": "y"}, "defaultVariant": null},"#,
            r#""unset": {"state": "ENABLED", "variants": {"a": "x", "": "y"}, "defaultVariant": ""},"#,
        );
    assert_ne!(shop, SHOP);
    harness.flags.publish(snapshot(&shop, OPS)).await;
    let mut v1 = harness.v1().await;
    let mut v2 = harness.v2().await;

    let legacy = v1
        .resolve_boolean(v1::ResolveBooleanRequest {
            flag_key: "legacy".into(),
            context: None,
        })
        .await
        .expect("answers")
        .into_inner();
    assert_eq!(
        (
            legacy.value,
            legacy.variant.as_str(),
            legacy.reason.as_str()
        ),
        (false, "", "DISABLED")
    );
    let legacy = v2
        .resolve_boolean(v2::ResolveBooleanRequest {
            flag_key: "legacy".into(),
            context: None,
        })
        .await
        .expect("answers")
        .into_inner();
    assert_eq!(
        (legacy.value, legacy.variant, legacy.reason.as_str()),
        (None, None, "DISABLED")
    );

    check_status(
        v1.resolve_string(v1::ResolveStringRequest {
            flag_key: "unset".into(),
            context: None,
        })
        .await,
        Code::NotFound,
        "Flag not found",
    );
    let unset = v2
        .resolve_string(v2::ResolveStringRequest {
            flag_key: "unset".into(),
            context: None,
        })
        .await
        .expect("answers")
        .into_inner();
    assert_eq!(
        (unset.value, unset.variant, unset.reason.as_str()),
        (None, None, "DEFAULT")
    );

    check_status(
        v1.resolve_object(v1::ResolveObjectRequest {
            flag_key: "lists".into(),
            context: None,
        })
        .await,
        Code::InvalidArgument,
        "Type mismatch error",
    );

    let all = v1
        .resolve_all(request(
            v1::ResolveAllRequest { context: None },
            Some("flagSetId=shop"),
        ))
        .await
        .expect("resolves")
        .into_inner();
    assert!(!all.flags.contains_key("unset"), "{:?}", all.flags.keys());
    assert_eq!(all.flags["legacy"].reason, "DISABLED");
}

#[tokio::test]
async fn the_selector_header_picks_a_flag_set() {
    let harness = Harness::start().await;
    let mut client = harness.v2().await;
    let ask = |key: &str, selector: &str| {
        request(
            v2::ResolveBooleanRequest {
                flag_key: key.into(),
                context: None,
            },
            Some(selector),
        )
    };

    let maintenance = client
        .resolve_boolean(ask("maintenance", "flagSetId=ops"))
        .await
        .expect("resolves")
        .into_inner();
    assert_eq!(maintenance.value, Some(true));
    // flagd puts the selector under the flag's metadata.
    assert_eq!(
        metadata(maintenance.metadata.as_ref()),
        json!({"flagSetId": "ops"})
    );
    let by_source = client
        .resolve_boolean(ask("banner", "source=shop.json"))
        .await
        .expect("resolves")
        .into_inner();
    assert_eq!(
        metadata(by_source.metadata.as_ref()),
        json!({"source": "shop.json", "flagSetId": "shop", "team": "checkout", "owner": "web"})
    );

    check_status(
        client.resolve_boolean(ask("banner", "flagSetId=ops")).await,
        Code::NotFound,
        "Flag not found",
    );
    check_status(
        client.resolve_boolean(ask("banner", "app=shop")).await,
        Code::InvalidArgument,
        "invalid selector key \"app\", valid keys: \"flagSetId\", \"source\"",
    );
}

#[tokio::test]
async fn resolve_all_lists_flags_as_flagd_does() {
    let harness = Harness::start().await;
    let mut client = harness.v1().await;
    let all = client
        .resolve_all(request(
            v1::ResolveAllRequest {
                context: context(json!({"email": "ada@example.com"})),
            },
            Some("flagSetId=shop"),
        ))
        .await
        .expect("resolves")
        .into_inner();

    let summary: BTreeMap<&str, (String, &str, Value)> = all
        .flags
        .iter()
        .map(|(key, flag)| {
            let value = match &flag.value {
                Some(v1::any_flag::Value::BoolValue(b)) => json!(b),
                Some(v1::any_flag::Value::StringValue(s)) => json!(s),
                Some(v1::any_flag::Value::DoubleValue(d)) => json!(d),
                Some(v1::any_flag::Value::ObjectValue(o)) => json_of(o),
                None => Value::Null,
            };
            (
                key.as_str(),
                (flag.reason.clone(), flag.variant.as_str(), value),
            )
        })
        .collect();
    // "unset" has no default variant, so no type: flagd's v1 leaves it out.
    // Disabled and failing flags stay, with their type's zero value.
    let expected: BTreeMap<&str, (String, &str, Value)> = [
        ("banner", ("TARGETING_MATCH", "on", json!(true))),
        ("broken", ("ERROR", "", json!(false))),
        ("color", ("DEFAULT", "red", json!("#f00"))),
        ("legacy", ("DISABLED", "", json!(false))),
        ("ratio", ("STATIC", "high", json!(0.75))),
        ("retries", ("STATIC", "few", json!(3.0))),
        ("stray", ("ERROR", "", json!(false))),
        (
            "theme",
            ("STATIC", "light", json!({"bg": "white", "size": 1.0})),
        ),
    ]
    .into_iter()
    .map(|(k, (reason, variant, value))| (k, (reason.to_owned(), variant, value)))
    .collect();
    assert_eq!(summary, expected);

    assert_eq!(
        metadata(all.flags["banner"].metadata.as_ref()),
        json!({"flagSetId": "shop", "team": "checkout", "owner": "web"})
    );
    // The response's own metadata is the selector's.
    assert_eq!(
        metadata(all.metadata.as_ref()),
        json!({"flagSetId": "shop"})
    );

    let everything = client
        .resolve_all(v1::ResolveAllRequest { context: None })
        .await
        .expect("resolves")
        .into_inner();
    let mut keys: Vec<&str> = everything.flags.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected: Vec<&str> = SHOP_KEYS
        .iter()
        .copied()
        .filter(|k| *k != "unset")
        .collect();
    expected.push("maintenance");
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(metadata(everything.metadata.as_ref()), json!({}));
}

#[tokio::test]
async fn event_streams_announce_ready_then_changes() {
    let harness = Harness::start().await;
    let mut v1 = harness.v1().await;
    let mut v2 = harness.v2().await;
    let mut first = v1
        .event_stream(v1::EventStreamRequest {})
        .await
        .expect("opens")
        .into_inner();
    let mut second = v2
        .event_stream(v2::EventStreamRequest {})
        .await
        .expect("opens")
        .into_inner();
    assert_eq!(
        event_of(&mut first).await,
        ("provider_ready".to_owned(), json!({}))
    );
    assert_eq!(
        event_of(&mut second).await,
        ("provider_ready".to_owned(), json!({}))
    );

    // banner changes, color goes, fresh arrives.
    let mut shop: Value = serde_json::from_str(SHOP).expect("JSON");
    shop["flags"]["banner"]["defaultVariant"] = json!("on");
    shop["flags"]
        .as_object_mut()
        .expect("flags")
        .remove("color");
    shop["flags"]["fresh"] =
        json!({"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a"});
    harness
        .flags
        .publish(snapshot(&shop.to_string(), OPS))
        .await;

    let expected = (
        "configuration_change".to_owned(),
        json!({"flags": {
            "banner": {"type": "update"},
            "color": {"type": "delete"},
            "fresh": {"type": "write"}
        }}),
    );
    assert_eq!(event_of(&mut first).await, expected);
    assert_eq!(event_of(&mut second).await, expected);
}

#[tokio::test]
async fn event_streams_follow_only_the_selected_flags() {
    let harness = Harness::start().await;
    let mut client = harness.v2().await;
    let mut stream = client
        .event_stream(request(v2::EventStreamRequest {}, Some("flagSetId=shop")))
        .await
        .expect("opens")
        .into_inner();
    assert_eq!(event_of(&mut stream).await.0, "provider_ready");

    // A change to ops only: nothing for this stream.
    let ops = OPS.replace("\"defaultVariant\": \"yes\"", "\"defaultVariant\": \"no\"");
    harness.flags.publish(snapshot(SHOP, &ops)).await;
    // Then one to shop: the next event names it alone.
    let shop = SHOP.replace(
        "\"defaultVariant\": \"few\"",
        "\"defaultVariant\": \"many\"",
    );
    harness.flags.publish(snapshot(&shop, &ops)).await;
    assert_eq!(
        event_of(&mut stream).await,
        (
            "configuration_change".to_owned(),
            json!({"flags": {"retries": {"type": "update"}}})
        )
    );
}

#[tokio::test]
async fn a_lagging_event_stream_catches_up_with_the_net_change() {
    let harness = Harness::start().await;
    let mut client = harness.v1().await;
    let mut stream = client
        .event_stream(v1::EventStreamRequest {})
        .await
        .expect("opens")
        .into_inner();
    assert_eq!(event_of(&mut stream).await.0, "provider_ready");

    // More changes than the feed holds, published without yielding to the
    // stream: ratio flips back and forth and ends as it began; retries
    // changes once and stays changed.
    let retries = SHOP.replace(
        "\"defaultVariant\": \"few\"",
        "\"defaultVariant\": \"many\"",
    );
    for i in 0..80 {
        let ratio = if i % 2 == 0 { "low" } else { "high" };
        let shop = retries.replace(
            "\"defaultVariant\": \"high\"",
            &format!("\"defaultVariant\": \"{ratio}\""),
        );
        harness.flags.publish(snapshot(&shop, OPS)).await;
    }
    // The stream skips the backlog and reports what differs from what it
    // last told the client.
    assert_eq!(
        event_of(&mut stream).await,
        (
            "configuration_change".to_owned(),
            json!({"flags": {"retries": {"type": "update"}}})
        )
    );
    // The skipped backlog is not replayed: the next event is the next
    // change.
    harness
        .flags
        .publish(snapshot(&retries, "{\"flags\": {}}"))
        .await;
    assert_eq!(
        event_of(&mut stream).await,
        (
            "configuration_change".to_owned(),
            json!({"flags": {"maintenance": {"type": "delete"}}})
        )
    );
}

#[tokio::test]
async fn sync_streams_the_selected_configuration_and_its_changes() {
    let harness = Harness::with_static_context(json!({"region": "eu"})).await;
    let mut client = harness.sync().await;
    let mut stream = client
        .sync_flags(request(
            sync::SyncFlagsRequest {
                provider_id: "test".into(),
                ..Default::default()
            },
            Some("flagSetId=shop"),
        ))
        .await
        .expect("opens")
        .into_inner();

    let first = next(&mut stream).await.expect("the configuration");
    let configuration: Value = serde_json::from_str(&first.flag_configuration).expect("JSON text");
    let keys: Vec<&str> = configuration["flags"]
        .as_object()
        .expect("flags")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, SHOP_KEYS);
    // As flagd's store serialises a flag: the definition, its source and
    // its metadata merged with the flag set's.
    assert_eq!(
        configuration["flags"]["banner"],
        json!({
            "state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
            "targeting": {"if": [{"ends_with": [{"var": "email"}, "@example.com"]}, "on"]},
            "metadata": {"flagSetId": "shop", "team": "checkout", "owner": "web"},
            "source": "shop.json"
        })
    );
    assert_eq!(
        first.sync_context.as_ref().map(json_of),
        Some(json!({"region": "eu"}))
    );

    // A change outside the selection sends nothing; the next message is
    // the change inside it.
    let ops = OPS.replace("\"defaultVariant\": \"yes\"", "\"defaultVariant\": \"no\"");
    harness.flags.publish(snapshot(SHOP, &ops)).await;
    let shop = SHOP.replace(
        "\"defaultVariant\": \"high\"",
        "\"defaultVariant\": \"low\"",
    );
    harness.flags.publish(snapshot(&shop, &ops)).await;
    let second = next(&mut stream).await.expect("the new configuration");
    let configuration: Value = serde_json::from_str(&second.flag_configuration).expect("JSON text");
    assert_eq!(
        configuration["flags"]["ratio"]["defaultVariant"],
        json!("low")
    );
    assert!(configuration["flags"].get("maintenance").is_none());
}

#[tokio::test]
async fn fetch_all_flags_takes_the_selector_from_header_or_field() {
    let harness = Harness::start().await;
    let mut client = harness.sync().await;
    let keys = |text: &str| -> Vec<String> {
        let configuration: Value = serde_json::from_str(text).expect("JSON text");
        configuration["flags"]
            .as_object()
            .expect("flags")
            .keys()
            .cloned()
            .collect()
    };

    #[expect(deprecated, reason = "older clients still select in the request")]
    let by_field = sync::FetchAllFlagsRequest {
        provider_id: String::new(),
        selector: "source=ops.json".into(),
    };
    let response = client
        .fetch_all_flags(by_field.clone())
        .await
        .expect("fetches")
        .into_inner();
    assert_eq!(keys(&response.flag_configuration), ["maintenance"]);

    // The header wins over the field.
    let response = client
        .fetch_all_flags(request(by_field, Some("flagSetId=shop")))
        .await
        .expect("fetches")
        .into_inner();
    assert_eq!(keys(&response.flag_configuration), SHOP_KEYS);

    let response = client
        .fetch_all_flags(sync::FetchAllFlagsRequest::default())
        .await
        .expect("fetches")
        .into_inner();
    assert_eq!(
        keys(&response.flag_configuration).len(),
        SHOP_KEYS.len() + 1
    );

    check_status(
        client
            .fetch_all_flags(request(
                sync::FetchAllFlagsRequest::default(),
                Some("env=prod"),
            ))
            .await,
        Code::InvalidArgument,
        "invalid selector key \"env\", valid keys: \"flagSetId\", \"source\"",
    );
}

#[tokio::test]
async fn get_metadata_returns_the_static_context() {
    let harness = Harness::with_static_context(json!({"region": "eu", "tier": 2})).await;
    let mut client = harness.sync().await;
    #[expect(deprecated, reason = "flagd still serves the deprecated call")]
    let response = client
        .get_metadata(sync::GetMetadataRequest {})
        .await
        .expect("answers")
        .into_inner();
    assert_eq!(
        metadata(response.metadata.as_ref()),
        json!({"region": "eu", "tier": 2.0})
    );
}

#[tokio::test]
async fn streams_end_cleanly_at_shutdown() {
    let harness = Harness::start().await;
    let mut events = harness
        .v1()
        .await
        .event_stream(v1::EventStreamRequest {})
        .await
        .expect("opens")
        .into_inner();
    let mut syncs = harness
        .sync()
        .await
        .sync_flags(sync::SyncFlagsRequest::default())
        .await
        .expect("opens")
        .into_inner();
    assert_eq!(event_of(&mut events).await.0, "provider_ready");
    assert!(next(&mut syncs).await.is_some());

    harness.flags.begin_shutdown();
    assert_eq!(
        event_of(&mut events).await,
        ("provider_shutdown".to_owned(), json!({}))
    );
    // Then both streams end without an error status.
    assert!(next(&mut events).await.is_none());
    assert!(next(&mut syncs).await.is_none());
    for server in harness.servers {
        tokio::time::timeout(PATIENCE, server)
            .await
            .expect("the server stops in time")
            .expect("the server task ran")
            .expect("the server stopped cleanly");
    }
}

/// The next event of a v1 or v2 stream as (type, data as JSON).
async fn event_of<T>(stream: &mut Streaming<T>) -> (String, Value)
where
    Event: From<T>,
{
    let Event(kind, data) = Event::from(next(stream).await.expect("an event"));
    (kind, data.as_ref().map_or(Value::Null, json_of))
}

/// SDK keys delivered with the flag sets bind gRPC calls as they bind
/// OFREP: a key is needed, a selector outside its flag set is refused, a
/// client key sees only client-visible flags and may not sync.
#[tokio::test]
async fn sdk_keys_bind_grpc_calls() {
    use engine::publication::{Access, SdkKey};
    use provider::server::keys::hash;

    let harness = Harness::start().await;
    harness.flags.sdk_keys().set(
        0,
        vec![(
            "shop".into(),
            Access {
                keys: vec![
                    SdkKey {
                        hash: hash("srv"),
                        client: false,
                    },
                    SdkKey {
                        hash: hash("cli"),
                        client: true,
                    },
                ],
                client_visible: vec!["banner".into()],
                required: true,
            },
        )],
    );
    let with_key =
        |message: v2::ResolveBooleanRequest, key: Option<&str>, selector: Option<&str>| {
            let mut request = request(message, selector);
            if let Some(key) = key {
                request.metadata_mut().insert(
                    "authorization",
                    format!("Bearer {key}").parse().expect("ASCII"),
                );
            }
            request
        };
    let banner = || v2::ResolveBooleanRequest {
        flag_key: "banner".into(),
        context: context(json!({})),
    };
    let mut client = harness.v2().await;
    check_status(
        client.resolve_boolean(with_key(banner(), None, None)).await,
        Code::Unauthenticated,
        "a valid API key or SDK key is required",
    );
    check_status(
        client
            .resolve_boolean(with_key(banner(), Some("guess"), None))
            .await,
        Code::Unauthenticated,
        "a valid API key or SDK key is required",
    );
    let answer = client
        .resolve_boolean(with_key(banner(), Some("srv"), None))
        .await
        .expect("a server key resolves")
        .into_inner();
    assert_eq!(answer.value, Some(false));
    check_status(
        client
            .resolve_boolean(with_key(banner(), Some("srv"), Some("flagSetId=ops")))
            .await,
        Code::PermissionDenied,
        "the key does not allow selector flagSetId=ops",
    );
    let legacy = v2::ResolveBooleanRequest {
        flag_key: "legacy".into(),
        context: context(json!({})),
    };
    assert!(
        client
            .resolve_boolean(with_key(legacy.clone(), Some("srv"), None))
            .await
            .is_ok()
    );
    check_status(
        client
            .resolve_boolean(with_key(legacy, Some("cli"), None))
            .await,
        Code::NotFound,
        "Flag not found",
    );
    let mut all = Request::new(v1::ResolveAllRequest {
        context: context(json!({})),
    });
    all.metadata_mut()
        .insert("x-api-key", "cli".parse().expect("ASCII"));
    let all = harness
        .v1()
        .await
        .resolve_all(all)
        .await
        .expect("resolves")
        .into_inner();
    let keys: Vec<&String> = all.flags.keys().collect();
    assert_eq!(keys, ["banner"]);

    let mut sync_client = harness.sync().await;
    let mut fetch = Request::new(sync::FetchAllFlagsRequest::default());
    fetch
        .metadata_mut()
        .insert("x-api-key", "cli".parse().expect("ASCII"));
    check_status(
        sync_client.fetch_all_flags(fetch).await,
        Code::PermissionDenied,
        "client SDK keys cannot sync flag configurations",
    );
}

/// A context of `depth` levels (the context itself is the first), objects
/// inside objects, built without recursion.
fn nested_context(depth: usize) -> Option<Struct> {
    let mut value = ProtoValue {
        kind: Some(Kind::NumberValue(1.0)),
    };
    for _ in 0..depth {
        let inner = Struct {
            fields: BTreeMap::from([("a".to_owned(), value)]),
        };
        value = ProtoValue {
            kind: Some(Kind::StructValue(inner)),
        };
    }
    match value.kind {
        Some(Kind::StructValue(context)) => Some(context),
        _ => None,
    }
}

/// A `ResolveBooleanRequest` for `banner` whose context nests `depth`
/// levels, encoded by hand without recursion (a generated client's encoder
/// recurses, and would overflow its own stack first).
fn deep_request_bytes(depth: usize) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut n: usize) {
        while n >= 0x80 {
            out.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }
    fn varint_len(n: usize) -> usize {
        let mut out = Vec::new();
        varint(&mut out, n);
        out.len()
    }
    // Level k's Struct holds one entry {"a": value}; the value is the
    // Struct of level k - 1, or for level 1 the number 1.
    let number = [0x11, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f];
    let mut value_len = vec![number.len()];
    let mut entry_len = vec![0];
    let mut struct_len = vec![0];
    for k in 1..=depth {
        let entry = 3 + 1 + varint_len(value_len[k - 1]) + value_len[k - 1];
        let structure = 1 + varint_len(entry) + entry;
        entry_len.push(entry);
        struct_len.push(structure);
        value_len.push(1 + varint_len(structure) + structure);
    }
    let mut message = vec![0x0a, 6];
    message.extend_from_slice(b"banner");
    message.push(0x12);
    varint(&mut message, struct_len[depth]);
    for k in (1..=depth).rev() {
        message.push(0x0a);
        varint(&mut message, entry_len[k]);
        message.extend_from_slice(&[0x0a, 1, b'a', 0x12]);
        varint(&mut message, value_len[k - 1]);
        if k > 1 {
            message.push(0x2a);
            varint(&mut message, struct_len[k - 1]);
        } else {
            message.extend_from_slice(&number);
        }
    }
    message
}

/// A codec that sends bytes as they are and ignores the answer's.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = ();
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = ();
    type Error = Status;

    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<()>, Status> {
        let remaining = bytes::Buf::remaining(src);
        bytes::Buf::advance(src, remaining);
        Ok(Some(()))
    }
}

/// Sends a hand-encoded request to v1 `ResolveBoolean` and answers its
/// gRPC status code.
async fn resolve_raw(addr: SocketAddr, message: Vec<u8>) -> Code {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("an endpoint")
        .connect()
        .await
        .expect("connects");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let path = http::uri::PathAndQuery::from_static("/flagd.evaluation.v1.Service/ResolveBoolean");
    grpc.unary(Request::new(message), path, RawCodec)
        .await
        .map_or_else(|status| status.code(), |_| Code::Ok)
}

/// Contexts are bounded like every other data: what protobuf decoding lets
/// through is converted within `engine::MAX_DATA_DEPTH`, deeper contexts
/// are refused with a status (never a crash), and the server keeps
/// answering.
#[tokio::test]
async fn deep_contexts_are_refused_and_the_server_keeps_answering() {
    let harness = Harness::start().await;
    let mut client = harness.v1().await;
    // Through flagd's generated client. Protobuf decoding stops at 100
    // nested messages, three per level of data (Struct, map entry, Value),
    // so the 34th level is refused before the conversion sees it, with
    // tonic's status for an undecodable message.
    for (depth, expect) in [
        (1, Code::Ok),
        (10, Code::Ok),
        (33, Code::Ok),
        (34, Code::Internal),
        (126, Code::Internal),
        (127, Code::Internal),
        (128, Code::Internal),
        (1_000, Code::Internal),
    ] {
        let answer = client
            .resolve_boolean(v1::ResolveBooleanRequest {
                flag_key: "banner".into(),
                context: nested_context(depth),
            })
            .await;
        let code = answer.map_or_else(|status| status.code(), |_| Code::Ok);
        assert_eq!(code, expect, "a context of {depth} levels");
    }
    // Hand-encoded, as deep as the 4 MiB message limit allows.
    for (depth, expect) in [
        (33, Code::Ok),
        (34, Code::Internal),
        (128, Code::Internal),
        (200_000, Code::Internal),
    ] {
        let code = resolve_raw(harness.evaluation, deep_request_bytes(depth)).await;
        assert_eq!(code, expect, "a hand-encoded context of {depth} levels");
    }
    let answer = client
        .resolve_boolean(v1::ResolveBooleanRequest {
            flag_key: "banner".into(),
            context: context(json!({"email": "ada@example.com"})),
        })
        .await
        .expect("the server still answers")
        .into_inner();
    assert!(answer.value);
}
