//! The audit log's settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::defaults;
use super::error::AuditError;

/// Where and how the audit log is written. Build it with [`AuditConfig::new`], which fills every
/// field but `dir` from [`defaults`](super::defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// Directory of the log files and the checkpoint; created with mode 0700 if missing.
    pub dir: PathBuf,
    /// Name of the current file (default `audit.log`); rotated files append `.1`, `.2`, …; the
    /// checkpoint is the name with its extension replaced by `head` (`audit.head`).
    pub file_name: String,
    /// Size past which the current file is rotated before the next record.
    pub max_file_bytes: u64,
    /// Rotated files kept; older ones are deleted. `0` keeps only the current file.
    pub max_files: usize,
    /// Events the queue holds; when it is full, `record` drops and counts.
    pub queue_capacity: usize,
    /// Also copy every line to stdout.
    pub stdout: bool,
    /// Longest time between checkpoints while records are being written.
    pub checkpoint_interval: Duration,
}

impl AuditConfig {
    /// A config writing into `dir` with every other field at its default.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        AuditConfig {
            dir: dir.into(),
            file_name: defaults::FILE_NAME.to_owned(),
            max_file_bytes: defaults::MAX_FILE_BYTES,
            max_files: defaults::MAX_FILES,
            queue_capacity: defaults::QUEUE_CAPACITY,
            stdout: defaults::STDOUT,
            checkpoint_interval: defaults::CHECKPOINT_INTERVAL,
        }
    }

    /// Checks the values `start` cannot work with.
    pub(crate) fn validate(&self) -> Result<(), AuditError> {
        let invalid = |field: &'static str, message: &str| {
            Err(AuditError::InvalidConfig {
                field,
                message: message.to_owned(),
            })
        };
        if !is_plain_file_name(&self.file_name) {
            return invalid(
                "file_name",
                "must be a plain file name (no path separator, not empty)",
            );
        }
        if self.max_file_bytes == 0 {
            return invalid("max_file_bytes", "must be greater than 0");
        }
        if self.queue_capacity == 0 {
            return invalid("queue_capacity", "must be greater than 0");
        }
        if self.checkpoint_interval.is_zero() {
            return invalid("checkpoint_interval", "must be greater than 0");
        }
        Ok(())
    }
}

/// True for a name that stays inside its directory: one normal path component.
pub(crate) fn is_plain_file_name(name: &str) -> bool {
    let mut parts = Path::new(name).components();
    matches!(
        (parts.next(), parts.next()),
        (Some(std::path::Component::Normal(_)), None)
    ) && !name.contains('/')
}
