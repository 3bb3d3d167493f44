//! flagd's gRPC services over the shared server state: evaluation v1 and v2
//! (served together on one port, as flagd does) and sync v1 (flagd's own
//! sync port).
//!
//! The behaviour follows flagd's Go services (`flagd/pkg/service/
//! flag-evaluation` and `flag-sync`, with `core/pkg/evaluator` and
//! `core/pkg/store`), so flagd's providers see the same answers:
//!
//! - the selector comes from the `Flagd-Selector` request header (for sync,
//!   from the deprecated request field when the header is absent);
//! - the static context overrides the request's context;
//! - evaluation errors are gRPC statuses with flagd's codes and fixed
//!   messages (see [`GrpcError`]); v2 answers a disabled flag, or one without
//!   a default variant, with a reason and no value where v1 fails or sends a
//!   zero value;
//! - event streams send `provider_ready`, then `configuration_change` with
//!   `{"flags": {key: {"type": "write" | "update" | "delete"}}}` for the
//!   flags visible under the selector, `keep_alive` after 20 quiet seconds,
//!   and `provider_shutdown` before ending at shutdown.

mod error;
mod evaluation;
mod events;
mod selector;
mod sync;
mod v1;
mod v2;
mod value;

use std::sync::Arc;

use tonic::service::Routes;

use crate::proto;
use crate::server::Flags;
use crate::server::admission::Admission;

pub use error::GrpcError;

/// Paths of the server-streaming methods (event streams and `SyncFlags`):
/// a listener counts each open call against its cap on long-lived
/// streams.
pub const STREAMING_METHODS: &[&str] = &[
    "/flagd.evaluation.v1.Service/EventStream",
    "/flagd.evaluation.v2.Service/EventStream",
    "/flagd.sync.v1.FlagSyncService/SyncFlags",
];

/// The evaluation services, `flagd.evaluation.v1.Service` and
/// `flagd.evaluation.v2.Service`, for one listener, admitting calls by
/// `admission` (the server's one policy, shared with OFREP).
pub fn evaluation_routes(flags: Arc<Flags>, admission: Admission) -> Routes {
    Routes::new(proto::evaluation::v1::service_server::ServiceServer::new(
        v1::EvaluationV1::new(Arc::clone(&flags), admission.clone()),
    ))
    .add_service(proto::evaluation::v2::service_server::ServiceServer::new(
        v2::EvaluationV2::new(flags, admission),
    ))
}

/// The sync service, `flagd.sync.v1.FlagSyncService`, for one listener,
/// admitting calls by `admission`.
pub fn sync_routes(flags: Arc<Flags>, admission: Admission) -> Routes {
    Routes::new(
        proto::sync::v1::flag_sync_service_server::FlagSyncServiceServer::new(sync::FlagSync::new(
            flags, admission,
        )),
    )
}
