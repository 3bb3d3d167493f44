//! Databases for tests: each test gets its own PostgreSQL schema on the
//! shared server, or its own SQLite file, so tests run in parallel.

use std::path::PathBuf;

use sea_orm::ConnectionTrait;
use store::Store;

use crate::{postgres_url, skip, unique_name};

/// A migrated store in a database of its own, removed on [`TestDb::drop_all`].
#[derive(Debug)]
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

    /// A second handle on the same database, sharing nothing in memory
    /// with [`TestDb::store`], as another admin node's would.
    pub async fn reopen(&self) -> Store {
        let opened = match (&self.schema, &self.file) {
            (Some(schema), _) => Store::connect_in(&postgres_url(), Some(schema)).await,
            (None, Some(file)) => Store::connect(&format!("sqlite:{}", file.display())).await,
            (None, None) => panic!("a test database is a schema or a file"),
        };
        opened.expect("reopen the test database")
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
