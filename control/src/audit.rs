//! `GET /v1/audit?session=&since=&limit=`: control's own audit trail (operator only), oldest
//! first. `since` is RFC 3339 or Unix seconds.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Operator;
use crate::defaults;
use crate::plane::Plane;
use crate::refusal::{ApiError, ApiQuery};
use crate::store::AuditQuery;

/// The query string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Params {
    session: Option<String>,
    since: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/audit`.
pub(crate) async fn list(
    State(plane): State<Arc<Plane>>,
    _caller: Operator,
    ApiQuery(params): ApiQuery<Params>,
) -> Result<Json<Value>, ApiError> {
    let since_ms = params.since.as_deref().map(parse_since).transpose()?;
    let limit = params.limit.unwrap_or(defaults::AUDIT_PAGE_LIMIT);
    if limit == 0 || limit > defaults::AUDIT_PAGE_LIMIT {
        return Err(ApiError::malformed(format!(
            "limit must be 1-{}",
            defaults::AUDIT_PAGE_LIMIT
        )));
    }
    let query = AuditQuery {
        session: params.session,
        since_ms,
        limit,
    };
    let audit = Arc::clone(&plane.audit);
    let records = tokio::task::spawn_blocking(move || audit.audit(&query))
        .await
        .map_err(|e| ApiError::internal("reading the audit trail", &e))?
        .map_err(ApiError::store)?;
    Ok(Json(json!({ "records": records })))
}

fn parse_since(text: &str) -> Result<u64, ApiError> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds.saturating_mul(1000));
    }
    humantime::parse_rfc3339_weak(text)
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .ok_or_else(|| {
            ApiError::malformed(format!("since {text:?} is not RFC 3339 or Unix seconds"))
        })
}
