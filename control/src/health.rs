//! `/healthz` (the process answers), `/readyz` (the store answers and the policy set is
//! loaded) and `/metrics`. Public, like the JWKS.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::plane::Plane;
use crate::refusal::ApiError;

/// `GET /healthz`.
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`.
pub(crate) async fn readyz(State(plane): State<Arc<Plane>>) -> Result<Json<Value>, ApiError> {
    plane
        .blocking(|store| store.store_id())
        .await
        .map_err(|_| ApiError::unavailable("the store is not answering"))?;
    let profiles = plane
        .profiles
        .current()
        .ok_or_else(|| ApiError::unavailable("no policy set loaded"))?;
    Ok(Json(json!({
        "status": "ready",
        "sequence": plane.sequence(),
        "policy_hash": profiles.hash(),
    })))
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(plane): State<Arc<Plane>>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        plane.metrics.render(),
    )
}
