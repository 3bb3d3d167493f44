//! Ensign's evaluation edge.
//!
//! Always: the Rust OpenFeature provider ([`client`]), in process over
//! flagd sync or remote over OFREP, and the generated protocol code.
//!
//! With the `server` feature: the evaluation server that `ensign serve`
//! starts — OFREP over warp, flagd's gRPC evaluation and sync protocols, the
//! management listener, and the sync sources that feed its snapshot.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod client;
pub mod proto;
pub mod tls;

#[cfg(feature = "server")]
pub mod grpc;
#[cfg(feature = "server")]
pub mod server;
