//! The development signing key: one Ed25519 key kept in a state directory, so that
//! `trust-edge up` on one host can mint and verify tokens without a control plane.
//!
//! Layout under `dir`: `keys/edge-dev.pem` (PKCS#8, mode 0600, in a 0700 directory) and
//! `jwks.json` (its public JWKS, for a [`KeySource::File`](super::KeySource::File) verifier).
//! The `kid` is the key's RFC 7638 thumbprint, so it is the same on every run.

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::error::TokenError;
use super::jwks::Jwks;
use super::key::{KeyAlgorithm, SigningKey};

/// Loads the development key from `dir`, creating it (and `dir/jwks.json`) on first use.
///
/// # Errors
/// [`TokenError::Io`] if the files cannot be read or written; [`TokenError::InvalidKey`] if
/// the existing key file does not hold an Ed25519 or P-256 PKCS#8 key.
pub fn load_or_create_dev_key(dir: &Path) -> Result<SigningKey, TokenError> {
    let keys_dir = dir.join("keys");
    create_private_dir(&keys_dir)?;
    let path = key_path(dir);
    let key = match fs::read_to_string(&path) {
        Ok(pem) => {
            restrict_to_owner(&path)?;
            parse(&pem)?
        }
        Err(e) if e.kind() == ErrorKind::NotFound => create(&path)?,
        Err(e) => return Err(TokenError::io("read", path, e)),
    };
    write_jwks(&jwks_path(dir), &key)?;
    Ok(key)
}

/// The private key file: `dir/keys/edge-dev.pem`.
pub fn key_path(dir: &Path) -> PathBuf {
    dir.join("keys").join("edge-dev.pem")
}

/// The public JWKS file: `dir/jwks.json`.
pub fn jwks_path(dir: &Path) -> PathBuf {
    dir.join("jwks.json")
}

fn create_private_dir(dir: &Path) -> Result<(), TokenError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| TokenError::io("create directory", dir, e))?;
    let mode = fs::metadata(dir)
        .map_err(|e| TokenError::io("stat", dir, e))?
        .permissions()
        .mode();
    if mode & 0o777 != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| TokenError::io("restrict permissions of", dir, e))?;
    }
    Ok(())
}

fn restrict_to_owner(path: &Path) -> Result<(), TokenError> {
    let mode = fs::metadata(path)
        .map_err(|e| TokenError::io("stat", path, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            "dev signing key was readable by others; setting mode 0600"
        );
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .map_err(|e| TokenError::io("restrict permissions of", path, e))?;
    }
    Ok(())
}

fn parse(pem: &str) -> Result<SigningKey, TokenError> {
    SigningKey::from_pkcs8_pem_thumbprint(pem, KeyAlgorithm::EdDSA)
        .or_else(|_| SigningKey::from_pkcs8_pem_thumbprint(pem, KeyAlgorithm::Es256))
        .map_err(|_| TokenError::InvalidKey {
            alg: "EdDSA or ES256",
            reason: "the dev key file does not hold a PKCS#8 Ed25519 or P-256 key".to_owned(),
        })
}

/// Writes a new key to a private temporary file, then links it into place: a concurrent
/// first run or a crash never leaves a partial key at `path`.
fn create(path: &Path) -> Result<SigningKey, TokenError> {
    let key = SigningKey::generate(KeyAlgorithm::EdDSA)?;
    let tmp = path.with_extension(format!("pem.{}.tmp", std::process::id()));
    remove_if_present(&tmp)?;
    let written = write_private(&tmp, key.to_pkcs8_pem().as_bytes());
    let linked = written
        .and_then(|()| fs::hard_link(&tmp, path).map_err(|e| TokenError::io("link", path, e)));
    remove_if_present(&tmp)?;
    match linked {
        Ok(()) => Ok(key),
        // Another process created it first: use theirs.
        Err(TokenError::Io { source, .. }) if source.kind() == ErrorKind::AlreadyExists => {
            let pem = fs::read_to_string(path).map_err(|e| TokenError::io("read", path, e))?;
            parse(&pem)
        }
        Err(e) => Err(e),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TokenError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| TokenError::io("create", path, e))?;
    file.write_all(bytes)
        .map_err(|e| TokenError::io("write", path, e))?;
    file.sync_all().map_err(|e| TokenError::io("sync", path, e))
}

fn remove_if_present(path: &Path) -> Result<(), TokenError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(TokenError::io("remove", path, e)),
        _ => Ok(()),
    }
}

/// Writes the key's public JWKS unless the file already holds exactly that (atomic replace).
fn write_jwks(path: &Path, key: &SigningKey) -> Result<(), TokenError> {
    let doc = Jwks::from_signing_keys([key]).to_value();
    let mut bytes = serde_json::to_vec_pretty(&doc).map_err(|e| TokenError::Jwks(e.to_string()))?;
    bytes.push(b'\n');
    if fs::read(path).is_ok_and(|existing| existing == bytes) {
        return Ok(());
    }
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    fs::write(&tmp, &bytes).map_err(|e| TokenError::io("write", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| TokenError::io("rename", path, e))
}

#[cfg(test)]
mod tests;
