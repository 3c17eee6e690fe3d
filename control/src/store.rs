//! The store boundary: what control keeps durably, behind two traits so a shared database can
//! back several control replicas later, and so tests can inject failures.
//!
//! - [`Store`]: sessions, signing-key metadata, the change log (revocations, deny-all, JWKS),
//!   API tokens.
//! - [`AuditStore`]: control's own audit trail, written *before* a privileged action.
//!
//! Every method is blocking and durable on return; control calls them off the async runtime.
//! [`SqliteStore`] implements both.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use trust_core::audit::AuditEvent;
use trust_core::token::KeyAlgorithm;

use crate::error::StoreError;

mod sqlite;

pub use sqlite::SqliteStore;

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Its tokens work until `expires_at`.
    Active,
    /// Cut off by an operator.
    Revoked,
    /// Ended by its orchestrator (also a revocation for the edges).
    Ended,
}

impl SessionState {
    /// The stored and displayed name.
    pub const fn as_str(self) -> &'static str {
        match self {
            SessionState::Active => "active",
            SessionState::Revoked => "revoked",
            SessionState::Ended => "ended",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<SessionState> {
        [
            SessionState::Active,
            SessionState::Revoked,
            SessionState::Ended,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its id (the token's `sid`).
    pub id: String,
    /// The owning tenant.
    pub tenant: String,
    /// The egress profile.
    pub profile: String,
    /// Free-form labels from the orchestrator.
    pub labels: BTreeMap<String, String>,
    /// Created, Unix seconds.
    pub created_at: u64,
    /// The session's end: no token of it lives past this, Unix seconds.
    pub expires_at: u64,
    /// Active, revoked or ended.
    pub state: SessionState,
    /// When it was revoked or ended.
    pub closed_at: Option<u64>,
    /// The operator's reason (revoked) or `ended`.
    pub close_reason: Option<String>,
    /// Tokens minted for it (creation + refreshes).
    pub tokens_issued: u64,
}

/// A token just minted: which key signed it and until when it is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIssued {
    /// The signing key.
    pub kid: String,
    /// The token's `exp`.
    pub exp: u64,
}

/// Filters for listing sessions.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    /// Only this tenant's.
    pub tenant: Option<String>,
    /// Only sessions in this state.
    pub state: Option<SessionState>,
    /// At most this many, newest first.
    pub limit: usize,
}

/// A signing key's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Signs new tokens; published.
    Active,
    /// Signs nothing; published until its last token expires.
    Retired,
    /// Its last token expired; no longer published.
    Expired,
    /// Withdrawn at once by an operator; no longer published.
    Revoked,
}

impl KeyState {
    /// The stored and displayed name.
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Retired => "retired",
            KeyState::Expired => "expired",
            KeyState::Revoked => "revoked",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<KeyState> {
        [
            KeyState::Active,
            KeyState::Retired,
            KeyState::Expired,
            KeyState::Revoked,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether keys in this state are in the JWKS.
    pub const fn published(self) -> bool {
        matches!(self, KeyState::Active | KeyState::Retired)
    }
}

/// A signing key's metadata (the private key lives in a 0600 file, never here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The key id.
    pub kid: String,
    /// Its algorithm.
    pub alg: KeyAlgorithm,
    /// The public JWK, as JSON text.
    pub public_jwk: String,
    /// Created, Unix seconds.
    pub created_at: u64,
    /// When it stopped signing.
    pub retired_at: Option<u64>,
    /// When it left the JWKS (expired or revoked).
    pub removed_at: Option<u64>,
    /// The latest `exp` of any token it signed (0: none).
    pub max_exp: u64,
    /// Where it stands.
    pub state: KeyState,
}

/// One change pushed to edges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChangeKind {
    /// A session was revoked or ended.
    Revocation {
        /// The session.
        session_id: String,
        /// `revoked: <reason>` or `ended`.
        reason: String,
        /// When its last token expires.
        expires_at: u64,
    },
    /// Deny-all switched.
    DenyAll {
        /// On or off.
        on: bool,
        /// The operator's reason.
        reason: String,
    },
    /// The published keys changed.
    Jwks {
        /// The JWKS document.
        json: String,
    },
}

/// A numbered change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Its sequence: the previous change's + 1, from 1.
    pub sequence: u64,
    /// When, Unix milliseconds.
    pub at_ms: u64,
    /// What changed.
    pub kind: ChangeKind,
}

/// The deny-all switch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DenyAllState {
    /// On or off.
    pub on: bool,
    /// The operator's reason (empty when off).
    pub reason: String,
    /// When it last changed, Unix seconds (0: never).
    pub changed_at: u64,
}

/// One revoked or ended session in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The session.
    pub session_id: String,
    /// `revoked: <reason>` or `ended`.
    pub reason: String,
    /// When its last token expires.
    pub expires_at: u64,
}

/// Everything an edge needs, as of one sequence (read in one transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncState {
    /// The last change included.
    pub sequence: u64,
    /// The published keys' JWKS document.
    pub jwks_json: String,
    /// Revocations whose tokens may still be unexpired.
    pub revoked: Vec<Revoked>,
    /// The deny-all switch.
    pub deny_all: DenyAllState,
}

/// An API caller's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Creates, lists, reads, refreshes and ends sessions.
    Orchestrator,
    /// Everything, including revoke, kill switch, keys and audit.
    Operator,
}

impl Role {
    /// The stored and displayed name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Orchestrator => "orchestrator",
            Role::Operator => "operator",
        }
    }

    /// Parses `orchestrator` or `operator`.
    pub fn parse(text: &str) -> Option<Role> {
        [Role::Orchestrator, Role::Operator]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

/// An API token as stored: its SHA-256, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    /// A display name (`bootstrap-operator`).
    pub name: String,
    /// The role it grants.
    pub role: Role,
    /// Hex SHA-256 of the token.
    pub hash: String,
    /// Created, Unix seconds.
    pub created_at: u64,
}

/// Sessions, keys, the change log and API tokens.
pub trait Store: Send + Sync + 'static {
    /// A random id fixed when the store was created: sequences belong to it.
    ///
    /// # Errors
    /// [`StoreError`] if the store fails.
    fn store_id(&self) -> Result<String, StoreError>;

    /// Records a new session and its first token (raising the key's `max_exp`), atomically.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the id exists; [`StoreError`] if the store fails.
    fn insert_session(&self, session: &Session, token: &TokenIssued) -> Result<(), StoreError>;

    /// Records a refreshed token of an active session (raising the key's `max_exp`).
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Conflict`] if the session is not active.
    fn record_token(&self, session_id: &str, token: &TokenIssued) -> Result<(), StoreError>;

    /// One session.
    ///
    /// # Errors
    /// [`StoreError`] if the store fails.
    fn session(&self, id: &str) -> Result<Option<Session>, StoreError>;

    /// Sessions matching `filter`, newest first.
    ///
    /// # Errors
    /// [`StoreError`] if the store fails.
    fn sessions(&self, filter: &SessionFilter) -> Result<Vec<Session>, StoreError>;

    /// Revokes or ends an active session and appends its revocation change, atomically.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Conflict`] if it is already closed.
    fn close_session(
        &self,
        id: &str,
        state: SessionState,
        reason: &str,
        at: u64,
        at_ms: u64,
    ) -> Result<Change, StoreError>;

    /// Sets deny-all and appends its change, atomically.
    ///
    /// # Errors
    /// [`StoreError`] if the store fails.
    fn set_deny_all(&self, state: &DenyAllState, at_ms: u64) -> Result<Change, StoreError>;

    /// The deny-all switch.
    ///
    /// # Errors
    /// [`StoreError`] if the store fails.
    fn deny_all(&self) -> Result<DenyAllState, StoreError>;

    /// Every key record, oldest first (the active key last among keys created the same second).
    ///
    /// # Errors
    /// [`StoreError`] if the store fails.
    fn keys(&self) -> Result<Vec<KeyRecord>, StoreError>;

    /// Inserts or replaces `keys` and appends a JWKS change computed from the published keys
    /// afterwards, atomically.
    ///
    /// # Errors
    /// [`StoreError`] if the store fails.
    fn update_keys(&self, keys: &[KeyRecord], at_ms: u64) -> Result<Change, StoreError>;

    /// The changes after `after`, at most `limit`, in order; `None` if some were pruned (the
    /// caller needs a snapshot).
    ///
    /// # Errors
    /// [`StoreError`] if the store fails.
    fn changes_since(&self, after: u64, limit: usize) -> Result<Option<Vec<Change>>, StoreError>;

    /// The snapshot: sequence, JWKS, revocations not yet past `exp + leeway` at `now`, deny-all.
    ///
    /// # Errors
    /// [`StoreError`] if the store fails.
    fn sync_state(&self, now: u64, leeway_secs: u64) -> Result<SyncState, StoreError>;

    /// Drops all but the newest `keep` changes; returns how many went.
    ///
    /// # Errors
    /// [`StoreError`] if the store fails.
    fn prune_changes(&self, keep: u64) -> Result<u64, StoreError>;

    /// Stores an API token's hash.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the hash exists.
    fn insert_api_token(&self, token: &ApiTokenRecord) -> Result<(), StoreError>;

    /// Every API token record.
    ///
    /// # Errors
    /// [`StoreError`] if the store fails.
    fn api_tokens(&self) -> Result<Vec<ApiTokenRecord>, StoreError>;
}

/// One audit record of control's own trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Who acted: the API token's name, or `control` for scheduled actions.
    pub actor: String,
    /// The caller's role (`operator`, `orchestrator`, `control`).
    pub role: String,
    /// Free text the operator gave (a revocation reason), or a detail such as a `kid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The OCSF-shaped event (class 3002 sessions, 3004 switches and keys).
    #[serde(flatten)]
    pub event: AuditEvent,
}

/// An audit record as stored: the entry with its place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAudit {
    /// Position in the trail, from 1.
    pub sequence: u64,
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// The previous record's hash (64 zeros before the first).
    pub prev_hash: String,
    /// Hex SHA-256 of `prev_hash`, a newline and the entry's JSON.
    pub hash: String,
}

/// A query of the audit trail.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only this session's records.
    pub session: Option<String>,
    /// Only records at or after this time, Unix milliseconds.
    pub since_ms: Option<u64>,
    /// At most this many, oldest first.
    pub limit: usize,
}

/// Control's own audit trail: durable on return, hash-chained.
pub trait AuditStore: Send + Sync + 'static {
    /// Appends one record and returns its sequence. Durable when this returns `Ok`.
    ///
    /// # Errors
    /// [`StoreError`] if the record could not be made durable; the caller must then refuse
    /// the action it was about to take.
    fn append_audit(&self, entry: &AuditEntry) -> Result<u64, StoreError>;

    /// Records matching `query`, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] if the store fails.
    fn audit(&self, query: &AuditQuery) -> Result<Vec<StoredAudit>, StoreError>;
}

#[cfg(test)]
mod tests;
