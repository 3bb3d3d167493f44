//! Redis for tests: the shared server under a key prefix of the test's
//! own, and private `redis-server` processes on free ports for outages.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

use crate::skip;

/// The shared Redis server's URL: `ENSIGN_TEST_REDIS_URL`, by default
/// `redis://127.0.0.1:6379`.
pub fn redis_url() -> String {
    std::env::var_os("ENSIGN_TEST_REDIS_URL")
        .and_then(|url| url.into_string().ok())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

/// A connection to the shared Redis, or `None` after a SKIPPED line.
pub async fn shared_redis(test: &str) -> Option<MultiplexedConnection> {
    let url = redis_url();
    let connected = match redis::Client::open(url.as_str()) {
        Ok(client) => client.get_multiplexed_async_connection().await,
        Err(error) => Err(error),
    };
    match connected {
        Ok(connection) => Some(connection),
        Err(error) => {
            skip(test, &format!("Redis at {url}: {error}"));
            None
        }
    }
}

/// Deletes every key under `prefix`.
pub async fn clean_prefix(connection: &mut MultiplexedConnection, prefix: &str) {
    let keys: Vec<String> = connection
        .keys(format!("{prefix}:*"))
        .await
        .expect("list test keys");
    if !keys.is_empty() {
        let _: () = connection.del(keys).await.expect("delete test keys");
    }
}
/// A `redis-server` of the test's own, without persistence, on a free
/// port: killed to simulate an outage, restarted empty on the same port.
#[derive(Debug)]
pub struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts one, or returns `None` after a SKIPPED line when
    /// `redis-server` is not installed.
    pub async fn start(test: &str) -> Option<PrivateRedis> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut redis = PrivateRedis { port, child: None };
        if let Err(error) = redis.spawn() {
            skip(test, &format!("redis-server: {error}"));
            return None;
        }
        redis.wait_until_up().await;
        Some(redis)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    async fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let client = redis::Client::open(self.url()).expect("a valid URL");
            if let Ok(mut connection) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut connection)
                    .await
                    .is_ok()
            {
                return;
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the server: an outage.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again, empty, on the same port.
    pub async fn restart(&mut self) {
        self.spawn().expect("redis-server restarts");
        self.wait_until_up().await;
    }

    /// A connection to it.
    pub async fn connect(&self) -> MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("a valid URL")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to the private Redis")
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
