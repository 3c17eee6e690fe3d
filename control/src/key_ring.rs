//! [`KeyRing`]: the signing key in force, and the private key files.
//!
//! Private keys are PKCS#8 PEM files, mode 0600, in `<data_dir>/keys/control-<kid>.pem` (a 0700
//! directory); the store holds only metadata and the public JWK. A key's file is deleted as soon
//! as it stops signing. Token issuance holds the read lock from signing until the store has
//! recorded the token's `exp` against the key; rotation holds the write lock, so no token is
//! ever signed by a key the store already considers retired.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use trust_core::token::{KeyAlgorithm, SigningKey};

use crate::error::ControlError;
use crate::files;
use crate::store::{KeyRecord, KeyState, Store};

/// The active signing key and where private keys live.
#[derive(Debug)]
pub(crate) struct KeyRing {
    dir: PathBuf,
    pub(crate) algorithm: KeyAlgorithm,
    active: RwLock<Arc<SigningKey>>,
}

impl KeyRing {
    /// Loads the active key (blocking). With no active key in the store (first run), or its file
    /// missing, a new key is created and recorded, retiring any previous one.
    pub(crate) fn open(
        store: &dyn Store,
        data_dir: &Path,
        algorithm: KeyAlgorithm,
        now: u64,
        now_ms: u64,
    ) -> Result<KeyRing, ControlError> {
        let dir = data_dir.join("keys");
        files::private_dir(&dir)?;
        let records = store.keys()?;
        let active = records.iter().find(|k| k.state == KeyState::Active);
        let loaded = match active {
            Some(record) => {
                let path = key_path(&dir, &record.kid);
                match files::read_optional(&path)? {
                    Some(pem) => Some(
                        SigningKey::from_pkcs8_pem(&pem, &record.kid, record.alg)
                            .map_err(|e| ControlError::Keys(format!("{}: {e}", path.display())))?,
                    ),
                    None => {
                        tracing::warn!(target: "control", kid = %record.kid, "the active key's file is missing; rotating");
                        None
                    }
                }
            }
            None => None,
        };
        let key = match loaded {
            Some(key) => key,
            None => {
                let key = generate_and_save(&dir, algorithm)?;
                let mut update = vec![record_of(&key, now)];
                if let Some(old) = active {
                    update.push(KeyRecord {
                        state: KeyState::Retired,
                        retired_at: Some(now),
                        ..old.clone()
                    });
                }
                store.update_keys(&update, now_ms)?;
                tracing::info!(target: "control", kid = %key.kid(), alg = %algorithm, "created a signing key");
                key
            }
        };
        // Only the active key's private half is kept.
        for record in &records {
            if record.kid != key.kid() {
                remove_private(&dir, &record.kid);
            }
        }
        Ok(KeyRing {
            dir,
            algorithm,
            active: RwLock::new(Arc::new(key)),
        })
    }

    /// The active key, held while a token is signed and recorded.
    pub(crate) async fn read(&self) -> RwLockReadGuard<'_, Arc<SigningKey>> {
        self.active.read().await
    }

    /// Exclusive access for a rotation.
    pub(crate) async fn write(&self) -> RwLockWriteGuard<'_, Arc<SigningKey>> {
        self.active.write().await
    }

    /// Generates a key of the configured algorithm and writes its private file.
    pub(crate) async fn generate(&self) -> Result<SigningKey, ControlError> {
        let (dir, algorithm) = (self.dir.clone(), self.algorithm);
        tokio::task::spawn_blocking(move || generate_and_save(&dir, algorithm))
            .await
            .map_err(|e| ControlError::Keys(format!("key generation task: {e}")))?
    }

    /// Deletes a key's private file (best effort: a leftover is removed at the next start).
    pub(crate) fn forget(&self, kid: &str) {
        remove_private(&self.dir, kid);
    }
}

/// The metadata of a new active key.
pub(crate) fn record_of(key: &SigningKey, now: u64) -> KeyRecord {
    KeyRecord {
        kid: key.kid().to_owned(),
        alg: key.alg(),
        public_jwk: key.public_jwk().to_string(),
        created_at: now,
        retired_at: None,
        removed_at: None,
        max_exp: 0,
        state: KeyState::Active,
    }
}

fn key_path(dir: &Path, kid: &str) -> PathBuf {
    dir.join(format!("control-{kid}.pem"))
}

fn generate_and_save(dir: &Path, algorithm: KeyAlgorithm) -> Result<SigningKey, ControlError> {
    let key = SigningKey::generate(algorithm).map_err(|e| ControlError::Keys(e.to_string()))?;
    files::write_private(&key_path(dir, key.kid()), key.to_pkcs8_pem().as_bytes())?;
    Ok(key)
}

fn remove_private(dir: &Path, kid: &str) {
    let path = key_path(dir, kid);
    match std::fs::remove_file(&path) {
        Ok(()) => tracing::debug!(target: "control", %kid, "deleted a retired private key"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(target: "control", %kid, error = %e, "could not delete a retired private key")
        }
    }
}
