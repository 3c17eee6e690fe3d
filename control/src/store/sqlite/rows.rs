//! Row decoding and the small helpers every [`SqliteStore`](super::SqliteStore) method shares
//! (they run inside the caller's transaction).

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Row, params};
use trust_core::token::KeyAlgorithm;

use crate::error::StoreError;
use crate::store::{
    Change, ChangeKind, DenyAllState, KeyRecord, KeyState, Session, SessionState, TokenIssued,
};

pub(super) const SESSION_COLUMNS: &str = "id, tenant, profile, labels, created_at, expires_at, state, closed_at, close_reason, tokens_issued";
pub(super) const KEY_COLUMNS: &str =
    "kid, alg, public_jwk, created_at, retired_at, removed_at, max_exp, state";

pub(super) fn meta(conn: &Connection, key: &str) -> Result<String, StoreError> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or(StoreError::NotFound("meta"))
}

pub(super) fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
        params![key, value],
    )?;
    Ok(())
}

pub(super) fn sequence(conn: &Connection) -> Result<u64, StoreError> {
    meta(conn, "sequence")?
        .parse()
        .map_err(|_| corrupt("meta.sequence", "not a number"))
}

/// Appends a change with the next sequence (inside the caller's transaction).
pub(super) fn append_change(
    conn: &Connection,
    kind: ChangeKind,
    at_ms: u64,
) -> Result<Change, StoreError> {
    let next = sequence(conn)?.saturating_add(1);
    let payload = serde_json::to_string(&kind).map_err(|e| corrupt("change", &e.to_string()))?;
    conn.execute(
        "INSERT INTO changes (sequence, at_ms, payload) VALUES (?1, ?2, ?3)",
        params![next, at_ms, payload],
    )?;
    set_meta(conn, "sequence", &next.to_string())?;
    Ok(Change {
        sequence: next,
        at_ms,
        kind,
    })
}

pub(super) fn raise_max_exp(conn: &Connection, token: &TokenIssued) -> Result<(), StoreError> {
    let updated = conn.execute(
        "UPDATE keys SET max_exp = MAX(max_exp, ?2) WHERE kid = ?1 AND state = 'active'",
        params![token.kid, token.exp],
    )?;
    if updated == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "key {} is not the active signing key",
            token.kid
        )))
    }
}

pub(super) fn corrupt(what: &'static str, detail: &str) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: detail.to_owned(),
    }
}

pub(super) fn session_row(row: &Row<'_>) -> rusqlite::Result<(Session, String, String)> {
    let labels: String = row.get(3)?;
    let state: String = row.get(6)?;
    Ok((
        Session {
            id: row.get(0)?,
            tenant: row.get(1)?,
            profile: row.get(2)?,
            labels: BTreeMap::new(),
            created_at: row.get(4)?,
            expires_at: row.get(5)?,
            state: SessionState::Active,
            closed_at: row.get(7)?,
            close_reason: row.get(8)?,
            tokens_issued: row.get(9)?,
        },
        labels,
        state,
    ))
}

pub(super) fn finish_session(
    (mut session, labels, state): (Session, String, String),
) -> Result<Session, StoreError> {
    session.labels =
        serde_json::from_str(&labels).map_err(|e| corrupt("session labels", &e.to_string()))?;
    session.state = SessionState::parse(&state).ok_or_else(|| corrupt("session state", &state))?;
    Ok(session)
}

pub(super) fn key_row(row: &Row<'_>) -> rusqlite::Result<(KeyRecord, String, String)> {
    let alg: String = row.get(1)?;
    let state: String = row.get(7)?;
    Ok((
        KeyRecord {
            kid: row.get(0)?,
            alg: KeyAlgorithm::EdDSA,
            public_jwk: row.get(2)?,
            created_at: row.get(3)?,
            retired_at: row.get(4)?,
            removed_at: row.get(5)?,
            max_exp: row.get(6)?,
            state: KeyState::Active,
        },
        alg,
        state,
    ))
}

pub(super) fn finish_key(
    (mut key, alg, state): (KeyRecord, String, String),
) -> Result<KeyRecord, StoreError> {
    key.alg = KeyAlgorithm::from_jwa(&alg).ok_or_else(|| corrupt("key alg", &alg))?;
    key.state = KeyState::parse(&state).ok_or_else(|| corrupt("key state", &state))?;
    Ok(key)
}

pub(super) fn all_keys(conn: &Connection) -> Result<Vec<KeyRecord>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {KEY_COLUMNS} FROM keys ORDER BY created_at, state = 'active', kid"
    ))?;
    let rows = stmt.query_map([], key_row)?;
    rows.map(|row| finish_key(row?)).collect()
}

/// The JWKS of the published keys, newest first.
pub(super) fn jwks_json(conn: &Connection) -> Result<String, StoreError> {
    let mut keys = Vec::new();
    for key in all_keys(conn)?.into_iter().rev() {
        if key.state.published() {
            let jwk: serde_json::Value = serde_json::from_str(&key.public_jwk)
                .map_err(|e| corrupt("public jwk", &e.to_string()))?;
            keys.push(jwk);
        }
    }
    Ok(serde_json::json!({ "keys": keys }).to_string())
}

pub(super) fn deny_all_state(conn: &Connection) -> Result<DenyAllState, StoreError> {
    let Some(text) = conn
        .query_row("SELECT value FROM meta WHERE key = 'deny_all'", [], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
    else {
        return Ok(DenyAllState::default());
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| corrupt("deny_all", &e.to_string()))?;
    Ok(DenyAllState {
        on: value
            .get("on")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
        reason: value
            .get("reason")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        changed_at: value
            .get("changed_at")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0),
    })
}

pub(super) fn parse_change(sequence: u64, at_ms: u64, payload: &str) -> Result<Change, StoreError> {
    let kind = serde_json::from_str(payload).map_err(|e| corrupt("change", &e.to_string()))?;
    Ok(Change {
        sequence,
        at_ms,
        kind,
    })
}
