//! API tokens: random, shown once, stored only as SHA-256. [`ApiTokens`] caches the known
//! hashes; [`bootstrap`] writes one orchestrator and one operator token (mode 0600) on first run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::ControlError;
use crate::files;
use crate::plane::Plane;
use crate::store::{ApiTokenRecord, Role, SqliteStore, Store};

/// A cache miss re-reads the store at most this often, so a flood of made-up tokens costs one
/// hash and one map lookup each.
const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// Where the bootstrap API tokens are: `<data_dir>/api-tokens/{orchestrator,operator}.token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenFiles {
    /// The orchestrator token's file.
    pub orchestrator: PathBuf,
    /// The operator token's file.
    pub operator: PathBuf,
}

impl ApiTokenFiles {
    /// The paths under `data_dir` (whether or not they exist).
    pub fn in_dir(data_dir: &Path) -> ApiTokenFiles {
        let dir = data_dir.join("api-tokens");
        ApiTokenFiles {
            orchestrator: dir.join("orchestrator.token"),
            operator: dir.join("operator.token"),
        }
    }
}

/// Hex SHA-256 of a token: what the store keeps.
pub(crate) fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh token: `te_` and 32 random bytes, base64url.
fn generate() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("te_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Token hash → (name, role).
type Index = HashMap<String, (String, Role)>;

/// The known token hashes, and when the store was last read.
#[derive(Debug)]
pub(crate) struct ApiTokens {
    known: RwLock<(Index, Instant)>,
}

impl ApiTokens {
    pub(crate) fn new(records: Vec<ApiTokenRecord>) -> ApiTokens {
        ApiTokens {
            known: RwLock::new((index(records), Instant::now())),
        }
    }

    /// The name and role of `token`, if it is known (re-reading the store on a miss, so tokens
    /// created with `trust-edge control api-token` work without a restart).
    pub(crate) async fn lookup(&self, plane: &Plane, token: &str) -> Option<(String, Role)> {
        let hash = hash_token(token);
        let reload = {
            let known = self.known.read().ok()?;
            if let Some(found) = known.0.get(&hash) {
                return Some(found.clone());
            }
            known.1.elapsed() >= RELOAD_INTERVAL
        };
        if !reload {
            return None;
        }
        let records = plane.blocking(|store| store.api_tokens()).await.ok()?;
        let mut known = self.known.write().ok()?;
        *known = (index(records), Instant::now());
        known.0.get(&hash).cloned()
    }
}

fn index(records: Vec<ApiTokenRecord>) -> Index {
    records
        .into_iter()
        .map(|r| (r.hash, (r.name, r.role)))
        .collect()
}

/// On first run (no API token in the store), creates one orchestrator and one operator token,
/// stores their hashes and writes them to [`ApiTokenFiles::in_dir`] with mode 0600. Returns the
/// files when it created them.
pub(crate) fn bootstrap(
    store: &dyn Store,
    data_dir: &Path,
    now: u64,
) -> Result<Option<ApiTokenFiles>, ControlError> {
    if !store.api_tokens()?.is_empty() {
        return Ok(None);
    }
    let files = ApiTokenFiles::in_dir(data_dir);
    if let Some(dir) = files.operator.parent() {
        files::private_dir(dir)?;
    }
    for (role, path) in [
        (Role::Orchestrator, &files.orchestrator),
        (Role::Operator, &files.operator),
    ] {
        let token = generate();
        store.insert_api_token(&ApiTokenRecord {
            name: format!("bootstrap-{}", role.as_str()),
            role,
            hash: hash_token(&token),
            created_at: now,
        })?;
        files::write_private(path, format!("{token}\n").as_bytes())?;
    }
    Ok(Some(files))
}

/// Creates an API token with `role` in the store under `data_dir` and returns it (the only time
/// it is visible). A running control accepts it within a second.
///
/// # Errors
/// [`ControlError::Store`] if the store cannot be opened or written.
pub fn create_api_token(data_dir: &Path, role: Role, name: &str) -> Result<String, ControlError> {
    files::private_dir(data_dir)?;
    let store = SqliteStore::open(data_dir)?;
    let token = generate();
    store.insert_api_token(&ApiTokenRecord {
        name: name.to_owned(),
        role,
        hash: hash_token(&token),
        created_at: crate::clock::unix_seconds(std::time::SystemTime::now()),
    })?;
    Ok(token)
}
