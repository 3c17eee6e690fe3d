//! The token module's errors: [`TokenError`] for setup and signing, [`TokenRejection`] for a
//! presented token that is refused.

use std::path::PathBuf;

use crate::DenyReason;

/// A failure while creating, loading or using keys, or while signing. Never carries key
/// material or a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Generating a key pair failed.
    #[error("key generation failed: {0}")]
    KeyGeneration(String),
    /// A private key could not be parsed, or does not match the named algorithm.
    #[error("invalid private key for {alg}: {reason}")]
    InvalidKey {
        /// The algorithm the key was expected to have.
        alg: &'static str,
        /// What was wrong (never the key itself).
        reason: String,
    },
    /// The claims cannot be signed (a required claim is empty, or the lifetime is zero).
    #[error("invalid claims: {0}")]
    InvalidClaims(&'static str),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
    /// A JWKS document is malformed or holds an unusable key.
    #[error("invalid jwks: {0}")]
    Jwks(String),
    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`read`, `write`, `create directory`, ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Fetching a JWKS over HTTP failed.
    #[error("jwks fetch failed: {0}")]
    Fetch(String),
    /// The verifier configuration is unusable.
    #[error("invalid verifier config: {0}")]
    Config(String),
}

impl TokenError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        TokenError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Why a presented session token was refused. Deliberately coarse: the caller answers with a
/// [`DenyReason`] and must not tell the client which check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum TokenRejection {
    /// Malformed, wrongly signed, wrong issuer or audience, unknown key, disallowed algorithm,
    /// missing claims, or not yet valid.
    #[error("the session token is not valid")]
    Invalid,
    /// Correctly signed, but its `exp` (plus leeway) has passed.
    #[error("the session token has expired")]
    Expired,
}

impl TokenRejection {
    /// The deny reason the edge answers with.
    pub const fn deny_reason(self) -> DenyReason {
        match self {
            TokenRejection::Invalid => DenyReason::InvalidSessionToken,
            TokenRejection::Expired => DenyReason::SessionExpired,
        }
    }
}
