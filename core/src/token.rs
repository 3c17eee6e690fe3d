//! Session egress tokens: claims, signing keys, JWKS, and the edge's cached verifier.
//!
//! A sandbox presents its session's egress token (a JWT signed with EdDSA or ES256, with a
//! `kid`) on every request, so verification is built to be cheap after the first time and
//! safe against hostile input:
//!
//! ```text
//! control / dev setup                          edge
//! SigningKey::generate ─▶ issue() ─▶ token ──▶ Verifier::verify(token)
//!        │                                       ├─ verifier::check (syntax, alg, kid, claims)
//!        └─ Jwks::from_signing_keys ─▶ JWKS ──▶  ├─ keys: KeySource (file, URL, static)
//!                                                │        + Verifier::replace_keys
//!                                                └─ caches: verified until exp; refusals
//! ```
//!
//! Start reading at [`Verifier::verify`]. Defaults, and why they are what they are, live in
//! [`defaults`]. [`dev_key`] creates the single-host development key.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod claims;
pub mod defaults;
pub mod dev_key;
mod error;
mod jwks;
mod key;
mod verifier;

pub use claims::SessionClaims;
pub use error::{TokenError, TokenRejection};
pub use jwks::Jwks;
pub use key::{KeyAlgorithm, SigningKey};
pub use verifier::{KeySource, VerifiedSession, Verifier, VerifierConfig, VerifierStats};

/// Mints a token for `session`: a fresh `jti` (UUIDv7), `iat` now, `exp` now + `ttl` (whole
/// seconds).
///
/// # Errors
/// [`TokenError::InvalidClaims`] if `ttl` is under one second or a required value is empty;
/// [`TokenError::Signing`] if signing fails.
pub fn issue(
    key: &SigningKey,
    issuer: &str,
    audience: &str,
    session: &str,
    tenant: &str,
    profile: &str,
    ttl: Duration,
) -> Result<String, TokenError> {
    if ttl.as_secs() == 0 {
        return Err(TokenError::InvalidClaims("ttl must be at least one second"));
    }
    let iat = unix_now();
    let exp = iat
        .checked_add(ttl.as_secs())
        .ok_or(TokenError::InvalidClaims("ttl overflows the expiry time"))?;
    let claims = SessionClaims {
        sid: session.to_owned(),
        tenant: tenant.to_owned(),
        profile: profile.to_owned(),
        jti: uuid::Uuid::now_v7().to_string(),
        iss: issuer.to_owned(),
        aud: audience.to_owned(),
        iat,
        exp,
        nbf: None,
    };
    key.sign(&claims)
}

/// Seconds since the Unix epoch (0 if the clock is before it).
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
