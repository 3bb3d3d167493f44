//! Generates the flagd gRPC types, clients and servers from `proto/`, with
//! the protoc that ships inside `protoc-bin-vendored` (nothing to install).

use std::path::PathBuf;

/// The protocol definitions, relative to the crate.
const PROTOS: [&str; 3] = [
    "proto/flagd_evaluation_v1.proto",
    "proto/flagd_evaluation_v2.proto",
    "proto/flagd_sync_v1.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let well_known = protoc_bin_vendored::include_path()?;
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc);
    let includes = [PathBuf::from("proto"), well_known];
    let protos = PROTOS.map(PathBuf::from);
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_with_config(config, &protos, &includes)?;
    Ok(())
}
