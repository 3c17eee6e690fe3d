//! Writing private files: mode 0600 from creation (never world-readable for an instant),
//! written to a temporary name, fsynced, then renamed into place.

use std::io::Write;
use std::path::Path;

use crate::error::ControlError;

/// Creates `dir` (and parents) with mode 0700 if missing.
pub(crate) fn private_dir(dir: &Path) -> Result<(), ControlError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| ControlError::io("create directory", dir, e))
}

/// Writes `contents` to `path` with mode 0600, atomically.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> Result<(), ControlError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .map_err(|e| ControlError::io("create", &tmp, e))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| ControlError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ControlError::io("rename", path, e))
}

/// Reads a file that may be missing (`None`).
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, ControlError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ControlError::io("read", path, e)),
    }
}
