//! The CA directory: file names, reads that name the file, atomic writes with fixed modes.

use crate::error::CaError;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The current CA private key (PKCS#8 PEM, mode 0600). Only the edge and the SDS server read it.
pub const KEY_FILE: &str = "ca.key";
/// The current CA certificate (PEM).
pub const CERT_FILE: &str = "ca.pem";
/// What sandboxes trust: the current CA certificate and rotated-out ones still in overlap.
pub const BUNDLE_FILE: &str = "bundle.pem";
/// Rotated-out CA certificates, each after a `trusted-until: <unix seconds>` line.
pub const RETIRED_FILE: &str = "retired.pem";

/// Mode of the key file.
const KEY_MODE: u32 = 0o600;
/// Mode of the public files.
const PUBLIC_MODE: u32 = 0o644;
/// Mode of a directory this crate creates.
const DIR_MODE: u32 = 0o700;

/// Distinguishes temporary files written concurrently by one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A directory holding one CA.
#[derive(Debug, Clone)]
pub(crate) struct CaDir {
    root: PathBuf,
}

impl CaDir {
    pub(crate) fn new(root: &Path) -> CaDir {
        CaDir {
            root: root.to_path_buf(),
        }
    }

    /// The path of `name` inside the directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Creates the directory (and parents) with mode 0700 when it does not exist.
    ///
    /// # Errors
    /// [`CaError::Io`] naming the directory.
    pub(crate) fn create(&self) -> Result<(), CaError> {
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(&self.root)
            .map_err(|e| CaError::io("create", &self.root, e))
    }

    /// Whether the key file exists (the commit point of a CA's creation).
    pub(crate) fn has_key(&self) -> bool {
        self.path(KEY_FILE).exists()
    }

    /// Reads `name`; `None` when it does not exist.
    ///
    /// # Errors
    /// [`CaError::Io`] naming the file for any other failure, or when it is not UTF-8.
    pub(crate) fn read_optional(&self, name: &str) -> Result<Option<String>, CaError> {
        let path = self.path(name);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CaError::io("read", &path, e)),
        }
    }

    /// Reads `name`, which must exist.
    ///
    /// # Errors
    /// [`CaError::Missing`] or [`CaError::Io`], naming the file.
    pub(crate) fn read(&self, name: &str) -> Result<String, CaError> {
        self.read_optional(name)?.ok_or_else(|| CaError::Missing {
            path: self.path(name).display().to_string(),
        })
    }

    /// Whether the key file can be read by group or others.
    pub(crate) fn key_is_exposed(&self) -> bool {
        fs::metadata(self.path(KEY_FILE)).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }

    /// Writes the key file atomically with mode 0600.
    ///
    /// # Errors
    /// [`CaError::Io`] naming the file.
    pub(crate) fn write_key(&self, contents: &str) -> Result<(), CaError> {
        self.write_atomic(KEY_FILE, contents, KEY_MODE)
    }

    /// Writes a public file atomically with mode 0644.
    ///
    /// # Errors
    /// [`CaError::Io`] naming the file.
    pub(crate) fn write_public(&self, name: &str, contents: &str) -> Result<(), CaError> {
        self.write_atomic(name, contents, PUBLIC_MODE)
    }

    /// Removes `name` if it exists.
    ///
    /// # Errors
    /// [`CaError::Io`] naming the file.
    pub(crate) fn remove(&self, name: &str) -> Result<(), CaError> {
        let path = self.path(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(CaError::io("remove", &path, e)),
        }
    }

    /// Writes a temporary file created with `mode` (never wider, whatever the umask), syncs it,
    /// renames it over `name` and syncs the directory: readers see the old or the new file.
    fn write_atomic(&self, name: &str, contents: &str, mode: u32) -> Result<(), CaError> {
        let target = self.path(name);
        let temp = self.path(&format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&temp)?;
            // The umask may have narrowed the mode; set it exactly.
            file.set_permissions(fs::Permissions::from_mode(mode))?;
            file.write_all(contents.as_bytes())?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(CaError::io("write", &target, e));
        }
        if let Err(e) = fs::rename(&temp, &target) {
            let _ = fs::remove_file(&temp);
            return Err(CaError::io("rename", &target, e));
        }
        if let Ok(dir) = fs::File::open(&self.root) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}
