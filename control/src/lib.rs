#![doc = include_str!("../README.md")]

mod audit;
mod auth;
pub mod clock;
mod config;
pub mod defaults;
mod edges;
mod error;
mod files;
mod handle;
mod health;
mod key_ring;
mod keys;
mod killswitch;
mod maintenance;
mod metrics;
mod pki;
mod plane;
mod profiles;
mod refusal;
mod router;
mod sessions;
pub mod store;
mod sync;
mod tokens;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    Config, ConfigIssue, FileApi, FileConfig, FileKeys, FileSessions, FileSync, validate,
};
pub use error::{ControlError, StoreError};
pub use handle::{ControlHandle, Overrides, run, run_with};
pub use metrics::Metrics;
pub use pki::{EdgeCertFiles, issue_edge_cert};
pub use refusal::ErrorCode;
pub use store::Role;
pub use tokens::{ApiTokenFiles, create_api_token};
