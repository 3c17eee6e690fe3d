//! The crate's error enums, one per boundary. No message carries a secret value.

use std::path::PathBuf;

/// Starting or running the server failed.
#[derive(Debug, thiserror::Error)]
pub enum SdsError {
    /// The configuration is not usable.
    #[error("invalid sds configuration: {0}")]
    Config(String),
    /// A listener could not be set up.
    #[error("cannot {action} {what}: {source}")]
    Io {
        /// What was being done (`bind`, `create`, `chmod`, `read`).
        action: &'static str,
        /// The socket address or path concerned.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The TLS material of the TCP listener is unusable.
    #[error("tls setup for the tcp listener failed: {0}")]
    Tls(String),
    /// A metric could not be registered (a name clash: a bug).
    #[error("metrics registration failed: {0}")]
    Metrics(#[from] prometheus::Error),
    /// A secret source could not be started.
    #[error("secret source {source_name} could not start: {message}")]
    Source {
        /// `files`, `vault` or `aws`.
        source_name: &'static str,
        /// What went wrong.
        message: String,
    },
}

impl SdsError {
    pub(crate) fn io(
        action: &'static str,
        what: impl std::fmt::Display,
        source: std::io::Error,
    ) -> Self {
        SdsError::Io {
            action,
            what: what.to_string(),
            source,
        }
    }
}

/// Secret content that was refused: the last good version stays in force.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// The value is empty.
    #[error("the secret is empty")]
    Empty,
    /// No PEM certificate was found where one was expected.
    #[error("no PEM certificate found in the {0}")]
    NoCertificate(&'static str),
    /// A PEM block could not be decoded.
    #[error("bad PEM in the {0}")]
    BadPem(&'static str),
    /// A certificate did not parse as X.509.
    #[error("certificate {index} of the {what} is not valid X.509")]
    BadCertificate {
        /// Which input (`certificate chain`, `trusted CA bundle`).
        what: &'static str,
        /// 0-based position in the bundle.
        index: usize,
    },
    /// The leaf certificate has expired.
    #[error("the leaf certificate expired")]
    Expired,
    /// No private key was found, or it is of an unsupported type.
    #[error("no usable private key: {0}")]
    BadKey(String),
    /// The private key does not belong to the leaf certificate.
    #[error("the private key does not match the leaf certificate")]
    KeyMismatch,
    /// A field the kind needs is missing from a structured source value.
    #[error("field {0:?} is missing")]
    MissingField(String),
    /// A structured source value is not what was expected.
    #[error("the value is not {0}")]
    Format(&'static str),
}

/// A source could not deliver a value: it is unreachable, refused us, or sent bad content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The source could not be reached or answered with an error.
    #[error("source unreachable: {0}")]
    Unreachable(String),
    /// The secret does not exist in the source.
    #[error("not found in the source: {0}")]
    NotFound(String),
    /// A file could not be read.
    #[error("cannot read {}: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error's text.
        message: String,
    },
    /// The content was read but refused.
    #[error("invalid content: {0}")]
    Invalid(#[from] ContentError),
}

impl SourceError {
    /// The error's class, used as a metric label: `unreachable` or `invalid`.
    pub fn class(&self) -> &'static str {
        match self {
            SourceError::Unreachable(_) | SourceError::NotFound(_) | SourceError::Read { .. } => {
                "unreachable"
            }
            SourceError::Invalid(_) => "invalid",
        }
    }
}

/// The SDS client failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The client has been stopped.
    #[error("the sds client is stopped")]
    Stopped,
    /// The wait ran out before the secret arrived.
    #[error("timed out waiting for secret {0}")]
    Timeout(String),
    /// The endpoint is not usable.
    #[error("invalid sds endpoint: {0}")]
    Endpoint(String),
}
