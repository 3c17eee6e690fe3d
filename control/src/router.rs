//! Every route of the HTTP API, in one place.
//!
//! | route | role |
//! |---|---|
//! | `POST /v1/sessions`, `GET /v1/sessions`, `GET /v1/sessions/{id}` | orchestrator, operator |
//! | `POST /v1/sessions/{id}/token`, `DELETE /v1/sessions/{id}` | orchestrator, operator |
//! | `POST /v1/sessions/{id}/revoke` | operator |
//! | `GET /v1/killswitch` | orchestrator, operator |
//! | `POST /v1/killswitch`, `DELETE /v1/killswitch` | operator |
//! | `GET /v1/keys`, `POST /v1/keys/rotate`, `POST /v1/keys/{kid}/revoke` | operator |
//! | `GET /v1/audit`, `GET /v1/edges` | operator |
//! | `GET /.well-known/jwks.json`, `/healthz`, `/readyz`, `/metrics` | public |

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};

use crate::plane::Plane;
use crate::refusal;
use crate::{audit, edges, health, keys, killswitch, sessions};

/// The API router.
pub(crate) fn router(plane: Arc<Plane>) -> Router {
    Router::new()
        .route("/v1/sessions", post(sessions::create).get(sessions::list))
        .route(
            "/v1/sessions/{id}",
            get(sessions::get).delete(sessions::end),
        )
        .route("/v1/sessions/{id}/token", post(sessions::refresh))
        .route("/v1/sessions/{id}/revoke", post(sessions::revoke))
        .route(
            "/v1/killswitch",
            get(killswitch::get)
                .post(killswitch::on)
                .delete(killswitch::off),
        )
        .route("/v1/keys", get(keys::list))
        .route("/v1/keys/rotate", post(keys::rotate_now))
        .route("/v1/keys/{kid}/revoke", post(keys::revoke))
        .route("/v1/audit", get(audit::list))
        .route("/v1/edges", get(edges::list))
        .route("/.well-known/jwks.json", get(keys::jwks))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .fallback(refusal::no_route)
        .method_not_allowed_fallback(refusal::no_method)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&plane.metrics),
            refusal::request_id,
        ))
        .with_state(plane)
}
