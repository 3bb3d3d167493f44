//! Batched loading of flag histories: the `history` fields of a page of
//! flags are gathered by async-graphql's `DataLoader` and answered with one
//! store query per flag set and page shape ([`crate::Store::histories`]),
//! instead of one query per flag.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use futures::task::{FutureObj, Spawn, SpawnError};

use store::Page;
use store::{AuditRecord, Store, StoreError};

/// One flag's history page, as asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HistoryKey {
    /// The flag set's key.
    pub flag_set: String,
    /// The flag's key.
    pub flag: String,
    /// The page size (already checked).
    pub first: u64,
    /// Only events older than this id.
    pub before_id: Option<i64>,
}

/// Loads the history pages of many flags at once.
#[derive(Debug)]
pub struct HistoryLoader {
    store: Store,
}

/// The loader shared by the requests of one schema. It caches nothing (a
/// history read after a commit must show the commit); it only batches the
/// loads that arrive together.
pub(super) fn loader(store: Store) -> DataLoader<HistoryLoader> {
    DataLoader::new(
        HistoryLoader { store },
        CurrentRuntime,
        async_graphql::runtime::TokioTimer::default(),
    )
}

impl Loader<HistoryKey> for HistoryLoader {
    type Value = Page<AuditRecord, i64>;
    type Error = Arc<StoreError>;

    async fn load(
        &self,
        keys: &[HistoryKey],
    ) -> Result<HashMap<HistoryKey, Self::Value>, Self::Error> {
        // Keys of one flag set and one page shape are one query.
        let mut groups: HashMap<(&str, u64, Option<i64>), Vec<String>> = HashMap::new();
        for key in keys {
            groups
                .entry((&key.flag_set, key.first, key.before_id))
                .or_default()
                .push(key.flag.clone());
        }
        let mut loaded = HashMap::with_capacity(keys.len());
        for ((flag_set, first, before_id), flags) in groups {
            let pages = self
                .store
                .histories(flag_set, &flags, first, before_id)
                .await
                .map_err(Arc::new)?;
            for (flag, page) in pages {
                let key = HistoryKey {
                    flag_set: flag_set.to_owned(),
                    flag,
                    first,
                    before_id,
                };
                loaded.insert(key, page);
            }
        }
        Ok(loaded)
    }
}

/// Spawns the loader's batches on the runtime that runs the request, so
/// that building the schema needs no runtime.
struct CurrentRuntime;

impl Spawn for CurrentRuntime {
    fn spawn_obj(&self, future: FutureObj<'static, ()>) -> Result<(), SpawnError> {
        tokio::spawn(future);
        Ok(())
    }
}
