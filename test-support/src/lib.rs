//! What Ensign's tests share: the rule for tests that need a service this
//! machine lacks, names no other test uses, the snapshot guard, and (in
//! submodules) databases and Redis servers of a test's own, and Node.js
//! with a folder's pinned packages.
//!
//! Tests talk to real PostgreSQL and Redis servers, found at
//! `ENSIGN_TEST_DATABASE_URL` and `ENSIGN_TEST_REDIS_URL` (by default on
//! their usual local ports). When one cannot be reached a test prints one
//! loud SKIPPED line and passes, unless `ENSIGN_REQUIRE_SERVICES=1`, which
//! turns the skip into a failure.
//!
//! Only tests depend on this crate: a test in `tests/tidy.rs` of the
//! binary's crate holds it to dev-dependencies.

mod db;
mod fixtures;
pub mod node;
mod redis;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub use db::TestDb;
pub use fixtures::{boolean_flag, input, with_flag_set};
pub use redis::{PrivateRedis, clean_prefix, redis_url, shared_redis};

/// Whether `ENSIGN_REQUIRE_SERVICES=1` turns every skip into a failure.
pub fn services_required() -> bool {
    std::env::var_os("ENSIGN_REQUIRE_SERVICES").is_some_and(|v| v == "1")
}

/// Reports a test that cannot run here because `missing` is absent; fails
/// it when services are required.
#[track_caller]
pub fn skip(test: &str, missing: &str) {
    assert!(
        !services_required(),
        "{test}: needs {missing}, and ENSIGN_REQUIRE_SERVICES=1 requires it"
    );
    eprintln!("\n*** SKIPPED {test}: needs {missing} ***\n");
}

/// A name (schema, key prefix, file name) no other test, in this or a
/// parallel process, uses.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The shared PostgreSQL server's URL: `ENSIGN_TEST_DATABASE_URL`, by
/// default the local server's `test` database.
pub fn postgres_url() -> String {
    std::env::var_os("ENSIGN_TEST_DATABASE_URL")
        .and_then(|url| url.into_string().ok())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Fails loudly when `UPDATE_EXPECT` is set on CI, where a snapshot test
/// would otherwise rewrite its expectation instead of failing. Every test
/// that asserts an `expect-test` snapshot calls it first.
#[track_caller]
pub fn refuse_update_expect_under_ci() {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    assert!(
        !(set("CI") && set("UPDATE_EXPECT")),
        "UPDATE_EXPECT is refused under CI: snapshots are refreshed by a person, and reviewed"
    );
}
