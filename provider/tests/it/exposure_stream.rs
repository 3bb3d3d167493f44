//! An evaluation node's exposures through the Redis stream: batches in the
//! stream's format, a full stream refused, and a Redis outage that the
//! node's buffer rides out (dropping and counting only once it is full).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use engine::streams::exposures::{FORMAT, StreamBatch, StreamExposure, stream_key};
use provider::server::exposures::{
    Exposure, ExposureScope, ExposureSettings, Exposures, Observed, Surface,
};
use provider::server::outbox::Sink;
use provider::server::stream_sink::RedisStreamSink;
use redis::aio::MultiplexedConnection;

use test_support::{PrivateRedis, clean_prefix, redis_url, shared_redis, unique_name};

fn exposure(user: &str) -> Exposure {
    Exposure {
        scope: Arc::new(ExposureScope {
            experiment: "checkout-test".into(),
            flag_set: "production".into(),
            flag: "checkout".into(),
            variant: "a".into(),
            flag_set_version: "00000000000000ff".into(),
            surface: Surface::Grpc,
        }),
        targeting_key: user.into(),
        at_micros: 1_800_000_000_000_000,
    }
}

/// The batches in the stream: (id, exposures).
async fn entries(
    connection: &mut MultiplexedConnection,
    prefix: &str,
) -> Vec<(String, Vec<StreamExposure<'static>>)> {
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(stream_key(prefix))
        .arg("-")
        .arg("+")
        .query_async(connection)
        .await
        .unwrap();
    reply
        .ids
        .iter()
        .map(|entry| {
            let id: String = entry.get("id").unwrap();
            let format: u32 = entry.get("format").unwrap();
            assert_eq!(format, FORMAT);
            let batch: String = entry.get("batch").unwrap();
            let batch: StreamBatch = serde_json::from_str(&batch).unwrap();
            let exposures = batch.into_exposures().unwrap();
            (
                id,
                exposures
                    .into_iter()
                    .map(StreamExposure::into_owned)
                    .collect(),
            )
        })
        .collect()
}

#[tokio::test]
async fn batches_go_into_the_stream_until_its_bound() {
    let test = "batches_go_into_the_stream_until_its_bound";
    let Some(mut redis) = shared_redis(test).await else {
        return;
    };
    let prefix = unique_name("stream");
    let sink = RedisStreamSink::<Exposure>::new(&redis_url(), &prefix)
        .unwrap()
        .with_bound(2);
    sink.write("n:1", &[exposure("u1"), exposure("u2")])
        .await
        .unwrap();
    sink.write("n:2", &[exposure("u3")]).await.unwrap();
    let full = sink.write("n:3", &[exposure("u4")]).await.unwrap_err();
    assert!(full.to_string().contains("its bound"), "{full}");
    let stored = entries(&mut redis, &prefix).await;
    let ids: Vec<&str> = stored.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["n:1", "n:2"]);
    assert_eq!(stored[0].1[1].targeting_key, "u2");
    assert_eq!(stored[0].1[1].surface, "grpc");
    clean_prefix(&mut redis, &prefix).await;
}

#[tokio::test]
async fn a_redis_outage_is_ridden_out_by_the_buffer() {
    let test = "a_redis_outage_is_ridden_out_by_the_buffer";
    let Some(mut redis) = PrivateRedis::start(test).await else {
        return;
    };
    let exposures = Arc::new(Exposures::default());
    let settings = ExposureSettings {
        buffer: 5,
        dedupe: 1_000,
        batch: 100,
        linger: Duration::from_millis(20),
        shutdown_deadline: Duration::from_secs(2),
    };
    let queue = exposures.attach(&settings).unwrap();
    let sink = Arc::new(RedisStreamSink::<Exposure>::new(&redis.url(), "ensign").unwrap());
    let (stop, stopping) = tokio::sync::oneshot::channel::<()>();
    let writer =
        tokio::spawn(
            Arc::clone(&exposures).run_writer(queue, sink, settings, async move {
                let _ = stopping.await;
            }),
        );
    let observe = |user: &str| {
        exposures.record(Observed {
            experiment: "checkout-test",
            flag_set: "production",
            flag: "checkout",
            variant: "a",
            targeting_key: user,
            flag_set_version: 1,
            surface: Surface::OfrepSingle,
            at_micros: None,
        });
    };
    observe("before");
    let mut connection = redis.connect().await;
    for _ in 0..100 {
        if !entries(&mut connection, "ensign").await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    redis.kill();
    // The first is taken as a batch whose write fails and is retried with
    // backoff; of the nine that follow, five wait in the buffer and four
    // are dropped and counted.
    observe("during-0");
    let counts = exposures.outbox().counts();
    for _ in 0..200 {
        if counts.write_failures.load(Ordering::Relaxed) >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(counts.write_failures.load(Ordering::Relaxed) >= 1);
    for i in 1..10 {
        observe(&format!("during-{i}"));
    }
    // Staged, they are buffered at the writer's next retry; now, here.
    exposures.settle();
    let dropped = counts.dropped.load(Ordering::Relaxed);
    assert_eq!(dropped, 4);
    redis.restart().await;
    let mut connection = redis.connect().await;
    let mut users = Vec::new();
    for _ in 0..300 {
        users = entries(&mut connection, "ensign")
            .await
            .into_iter()
            .flat_map(|(_, batch)| batch.into_iter().map(|e| e.targeting_key))
            .collect();
        if users.len() as u64 == 10 - dropped {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The restarted server is empty: "before" was in the old one.
    assert_eq!(users.len() as u64, 10 - dropped, "{users:?}");
    assert_eq!(
        counts.recorded.load(Ordering::Relaxed),
        11 - dropped,
        "every exposure is recorded or counted as dropped"
    );
    stop.send(()).unwrap();
    writer.await.unwrap();
}
