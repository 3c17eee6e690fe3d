//! Deny-all: `POST /v1/killswitch {reason}` refuses every request on every edge,
//! `DELETE /v1/killswitch` lifts it, `GET /v1/killswitch` reads it. Switching is audited first.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use trust_core::audit::ClassUid;

use crate::auth::{Caller, Operator};
use crate::clock::rfc3339;
use crate::plane::Plane;
use crate::refusal::{ApiError, ApiJson};
use crate::store::{DenyAllState, Store};

const MAX_REASON: usize = 256;

/// `POST /v1/killswitch`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KillSwitch {
    reason: String,
}

/// `POST /v1/killswitch`: deny-all on.
pub(crate) async fn on(
    State(plane): State<Arc<Plane>>,
    Operator(caller): Operator,
    ApiJson(request): ApiJson<KillSwitch>,
) -> Result<Json<Value>, ApiError> {
    let reason = request.reason.trim().to_owned();
    if reason.is_empty() || reason.len() > MAX_REASON || reason.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "reason must be 1-{MAX_REASON} printable characters"
        )));
    }
    switch(&plane, &caller, true, reason).await
}

/// `DELETE /v1/killswitch`: deny-all off.
pub(crate) async fn off(
    State(plane): State<Arc<Plane>>,
    Operator(caller): Operator,
) -> Result<Json<Value>, ApiError> {
    switch(&plane, &caller, false, String::new()).await
}

/// `GET /v1/killswitch`.
pub(crate) async fn get(
    State(plane): State<Arc<Plane>>,
    _caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let state = plane
        .blocking(|store| store.deny_all())
        .await
        .map_err(ApiError::store)?;
    Ok(Json(view(&state)))
}

async fn switch(
    plane: &Plane,
    caller: &Caller,
    on: bool,
    reason: String,
) -> Result<Json<Value>, ApiError> {
    let current = plane
        .blocking(|store| store.deny_all())
        .await
        .map_err(ApiError::store)?;
    if current.on == on {
        return Err(ApiError::conflict(if on {
            "deny-all is already on"
        } else {
            "deny-all is not on"
        }));
    }
    let activity = if on {
        "killswitch_on"
    } else {
        "killswitch_off"
    };
    let mut entry = plane.entry(
        caller,
        ClassUid::EntityManagement,
        activity,
        caller.request_id.as_deref(),
    );
    entry.detail = (!reason.is_empty()).then(|| reason.clone());
    plane.audit_first(entry).await?;
    let state = DenyAllState {
        on,
        reason,
        changed_at: plane.clock.unix(),
    };
    let at_ms = plane.clock.unix_ms();
    let stored = state.clone();
    let change = plane
        .commit(move |store: &dyn Store| store.set_deny_all(&stored, at_ms))
        .await
        .map_err(ApiError::store)?;
    tracing::warn!(target: "control", on, "deny-all switched");
    let mut answer = view(&state);
    if let Some(object) = answer.as_object_mut() {
        object.insert("sequence".into(), change.sequence.into());
    }
    Ok(Json(answer))
}

fn view(state: &DenyAllState) -> Value {
    json!({
        "deny_all": state.on,
        "reason": state.reason,
        "changed_at": (state.changed_at > 0).then(|| rfc3339(state.changed_at)),
    })
}
