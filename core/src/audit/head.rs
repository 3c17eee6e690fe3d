//! The checkpoint file (`audit.head`): the last record known written, so a cut tail shows.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::AuditError;
use super::record::HexHash;

/// The checkpoint as stored: `{"sequence":N,"hash":"<hex>","file":"audit.log"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredHead {
    sequence: u64,
    hash: String,
    file: String,
}

/// The last record that was written and synced when the checkpoint was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    /// Its sequence.
    pub(crate) sequence: u64,
    /// Its hash.
    pub(crate) hash: HexHash,
}

/// The checkpoint's file name for a log named `file_name`: `audit.log` → `audit.head`.
pub(crate) fn head_path(dir: &Path, file_name: &str) -> PathBuf {
    dir.join(Path::new(file_name).with_extension("head"))
}

/// Reads the checkpoint; `Ok(None)` if there is none.
///
/// # Errors
/// The file cannot be read or is not a checkpoint.
pub(crate) fn read(dir: &Path, file_name: &str) -> Result<Option<Head>, AuditError> {
    let path = head_path(dir, file_name);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(AuditError::io("read", path, e)),
    };
    let stored: StoredHead =
        serde_json::from_slice(&bytes).map_err(|e| AuditError::Checkpoint {
            path: path.clone(),
            message: e.to_string(),
        })?;
    let hash = HexHash::parse(stored.hash.as_bytes()).ok_or_else(|| AuditError::Checkpoint {
        path,
        message: "hash is not 64 lowercase hex digits".to_owned(),
    })?;
    Ok(Some(Head {
        sequence: stored.sequence,
        hash,
    }))
}

/// Replaces the checkpoint atomically: write a temporary file, sync it, rename it over the old
/// one, sync the directory.
///
/// # Errors
/// Any step fails; the old checkpoint then stays in place.
pub(crate) fn write(dir: &Path, file_name: &str, head: &Head) -> Result<(), AuditError> {
    let path = head_path(dir, file_name);
    let tmp = path.with_extension("head.tmp");
    let stored = StoredHead {
        sequence: head.sequence,
        hash: head.hash.as_str().to_owned(),
        file: file_name.to_owned(),
    };
    let mut bytes = serde_json::to_vec(&stored).map_err(|e| AuditError::Checkpoint {
        path: path.clone(),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| AuditError::io("create", &tmp, e))?;
    file.write_all(&bytes)
        .map_err(|e| AuditError::io("write", &tmp, e))?;
    file.sync_all()
        .map_err(|e| AuditError::io("sync", &tmp, e))?;
    drop(file);
    fs::rename(&tmp, &path).map_err(|e| AuditError::io("rename", &tmp, e))?;
    sync_dir(dir)
}

/// Syncs a directory so renames and new files in it survive a crash.
///
/// # Errors
/// The directory cannot be opened or synced.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| AuditError::io("sync", dir, e))
}
