//! flagd gRPC services: evaluation v1 and v2, sync v1.
