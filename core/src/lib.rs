//! trust-core: the vocabulary every trust-edge component shares.
//!
//! - [`deny`]: the closed set of refusal reasons ([`DenyReason`]).
//! - [`token`]: session-token claims, verification (JWKS, caches) and signing.
//! - [`audit`]: audit events, the hash-chained writer and its verifier.

pub mod audit;
pub mod deny;
pub mod position;
pub mod token;

pub use deny::DenyReason;
