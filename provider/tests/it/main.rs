//! Integration tests of the provider crate, one binary.

/// One admission path: keys, selectors and rate limit on every surface.
mod admission;
/// The Rust OpenFeature provider in process, over flagd sync.
mod client;
/// The Rust OpenFeature provider over OFREP: single, bulk, events, keys.
mod client_remote;
/// OpenFeature `track` in both Rust providers: batches, flush, retries.
mod client_tracking;
/// Connection limits on every listener: timeouts, caps, streams.
mod connections;
/// `POST /ensign/v1/events`: tracking events, their flag set, bad input and
/// the buffer's bound.
mod event_intake;
/// Exposures sent by in-process evaluators: checked, recorded, refused.
mod exposure_intake;
/// Exposures through the Redis stream: its format, its bound, outages.
mod exposure_stream;
/// flagd gRPC: protocol definitions against flagd's, services end to end.
mod grpc;
/// Listeners: gRPC on TCP and unix sockets, TLS everywhere.
mod listeners;
/// OFREP: statuses, bodies, ETags, explain, CORS and bad input.
mod ofrep;
/// The Redis source: loading, announcements, reconciliation, outages.
mod redis;
/// A whole server: readiness, metrics, change stream, file sources, shutdown.
mod server;
