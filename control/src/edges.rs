//! [`EdgeRegistry`]: the edges with an open sync stream, what they acknowledged and which policy
//! they run; `GET /v1/edges` lists them so an operator sees a fleet that disagrees.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::auth::Operator;
use crate::clock::rfc3339;
use crate::plane::Plane;
use crate::refusal::ApiError;

/// One connected edge.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EdgeEntry {
    pub(crate) edge_id: String,
    /// `cert:<client certificate CN>` or `unix`.
    pub(crate) peer: String,
    #[serde(skip)]
    pub(crate) connected_at_ms: u64,
    /// The last sequence control sent.
    pub(crate) sent_sequence: u64,
    /// The last sequence the edge acknowledged applying.
    pub(crate) last_sequence: u64,
    #[serde(skip)]
    pub(crate) last_heartbeat_ms: u64,
    pub(crate) policy_hash: String,
}

/// The open streams.
#[derive(Debug, Default)]
pub(crate) struct EdgeRegistry {
    next: AtomicU64,
    edges: Arc<Mutex<HashMap<u64, EdgeEntry>>>,
}

impl EdgeRegistry {
    /// Registers a stream; dropping the guard removes it.
    pub(crate) fn register(&self, entry: EdgeEntry) -> EdgeGuard {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut edges) = self.edges.lock() {
            edges.insert(id, entry);
        }
        EdgeGuard {
            id,
            edges: Arc::clone(&self.edges),
        }
    }

    fn list(&self) -> Vec<EdgeEntry> {
        let mut list: Vec<EdgeEntry> = self
            .edges
            .lock()
            .map(|edges| edges.values().cloned().collect())
            .unwrap_or_default();
        list.sort_by(|a, b| {
            a.edge_id
                .cmp(&b.edge_id)
                .then(a.connected_at_ms.cmp(&b.connected_at_ms))
        });
        list
    }
}

/// A registered stream; updates its entry and removes it on drop.
#[derive(Debug)]
pub(crate) struct EdgeGuard {
    id: u64,
    edges: Arc<Mutex<HashMap<u64, EdgeEntry>>>,
}

impl EdgeGuard {
    pub(crate) fn update(&self, change: impl FnOnce(&mut EdgeEntry)) {
        if let Ok(mut edges) = self.edges.lock()
            && let Some(entry) = edges.get_mut(&self.id)
        {
            change(entry);
        }
    }
}

impl Drop for EdgeGuard {
    fn drop(&mut self) {
        if let Ok(mut edges) = self.edges.lock() {
            edges.remove(&self.id);
        }
    }
}

/// `GET /v1/edges`.
pub(crate) async fn list(
    State(plane): State<Arc<Plane>>,
    _caller: Operator,
) -> Result<Json<serde_json::Value>, ApiError> {
    let current = plane.sequence();
    let edges: Vec<serde_json::Value> = plane
        .edges
        .list()
        .into_iter()
        .map(|edge| {
            let mut value = serde_json::to_value(&edge).unwrap_or_default();
            if let Some(object) = value.as_object_mut() {
                object.insert(
                    "connected_at".into(),
                    rfc3339(edge.connected_at_ms / 1000).into(),
                );
                object.insert(
                    "last_heartbeat".into(),
                    rfc3339(edge.last_heartbeat_ms / 1000).into(),
                );
                object.insert("last_heartbeat_ms".into(), edge.last_heartbeat_ms.into());
            }
            value
        })
        .collect();
    let hashes: std::collections::BTreeSet<&str> = edges
        .iter()
        .filter_map(|e| e.get("policy_hash").and_then(serde_json::Value::as_str))
        .collect();
    Ok(Json(serde_json::json!({
        "sequence": current,
        "policy_hashes_agree": hashes.len() <= 1,
        "edges": edges,
    })))
}
