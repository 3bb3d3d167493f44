//! Alerts end to end: a local HTTP receiver records the webhook deliveries
//! of a running alerter and checks every signature with its own HMAC; the
//! alerts query goes through the admin API's routes.
//!
//! Waits poll until a delivery arrives, with a generous timeout; nothing
//! depends on how fast it arrives. The alerter's poll interval is an hour,
//! so a delivery can only come from a wake-up: an announced commit or, on
//! PostgreSQL, the audit trigger's notification.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use graphql_admin::alerts::{AlertSettings, Alerter, EventType, WebhookConfig};
use graphql_admin::api::{Admin, routes};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use store::Commit;
use store::{Action, FlagChange, FlagInput, NewFlagSet, TokenRole};
use store::{Actor, Store};
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;
use warp::Filter;

use test_support::TestDb;

const SECRET: &str = "s3cret-for-tests";

/// How long a test waits for a delivery before it fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    delivery: String,
    event: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
    /// Whether the receiver answered 2xx.
    accepted: bool,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// A local webhook receiver that answers 500 to its first `failures`
/// requests and 204 to the rest.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    failures: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
}

impl Receiver {
    async fn start(failures: usize) -> Receiver {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let seen = Arc::new(AtomicUsize::new(0));
        let record = received.clone();
        let failures = Arc::new(AtomicUsize::new(failures));
        let failing = failures.clone();
        let route = warp::post()
            .and(warp::path("hook"))
            .and(warp::header::headers_cloned())
            .and(warp::body::content_length_limit(1 << 20))
            .and(warp::body::bytes())
            .map(
                move |headers: warp::http::HeaderMap, body: warp::hyper::body::Bytes| {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    let accepted =
                        seen.fetch_add(1, Ordering::SeqCst) >= failing.load(Ordering::SeqCst);
                    record.lock().unwrap().push(Received {
                        delivery: header("x-ensign-delivery"),
                        event: header("x-ensign-event"),
                        timestamp: header("x-ensign-timestamp"),
                        signature: header("x-ensign-signature"),
                        body: body.to_vec(),
                        accepted,
                    });
                    let status = if accepted {
                        warp::http::StatusCode::NO_CONTENT
                    } else {
                        warp::http::StatusCode::INTERNAL_SERVER_ERROR
                    };
                    warp::reply::with_status(warp::reply(), status)
                },
            );
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(
            warp::serve(route)
                .incoming(listener)
                .graceful(async move {
                    let _ = stopped.await;
                })
                .run(),
        );
        Receiver {
            url: format!("http://{addr}/hook"),
            received,
            failures,
            stop: Some(stop),
        }
    }

    /// Accepts every request from now on.
    fn recover(&self) {
        self.failures.store(0, Ordering::SeqCst);
    }

    fn webhook(&self, events: Vec<EventType>) -> WebhookConfig {
        WebhookConfig {
            url: self.url.clone(),
            secret: SECRET.into(),
            events,
        }
    }

    fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Every request for `delivery` so far.
    fn attempts(&self, delivery: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| r.delivery == delivery)
            .collect()
    }

    /// Waits until `delivery` was accepted and returns its accepted copy.
    async fn accepted(&self, delivery: &str) -> Received {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(found) = self.attempts(delivery).into_iter().find(|r| r.accepted) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no delivery {delivery} after {PATIENCE:?}; received: {:#?}",
                self.all()
                    .iter()
                    .map(|r| (&r.delivery, r.accepted))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// HMAC-SHA256 written out from RFC 2104, independent of the alerter's
/// own signing code.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    inner.extend_from_slice(message);
    let mut outer: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    outer.extend_from_slice(&Sha256::digest(&inner));
    Sha256::digest(&outer).to_vec()
}

/// Checks the signature as a receiver would: the HMAC of the timestamp
/// header, a full stop and the raw body, and a timestamp near now.
#[track_caller]
fn assert_signed(received: &Received) {
    let mut signed = received.timestamp.clone().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(&received.body);
    let expected: String = hmac_sha256(SECRET.as_bytes(), &signed)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(received.signature, format!("sha256={expected}"));
    let timestamp: i64 = received.timestamp.parse().expect("numeric timestamp");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (now - timestamp).abs() < 3600,
        "timestamp {timestamp} is not now ({now})"
    );
    let body = received.json();
    assert_eq!(body["id"], received.delivery);
    assert_eq!(body["type"], received.event);
}

/// Settings for tests: wake-ups only (an hourly poll), quick retries.
fn settings(webhooks: Vec<WebhookConfig>) -> AlertSettings {
    AlertSettings {
        poll_interval: Duration::from_secs(3600),
        retry_initial: Duration::from_millis(20),
        retry_max: Duration::from_millis(200),
        gap_grace: Duration::from_millis(500),
        ..AlertSettings::new(webhooks)
    }
}

/// A running alerter that follows `commits`.
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

async fn start(
    store: &Store,
    settings: AlertSettings,
    commits: &broadcast::Sender<Commit>,
) -> Running {
    let alerter = Alerter::new(store.clone(), settings)
        .await
        .expect("alerter starts")
        .follow(commits.subscribe());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(alerter.run(async move {
        let _ = stopped.await;
    }));
    Running { stop, task }
}

impl Running {
    /// Stops the alerter and waits until it has.
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("alerter task");
    }
}

fn flag(default: &str, locked: Option<bool>) -> FlagInput {
    FlagInput {
        definition: json!({
            "state": "ENABLED",
            "variants": {"on": true, "off": false},
            "defaultVariant": default,
        }),
        client_visible: None,
        locked,
    }
}

async fn flag_set(store: &Store) -> Actor {
    let actor = Actor::named("ada");
    store
        .create_flag_set(
            &actor,
            NewFlagSet {
                key: "production".into(),
                ..NewFlagSet::default()
            },
        )
        .await
        .unwrap();
    actor
}

/// Writes a flag change, announces it as the admin API does, and returns
/// the id of its audit event.
async fn write(
    store: &Store,
    commits: &broadcast::Sender<Commit>,
    key: &str,
    change: FlagChange<'_>,
) -> i64 {
    let action = change.action();
    store
        .write_flag(&Actor::named("ada"), "production", key, change)
        .await
        .unwrap();
    let _ = commits.send(Commit {
        flag_set: "production".into(),
        flag: Some(key.into()),
        action,
        actor: "ada".into(),
    });
    last_event(store, key).await
}

async fn last_event(store: &Store, key: &str) -> i64 {
    store
        .history("production", key)
        .await
        .unwrap()
        .last()
        .unwrap()
        .id
}

async fn update(
    store: &Store,
    commits: &broadcast::Sender<Commit>,
    key: &str,
    default: &str,
) -> i64 {
    let version = store.flag("production", key).await.unwrap().version;
    let change = FlagChange::Update {
        expected_version: version,
        input: flag(default, None),
    };
    write(store, commits, key, change).await
}

/// A normal update is one signed `flag.changed` and no alert; a kill
/// switch and a change to a locked flag each raise a `flag.alert`; a target
/// that subscribes to alerts only gets nothing else.
#[tokio::test]
async fn flag_changes_are_signed_and_only_unusual_ones_alert() {
    for db in TestDb::both("flag_changes_are_signed_and_only_unusual_ones_alert").await {
        let store = &db.store;
        let (commits, _) = broadcast::channel(64);
        flag_set(store).await;
        write(
            store,
            &commits,
            "banner",
            FlagChange::Create(flag("off", None)),
        )
        .await;
        let everything = Receiver::start(0).await;
        let alerts_only = Receiver::start(0).await;
        let running = start(
            store,
            settings(vec![
                everything.webhook(Vec::new()),
                alerts_only.webhook(vec![EventType::Alert]),
            ]),
            &commits,
        )
        .await;

        let updated = update(store, &commits, "banner", "on").await;
        let changed = everything.accepted(&format!("evt-{updated}-changed")).await;
        assert_signed(&changed);
        let body = changed.json();
        assert_eq!(body["type"], "flag.changed", "{}", db.backend);
        assert_eq!(body["auditEventId"], updated);
        assert_eq!(body["flagSet"], "production");
        assert_eq!(body["flag"], "banner");
        assert_eq!(body["action"], "update");
        assert_eq!(body["actor"], "ada");
        assert_eq!(body["outOfBand"], false);
        assert_eq!(body["before"]["definition"]["defaultVariant"], "off");
        assert_eq!(body["after"]["definition"]["defaultVariant"], "on");
        assert!(body.get("alert").is_none(), "{body}");

        let kill = |definition: &mut Value| {
            definition["state"] = json!("DISABLED");
            Ok(())
        };
        let killed = write(
            store,
            &commits,
            "banner",
            FlagChange::Edit {
                expected_version: None,
                action: Action::Kill,
                edit: &kill,
            },
        )
        .await;
        let alert = everything.accepted(&format!("evt-{killed}-alert")).await;
        assert_signed(&alert);
        let body = alert.json();
        assert_eq!(body["type"], "flag.alert");
        assert_eq!(body["alert"]["kind"], "kill_switch");
        assert_eq!(body["alert"]["severity"], "warning");
        assert!(
            body["alert"]["message"]
                .as_str()
                .unwrap()
                .contains("kill switch"),
            "{body}"
        );
        everything.accepted(&format!("evt-{killed}-changed")).await;

        write(
            store,
            &commits,
            "checkout",
            FlagChange::Create(flag("off", Some(true))),
        )
        .await;
        let locked = update(store, &commits, "checkout", "on").await;
        let alert = everything.accepted(&format!("evt-{locked}-alert")).await;
        assert_signed(&alert);
        assert_eq!(alert.json()["alert"]["kind"], "locked_flag");
        assert_eq!(
            alerts_only
                .accepted(&format!("evt-{locked}-alert"))
                .await
                .json()["alert"]["kind"],
            "locked_flag"
        );

        // Deliveries come in audit order, so by now the update's alert
        // would have arrived if there were one.
        assert!(
            everything
                .attempts(&format!("evt-{updated}-alert"))
                .is_empty()
        );
        let events: Vec<String> = alerts_only.all().into_iter().map(|r| r.event).collect();
        assert!(events.iter().all(|e| e == "flag.alert"), "{events:?}");
        assert!(
            alerts_only
                .attempts(&format!("evt-{killed}-alert"))
                .iter()
                .any(|r| r.accepted)
        );
        running.stop().await;
        db.drop_all().await;
    }
}

/// An edit made by hand in SQL raises an out-of-band alert, woken by the
/// audit trigger's notification alone; it says the change is published
/// when the flag set still compiles, and that the last valid version keeps
/// being served when it does not.
#[tokio::test]
async fn out_of_band_edits_alert_with_what_is_served_on_postgres() {
    let Some(db) =
        TestDb::postgres("out_of_band_edits_alert_with_what_is_served_on_postgres").await
    else {
        return;
    };
    let store = &db.store;
    let (commits, _) = broadcast::channel(64);
    flag_set(store).await;
    write(
        store,
        &commits,
        "banner",
        FlagChange::Create(flag("off", None)),
    )
    .await;
    let receiver = Receiver::start(0).await;
    let running = start(
        store,
        settings(vec![receiver.webhook(Vec::new())]),
        &commits,
    )
    .await;

    let schema = db.schema.as_deref().unwrap();
    let outsider = Store::connect(&test_support::postgres_url()).await.unwrap();
    let edit = |variant: &str| {
        format!(
            "UPDATE {schema}.flags SET definition = jsonb_set(definition, '{{defaultVariant}}', '\"{variant}\"') WHERE key = 'banner'"
        )
    };

    outsider
        .connection()
        .execute_unprepared(&edit("on"))
        .await
        .unwrap();
    let good = last_event(store, "banner").await;
    let alert = receiver.accepted(&format!("evt-{good}-alert")).await;
    assert_signed(&alert);
    let body = alert.json();
    assert_eq!(body["outOfBand"], true);
    assert_eq!(body["actor"], "postgres");
    assert_eq!(body["alert"]["kind"], "out_of_band");
    assert_eq!(body["alert"]["severity"], "warning");
    assert_eq!(body["alert"]["publication"]["published"], true);
    let message = body["alert"]["message"].as_str().unwrap();
    assert!(message.contains("outside Ensign"), "{message}");
    assert!(message.contains("published"), "{message}");
    assert!(!message.contains("not published"), "{message}");

    outsider
        .connection()
        .execute_unprepared(&edit("missing"))
        .await
        .unwrap();
    let bad = last_event(store, "banner").await;
    let alert = receiver.accepted(&format!("evt-{bad}-alert")).await;
    assert_signed(&alert);
    let body = alert.json();
    assert_eq!(body["alert"]["kind"], "out_of_band");
    assert_eq!(body["alert"]["severity"], "critical");
    assert_eq!(body["alert"]["publication"]["published"], false);
    assert!(
        !body["alert"]["publication"]["errors"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{body}"
    );
    let message = body["alert"]["message"].as_str().unwrap();
    assert!(
        message.contains("keeps serving the last valid version"),
        "{message}"
    );
    receiver.accepted(&format!("evt-{bad}-changed")).await;

    running.stop().await;
    db.drop_all().await;
}

/// A receiver that fails twice gets the same delivery a third time and
/// accepts it; nothing is delivered twice once accepted.
#[tokio::test]
async fn failed_deliveries_are_retried_until_accepted() {
    for db in TestDb::both("failed_deliveries_are_retried_until_accepted").await {
        let store = &db.store;
        let (commits, _) = broadcast::channel(64);
        flag_set(store).await;
        write(
            store,
            &commits,
            "banner",
            FlagChange::Create(flag("off", None)),
        )
        .await;
        let receiver = Receiver::start(2).await;
        let running = start(
            store,
            settings(vec![receiver.webhook(Vec::new())]),
            &commits,
        )
        .await;

        let updated = update(store, &commits, "banner", "on").await;
        let id = format!("evt-{updated}-changed");
        receiver.accepted(&id).await;
        // A later event is delivered only after this one was accepted, so
        // once it arrives no attempt of the first can still be under way.
        let next = update(store, &commits, "banner", "off").await;
        receiver.accepted(&format!("evt-{next}-changed")).await;

        let attempts = receiver.attempts(&id);
        let outcomes: Vec<bool> = attempts.iter().map(|r| r.accepted).collect();
        assert_eq!(outcomes, [false, false, true], "{}", db.backend);
        for attempt in &attempts {
            assert_signed(attempt);
            assert_eq!(attempt.body, attempts[0].body, "the body is the same");
        }
        running.stop().await;
        db.drop_all().await;
    }
}

/// The cursor is persisted: a restarted alerter sends nothing it delivered
/// before, and delivers what was committed while it was down.
#[tokio::test]
async fn a_restarted_alerter_resumes_where_it_stopped() {
    for db in TestDb::both("a_restarted_alerter_resumes_where_it_stopped").await {
        let store = &db.store;
        let (commits, _) = broadcast::channel(64);
        flag_set(store).await;
        write(
            store,
            &commits,
            "banner",
            FlagChange::Create(flag("off", None)),
        )
        .await;
        let receiver = Receiver::start(0).await;
        let config = settings(vec![receiver.webhook(Vec::new())]);

        let first = start(store, config.clone(), &commits).await;
        let before = update(store, &commits, "banner", "on").await;
        receiver.accepted(&format!("evt-{before}-changed")).await;
        first.stop().await;

        let while_down = update(store, &commits, "banner", "off").await;
        let second = start(store, config.clone(), &commits).await;
        let after = update(store, &commits, "banner", "on").await;
        receiver
            .accepted(&format!("evt-{while_down}-changed"))
            .await;
        receiver.accepted(&format!("evt-{after}-changed")).await;
        second.stop().await;

        let delivered: Vec<String> = receiver.all().into_iter().map(|r| r.delivery).collect();
        assert_eq!(
            delivered,
            [before, while_down, after].map(|id| format!("evt-{id}-changed")),
            "{}",
            db.backend
        );
        db.drop_all().await;
    }
}

/// The alerts query (viewer role) lists the changes that raised an alert,
/// newest first, with their audit events, page by page.
#[tokio::test]
async fn the_alerts_query_lists_unusual_changes() {
    for db in TestDb::both("the_alerts_query_lists_unusual_changes").await {
        let store = &db.store;
        let (commits, _) = broadcast::channel(64);
        flag_set(store).await;
        write(
            store,
            &commits,
            "banner",
            FlagChange::Create(flag("off", Some(true))),
        )
        .await;
        write(
            store,
            &commits,
            "checkout",
            FlagChange::Create(flag("off", None)),
        )
        .await;
        update(store, &commits, "checkout", "on").await;
        let kill = |definition: &mut Value| {
            definition["state"] = json!("DISABLED");
            Ok(())
        };
        let killed = write(
            store,
            &commits,
            "checkout",
            FlagChange::Edit {
                expected_version: None,
                action: Action::Kill,
                edit: &kill,
            },
        )
        .await;
        let viewer = store
            .create_token(&Actor::named("setup"), "grace", TokenRole::Viewer, None)
            .await
            .unwrap()
            .secret;
        let admin = Admin {
            store: store.clone(),
            commits: commits.clone(),
            analysis: None,
        };
        let query = |variables: Value| {
            let admin = admin.clone();
            let viewer = viewer.clone();
            async move {
                let response = warp::test::request()
                    .method("POST")
                    .path("/graphql")
                    .header("content-type", "application/json")
                    .header("authorization", format!("Bearer {viewer}"))
                    .json(&json!({
                        "query": "query($before: Int) { alerts(first: 1, beforeId: $before) { items { id kind kinds severity message event { subjectKey action } } next } }",
                        "variables": variables,
                    }))
                    .reply(&routes(admin))
                    .await;
                let body: Value = serde_json::from_slice(response.body()).unwrap();
                assert!(body["errors"].is_null(), "{body}");
                body["data"]["alerts"].clone()
            }
        };

        let newest = query(json!({})).await;
        assert_eq!(newest["items"][0]["id"], killed, "{}", db.backend);
        assert_eq!(newest["items"][0]["kind"], "KILL_SWITCH");
        assert_eq!(newest["items"][0]["severity"], "WARNING");
        assert_eq!(newest["items"][0]["event"]["action"], "kill");
        let older = query(json!({"before": newest["next"]})).await;
        assert_eq!(older["items"][0]["kind"], "LOCKED_FLAG", "{older}");
        assert_eq!(older["items"][0]["event"]["subjectKey"], "banner");
        let oldest = query(json!({"before": older["next"]})).await;
        assert_eq!(oldest["items"], json!([]), "{oldest}");
        assert!(oldest["next"].is_null(), "{oldest}");
        db.drop_all().await;
    }
}

/// How delivery stands, through the `webhooks` and `alerts` queries: a
/// webhook that keeps failing shows since when, how many attempts and the
/// last error (its origin only, never its path), and the alert waiting
/// behind it shows as failing; once the webhook accepts, the alert shows as
/// delivered and the failure is cleared.
#[tokio::test]
async fn delivery_state_shows_a_failing_webhook_and_its_recovery() {
    for db in TestDb::both("delivery_state_shows_a_failing_webhook_and_its_recovery").await {
        let store = &db.store;
        let (commits, _) = broadcast::channel(64);
        flag_set(store).await;
        write(
            store,
            &commits,
            "checkout",
            FlagChange::Create(flag("off", None)),
        )
        .await;
        // Made first: the token's audit event is handled before the alert's.
        let viewer = store
            .create_token(&Actor::named("setup"), "grace", TokenRole::Viewer, None)
            .await
            .unwrap()
            .secret;
        let receiver = Receiver::start(usize::MAX).await;
        let origin = receiver.url.trim_end_matches("/hook").to_owned();
        let running = start(
            store,
            settings(vec![receiver.webhook(Vec::new())]),
            &commits,
        )
        .await;
        let kill = |definition: &mut Value| {
            definition["state"] = json!("DISABLED");
            Ok(())
        };
        let killed = write(
            store,
            &commits,
            "checkout",
            FlagChange::Edit {
                expected_version: None,
                action: Action::Kill,
                edit: &kill,
            },
        )
        .await;
        let admin = Admin {
            store: store.clone(),
            commits: commits.clone(),
            analysis: None,
        };
        let query = |query: &'static str| {
            let admin = admin.clone();
            let viewer = viewer.clone();
            async move {
                let response = warp::test::request()
                    .method("POST")
                    .path("/graphql")
                    .header("content-type", "application/json")
                    .header("authorization", format!("Bearer {viewer}"))
                    .json(&json!({"query": query}))
                    .reply(&routes(admin))
                    .await;
                let body: Value = serde_json::from_slice(response.body()).unwrap();
                assert!(body["errors"].is_null(), "{body}");
                body["data"].clone()
            }
        };
        const WEBHOOKS: &str = "{ webhooks { target deliveredThrough pending deliveredAt failingSince failedAttempts lastError } }";
        const ALERTS: &str = "{ alerts(first: 1) { items { id deliveries { webhook status } } } }";
        let until = |done: fn(&Value) -> bool| {
            let query = &query;
            async move {
                let deadline = Instant::now() + PATIENCE;
                loop {
                    let webhooks = query(WEBHOOKS).await["webhooks"].clone();
                    if done(&webhooks[0]) {
                        return webhooks;
                    }
                    assert!(Instant::now() < deadline, "{webhooks}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };

        let failing = until(|w| w["failedAttempts"].as_u64() >= Some(2)).await;
        let webhook = &failing[0];
        assert_eq!(failing.as_array().unwrap().len(), 1, "{failing}");
        assert_eq!(webhook["target"], json!(origin), "{}", db.backend);
        assert!(
            webhook["deliveredThrough"].as_i64().unwrap() < killed,
            "{webhook}"
        );
        assert!(webhook["pending"].as_u64().unwrap() >= 1, "{webhook}");
        assert!(webhook["failingSince"].is_string(), "{webhook}");
        assert_eq!(webhook["deliveredAt"], Value::Null, "{webhook}");
        let error = webhook["lastError"].as_str().unwrap();
        assert!(error.contains("answered 500"), "{error}");
        assert!(!error.contains("/hook"), "{error}");
        let alerts = query(ALERTS).await;
        assert_eq!(
            alerts["alerts"]["items"][0],
            json!({"id": killed, "deliveries": [{"webhook": origin, "status": "FAILING"}]}),
            "{}",
            db.backend
        );

        receiver.recover();
        receiver.accepted(&format!("evt-{killed}-alert")).await;
        let recovered = until(|w| w["pending"] == json!(0)).await;
        let webhook = &recovered[0];
        assert_eq!(webhook["deliveredThrough"], json!(killed), "{webhook}");
        assert_eq!(
            (
                &webhook["failingSince"],
                &webhook["failedAttempts"],
                &webhook["lastError"]
            ),
            (&Value::Null, &json!(0), &Value::Null),
            "{webhook}"
        );
        assert!(webhook["deliveredAt"].is_string(), "{webhook}");
        let alerts = query(ALERTS).await;
        assert_eq!(
            alerts["alerts"]["items"][0]["deliveries"],
            json!([{"webhook": origin, "status": "DELIVERED"}]),
        );
        running.stop().await;
        db.drop_all().await;
    }
}

/// Log lines written while it runs, for tests that check what a log line
/// leaves out.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

/// A failed delivery is logged with the target's origin only: the path
/// and query of a webhook URL (where chat services put their token) stay
/// out of the log line, its error and its cause.
#[tokio::test]
async fn failed_deliveries_log_the_origin_and_not_the_url() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer({
            let captured = captured.clone();
            move || captured.clone()
        })
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    // The test's runtime has one thread, so the alerter's tasks log here.
    let _guard = tracing::subscriber::set_default(subscriber);

    let db = TestDb::sqlite().await;
    let store = &db.store;
    let (commits, _) = broadcast::channel(64);
    flag_set(store).await;
    write(
        store,
        &commits,
        "banner",
        FlagChange::Create(flag("off", None)),
    )
    .await;
    // A receiver that hangs up on every connection, so each delivery fails
    // with a connection error (whose text names the URL). The listener stays
    // bound, so no other test can take its port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let closed = listener.local_addr().expect("its address");
    let hang_up = tokio::spawn(async move {
        while let Ok((connection, _)) = listener.accept().await {
            drop(connection);
        }
    });
    let target = WebhookConfig {
        url: format!(
            "http://hook-user:hook-pass@{closed}/services/T0/B0/path-token?token=query-token#frag"
        ),
        secret: SECRET.into(),
        events: Vec::new(),
    };
    let running = start(store, settings(vec![target]), &commits).await;
    update(store, &commits, "banner", "on").await;
    let deadline = Instant::now() + PATIENCE;
    while !captured.text().contains("Webhook delivery failed") {
        assert!(Instant::now() < deadline, "no failed delivery logged");
        // Another test that reaches the same log call first, on a thread
        // without a subscriber, can leave its callsite's cached interest at
        // "never"; a rebuild makes it ask this test's subscriber again.
        tracing::callsite::rebuild_interest_cache();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.stop().await;
    hang_up.abort();
    let log = captured.text();
    assert!(log.contains(&format!("webhook=http://{closed}")), "{log}");
    for secret in [
        "path-token",
        "query-token",
        "frag",
        "hook-user",
        "hook-pass",
        "/services",
    ] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the log:\n{log}"
        );
    }
    db.drop_all().await;
}

/// A result that finds a sample-ratio mismatch where the one before did
/// not is audited and sent as a signed `experiment.alert`, once per onset:
/// a second mismatching result sends nothing more, and a mismatch after a
/// healthy result again alerts.
#[tokio::test]
async fn a_sample_ratio_mismatch_alerts_once_per_onset() {
    for db in TestDb::both("a_sample_ratio_mismatch_alerts_once_per_onset").await {
        let store = &db.store;
        let actor = flag_set(store).await;
        store
            .write_flag(
                &actor,
                "production",
                "checkout",
                FlagChange::Create(FlagInput {
                    definition: json!({
                        "state": "ENABLED",
                        "variants": {"control": "A", "treatment": "B"},
                        "defaultVariant": "control",
                        "targeting": {"fractional": [["control", 50], ["treatment", 50]]}
                    }),
                    client_visible: None,
                    locked: None,
                }),
            )
            .await
            .unwrap();
        store
            .create_experiment(
                &actor,
                "production",
                "checkout-test",
                store::ExperimentInput {
                    flag: "checkout".into(),
                    control: "control".into(),
                    weights: None,
                    metrics: vec![store::Metric {
                        name: "purchases".into(),
                        event: "purchase".into(),
                        kind: store::MetricKind::Conversion,
                    }],
                    window_seconds: None,
                    alpha: None,
                    sequential_tuning: None,
                },
            )
            .await
            .unwrap();
        store
            .start_experiment(&actor, "production", "checkout-test")
            .await
            .unwrap();
        let receiver = Receiver::start(0).await;
        let alerter = Alerter::new(
            store.clone(),
            settings(vec![receiver.webhook(vec![EventType::ExperimentAlert])]),
        )
        .await
        .expect("alerter starts");
        let waker = alerter.waker();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(alerter.run(async move {
            let _ = stopped.await;
        }));

        let start = time::OffsetDateTime::now_utc();
        let record = |hours: i64, control: u64, treatment: u64, mismatch: bool| {
            let report = json!({
                "srm": {"chi2": 42.0, "p_value": if mismatch { 1e-10 } else { 0.5 }, "mismatch": mismatch},
                "variants": [{"variant": "control", "users": control},
                             {"variant": "treatment", "users": treatment}],
            });
            store.record_result(
                "production",
                "checkout-test",
                store::NewResult {
                    computed_at: start + time::Duration::hours(hours),
                    users: i64::try_from(control + treatment).unwrap(),
                    srm_mismatch: mismatch,
                    report,
                },
            )
        };
        let srm_events = || async {
            store
                .audit(&store::AuditFilter {
                    limit: 100,
                    ..store::AuditFilter::default()
                })
                .await
                .unwrap()
                .items
                .into_iter()
                .filter(|event| event.action == Action::SampleRatioMismatch)
                .map(|event| event.id)
                .collect::<Vec<i64>>()
        };
        record(0, 500, 510, false).await.unwrap();
        record(1, 900, 600, true).await.unwrap();
        record(2, 950, 610, true).await.unwrap();
        let onsets = srm_events().await;
        assert_eq!(onsets.len(), 1, "{}", db.backend);
        waker.wake();
        let alert = receiver
            .accepted(&format!("evt-{}-experiment-alert", onsets[0]))
            .await;
        assert_signed(&alert);
        assert_eq!(alert.event, "experiment.alert");
        let body = alert.json();
        assert_eq!(body["experiment"], "checkout-test");
        assert_eq!(body["flagSet"], "production");
        assert_eq!(body["actor"], store::ANALYSIS_ACTOR);
        assert_eq!(body["alert"]["kind"], "sample_ratio_mismatch");
        assert_eq!(body["alert"]["severity"], "warning");
        assert_eq!(body["analysis"]["users"], 1500);
        assert_eq!(body["analysis"]["variants"][0]["users"], 900);
        assert_eq!(body["analysis"]["weights"][0]["weight"], 50);
        assert!(
            body["alert"]["message"]
                .as_str()
                .unwrap()
                .contains("sample-ratio mismatch"),
            "{body}"
        );

        // Healthy again, then a new onset: a second alert.
        record(3, 700, 700, false).await.unwrap();
        record(4, 300, 900, true).await.unwrap();
        let onsets = srm_events().await;
        assert_eq!(onsets.len(), 2, "{}", db.backend);
        waker.wake();
        let newest = onsets.iter().max().unwrap();
        receiver
            .accepted(&format!("evt-{newest}-experiment-alert"))
            .await;
        assert_eq!(
            receiver
                .all()
                .iter()
                .filter(|r| r.accepted && r.event == "experiment.alert")
                .count(),
            2
        );
        let _ = stop.send(());
        task.await.unwrap();
        db.drop_all().await;
    }
}

/// A guarded rollout's guard decisions are audited and sent, signed: the
/// clearance of a step once as a `rollout.cleared`, the stop as a
/// `rollout.alert`, each carrying the guard, the check's figures and a
/// message saying them in words.
#[tokio::test]
async fn a_guard_stop_alerts_with_its_figures() {
    for db in TestDb::both("a_guard_stop_alerts_with_its_figures").await {
        let store = &db.store;
        let actor = flag_set(store).await;
        store
            .write_flag(
                &actor,
                "production",
                "checkout",
                FlagChange::Create(FlagInput {
                    definition: json!({
                        "state": "ENABLED",
                        "variants": {"new": "B", "old": "A"},
                        "defaultVariant": "old",
                        "targeting": {"fractional": [["new", 0], ["old", 100]]}
                    }),
                    client_visible: None,
                    locked: None,
                }),
            )
            .await
            .unwrap();
        let due = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
        let rollout = store
            .schedule_rollout(
                &actor,
                store::NewRollout {
                    flag_set: "production".into(),
                    flag: "checkout".into(),
                    steps: [10, 30, 50]
                        .iter()
                        .enumerate()
                        .map(|(i, share)| store::RolloutStep {
                            at: due + time::Duration::seconds(i as i64),
                            weights: vec![
                                store::RolloutWeight {
                                    variant: "new".into(),
                                    weight: *share,
                                },
                                store::RolloutWeight {
                                    variant: "old".into(),
                                    weight: 100 - share,
                                },
                            ],
                        })
                        .collect(),
                    guard: Some(store::RolloutGuard {
                        metric: store::GuardMetric {
                            event: "purchase".into(),
                            kind: store::MetricKind::Conversion,
                            window_seconds: 3_600,
                        },
                        direction: store::GuardDirection::HigherIsBetter,
                        tolerance: 0.02,
                        min_users: 500,
                        action: store::GuardAction::Restore,
                    }),
                },
            )
            .await
            .unwrap();
        store
            .run_rollout_step(rollout.id, time::OffsetDateTime::now_utc())
            .await
            .unwrap()
            .expect("the first step runs");

        let receiver = Receiver::start(0).await;
        let (commits, _) = broadcast::channel(16);
        let running = start(
            store,
            settings(vec![receiver.webhook(vec![
                EventType::RolloutAlert,
                EventType::RolloutCleared,
            ])]),
            &commits,
        )
        .await;
        let audited = |action: Action| async move {
            store
                .audit(&store::AuditFilter {
                    limit: 100,
                    ..store::AuditFilter::default()
                })
                .await
                .unwrap()
                .items
                .into_iter()
                .filter(|event| event.action == action)
                .map(|event| event.id)
                .collect::<Vec<i64>>()
        };

        // The first step's clearance: audited once however often the
        // guard finds it healthy, and sent as a rollout.cleared.
        let healthy = store::GuardCheck {
            step: 0,
            checked_at: time::OffsetDateTime::now_utc(),
            verdict: store::GuardVerdict::Healthy,
            old_users: 4_500,
            new_users: 500,
            lift: Some(0.004),
            interval: Some([-0.012, 0.02]),
            reason: None,
        };
        for _ in 0..2 {
            store
                .record_guard_check(rollout.id, &healthy)
                .await
                .unwrap()
                .expect("recorded");
        }
        let clears = audited(Action::GuardClear).await;
        assert_eq!(clears.len(), 1, "{}", db.backend);
        let _ = commits.send(Commit {
            flag_set: "production".into(),
            flag: Some("checkout".into()),
            action: Action::GuardClear,
            actor: rollout.actor(),
        });
        let cleared = receiver
            .accepted(&format!("evt-{}-rollout-cleared", clears[0]))
            .await;
        assert_signed(&cleared);
        assert_eq!(cleared.event, "rollout.cleared");
        let body = cleared.json();
        assert_eq!(body["status"], "running");
        assert_eq!(body["check"]["verdict"], "healthy");
        assert_eq!(body["alert"]["kind"], "guard_clear");
        assert_eq!(body["alert"]["severity"], "info");
        assert_eq!(
            body["alert"]["message"],
            format!(
                "Rollout {} of flag \"checkout\" in flag set \"production\" had step 1 cleared by its guard, so the next step may follow: variant \"new\" moved \"purchase\" (conversion, higher is better) by +0.4% against the other variants (interval -1.2% to +2.0%), no regression beyond the 2.0% it tolerates, over 500 users of it and 4500 of the others in step 1.",
                rollout.id
            )
        );
        store
            .run_rollout_step(rollout.id, time::OffsetDateTime::now_utc())
            .await
            .unwrap()
            .expect("the cleared step runs");

        let check = store::GuardCheck {
            step: 1,
            checked_at: time::OffsetDateTime::now_utc(),
            verdict: store::GuardVerdict::Regressed,
            old_users: 4_410,
            new_users: 498,
            lift: Some(-0.2),
            interval: Some([-0.31, -0.09]),
            reason: None,
        };
        let stop = store
            .stop_guarded_rollout(rollout.id, &check)
            .await
            .unwrap()
            .expect("the guard stops the rollout");
        assert_eq!(stop.rollout.status, store::RolloutStatus::Restored);
        let _ = commits.send(Commit {
            flag_set: "production".into(),
            flag: Some("checkout".into()),
            action: Action::GuardStop,
            actor: stop.rollout.actor(),
        });
        let stops = audited(Action::GuardStop).await;
        assert_eq!(stops.len(), 1, "{}", db.backend);

        let alert = receiver
            .accepted(&format!("evt-{}-rollout-alert", stops[0]))
            .await;
        assert_signed(&alert);
        assert_eq!(alert.event, "rollout.alert");
        let body = alert.json();
        assert_eq!(body["type"], "rollout.alert");
        assert_eq!(body["flagSet"], "production");
        assert_eq!(body["flag"], "checkout");
        assert_eq!(body["rollout"], rollout.id);
        assert_eq!(body["status"], "restored");
        assert_eq!(body["action"], "guard_stop");
        assert_eq!(body["actor"], format!("rollout:{}", rollout.id));
        assert_eq!(body["guard"]["tolerance"], 0.02);
        assert_eq!(body["guard"]["variant"], "new");
        assert_eq!(body["guard"]["action"], "restore");
        assert_eq!(body["check"]["verdict"], "regressed");
        assert_eq!(body["check"]["newUsers"], 498);
        assert_eq!(body["check"]["oldUsers"], 4_410);
        assert_eq!(body["check"]["interval"], json!([-0.31, -0.09]));
        assert_eq!(body["alert"]["kind"], "guard_stop");
        assert_eq!(body["alert"]["severity"], "warning");
        assert_eq!(
            body["alert"]["message"],
            format!(
                "Rollout {} of flag \"checkout\" in flag set \"production\" was stopped by its guard, which restored the weights it started from: variant \"new\" moved \"purchase\" (conversion, higher is better) by -20.0% against the other variants (interval -31.0% to -9.0%), worse than the 2.0% it tolerates, over 498 users of it and 4410 of the others in step 2.",
                rollout.id
            )
        );
        // The alerts query lists the stop with the same message; the
        // clearance is no alert.
        let viewer = store
            .create_token(&actor, "grace", TokenRole::Viewer, None)
            .await
            .unwrap()
            .secret;
        let admin = Admin {
            store: store.clone(),
            commits: commits.clone(),
            analysis: None,
        };
        let response = warp::test::request()
            .method("POST")
            .path("/graphql")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {viewer}"))
            .json(&json!({"query": "{ alerts { items { id kind kinds severity message } } }"}))
            .reply(&routes(admin))
            .await;
        let listed: Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(
            listed["data"]["alerts"]["items"],
            json!([{"id": stops[0], "kind": "GUARD_STOP", "kinds": ["GUARD_STOP"],
                    "severity": "WARNING", "message": body["alert"]["message"]}]),
            "{}",
            db.backend
        );
        // Only the rollout's decisions were asked for: its steps' and the
        // restore's flag changes went to no one.
        assert!(
            receiver
                .all()
                .iter()
                .all(|r| r.event.starts_with("rollout.")),
            "{:?}",
            receiver.all()
        );
        running.stop().await;
        db.drop_all().await;
    }
}
