//! The crate's error enum. No message carries key material.

use std::path::Path;

/// Loading, creating, rotating the CA or minting a leaf failed.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// A file or directory could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done (`read`, `write`, `create`, `rename`).
        action: &'static str,
        /// The file or directory concerned.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A CA file is missing (no CA has been created in this directory).
    #[error("{path} does not exist: no CA here (run `trust-edge ca init`)")]
    Missing {
        /// The missing file.
        path: String,
    },
    /// A file or supplied PEM could not be used.
    #[error("{origin} is not usable: {message}")]
    Invalid {
        /// The file path, or a label such as `supplied certificate`.
        origin: String,
        /// What is wrong with it.
        message: String,
    },
    /// The private key does not belong to the CA certificate.
    #[error("the key in {key} does not match the certificate in {cert}")]
    KeyMismatch {
        /// Where the key came from.
        key: String,
        /// Where the certificate came from.
        cert: String,
    },
    /// The certificate cannot issue certificates.
    #[error("{origin} is not a CA certificate: {message}")]
    NotCa {
        /// Where the certificate came from.
        origin: String,
        /// Which check failed.
        message: String,
    },
    /// A leaf was asked for a name that is not an exact DNS name or IP address.
    #[error("cannot mint a leaf for {host:?}: {reason}")]
    InvalidName {
        /// The name as given (truncated to 80 characters).
        host: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The CA has expired (or expires before the leaf could start): nothing can be minted.
    #[error("the CA certificate has expired; rotate it (`trust-edge ca rotate`)")]
    Expired,
    /// Key generation, signing or certificate encoding failed.
    #[error("certificate generation failed: {0}")]
    Generate(String),
}

impl CaError {
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        CaError::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }

    pub(crate) fn invalid(origin: impl Into<String>, message: impl Into<String>) -> Self {
        CaError::Invalid {
            origin: origin.into(),
            message: message.into(),
        }
    }

    pub(crate) fn generate(e: impl std::fmt::Display) -> Self {
        CaError::Generate(e.to_string())
    }
}
