//! Test databases: each test gets its own PostgreSQL schema, or its own
//! SQLite file, so tests run in parallel against the shared servers.
//!
//! PostgreSQL is found at `ENSIGN_TEST_DATABASE_URL` (by default the local
//! server's `test` database). When it cannot be reached the test prints one
//! loud SKIPPED line and passes, unless `ENSIGN_REQUIRE_SERVICES=1`, which
//! turns the skip into a failure.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use graphql_admin::Store;
use sea_orm::ConnectionTrait;

/// The shared PostgreSQL server's URL.
pub fn postgres_url() -> String {
    std::env::var_os("ENSIGN_TEST_DATABASE_URL")
        .and_then(|url| url.into_string().ok())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A migrated store in a database of its own, removed on [`TestDb::drop_all`].
pub struct TestDb {
    /// The store under test.
    pub store: Store,
    /// Which backend this is, for messages.
    pub backend: &'static str,
    /// The PostgreSQL schema, if on PostgreSQL.
    pub schema: Option<String>,
    /// The SQLite file, if on SQLite.
    pub file: Option<PathBuf>,
}

impl TestDb {
    /// A migrated store in a fresh SQLite file.
    pub async fn sqlite() -> TestDb {
        let db = TestDb::sqlite_unmigrated().await;
        db.store.migrate().await.expect("migrate SQLite");
        db
    }

    /// A store in a fresh SQLite file that no migration has run on.
    pub async fn sqlite_unmigrated() -> TestDb {
        let file = std::env::temp_dir().join(format!("{}.db", unique_name("ensign_it")));
        let url = format!("sqlite:{}", file.display());
        let store = Store::connect(&url).await.expect("open SQLite file");
        TestDb {
            store,
            backend: "sqlite",
            schema: None,
            file: Some(file),
        }
    }

    /// A migrated store in a fresh schema of the shared PostgreSQL server,
    /// or `None` (after a loud SKIPPED line) when the server is absent.
    pub async fn postgres(test: &str) -> Option<TestDb> {
        let db = TestDb::postgres_unmigrated(test).await?;
        db.store.migrate().await.expect("migrate PostgreSQL");
        Some(db)
    }

    /// A store in a fresh schema of the shared PostgreSQL server that no
    /// migration has run on, or `None` (after a loud SKIPPED line) when the
    /// server is absent.
    pub async fn postgres_unmigrated(test: &str) -> Option<TestDb> {
        let url = postgres_url();
        let admin = match Store::connect(&url).await {
            Ok(admin) => admin,
            Err(error) => {
                skip(test, &format!("PostgreSQL at {url}: {error}"));
                return None;
            }
        };
        let schema = unique_name("ensign_it");
        admin
            .connection()
            .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("create test schema");
        let store = Store::connect_in(&url, Some(&schema))
            .await
            .expect("connect in test schema");
        Some(TestDb {
            store,
            backend: "postgres",
            schema: Some(schema),
            file: None,
        })
    }

    /// Both backends: SQLite always, PostgreSQL when it is there.
    pub async fn both(test: &str) -> Vec<TestDb> {
        let mut dbs = vec![TestDb::sqlite().await];
        dbs.extend(TestDb::postgres(test).await);
        dbs
    }

    /// Both backends with no migration run: SQLite always, PostgreSQL
    /// when it is there.
    pub async fn both_unmigrated(test: &str) -> Vec<TestDb> {
        let mut dbs = vec![TestDb::sqlite_unmigrated().await];
        dbs.extend(TestDb::postgres_unmigrated(test).await);
        dbs
    }

    /// Removes the database.
    pub async fn drop_all(self) {
        if let Some(schema) = &self.schema {
            self.store
                .connection()
                .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
                .await
                .expect("drop test schema");
        }
        if let Some(file) = &self.file {
            drop(self.store);
            for suffix in ["", "-wal", "-shm"] {
                let mut path = file.clone().into_os_string();
                path.push(suffix);
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Reports a test that cannot run here; fails it when services are
/// required.
pub fn skip(test: &str, missing: &str) {
    if std::env::var_os("ENSIGN_REQUIRE_SERVICES").is_some_and(|v| v == "1") {
        panic!("{test}: needs {missing}, and ENSIGN_REQUIRE_SERVICES=1 requires it");
    }
    eprintln!("\n*** SKIPPED {test}: needs {missing} ***\n");
}

/// A name no other test (in this or a parallel process) uses.
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

/// Fails loudly when `UPDATE_EXPECT` is set on CI, where a snapshot test
/// would otherwise rewrite its expectation instead of failing.
#[track_caller]
pub fn refuse_update_expect_under_ci() {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    assert!(
        !(set("CI") && set("UPDATE_EXPECT")),
        "UPDATE_EXPECT is refused under CI: snapshots are refreshed by a person, and reviewed"
    );
}
