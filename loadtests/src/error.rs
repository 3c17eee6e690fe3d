//! The crate's error type.

use std::path::PathBuf;

/// Why a scenario, a child process or a piece of set-up failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation failed; `context` says which.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A child process exited before it became ready.
    #[error("{name} exited before it was ready ({status}); log tail: {log_tail}")]
    ChildExited {
        /// The child's name (`nginx`, `envoy`, ...).
        name: String,
        /// Its exit status.
        status: String,
        /// The last lines of its output.
        log_tail: String,
    },
    /// A child process did not accept connections before the deadline.
    #[error("{name} did not listen on {addr} within {waited_ms} ms")]
    NotReady {
        /// The child's name.
        name: String,
        /// The address polled.
        addr: std::net::SocketAddr,
        /// How long we waited.
        waited_ms: u128,
    },
    /// A required binary was not found.
    #[error("binary not found: {0}")]
    MissingBinary(PathBuf),
    /// An option or generated configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Issuing a session token failed.
    #[error("token issue failed: {0}")]
    Token(String),
    /// Serialising the report failed.
    #[error("report serialisation failed: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}
