//! control's integration tests: real listeners on 127.0.0.1:0, real TLS, real SQLite files.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod api;
mod bump_ca;
mod common;
mod keys;
mod restart;
mod sync;
