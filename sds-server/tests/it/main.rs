//! The sds-server integration tests: the protocol with a tonic client, the sources (files,
//! Vault KV v2 over its HTTP API, AWS via moto), the client, and a real Envoy.

#![allow(
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

mod aws;
mod client;
mod delta;
mod envoy;
mod files;
mod minted;
mod observability;
mod protocol;
mod tls;
mod vault;
