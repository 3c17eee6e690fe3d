//! Who is calling: the bearer API token in `Authorization` (never a query string), looked up by
//! its SHA-256, and the role it grants. [`Caller`] admits both roles; [`Operator`] refuses an
//! orchestrator with 403 before the body is read.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::plane::Plane;
use crate::refusal::{ApiError, RequestId};
use crate::store::Role;

/// An authenticated caller (or control itself, for scheduled actions).
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The API token's name (`control` for control's own actions).
    pub(crate) name: String,
    /// Its role; `None` for control itself.
    pub(crate) role: Option<Role>,
    /// The request's id, for audit records.
    pub(crate) request_id: Option<String>,
}

impl Caller {
    /// Control acting on its own schedule.
    pub(crate) fn control() -> Caller {
        Caller {
            name: "control".to_owned(),
            role: None,
            request_id: None,
        }
    }

    /// `operator`, `orchestrator` or `control`.
    pub(crate) fn role_name(&self) -> &'static str {
        self.role.map_or("control", Role::as_str)
    }
}

/// A caller holding the operator role.
#[derive(Debug, Clone)]
pub(crate) struct Operator(pub(crate) Caller);

impl FromRequestParts<Arc<Plane>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        plane: &Arc<Plane>,
    ) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing bearer api token"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| ApiError::unauthorized("authorization must be: Bearer <api token>"))?;
        let (name, role) = plane
            .tokens
            .lookup(plane, token)
            .await
            .ok_or_else(|| ApiError::unauthorized("unknown api token"))?;
        Ok(Caller {
            name,
            role: Some(role),
            request_id: parts.extensions.get::<RequestId>().map(|id| id.0.clone()),
        })
    }
}

impl FromRequestParts<Arc<Plane>> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        plane: &Arc<Plane>,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, plane).await?;
        if caller.role == Some(Role::Operator) {
            Ok(Operator(caller))
        } else {
            Err(ApiError::forbidden("this action needs the operator role"))
        }
    }
}
