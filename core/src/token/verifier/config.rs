//! [`VerifierConfig`] and [`KeySource`]: how a [`Verifier`](super::Verifier) is set up.

use std::path::PathBuf;
use std::time::Duration;

use crate::token::defaults;
use crate::token::key::KeyAlgorithm;

/// Where the verifier reads its public keys (a JWKS document).
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A JWKS file, re-read on an unknown `kid`.
    File(PathBuf),
    /// An `http(s)://` URL serving a JWKS, re-fetched on an unknown `kid`.
    Url(String),
    /// A JWKS document given in-process; never refreshed (push new keys with
    /// [`Verifier::replace_keys`](crate::token::Verifier::replace_keys)).
    Static(serde_json::Value),
}

/// How a [`Verifier`](crate::token::Verifier) checks tokens.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// The required `iss`.
    pub issuer: String,
    /// The required `aud`.
    pub audience: String,
    /// The accepted algorithms; a token naming any other is refused.
    pub algorithms: Vec<KeyAlgorithm>,
    /// Clock skew tolerated on `exp` and `nbf` (whole seconds).
    pub leeway: Duration,
    /// Where the public keys come from.
    pub keys: KeySource,
    /// An unknown `kid` refreshes the key source at most this often.
    pub unknown_kid_refresh_interval: Duration,
    /// The most verified tokens cached (0 disables the cache).
    pub cache_capacity: usize,
    /// The most refused token hashes remembered (0 disables the negative cache).
    pub negative_cache_capacity: usize,
}

impl VerifierConfig {
    /// A configuration with every default from [`defaults`](crate::token::defaults) and both
    /// algorithms allowed.
    pub fn new(keys: KeySource) -> VerifierConfig {
        VerifierConfig {
            issuer: defaults::ISSUER.to_owned(),
            audience: defaults::AUDIENCE.to_owned(),
            algorithms: KeyAlgorithm::ALL.to_vec(),
            leeway: defaults::LEEWAY,
            keys,
            unknown_kid_refresh_interval: defaults::UNKNOWN_KID_REFRESH_INTERVAL,
            cache_capacity: defaults::CACHE_CAPACITY,
            negative_cache_capacity: defaults::NEGATIVE_CACHE_CAPACITY,
        }
    }
}
