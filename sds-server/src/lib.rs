#![doc = include_str!("../README.md")]

pub mod access;
pub mod client;
pub mod config;
pub mod defaults;
pub mod error;
pub mod metrics;
pub mod secret;
pub mod server;

mod admin;
mod convert;
mod delta;
mod drive;
mod fetch;
mod listener;
mod registry;
mod service;
mod sources;
mod store;
mod stream;

pub use config::Config;
pub use convert::secret_type_url;
pub use error::{ClientError, ContentError, SdsError, SourceError};
pub use secret::{SecretKind, SecretValue};
pub use server::{SdsHandle, run};
pub use store::SourceKind;
