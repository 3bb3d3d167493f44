//! Protocol types generated from the .proto definitions in `provider/proto`:
//! flagd's evaluation protocol (v1 and v2) and its sync protocol (v1), with
//! clients and servers.
//!
//! The definitions are Ensign's own, checked field by field against flagd's
//! published schema by the `grpc` integration tests.

/// flagd's evaluation protocols.
pub mod evaluation {
    /// Version 1: single and bulk evaluation, typed values always set.
    pub mod v1 {
        #![allow(
            clippy::all,
            clippy::pedantic,
            missing_docs,
            missing_debug_implementations
        )]
        tonic::include_proto!("flagd.evaluation.v1");
    }

    /// Version 2: single evaluation, values and variants optional.
    pub mod v2 {
        #![allow(
            clippy::all,
            clippy::pedantic,
            missing_docs,
            missing_debug_implementations
        )]
        tonic::include_proto!("flagd.evaluation.v2");
    }
}

/// flagd's flag sync protocol.
pub mod sync {
    /// Version 1: whole flag configurations as flagd JSON text.
    pub mod v1 {
        #![allow(
            clippy::all,
            clippy::pedantic,
            missing_docs,
            missing_debug_implementations
        )]
        tonic::include_proto!("flagd.sync.v1");
    }
}
