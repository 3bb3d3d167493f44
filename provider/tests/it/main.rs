//! Integration tests of the provider crate, one binary.

/// flagd gRPC: protocol definitions against flagd's, services end to end.
mod grpc;
