//! The audit log's error type.

use std::io;
use std::path::PathBuf;

/// Why starting, writing, closing or verifying the audit log failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A config field has a value the log cannot work with.
    #[error("audit config {field}: {message}")]
    InvalidConfig {
        /// The field, e.g. `queue_capacity`.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A file-system operation failed.
    #[error("audit {op} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. `open` or `rename`.
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The checkpoint file exists but cannot be read as one.
    #[error("audit checkpoint {}: {message}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The writer has stopped (closed, or its thread ended), so the request cannot be served.
    #[error("audit writer is closed")]
    Closed,
}

impl AuditError {
    /// An [`AuditError::Io`] for `op` on `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        AuditError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
