#![doc = include_str!("../README.md")]

mod client;
mod config;
pub mod defaults;
mod error;
pub mod pb;
mod state;
mod tls;
mod transport;

pub use client::SyncClient;
pub use config::{Endpoint, SyncConfig, TlsSettings};
pub use error::SyncError;
pub use state::{ControlEvent, ControlState};
