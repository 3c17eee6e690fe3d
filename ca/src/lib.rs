#![doc = include_str!("../README.md")]

pub mod defaults;
pub mod error;

mod authority;
mod ca_dir;
mod cache;
#[cfg(test)]
mod client_check;
mod inspect;
mod leaf;
mod name;
mod options;
mod pem;
mod retired;
mod validity;

pub use authority::Authority;
pub use ca_dir::{BUNDLE_FILE, CERT_FILE, KEY_FILE, RETIRED_FILE};
pub use cache::{CacheStats, LeafCache};
pub use error::CaError;
pub use leaf::Leaf;
pub use options::CaOptions;
