//! `flagd.sync.v1.FlagSyncService`: whole flag configurations for flagd
//! daemons and in-process providers that evaluate for themselves.
//!
//! The payload is what flagd's sync service sends: `{"flags": {key: flag}}`
//! for the flags visible under the selector, each flag as defined plus its
//! `source` and its metadata merged with its flag set's (flagd keeps no
//! top-level metadata there). SyncFlags sends it at once and again whenever
//! it changes, with the static context as `sync_context`, and ends at
//! shutdown.

use std::pin::Pin;
use std::sync::Arc;

use prost_types::Struct;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tonic::{Request, Response, Status};

use engine::{FlagEntry, FlagSet, Selector, Snapshot};

use crate::grpc::events::EventStream;
use crate::grpc::value::to_struct;
use crate::grpc::{GrpcError, selector};
use crate::proto::sync::v1::flag_sync_service_server::FlagSyncService;
use crate::proto::sync::v1::{
    FetchAllFlagsRequest, FetchAllFlagsResponse, GetMetadataRequest, GetMetadataResponse,
    SyncFlagsRequest, SyncFlagsResponse,
};
use crate::server::admission::Admission;
use crate::server::{Change, Flags};

/// The sync service.
#[derive(Debug)]
pub(crate) struct FlagSync {
    flags: Arc<Flags>,
    admission: Admission,
}

impl FlagSync {
    pub(crate) fn new(flags: Arc<Flags>, admission: Admission) -> Self {
        FlagSync { flags, admission }
    }

    /// Admits a sync call through the server's one admission path.
    fn scope<T>(&self, request: &Request<T>, field: &str) -> Result<Selector, GrpcError> {
        selector::scope_for_sync(&self.flags, &self.admission, request, field)
    }
}

#[tonic::async_trait]
impl FlagSyncService for FlagSync {
    type SyncFlagsStream = EventStream<SyncFlagsResponse>;

    async fn sync_flags(
        &self,
        request: Request<SyncFlagsRequest>,
    ) -> Result<Response<Self::SyncFlagsStream>, Status> {
        #[expect(deprecated, reason = "older clients still select in the request")]
        let selector = self.scope(&request, &request.get_ref().selector)?;
        let body = request.into_inner();
        tracing::debug!(%selector, provider_id = body.provider_id, "Sync stream opened.");
        let flags = Arc::clone(&self.flags);
        // Subscribe before the first snapshot is read, so no change falls
        // between.
        let syncer = Syncer {
            changes: flags.subscribe(),
            shutdown: Box::pin(flags.shutdown_signal()),
            context: to_struct(flags.static_context()),
            flags,
            selector,
            last: None,
        };
        Ok(Response::new(Box::pin(futures::stream::unfold(
            syncer,
            |mut syncer| async move {
                let response = syncer.next().await?;
                Some((Ok(response), syncer))
            },
        ))))
    }

    async fn fetch_all_flags(
        &self,
        request: Request<FetchAllFlagsRequest>,
    ) -> Result<Response<FetchAllFlagsResponse>, Status> {
        #[expect(deprecated, reason = "older clients still select in the request")]
        let selector = self.scope(&request, &request.get_ref().selector)?;
        Ok(Response::new(FetchAllFlagsResponse {
            flag_configuration: configuration(&self.flags.snapshot(), &selector),
        }))
    }

    async fn get_metadata(
        &self,
        request: Request<GetMetadataRequest>,
    ) -> Result<Response<GetMetadataResponse>, Status> {
        // The static context may hold what only admitted callers should
        // read; the call is admitted like the other sync calls.
        self.scope(&request, "")?;
        // flagd answers with the static context (what sync_context now
        // carries).
        Ok(Response::new(GetMetadataResponse {
            metadata: Some(to_struct(self.flags.static_context())),
        }))
    }
}

/// One sync stream.
struct Syncer {
    flags: Arc<Flags>,
    selector: Selector,
    changes: broadcast::Receiver<Arc<Change>>,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    context: Struct,
    /// The payload last sent; `None` before the first.
    last: Option<String>,
}

impl Syncer {
    async fn next(&mut self) -> Option<SyncFlagsResponse> {
        if self.last.is_none() {
            let snapshot = self.flags.snapshot();
            return Some(self.send(configuration(&snapshot, &self.selector)));
        }
        loop {
            tokio::select! {
                biased;
                () = &mut self.shutdown => {
                    tracing::debug!(selector = %self.selector, "Sync stream ended by shutdown.");
                    return None;
                }
                received = self.changes.recv() => {
                    let snapshot = match received {
                        Ok(change) => Arc::clone(&change.snapshot),
                        Err(RecvError::Lagged(missed)) => {
                            // The backlog is older than the current snapshot.
                            tracing::debug!(missed, selector = %self.selector, "Sync stream fell behind; resynchronising.");
                            self.changes = self.changes.resubscribe();
                            self.flags.snapshot()
                        }
                        Err(RecvError::Closed) => return None,
                    };
                    let payload = configuration(&snapshot, &self.selector);
                    if self.last.as_deref() != Some(payload.as_str()) {
                        return Some(self.send(payload));
                    }
                }
            }
        }
    }

    fn send(&mut self, payload: String) -> SyncFlagsResponse {
        self.last = Some(payload.clone());
        SyncFlagsResponse {
            flag_configuration: payload,
            sync_context: Some(self.context.clone()),
        }
    }
}

/// The flag configuration visible under `selector`, as flagd JSON text.
pub(crate) fn configuration(snapshot: &Snapshot, selector: &Selector) -> String {
    let flags: Map<String, Value> = snapshot
        .visible(selector)
        .into_iter()
        .map(|(set, entry)| (entry.key().to_owned(), flag(set, entry)))
        .collect();
    json!({ "flags": flags }).to_string()
}

/// One flag as flagd's store serialises it: the definition with `source`
/// and the merged metadata (left out when empty).
fn flag(set: &FlagSet, entry: &FlagEntry) -> Value {
    let Value::Object(definition) = entry.definition() else {
        return entry.definition().clone();
    };
    let mut out = definition.clone();
    let metadata = match entry {
        FlagEntry::Ready(flag) => flag.metadata().clone(),
        FlagEntry::Broken { .. } => {
            let mut merged = set.metadata().clone();
            if let Some(Value::Object(own)) = definition.get("metadata") {
                merged.extend(own.clone());
            }
            merged
        }
    };
    if metadata.is_empty() {
        out.remove("metadata");
    } else {
        out.insert("metadata".into(), Value::Object(metadata));
    }
    out.insert("source".into(), Value::String(set.source().to_owned()));
    Value::Object(out)
}
