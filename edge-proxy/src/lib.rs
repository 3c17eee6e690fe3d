#![doc = include_str!("../README.md")]

pub mod config;
pub mod defaults;
pub mod deny;
pub mod error;
pub mod log_ceiling;
pub mod metrics;
pub mod resolver;
pub mod server;

mod admin;
mod bump;
mod client_conn;
mod client_hello;
mod connection;
mod control_link;
mod decide;
mod edge;
mod handoff;
mod head;
mod plain;
mod policy_load;
mod record;
mod redact;
mod reload;
mod secrets;
mod service;
mod sessions;
mod target;
mod tripwire;
mod tunnel;

pub use config::Config;
pub use error::EdgeError;
pub use server::{EdgeHandle, run};
