//! [`SqliteStore`]: the embedded default store, one SQLite file (`control.db`, mode 0600) in the
//! data directory. WAL journal with `synchronous = FULL`, so a call that returned has reached
//! the disk. One connection behind a mutex; control calls it from blocking threads.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    ApiTokenRecord, Change, ChangeKind, DenyAllState, KeyRecord, Revoked, Role, Session,
    SessionFilter, SessionState, Store, SyncState, TokenIssued,
};
use crate::error::StoreError;

mod audit;
mod rows;

#[cfg(test)]
pub(crate) use audit::chain_hash;

use rows::{
    KEY_COLUMNS, SESSION_COLUMNS, all_keys, append_change, corrupt, deny_all_state, finish_session,
    jwks_json, meta, parse_change, raise_max_exp, sequence, session_row, set_meta,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, tenant TEXT NOT NULL, profile TEXT NOT NULL, labels TEXT NOT NULL,
  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, state TEXT NOT NULL,
  closed_at INTEGER, close_reason TEXT, tokens_issued INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_by_state ON sessions(state, expires_at);
CREATE TABLE IF NOT EXISTS keys (
  kid TEXT PRIMARY KEY, alg TEXT NOT NULL, public_jwk TEXT NOT NULL, created_at INTEGER NOT NULL,
  retired_at INTEGER, removed_at INTEGER, max_exp INTEGER NOT NULL, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS changes (sequence INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_tokens (
  hash TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
  sequence INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, session_id TEXT, entry TEXT NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_session ON audit(session_id, sequence);
";

/// The embedded SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// The database file's name inside the data directory.
    pub const FILE_NAME: &'static str = "control.db";

    /// Opens (creating if needed) `<data_dir>/control.db` with mode 0600.
    ///
    /// # Errors
    /// [`StoreError::Database`] if the file cannot be opened or migrated.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        let path = data_dir.join(SqliteStore::FILE_NAME);
        let conn = Connection::open(&path)?;
        restrict(&path)?;
        SqliteStore::init(conn)
    }

    /// An in-memory store (tests).
    ///
    /// # Errors
    /// [`StoreError::Database`] if SQLite fails.
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        SqliteStore::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<SqliteStore, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?1), ('sequence', '0')",
            params![uuid::Uuid::now_v7().to_string()],
        )?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Unavailable("connection lock poisoned".to_owned()))
    }
}

#[cfg(unix)]
fn restrict(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| StoreError::Database(format!("chmod {}: {e}", path.display())))
}

#[cfg(not(unix))]
fn restrict(_: &Path) -> Result<(), StoreError> {
    Ok(())
}

impl Store for SqliteStore {
    fn store_id(&self) -> Result<String, StoreError> {
        let conn = self.lock()?;
        meta(&conn, "store_id")
    }

    fn insert_session(&self, session: &Session, token: &TokenIssued) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let labels = serde_json::to_string(&session.labels)
            .map_err(|e| corrupt("labels", &e.to_string()))?;
        let inserted = tx.execute(
            &format!("INSERT OR IGNORE INTO sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
            params![
                session.id,
                session.tenant,
                session.profile,
                labels,
                session.created_at,
                session.expires_at,
                session.state.as_str(),
                session.closed_at,
                session.close_reason,
                session.tokens_issued,
            ],
        )?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "session {} exists",
                session.id
            )));
        }
        raise_max_exp(&tx, token)?;
        tx.commit()?;
        Ok(())
    }

    fn record_token(&self, session_id: &str, token: &TokenIssued) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let updated = tx.execute(
            "UPDATE sessions SET tokens_issued = tokens_issued + 1 WHERE id = ?1 AND state = 'active'",
            params![session_id],
        )?;
        if updated == 0 {
            let exists: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM sessions WHERE id = ?1)",
                params![session_id],
                |r| r.get(0),
            )?;
            return Err(if exists {
                StoreError::Conflict(format!("session {session_id} is not active"))
            } else {
                StoreError::NotFound("session")
            });
        }
        raise_max_exp(&tx, token)?;
        tx.commit()?;
        Ok(())
    }

    fn session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let conn = self.lock()?;
        conn.query_row(
            &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"),
            params![id],
            session_row,
        )
        .optional()?
        .map(finish_session)
        .transpose()
    }

    fn sessions(&self, filter: &SessionFilter) -> Result<Vec<Session>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions
             WHERE (?1 IS NULL OR tenant = ?1) AND (?2 IS NULL OR state = ?2)
             ORDER BY created_at DESC, id DESC LIMIT ?3"
        ))?;
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(
            params![filter.tenant, filter.state.map(SessionState::as_str), limit],
            session_row,
        )?;
        rows.map(|row| finish_session(row?)).collect()
    }

    fn close_session(
        &self,
        id: &str,
        state: SessionState,
        reason: &str,
        at: u64,
        at_ms: u64,
    ) -> Result<Change, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let current: Option<(String, u64)> = tx
            .query_row(
                "SELECT state, expires_at FROM sessions WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((current, expires_at)) = current else {
            return Err(StoreError::NotFound("session"));
        };
        if current != SessionState::Active.as_str() {
            return Err(StoreError::Conflict(format!(
                "session {id} is already {current}"
            )));
        }
        tx.execute(
            "UPDATE sessions SET state = ?2, closed_at = ?3, close_reason = ?4 WHERE id = ?1",
            params![id, state.as_str(), at, reason],
        )?;
        let change = append_change(
            &tx,
            ChangeKind::Revocation {
                session_id: id.to_owned(),
                reason: reason.to_owned(),
                expires_at,
            },
            at_ms,
        )?;
        tx.commit()?;
        Ok(change)
    }

    fn set_deny_all(&self, state: &DenyAllState, at_ms: u64) -> Result<Change, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let value = serde_json::json!({
            "on": state.on, "reason": state.reason, "changed_at": state.changed_at,
        });
        set_meta(&tx, "deny_all", &value.to_string())?;
        let change = append_change(
            &tx,
            ChangeKind::DenyAll {
                on: state.on,
                reason: state.reason.clone(),
            },
            at_ms,
        )?;
        tx.commit()?;
        Ok(change)
    }

    fn deny_all(&self) -> Result<DenyAllState, StoreError> {
        let conn = self.lock()?;
        deny_all_state(&conn)
    }

    fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let conn = self.lock()?;
        all_keys(&conn)
    }

    fn update_keys(&self, keys: &[KeyRecord], at_ms: u64) -> Result<Change, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        for key in keys {
            tx.execute(
                &format!("INSERT OR REPLACE INTO keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                params![
                    key.kid,
                    key.alg.jwa(),
                    key.public_jwk,
                    key.created_at,
                    key.retired_at,
                    key.removed_at,
                    key.max_exp,
                    key.state.as_str(),
                ],
            )?;
        }
        let active: u64 = tx.query_row(
            "SELECT COUNT(*) FROM keys WHERE state = 'active'",
            [],
            |r| r.get(0),
        )?;
        if active > 1 {
            return Err(StoreError::Conflict(format!(
                "{active} active signing keys"
            )));
        }
        let json = jwks_json(&tx)?;
        let change = append_change(&tx, ChangeKind::Jwks { json }, at_ms)?;
        tx.commit()?;
        Ok(change)
    }

    fn changes_since(&self, after: u64, limit: usize) -> Result<Option<Vec<Change>>, StoreError> {
        let conn = self.lock()?;
        let current = sequence(&conn)?;
        if after >= current {
            return Ok(Some(Vec::new()));
        }
        let oldest: Option<u64> =
            conn.query_row("SELECT MIN(sequence) FROM changes", [], |r| r.get(0))?;
        match oldest {
            Some(oldest) if oldest <= after.saturating_add(1) => {}
            _ => return Ok(None),
        }
        let mut stmt = conn.prepare(
            "SELECT sequence, at_ms, payload FROM changes WHERE sequence > ?1 ORDER BY sequence LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![after, limit], |r| {
            Ok((
                r.get::<_, u64>(0)?,
                r.get::<_, u64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut changes = Vec::new();
        for row in rows {
            let (sequence, at_ms, payload) = row?;
            changes.push(parse_change(sequence, at_ms, &payload)?);
        }
        Ok(Some(changes))
    }

    fn sync_state(&self, now: u64, leeway_secs: u64) -> Result<SyncState, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let sequence = sequence(&tx)?;
        let jwks_json = jwks_json(&tx)?;
        let deny_all = deny_all_state(&tx)?;
        let cutoff = now.saturating_sub(leeway_secs);
        let mut stmt = tx.prepare(
            "SELECT id, close_reason, expires_at FROM sessions
             WHERE state != 'active' AND expires_at >= ?1 ORDER BY closed_at, id",
        )?;
        let rows = stmt.query_map(params![cutoff], |r| {
            Ok(Revoked {
                session_id: r.get(0)?,
                reason: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                expires_at: r.get(2)?,
            })
        })?;
        let revoked = rows.collect::<Result<Vec<_>, _>>()?;
        drop(stmt);
        tx.commit()?;
        Ok(SyncState {
            sequence,
            jwks_json,
            revoked,
            deny_all,
        })
    }

    fn prune_changes(&self, keep: u64) -> Result<u64, StoreError> {
        let conn = self.lock()?;
        let current = sequence(&conn)?;
        let below = current.saturating_sub(keep.max(1)).saturating_add(1);
        let deleted = conn.execute("DELETE FROM changes WHERE sequence < ?1", params![below])?;
        Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
    }

    fn insert_api_token(&self, token: &ApiTokenRecord) -> Result<(), StoreError> {
        let conn = self.lock()?;
        let inserted = conn.execute(
            "INSERT OR IGNORE INTO api_tokens (hash, name, role, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![token.hash, token.name, token.role.as_str(), token.created_at],
        )?;
        if inserted == 0 {
            return Err(StoreError::Conflict("api token exists".to_owned()));
        }
        Ok(())
    }

    fn api_tokens(&self) -> Result<Vec<ApiTokenRecord>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(
            "SELECT hash, name, role, created_at FROM api_tokens ORDER BY created_at, name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u64>(3)?,
            ))
        })?;
        let mut tokens = Vec::new();
        for row in rows {
            let (hash, name, role, created_at) = row?;
            let role = Role::parse(&role).ok_or_else(|| corrupt("api token role", &role))?;
            tokens.push(ApiTokenRecord {
                name,
                role,
                hash,
                created_at,
            });
        }
        Ok(tokens)
    }
}
