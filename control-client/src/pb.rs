//! The generated protobuf messages and gRPC stubs of `control/proto/sync.proto` (package
//! `trustedge.control.v1`): [`control_sync_client`] for edges, [`control_sync_server`] for
//! control. Read the `.proto` for what each field means.
#![allow(
    missing_docs,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

tonic::include_proto!("trustedge.control.v1");
