//! testkit: harness for trust-edge tests — in-process components on port 0, a real DNS server,
//! origins, certificates and real clients. A dev-dependency only; panics are allowed here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

pub mod client;
pub mod dns;
pub mod edge;
pub mod netns;
pub mod origin;
pub mod raw;
pub mod reflector;
pub mod secrets;
pub mod tls;

pub use client::{Reply, curl, run_python};
pub use edge::{TestEdge, edge};
pub use origin::Origin;
pub use reflector::Reflector;
pub use secrets::SecretServer;
pub use tls::TestCert;
