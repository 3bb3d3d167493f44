//! The Redis source against real Redis servers: the shared one at
//! `ENSIGN_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`), each test
//! under its own key prefix, and private `redis-server` processes on free
//! ports for outages. Payloads are written the way the admin side's
//! publisher writes them, with the engine's publication types. Without
//! Redis a test prints one loud SKIPPED line and passes, unless
//! `ENSIGN_REQUIRE_SERVICES=1`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ::redis::AsyncCommands;
use ::redis::aio::MultiplexedConnection;
use engine::publication::{Announcement, Keys, Publication};
use serde_json::{Value, json};

use provider::server::sources::{SourceKind, SourceSpec};
use provider::server::{Server, ServerConfig};
use test_support::{PrivateRedis, clean_prefix, redis_url, shared_redis, unique_name};

/// A flag set whose one flag, `banner`, defaults to `default`.
fn document(flag_set: &str, default: &str) -> Value {
    json!({
        "flags": {"banner": {
            "state": "ENABLED",
            "variants": {"on": true, "off": false},
            "defaultVariant": default,
        }},
        "metadata": {"flagSetId": flag_set},
    })
}

/// Writes a version of a flag set as the publisher does, announcing it or
/// not.
async fn publish(
    connection: &mut MultiplexedConnection,
    keys: &Keys,
    flag_set: &str,
    version: i64,
    default: &str,
    announce: bool,
) {
    let payload = Publication::new(flag_set, version, document(flag_set, default))
        .encode(keys.format())
        .expect("encode");
    let _: () = connection
        .set(keys.payload(flag_set, version), payload)
        .await
        .expect("write payload");
    let _: () = connection
        .set(keys.latest(flag_set), version)
        .await
        .expect("move pointer");
    let _: () = connection
        .sadd(keys.index(), flag_set)
        .await
        .expect("index");
    if announce {
        announce_version(connection, keys, flag_set, version).await;
    }
}

async fn announce_version(
    connection: &mut MultiplexedConnection,
    keys: &Keys,
    flag_set: &str,
    version: i64,
) {
    let announcement = Announcement {
        flag_set: flag_set.into(),
        version,
    }
    .encode();
    let _: () = connection
        .publish(keys.channel(), announcement)
        .await
        .expect("announce");
}

fn redis_source(
    url: &str,
    prefix: &str,
    snapshot: Option<PathBuf>,
    interval: Duration,
) -> SourceSpec {
    SourceSpec {
        name: "redis".into(),
        kind: SourceKind::Redis {
            url: url.into(),
            prefix: prefix.into(),
            snapshot,
            interval,
        },
    }
}

async fn start(source: SourceSpec) -> Server {
    Server::start(ServerConfig {
        bind: [127, 0, 0, 1].into(),
        port: 0,
        sync_port: 0,
        ofrep_port: 0,
        management_port: 0,
        sources: vec![source],
        ..ServerConfig::default()
    })
    .await
    .expect("the server starts")
}

/// `banner`'s value in `flag_set`, or its error code.
async fn banner(server: &Server, flag_set: &str) -> Value {
    let body: Value = reqwest::Client::new()
        .post(format!(
            "http://{}/ofrep/v1/evaluate/flags/banner",
            server.ofrep_addr
        ))
        .header("flagd-selector", format!("flagSetId={flag_set}"))
        .json(&json!({"context": {}}))
        .send()
        .await
        .expect("the OFREP listener answers")
        .json()
        .await
        .expect("a JSON body");
    body.get("value")
        .or_else(|| body.get("errorCode"))
        .cloned()
        .unwrap_or(Value::Null)
}

async fn ready(server: &Server) -> bool {
    reqwest::get(format!("http://{}/readyz", server.management_addr))
        .await
        .is_ok_and(|r| r.status() == 200)
}

/// Polls `check` until it holds (fifteen seconds at most).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A fresh directory for one test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name(&format!("ensign-{test}")));
    std::fs::create_dir_all(&dir).expect("the scratch directory can be made");
    dir
}

/// A server with a Redis source serves every flag set Redis holds, picks
/// up an announced version at once, and ignores what is older than what it
/// has or in a format it does not read.
#[tokio::test]
async fn a_redis_source_serves_what_redis_holds_and_follows_announcements() {
    let test = "a_redis_source_serves_what_redis_holds_and_follows_announcements";
    let Some(mut redis) = shared_redis(test).await else {
        return;
    };
    let prefix = unique_name("ensign_it");
    let keys = Keys::new(&prefix, 1);
    publish(&mut redis, &keys, "production", 1, "on", false).await;
    publish(&mut redis, &keys, "staging", 3, "off", false).await;

    // Reconciliation is an hour away: what follows comes through
    // announcements.
    let server = start(redis_source(
        &redis_url(),
        &prefix,
        None,
        Duration::from_secs(3600),
    ))
    .await;
    eventually("the source is loaded", || ready(&server)).await;
    assert_eq!(banner(&server, "production").await, true);
    assert_eq!(banner(&server, "staging").await, false);

    publish(&mut redis, &keys, "production", 2, "off", true).await;
    eventually("the announced version is served", || async {
        banner(&server, "production").await == false
    })
    .await;

    // A stale pointer and announcement (say, from a writer that fell
    // behind) change nothing.
    publish(&mut redis, &keys, "production", 1, "on", true).await;
    // A version in a format this build does not read is refused.
    let future = json!({"format": 2, "flagSet": "production", "version": 5, "document": {}});
    let _: () = redis
        .set(keys.payload("production", 5), future.to_string())
        .await
        .expect("write payload");
    let _: () = redis
        .set(keys.latest("production"), 5)
        .await
        .expect("move pointer");
    let errors = server.flags().metrics().sync_errors("redis");
    announce_version(&mut redis, &keys, "production", 5).await;
    eventually("the unknown format is counted as a failure", || async {
        server.flags().metrics().sync_errors("redis") > errors
    })
    .await;
    assert_eq!(
        banner(&server, "production").await,
        false,
        "version 2 stays"
    );

    // An announcement the pointer has already moved past loads the
    // pointer's version, not the announced one.
    publish(&mut redis, &keys, "production", 6, "off", false).await;
    publish(&mut redis, &keys, "production", 7, "on", false).await;
    announce_version(&mut redis, &keys, "production", 6).await;
    eventually("the pointer's version is served", || async {
        banner(&server, "production").await == true
    })
    .await;

    // A new flag set is announced like any version.
    publish(&mut redis, &keys, "canary", 1, "on", true).await;
    eventually("the new flag set is served", || async {
        banner(&server, "canary").await == true
    })
    .await;
    assert_eq!(banner(&server, "production").await, true);
    assert_eq!(banner(&server, "staging").await, false);

    server.shutdown().await;
    clean_prefix(&mut redis, &prefix).await;
}

/// Without announcements (missed while the subscription was down, say),
/// reconciliation catches up: newer versions, new flag sets, and flag sets
/// gone from the index.
#[tokio::test]
async fn reconciliation_catches_up_when_announcements_are_missed() {
    let test = "reconciliation_catches_up_when_announcements_are_missed";
    let Some(mut redis) = shared_redis(test).await else {
        return;
    };
    let prefix = unique_name("ensign_it");
    let keys = Keys::new(&prefix, 1);
    publish(&mut redis, &keys, "production", 1, "on", false).await;
    let server = start(redis_source(
        &redis_url(),
        &prefix,
        None,
        Duration::from_millis(200),
    ))
    .await;
    eventually("the source is loaded", || ready(&server)).await;
    assert_eq!(banner(&server, "production").await, true);

    publish(&mut redis, &keys, "production", 2, "off", false).await;
    publish(&mut redis, &keys, "staging", 1, "on", false).await;
    eventually(
        "reconciliation brings the new version and flag set",
        || async {
            banner(&server, "production").await == false && banner(&server, "staging").await == true
        },
    )
    .await;

    let _: () = redis.srem(keys.index(), "staging").await.expect("unindex");
    eventually(
        "a flag set gone from the index is no longer served",
        || async { banner(&server, "staging").await == "FLAG_NOT_FOUND" },
    )
    .await;
    assert_eq!(banner(&server, "production").await, false);

    server.shutdown().await;
    clean_prefix(&mut redis, &prefix).await;
}

/// While Redis is down the last good state stays served; a server started
/// while it is still down serves the snapshot file the first one wrote, and
/// both follow Redis again once it is back, even empty at first.
#[tokio::test]
async fn redis_outages_keep_the_last_good_state_and_restarts_serve_the_snapshot_file() {
    let test = "redis_outages_keep_the_last_good_state_and_restarts_serve_the_snapshot_file";
    let Some(mut redis) = PrivateRedis::start(test).await else {
        return;
    };
    let dir = scratch("redis-snapshot");
    let snapshot = dir.join("redis.snapshot.json");
    let prefix = "ensign";
    let keys = Keys::new(prefix, 1);
    let mut connection = redis.connect().await;
    publish(&mut connection, &keys, "production", 4, "on", false).await;

    let interval = Duration::from_millis(200);
    let first = start(redis_source(
        &redis.url(),
        prefix,
        Some(snapshot.clone()),
        interval,
    ))
    .await;
    eventually("the first server is loaded", || ready(&first)).await;
    assert_eq!(banner(&first, "production").await, true);
    eventually("the snapshot file is written", || async {
        snapshot.exists()
    })
    .await;

    redis.kill();
    // Several reconciliations fail meanwhile; nothing changes.
    eventually("the outage is noticed", || async {
        first.flags().metrics().sync_errors("redis") > 0
    })
    .await;
    assert!(ready(&first).await);
    assert_eq!(banner(&first, "production").await, true);

    // Without a snapshot file, a server cannot be ready while Redis is
    // down; with one, it serves the last state.
    let blind = start(redis_source(&redis.url(), prefix, None, interval)).await;
    let second = start(redis_source(
        &redis.url(),
        prefix,
        Some(snapshot.clone()),
        interval,
    ))
    .await;
    eventually("the second server serves the snapshot file", || {
        ready(&second)
    })
    .await;
    assert_eq!(banner(&second, "production").await, true);
    assert!(!ready(&blind).await, "no state, not ready");
    blind.shutdown().await;

    // Redis comes back empty: the state stays until versions are
    // published again, and then both servers follow them.
    redis.restart().await;
    connection = redis.connect().await;
    eventually("both servers are subscribed again", || {
        let mut connection = connection.clone();
        let channel = keys.channel();
        async move {
            let counts: (String, i64) = ::redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(&channel)
                .query_async(&mut connection)
                .await
                .expect("count subscribers");
            counts.1 == 2
        }
    })
    .await;
    // They reconcile with the empty Redis right after subscribing, and
    // again every interval.
    tokio::time::sleep(interval * 3).await;
    assert_eq!(banner(&first, "production").await, true);
    assert_eq!(banner(&second, "production").await, true);
    publish(&mut connection, &keys, "production", 5, "off", true).await;
    for server in [&first, &second] {
        eventually("the new version is served after the outage", || async {
            banner(server, "production").await == false
        })
        .await;
    }

    // The state is served first and written to the file right after.
    eventually("the snapshot file holds the new version", || async {
        std::fs::read_to_string(&snapshot).is_ok_and(|saved| saved.contains(r#""version":5"#))
    })
    .await;

    first.shutdown().await;
    second.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
