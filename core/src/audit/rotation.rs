//! The log's files on disk: naming, listing oldest to newest, and size-based rotation.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::error::AuditError;

/// Path of rotated file `index` (1 is the newest): `audit.log.1`.
pub(crate) fn rotated_path(dir: &Path, file_name: &str, index: u64) -> PathBuf {
    dir.join(format!("{file_name}.{index}"))
}

/// Indices of the rotated files present, ascending (newest first).
///
/// # Errors
/// The directory cannot be read.
pub(crate) fn rotated_indices(dir: &Path, file_name: &str) -> Result<Vec<u64>, AuditError> {
    let entries = fs::read_dir(dir).map_err(|e| AuditError::io("list", dir, e))?;
    let prefix = format!("{file_name}.");
    let mut indices = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| AuditError::io("list", dir, e))?;
        let name = entry.file_name();
        let Some(index) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix.as_str()))
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse::<u64>().ok())
        else {
            continue;
        };
        if index > 0 {
            indices.push(index);
        }
    }
    indices.sort_unstable();
    Ok(indices)
}

/// The log's files oldest to newest (the highest rotated index first, the current file last),
/// each with its file name. The current file is listed only if it exists.
///
/// # Errors
/// The directory cannot be read.
pub(crate) fn files_oldest_first(
    dir: &Path,
    file_name: &str,
) -> Result<Vec<(String, PathBuf)>, AuditError> {
    let mut files: Vec<(String, PathBuf)> = rotated_indices(dir, file_name)?
        .into_iter()
        .rev()
        .map(|i| (format!("{file_name}.{i}"), rotated_path(dir, file_name, i)))
        .collect();
    let current = dir.join(file_name);
    if current.exists() {
        files.push((file_name.to_owned(), current));
    }
    Ok(files)
}

/// Rotates: deletes rotated files that would pass `max_files`, shifts `.N` → `.N+1` (oldest
/// first, so nothing is overwritten) and renames the current file to `.1` (or deletes it when
/// `max_files` is 0). The caller then creates a new current file.
///
/// # Errors
/// A rename or delete fails; files already shifted stay shifted.
pub(crate) fn rotate(dir: &Path, file_name: &str, max_files: usize) -> Result<(), AuditError> {
    let keep = u64::try_from(max_files).unwrap_or(u64::MAX);
    for index in rotated_indices(dir, file_name)?.into_iter().rev() {
        let from = rotated_path(dir, file_name, index);
        if index >= keep {
            remove(&from)?;
        } else {
            let to = rotated_path(dir, file_name, index + 1);
            fs::rename(&from, &to).map_err(|e| AuditError::io("rename", &from, e))?;
        }
    }
    let current = dir.join(file_name);
    if keep == 0 {
        remove(&current)
    } else {
        let to = rotated_path(dir, file_name, 1);
        match fs::rename(&current, &to) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(AuditError::io("rename", &current, e)),
        }
    }
}

fn remove(path: &Path) -> Result<(), AuditError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(AuditError::io("delete", path, e)),
    }
}
