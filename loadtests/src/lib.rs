#![doc = include_str!("../README.md")]

pub mod bump_inject;
pub mod cli;
pub mod client;
pub mod edge;
mod error;
pub mod http_forward;
pub mod load;
pub mod peers;
pub mod process;
pub mod report;
pub mod revocation;
pub mod sds_fanout;
pub mod upstream;
pub mod usage;

pub use error::Error;
