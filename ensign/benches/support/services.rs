//! What the benchmarks that start real nodes share: the binary they run,
//! the PostgreSQL and Redis servers (found as the tests find them), and a
//! database and key prefix of a run's own, removed afterwards.

use std::future::Future;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use sea_orm::ConnectionTrait;

/// The binary under test: `ENSIGN_BIN` (ignored under CI), or the release
/// build beside this benchmark (which lives in `release/deps/`).
pub fn binary() -> anyhow::Result<PathBuf> {
    let under_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    if let Some(path) = std::env::var_os("ENSIGN_BIN")
        && !under_ci
    {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let release = exe
        .parent()
        .and_then(Path::parent)
        .context("locating the target directory")?
        .join("ensign");
    if release.exists() {
        Ok(release)
    } else {
        bail!(
            "no release binary at {}: run `cargo build --release -p ensign` or set ENSIGN_BIN",
            release.display()
        )
    }
}

/// The PostgreSQL server's URL (`ENSIGN_TEST_DATABASE_URL`, as for the
/// tests) with database `database`.
#[allow(
    dead_code,
    reason = "each bench includes this file and uses only some of it"
)]
pub fn postgres(database: &str) -> String {
    let url = std::env::var_os("ENSIGN_TEST_DATABASE_URL")
        .and_then(|url| url.into_string().ok())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    match reqwest::Url::parse(&url) {
        Ok(mut url) => {
            url.set_path(&format!("/{database}"));
            url.to_string()
        }
        Err(_) => url,
    }
}

/// The Redis server's URL (`ENSIGN_TEST_REDIS_URL`, as for the tests).
pub fn redis_url() -> String {
    std::env::var_os("ENSIGN_TEST_REDIS_URL")
        .and_then(|url| url.into_string().ok())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

/// Runs `body` with a name of its own (`{prefix}_{pid}`), which names a
/// PostgreSQL database created for it and its Redis key prefix; drops the
/// database and removes the keys afterwards, however `body` ended.
#[allow(
    dead_code,
    reason = "each bench includes this file and uses only some of it"
)]
pub async fn with_scratch<T, F, Fut>(prefix: &str, body: F) -> anyhow::Result<T>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    with_prefix(prefix, |unique| async move {
        let server = store::Store::connect(&postgres("test"))
            .await
            .context("PostgreSQL (ENSIGN_TEST_DATABASE_URL) is needed")?;
        server
            .connection()
            .execute_unprepared(&format!("CREATE DATABASE {unique}"))
            .await?;
        let result = body(unique.clone()).await;
        let _ = server
            .connection()
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {unique} WITH (FORCE)"))
            .await;
        result
    })
    .await
}

/// Runs `body` with a name of its own (`{prefix}_{pid}`), which is its
/// Redis key prefix; removes the keys afterwards, however `body` ended.
pub async fn with_prefix<T, F, Fut>(prefix: &str, body: F) -> anyhow::Result<T>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let unique = format!("{prefix}_{}", std::process::id());
    let result = body(unique.clone()).await;
    let _ = remove_keys(&unique).await;
    result
}

/// Removes the keys under `prefix` from Redis (pointers, the index and
/// streams do not expire).
async fn remove_keys(prefix: &str) -> anyhow::Result<()> {
    let mut connection = redis::Client::open(redis_url())?
        .get_multiplexed_async_connection()
        .await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut connection)
        .await?;
    if !keys.is_empty() {
        redis::cmd("DEL")
            .arg(&keys)
            .query_async::<()>(&mut connection)
            .await?;
    }
    Ok(())
}
