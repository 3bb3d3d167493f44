//! flagd gRPC: our protocol definitions against flagd's, and the evaluation
//! and sync services end to end through generated clients.

#[path = "grpc_proto.rs"]
mod proto;
#[cfg(feature = "server")]
#[path = "grpc_server.rs"]
mod server;
