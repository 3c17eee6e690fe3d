//! Signing-key actions: rotate (on demand and on schedule), revoke a key at once, retire keys
//! whose last token has expired, and list them. Every JWKS change is committed as a change, so
//! it reaches every edge.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use trust_core::audit::ClassUid;

use crate::auth::{Caller, Operator};
use crate::clock::rfc3339;
use crate::key_ring::record_of;
use crate::plane::Plane;
use crate::refusal::{ApiError, ApiPath};
use crate::store::{Change, ChangeKind, KeyRecord, KeyState};

/// What a rotation did.
#[derive(Debug, Clone)]
pub(crate) struct Rotated {
    pub(crate) kid: String,
    pub(crate) previous: Option<String>,
    pub(crate) change: Change,
}

/// Makes a new key the signer. The previous one is retired (published until its last token
/// expires) or, with `revoke_previous`, withdrawn at once. The caller has written the audit
/// record.
pub(crate) async fn rotate(plane: &Plane, revoke_previous: bool) -> Result<Rotated, ApiError> {
    let mut active = plane.keys.write().await;
    let previous_kid = active.kid().to_owned();
    let records = plane
        .blocking(|store| store.keys())
        .await
        .map_err(ApiError::store)?;
    let new_key = plane
        .keys
        .generate()
        .await
        .map_err(|e| ApiError::internal("generating a signing key", &e))?;
    let (now, now_ms) = (plane.clock.unix(), plane.clock.unix_ms());
    let mut update = vec![record_of(&new_key, now)];
    if let Some(old) = records.into_iter().find(|k| k.kid == previous_kid) {
        update.push(KeyRecord {
            state: if revoke_previous {
                KeyState::Revoked
            } else {
                KeyState::Retired
            },
            retired_at: Some(now),
            removed_at: revoke_previous.then_some(now),
            ..old
        });
    }
    let change = match plane
        .commit(move |store| store.update_keys(&update, now_ms))
        .await
    {
        Ok(change) => change,
        Err(e) => {
            plane.keys.forget(new_key.kid());
            return Err(ApiError::store(e));
        }
    };
    let kid = new_key.kid().to_owned();
    *active = Arc::new(new_key);
    drop(active);
    plane.keys.forget(&previous_kid);
    tracing::info!(target: "control", %kid, previous = %previous_kid, revoke_previous, "signing key rotated");
    Ok(Rotated {
        kid,
        previous: Some(previous_kid),
        change,
    })
}

/// Withdraws retired keys whose last token expired more than the leeway ago. Returns the
/// change, if any key left.
pub(crate) async fn expire(plane: &Plane) -> Result<Option<Change>, ApiError> {
    let now = plane.clock.unix();
    let leeway = plane.config.token_leeway.as_secs();
    let records = plane
        .blocking(|store| store.keys())
        .await
        .map_err(ApiError::store)?;
    let expired: Vec<KeyRecord> = records
        .into_iter()
        .filter(|k| k.state == KeyState::Retired && k.max_exp.saturating_add(leeway) < now)
        .map(|k| KeyRecord {
            state: KeyState::Expired,
            removed_at: Some(now),
            ..k
        })
        .collect();
    if expired.is_empty() {
        return Ok(None);
    }
    let kids: Vec<String> = expired.iter().map(|k| k.kid.clone()).collect();
    let mut entry = plane.entry(
        &Caller::control(),
        ClassUid::EntityManagement,
        "key_expire",
        None,
    );
    entry.detail = Some(kids.join(","));
    plane.audit_after(entry).await;
    let now_ms = plane.clock.unix_ms();
    let change = plane
        .commit(move |store| store.update_keys(&expired, now_ms))
        .await
        .map_err(ApiError::store)?;
    for kid in &kids {
        plane.keys.forget(kid);
    }
    tracing::info!(target: "control", kids = %kids.join(","), "keys left the jwks: their last token expired");
    Ok(Some(change))
}

/// `POST /v1/keys/rotate`.
pub(crate) async fn rotate_now(
    State(plane): State<Arc<Plane>>,
    Operator(caller): Operator,
) -> Result<Json<Value>, ApiError> {
    let mut entry = plane.entry(
        &caller,
        ClassUid::EntityManagement,
        "key_rotate",
        caller.request_id.as_deref(),
    );
    entry.detail = Some(format!("previous kid {}", plane.keys.read().await.kid()));
    plane.audit_first(entry).await?;
    let rotated = rotate(&plane, false).await?;
    Ok(Json(json!({
        "kid": rotated.kid,
        "retired": rotated.previous,
        "jwks_kids": jwks_kids(&rotated.change),
        "sequence": rotated.change.sequence,
    })))
}

/// `POST /v1/keys/{kid}/revoke`: the key leaves the JWKS at once; its tokens stop working on
/// every edge. Revoking the active key rotates first.
pub(crate) async fn revoke(
    State(plane): State<Arc<Plane>>,
    Operator(caller): Operator,
    ApiPath(kid): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let records = plane
        .blocking(|store| store.keys())
        .await
        .map_err(ApiError::store)?;
    let record = records
        .into_iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| ApiError::not_found("key"))?;
    if !record.state.published() {
        return Err(ApiError::conflict(format!(
            "key {kid} is already {}",
            record.state.as_str()
        )));
    }
    let mut entry = plane.entry(
        &caller,
        ClassUid::EntityManagement,
        "key_revoke",
        caller.request_id.as_deref(),
    );
    entry.detail = Some(format!("kid {kid}"));
    plane.audit_first(entry).await?;
    let (change, active) = if record.state == KeyState::Active {
        let rotated = rotate(&plane, true).await?;
        (rotated.change, rotated.kid)
    } else {
        let now = plane.clock.unix();
        let now_ms = plane.clock.unix_ms();
        let revoked = KeyRecord {
            state: KeyState::Revoked,
            removed_at: Some(now),
            ..record
        };
        let change = plane
            .commit(move |store| store.update_keys(&[revoked], now_ms))
            .await
            .map_err(ApiError::store)?;
        plane.keys.forget(&kid);
        (change, plane.keys.read().await.kid().to_owned())
    };
    tracing::warn!(target: "control", %kid, "signing key revoked");
    Ok(Json(json!({
        "revoked": kid,
        "active": active,
        "jwks_kids": jwks_kids(&change),
        "sequence": change.sequence,
    })))
}

/// `GET /v1/keys`.
pub(crate) async fn list(
    State(plane): State<Arc<Plane>>,
    _caller: Operator,
) -> Result<Json<Value>, ApiError> {
    let records = plane
        .blocking(|store| store.keys())
        .await
        .map_err(ApiError::store)?;
    let keys: Vec<Value> = records
        .iter()
        .rev()
        .map(|k| {
            json!({
                "kid": k.kid,
                "alg": k.alg.jwa(),
                "state": k.state.as_str(),
                "created_at": rfc3339(k.created_at),
                "retired_at": k.retired_at.map(rfc3339),
                "removed_at": k.removed_at.map(rfc3339),
                "last_token_expires_at": (k.max_exp > 0).then(|| rfc3339(k.max_exp)),
            })
        })
        .collect();
    Ok(Json(json!({ "keys": keys })))
}

/// `GET /.well-known/jwks.json`: public.
pub(crate) async fn jwks(State(plane): State<Arc<Plane>>) -> Result<Json<Value>, ApiError> {
    let (now, leeway) = (plane.clock.unix(), plane.config.token_leeway.as_secs());
    let state = plane
        .blocking(move |store| store.sync_state(now, leeway))
        .await
        .map_err(ApiError::store)?;
    serde_json::from_str(&state.jwks_json)
        .map(Json)
        .map_err(|e| ApiError::internal("reading the jwks", &e))
}

fn jwks_kids(change: &Change) -> Vec<String> {
    let ChangeKind::Jwks { json } = &change.kind else {
        return Vec::new();
    };
    serde_json::from_str::<Value>(json)
        .ok()
        .and_then(|doc| {
            doc.get("keys").and_then(Value::as_array).map(|keys| {
                keys.iter()
                    .filter_map(|k| k.get("kid").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
        })
        .unwrap_or_default()
}
