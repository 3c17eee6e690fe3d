//! The control plane's errors: [`ControlError`] for starting and running it, [`StoreError`] at
//! the store boundary.

use std::path::PathBuf;

/// A failure starting control or preparing its data directory. Never carries a token or key.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The configuration is unusable.
    #[error("invalid control config: {0}")]
    Config(String),
    /// A file or directory could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Binding a listener failed.
    #[error("bind {what} {address}: {source}")]
    Bind {
        /// `api`, `sync` or `sync socket`.
        what: &'static str,
        /// The address or path.
        address: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The policy directory could not be loaded.
    #[error("policies: {0}")]
    Policies(String),
    /// Creating or loading the CA or a certificate failed.
    #[error("certificates: {0}")]
    Pki(String),
    /// A signing key could not be created, loaded or used.
    #[error("signing keys: {0}")]
    Keys(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ControlError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        ControlError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// A store operation failed. Messages name the operation, never a token.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database: {0}")]
    Database(String),
    /// A stored value could not be decoded.
    #[error("corrupt {what}: {detail}")]
    Corrupt {
        /// Which record.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The record does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change conflicts with the record's state (e.g. ending a session twice).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store is unavailable (injected failure, lost disk, closed connection).
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}
