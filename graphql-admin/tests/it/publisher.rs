//! The publisher against real Redis servers: the shared one at
//! `ENSIGN_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`), each test
//! under its own key prefix, and private `redis-server` processes on free
//! ports for outages. Without Redis a test prints one loud SKIPPED line and
//! passes, unless `ENSIGN_REQUIRE_SERVICES=1`.

use std::time::{Duration, Instant};

use engine::publication::{Announcement, Keys, Publication};
use futures::StreamExt;
use graphql_admin::publisher::{Pass, Pending, Publisher, PublisherSettings};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use store::{Action, FlagChange, NewFlagSet};
use store::{Actor, Store, StoreError};

use test_support::{
    PrivateRedis, TestDb, boolean_flag, clean_prefix, input, redis_url, shared_redis, unique_name,
};

/// Creates flag set `production` with one flag, `banner`.
async fn production(store: &Store) -> Actor {
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
        .expect("create flag set");
    store
        .write_flag(
            &actor,
            "production",
            "banner",
            FlagChange::Create(input(boolean_flag("off"))),
        )
        .await
        .expect("create flag");
    actor
}

/// Sets `banner`'s default variant, at whatever version it is.
async fn set_default(store: &Store, actor: &Actor, default: &str) -> i64 {
    let current = store.flag("production", "banner").await.expect("read flag");
    store
        .write_flag(
            actor,
            "production",
            "banner",
            FlagChange::Update {
                expected_version: current.version,
                input: input(boolean_flag(default)),
            },
        )
        .await
        .expect("update flag");
    store
        .flag_set("production")
        .await
        .expect("read flag set")
        .version
}

fn publisher(store: &Store, url: &str, prefix: &str, interval: Duration) -> Publisher {
    let mut settings = PublisherSettings::new(url);
    settings.prefix = prefix.to_owned();
    settings.interval = interval;
    Publisher::new(store.clone(), settings).expect("a valid Redis URL")
}

/// The latest pointer and its payload, if any.
async fn latest(
    connection: &mut MultiplexedConnection,
    keys: &Keys,
    flag_set: &str,
) -> Option<Publication> {
    let version: Option<i64> = connection
        .get(keys.latest(flag_set))
        .await
        .expect("read latest");
    let version = version?;
    let payload: Vec<u8> = connection
        .get(keys.payload(flag_set, version))
        .await
        .expect("read payload");
    Some(
        Publication::decode_expected(&payload, flag_set, version)
            .expect("the payload under the latest pointer reads back"),
    )
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A committed write is published: the payload under the versioned key is
/// the store's document at that version, the latest pointer and the index
/// name it, an announcement goes out, and the store records it.
#[tokio::test]
async fn a_write_is_published_with_its_payload_and_version() {
    let test = "a_write_is_published_with_its_payload_and_version";
    let Some(mut redis) = shared_redis(test).await else {
        return;
    };
    for db in TestDb::both(test).await {
        let store = &db.store;
        let prefix = unique_name("ensign_it");
        let keys = Keys::new(&prefix, 1);
        let client = redis::Client::open(redis_url()).expect("a valid URL");
        let mut pubsub = client.get_async_pubsub().await.expect("subscribe");
        pubsub.subscribe(keys.channel()).await.expect("subscribe");
        let mut messages = pubsub.into_on_message();

        let actor = production(store).await;
        let publisher = publisher(store, &redis_url(), &prefix, Duration::from_secs(1));
        let pending = publisher.pending().await.expect("pending");
        assert_eq!(
            pending,
            vec![Pending {
                flag_set: "production".into(),
                version: 2,
                published_version: 0,
            }],
            "{}",
            db.backend
        );
        assert_eq!(pending[0].lag(), 2);

        let pass = publisher.publish_pending().await.expect("publish");
        assert_eq!(
            pass,
            Pass {
                published: vec![("production".into(), 2)],
                refused: vec![],
            }
        );
        let (version, document) = store.document("production").await.expect("document");
        let published = latest(&mut redis, &keys, "production")
            .await
            .expect("published");
        assert_eq!(published, Publication::new("production", version, document));
        let members: Vec<String> = redis.smembers(keys.index()).await.expect("index");
        assert_eq!(members, ["production"]);
        let message = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .expect("an announcement")
            .expect("the subscription is open");
        assert_eq!(
            Announcement::decode(message.get_payload_bytes()).expect("an announcement"),
            Announcement {
                flag_set: "production".into(),
                version: 2,
            }
        );
        assert_eq!(
            store
                .flag_set("production")
                .await
                .expect("flag set")
                .published_version,
            2
        );
        assert_eq!(publisher.pending().await.expect("pending"), vec![]);

        // Nothing new: a pass publishes nothing and announces nothing.
        assert_eq!(
            publisher.publish_pending().await.expect("pass"),
            Pass::default()
        );
        set_default(store, &actor, "on").await;
        publisher.publish_pending().await.expect("publish");
        let message = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .expect("an announcement")
            .expect("the subscription is open");
        assert_eq!(
            Announcement::decode(message.get_payload_bytes())
                .expect("an announcement")
                .version,
            3,
            "the next announcement is the next version"
        );
        let published = latest(&mut redis, &keys, "production")
            .await
            .expect("published");
        assert_eq!(
            published.document["flags"]["banner"]["defaultVariant"],
            "on"
        );
        // The superseded payload expires instead of piling up.
        let ttl: i64 = redis
            .pttl(keys.payload("production", 2))
            .await
            .expect("ttl");
        assert!(ttl > 0, "the old payload expires (pttl {ttl})");
        let ttl: i64 = redis
            .pttl(keys.payload("production", 3))
            .await
            .expect("ttl");
        assert_eq!(ttl, -1, "the latest payload stays");

        clean_prefix(&mut redis, &prefix).await;
        db.drop_all().await;
    }
}

/// Versions go out in order: each pass announces the next version, the
/// latest pointer never goes back even when two publishers race, and a
/// publisher that is behind another cannot move the pointer back.
#[tokio::test]
async fn publication_is_in_order_even_with_two_publishers_racing() {
    let test = "publication_is_in_order_even_with_two_publishers_racing";
    let Some(mut redis) = shared_redis(test).await else {
        return;
    };
    for db in TestDb::both(test).await {
        let store = &db.store;
        let prefix = unique_name("ensign_it");
        let keys = Keys::new(&prefix, 1);
        let client = redis::Client::open(redis_url()).expect("a valid URL");
        let mut pubsub = client.get_async_pubsub().await.expect("subscribe");
        pubsub.subscribe(keys.channel()).await.expect("subscribe");
        let mut messages = pubsub.into_on_message();

        let actor = production(store).await;
        let first = publisher(store, &redis_url(), &prefix, Duration::from_millis(20));
        let second = publisher(store, &redis_url(), &prefix, Duration::from_millis(20));
        first.publish_pending().await.expect("publish");

        // A watcher reads the pointer as fast as it can while both
        // publishers run and writes keep coming.
        // A watch, not a Notify: a stop sent while a task is busy (reading
        // Redis, publishing) must still be seen when it next looks.
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let watcher = {
            let mut connection = redis.clone();
            let keys = keys.clone();
            let stopping = stopping.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !*stopping.borrow() {
                    let version: Option<i64> = connection
                        .get(keys.latest("production"))
                        .await
                        .expect("read latest");
                    seen.push(version.unwrap_or(0));
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                seen
            })
        };
        let runs = [first.clone(), second.clone()].map(|publisher| {
            let mut stopping = stopping.clone();
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = stopping.wait_for(|stop| *stop).await;
                };
                publisher.run(stopped).await;
            })
        });
        let mut written = Vec::new();
        for round in 0..12 {
            written
                .push(set_default(store, &actor, if round % 2 == 0 { "on" } else { "off" }).await);
            first.notifier().notify_one();
            second.notifier().notify_one();
            if round % 3 == 0 {
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        }
        let last = *written.last().expect("versions were written");
        eventually("the last version is published", || {
            let mut connection = redis.clone();
            let keys = keys.clone();
            async move {
                latest(&mut connection, &keys, "production")
                    .await
                    .is_some_and(|p| p.version == last)
            }
        })
        .await;
        stop.send_replace(true);
        let seen = watcher.await.expect("the watcher ends");
        for run in runs {
            run.await.expect("the publisher stops");
        }
        assert!(
            seen.windows(2).all(|pair| pair[0] <= pair[1]),
            "the latest pointer went back: {seen:?}"
        );

        // Announcements came in strictly increasing order, ending at the
        // last version.
        let mut announced = Vec::new();
        while let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_millis(300), messages.next()).await
        {
            announced.push(
                Announcement::decode(message.get_payload_bytes())
                    .expect("an announcement")
                    .version,
            );
        }
        assert!(
            announced.windows(2).all(|pair| pair[0] < pair[1]),
            "announcements out of order: {announced:?}"
        );
        assert_eq!(announced.last(), Some(&last), "{announced:?}");

        // A publisher that is behind (here: Redis already holds a newer
        // version than the store) leaves the pointer where it is.
        let ahead = last + 5;
        let _: () = redis
            .set(keys.latest("production"), ahead)
            .await
            .expect("move the pointer ahead");
        let behind = set_default(store, &actor, "on").await;
        assert!(behind < ahead);
        assert_eq!(
            first.publish_pending().await.expect("pass"),
            Pass::default()
        );
        let pointer: i64 = redis
            .get(keys.latest("production"))
            .await
            .expect("read latest");
        assert_eq!(pointer, ahead, "{}", db.backend);

        clean_prefix(&mut redis, &prefix).await;
        db.drop_all().await;
    }
}

/// With Redis down a write still commits and waits in the store; once
/// Redis is back (empty, as after a restart without persistence) the
/// publisher publishes the latest version and fills it again.
#[tokio::test]
async fn writes_made_while_redis_is_down_are_published_when_it_is_back() {
    let test = "writes_made_while_redis_is_down_are_published_when_it_is_back";
    let Some(mut redis) = PrivateRedis::start(test).await else {
        return;
    };
    let db = TestDb::sqlite().await;
    let store = &db.store;
    let prefix = unique_name("ensign_it");
    let keys = Keys::new(&prefix, 1);
    let actor = production(store).await;
    let publisher = publisher(store, &redis.url(), &prefix, Duration::from_millis(100));
    let (stop, mut stopping) = tokio::sync::watch::channel(false);
    let run = {
        let publisher = publisher.clone();
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            };
            publisher.run(stopped).await
        })
    };
    let mut connection = redis.connect().await;
    eventually("the first version is published", || {
        let mut connection = connection.clone();
        let keys = keys.clone();
        async move { latest(&mut connection, &keys, "production").await.is_some() }
    })
    .await;

    redis.kill();
    let version = set_default(store, &actor, "on").await;
    publisher.notifier().notify_one();
    assert!(
        publisher.publish_pending().await.is_err(),
        "a pass fails while Redis is down"
    );
    let pending = publisher.pending().await.expect("pending");
    assert_eq!(
        pending,
        vec![Pending {
            flag_set: "production".into(),
            version,
            published_version: version - 1,
        }],
        "the write committed and waits"
    );

    redis.restart().await;
    connection = redis.connect().await;
    eventually("the write made during the outage is published", || {
        let mut connection = connection.clone();
        let keys = keys.clone();
        async move {
            latest(&mut connection, &keys, "production")
                .await
                .is_some_and(|p| p.version == version)
        }
    })
    .await;
    let published = latest(&mut connection, &keys, "production")
        .await
        .expect("published");
    assert_eq!(
        published.document["flags"]["banner"]["defaultVariant"],
        "on"
    );
    let members: Vec<String> = connection.smembers(keys.index()).await.expect("index");
    assert_eq!(members, ["production"]);
    eventually("nothing is pending", || {
        let publisher = publisher.clone();
        async move { publisher.pending().await.is_ok_and(|p| p.is_empty()) }
    })
    .await;

    stop.send_replace(true);
    run.await.expect("the publisher stops");
    db.drop_all().await;
}

/// A flag set edited by hand in SQL into a document that no longer compiles
/// is not published: Redis keeps the last good version, the flag set stays
/// pending, and the next valid write is published.
#[tokio::test]
async fn a_document_that_no_longer_compiles_is_not_published() {
    let test = "a_document_that_no_longer_compiles_is_not_published";
    let Some(mut redis) = shared_redis(test).await else {
        return;
    };
    let Some(db) = TestDb::postgres(test).await else {
        return;
    };
    let store = &db.store;
    let prefix = unique_name("ensign_it");
    let keys = Keys::new(&prefix, 1);
    let actor = production(store).await;
    let publisher = publisher(store, &redis_url(), &prefix, Duration::from_secs(1));
    publisher.publish_pending().await.expect("publish");
    let good = latest(&mut redis, &keys, "production")
        .await
        .expect("published");

    let schema = db.schema.as_deref().expect("a PostgreSQL schema");
    let outsider = Store::connect(&test_support::postgres_url())
        .await
        .expect("connect outside Ensign");
    outsider
        .connection()
        .execute_unprepared(&format!(
            "UPDATE {schema}.flags SET definition = jsonb_set(definition, '{{defaultVariant}}', '\"missing\"') WHERE key = 'banner'"
        ))
        .await
        .expect("edit by hand");
    let broken = store
        .flag_set("production")
        .await
        .expect("flag set")
        .version;
    assert_eq!(broken, good.version + 1, "the edit bumped the version");

    for _ in 0..2 {
        let pass = publisher.publish_pending().await.expect("pass");
        assert_eq!(
            pass,
            Pass {
                published: vec![],
                refused: vec![("production".into(), broken)],
            }
        );
    }
    assert_eq!(
        latest(&mut redis, &keys, "production").await,
        Some(good.clone()),
        "the last good version stays the latest"
    );
    assert_eq!(
        publisher.pending().await.expect("pending"),
        vec![Pending {
            flag_set: "production".into(),
            version: broken,
            published_version: good.version,
        }]
    );

    // A valid write repairs it and is published.
    let fixed = set_default(store, &actor, "on").await;
    let pass = publisher.publish_pending().await.expect("publish");
    assert_eq!(pass.published, vec![("production".into(), fixed)]);
    let published = latest(&mut redis, &keys, "production")
        .await
        .expect("published");
    assert_eq!(
        published.document["flags"]["banner"]["defaultVariant"],
        "on"
    );
    assert_eq!(publisher.pending().await.expect("pending"), vec![]);

    clean_prefix(&mut redis, &prefix).await;
    db.drop_all().await;
}

/// The kill switch on a flag whose targeting was broken by hand in SQL
/// reaches Redis: a disabled flag's targeting errors are only warnings, so
/// the flag set is published, and every node resolves the flag to DISABLED.
/// Enabling it again without repairing the rule is refused.
#[tokio::test]
async fn a_kill_switch_on_a_flag_broken_by_hand_is_published() {
    let test = "a_kill_switch_on_a_flag_broken_by_hand_is_published";
    let Some(mut redis) = shared_redis(test).await else {
        return;
    };
    let Some(db) = TestDb::postgres(test).await else {
        return;
    };
    let store = &db.store;
    let prefix = unique_name("ensign_it");
    let keys = Keys::new(&prefix, 1);
    let actor = production(store).await;
    let publisher = publisher(store, &redis_url(), &prefix, Duration::from_secs(1));
    publisher.publish_pending().await.expect("publish");

    let schema = db.schema.as_deref().expect("a PostgreSQL schema");
    let outsider = Store::connect(&test_support::postgres_url())
        .await
        .expect("connect outside Ensign");
    outsider
        .connection()
        .execute_unprepared(&format!(
            r#"UPDATE {schema}.flags SET definition = jsonb_set(definition, '{{targeting}}', '{{"if": [{{"bogus": [1]}}, "on", "off"]}}') WHERE key = 'banner'"#
        ))
        .await
        .expect("edit by hand");
    let broken = store
        .flag_set("production")
        .await
        .expect("flag set")
        .version;
    let pass = publisher.publish_pending().await.expect("pass");
    assert_eq!(
        pass.refused,
        vec![("production".into(), broken)],
        "an enabled flag with a broken rule holds its flag set back"
    );

    let kill = |definition: &mut Value| {
        definition["state"] = json!("DISABLED");
        Ok(())
    };
    store
        .write_flag(
            &actor,
            "production",
            "banner",
            FlagChange::Edit {
                expected_version: None,
                action: Action::Kill,
                edit: &kill,
            },
        )
        .await
        .expect("the kill switch is accepted");
    let killed = store
        .flag_set("production")
        .await
        .expect("flag set")
        .version;
    let pass = publisher.publish_pending().await.expect("publish");
    assert_eq!(
        pass,
        Pass {
            published: vec![("production".into(), killed)],
            refused: vec![],
        }
    );
    let published = latest(&mut redis, &keys, "production")
        .await
        .expect("published");
    assert_eq!(published.version, killed);
    let banner = &published.document["flags"]["banner"];
    assert_eq!(banner["state"], "DISABLED");
    assert_eq!(
        banner["targeting"],
        json!({"if": [{"bogus": [1]}, "on", "off"]})
    );
    // What an evaluation node makes of the payload.
    let (snapshot, diagnostics) = engine::Snapshot::from_text(
        "redis",
        &published.document.to_string(),
        engine::Format::Json,
        &engine::CompileOptions::default(),
    )
    .expect("the payload parses");
    assert!(
        diagnostics
            .iter()
            .all(|d| d.severity == engine::Severity::Warning),
        "{diagnostics:?}"
    );
    let resolution = snapshot.evaluate("banner", &engine::Selector::All, &json!({}));
    assert_eq!(resolution.reason, engine::Reason::Disabled);
    assert_eq!(resolution.error, None);

    // Enabling it again turns the warning back into an error: refused.
    let enable = |definition: &mut Value| {
        definition["state"] = json!("ENABLED");
        Ok(())
    };
    let refused = store
        .write_flag(
            &actor,
            "production",
            "banner",
            FlagChange::Edit {
                expected_version: None,
                action: Action::Update,
                edit: &enable,
            },
        )
        .await
        .expect_err("enabling a broken rule is refused");
    let StoreError::Invalid { diagnostics, .. } = &refused else {
        panic!("expected Invalid, got {refused:?}");
    };
    assert_eq!(
        diagnostics
            .iter()
            .map(|d| format!("{} {}: {}", d.severity.as_str(), d.pointer, d.message))
            .collect::<Vec<_>>(),
        ["error /flags/banner/targeting/if/0/bogus: unknown operator \"bogus\""]
    );
    assert_eq!(
        store
            .flag_set("production")
            .await
            .expect("flag set")
            .version,
        killed,
        "nothing was written"
    );

    clean_prefix(&mut redis, &prefix).await;
    db.drop_all().await;
}
