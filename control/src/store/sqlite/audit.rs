//! The audit trail half of [`SqliteStore`]: append (hash-chained, durable) and query.

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::SqliteStore;
use super::rows::corrupt;
use crate::error::StoreError;
use crate::store::{AuditEntry, AuditQuery, AuditStore, StoredAudit};

const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl AuditStore for SqliteStore {
    fn append_audit(&self, entry: &AuditEntry) -> Result<u64, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let last: Option<(u64, String)> = tx
            .query_row(
                "SELECT sequence, hash FROM audit ORDER BY sequence DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (sequence, prev_hash) = match last {
            Some((sequence, hash)) => (sequence.saturating_add(1), hash),
            None => (1, ZERO_HASH.to_owned()),
        };
        let json =
            serde_json::to_string(entry).map_err(|e| corrupt("audit entry", &e.to_string()))?;
        let hash = chain_hash(&prev_hash, &json);
        tx.execute(
            "INSERT INTO audit (sequence, time_ms, session_id, entry, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![sequence, entry.event.time, entry.event.session_id, json, prev_hash, hash],
        )?;
        tx.commit()?;
        Ok(sequence)
    }

    fn audit(&self, query: &AuditQuery) -> Result<Vec<StoredAudit>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(
            "SELECT sequence, entry, prev_hash, hash FROM audit
             WHERE (?1 IS NULL OR session_id = ?1) AND time_ms >= ?2
             ORDER BY sequence LIMIT ?3",
        )?;
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(
            params![query.session, query.since_ms.unwrap_or(0), limit],
            |r| {
                Ok((
                    r.get::<_, u64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )?;
        let mut records = Vec::new();
        for row in rows {
            let (sequence, json, prev_hash, hash) = row?;
            let entry =
                serde_json::from_str(&json).map_err(|e| corrupt("audit entry", &e.to_string()))?;
            records.push(StoredAudit {
                sequence,
                entry,
                prev_hash,
                hash,
            });
        }
        Ok(records)
    }
}

/// Hex SHA-256 of `prev_hash`, a newline and the entry's JSON.
pub(crate) fn chain_hash(prev_hash: &str, json: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(json.as_bytes());
    hex::encode(hasher.finalize())
}
