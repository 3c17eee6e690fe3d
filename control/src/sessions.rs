//! Sessions: create (sign the first egress token), list, read, refresh (a fresh token), end and
//! revoke. Ending and revoking are privileged: audited first, then committed as a revocation
//! change that reaches every edge.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use trust_core::audit::ClassUid;
use trust_core::token::SessionClaims;

use crate::auth::{Caller, Operator};
use crate::clock::rfc3339;
use crate::plane::Plane;
use crate::refusal::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::store::{Session, SessionFilter, SessionState, TokenIssued};

const MAX_NAME: usize = 128;
const MAX_LABELS: usize = 32;
const MAX_LABEL_KEY: usize = 64;
const MAX_LABEL_VALUE: usize = 256;
const MAX_REASON: usize = 256;
const DEFAULT_LIST: usize = 100;
const MAX_LIST: usize = 1000;
/// A CA bundle is a few certificates; anything larger is not one.
const MAX_CA_BUNDLE: u64 = 256 * 1024;

/// `POST /v1/sessions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateSession {
    tenant: String,
    profile: String,
    ttl_seconds: Option<u64>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// `POST /v1/sessions/{id}/token` (the body is optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshToken {
    ttl_seconds: Option<u64>,
}

/// `POST /v1/sessions/{id}/revoke`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevokeSession {
    reason: String,
}

/// `GET /v1/sessions?tenant=&state=&limit=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    tenant: Option<String>,
    state: Option<String>,
    limit: Option<usize>,
}

/// `POST /v1/sessions`: 201 with the session id, its first token, its expiry and the proxy URL.
pub(crate) async fn create(
    State(plane): State<Arc<Plane>>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateSession>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    check_name("tenant", &request.tenant)?;
    check_name("profile", &request.profile)?;
    check_labels(&request.labels)?;
    let ttl = ttl(
        &plane,
        request.ttl_seconds,
        plane.config.default_session_ttl,
    )?;
    refuse_under_deny_all(&plane, "sessions cannot be created").await?;
    if !plane.profiles.contains(&request.profile).await {
        return Err(ApiError::invalid(format!(
            "profile {:?} is not in the loaded policies",
            request.profile
        )));
    }
    // Read before anything is stored: without the CA a bumping sandbox cannot work.
    let ca_certificate = ca_bundle(&plane).await?;
    let now = plane.clock.unix();
    let session = Session {
        id: uuid::Uuid::now_v7().to_string(),
        tenant: request.tenant,
        profile: request.profile,
        labels: request.labels,
        created_at: now,
        expires_at: now.saturating_add(ttl.as_secs()),
        state: SessionState::Active,
        closed_at: None,
        close_reason: None,
        tokens_issued: 1,
    };
    let (token, issued) = {
        let key = plane.keys.read().await;
        let claims = claims(&plane, &session, now, session.expires_at);
        let token = key
            .sign(&claims)
            .map_err(|e| ApiError::internal("signing a token", &e))?;
        let issued = TokenIssued {
            kid: key.kid().to_owned(),
            exp: claims.exp,
        };
        let (stored, record) = (session.clone(), issued.clone());
        plane
            .blocking(move |store| store.insert_session(&stored, &record))
            .await
            .map_err(ApiError::store)?;
        (token, issued)
    };
    plane.metrics.sessions_created.inc();
    plane.metrics.tokens_issued.inc();
    let mut entry = plane.entry(
        &caller,
        ClassUid::Authentication,
        "session_create",
        caller.request_id.as_deref(),
    );
    describe(&mut entry, &session);
    entry.detail = Some(format!("kid {}", issued.kid));
    plane.audit_after(entry).await;
    let mut answer = token_answer(&plane, &session.id, &token, issued.exp);
    if let (Some(bundle), Some(fields)) = (ca_certificate, answer.as_object_mut()) {
        fields.insert("ca_certificate".to_owned(), Value::String(bundle));
    }
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `GET /v1/sessions`.
pub(crate) async fn list(
    State(plane): State<Arc<Plane>>,
    _caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let state = match query.state.as_deref() {
        None => None,
        Some(text) => Some(SessionState::parse(text).ok_or_else(|| {
            ApiError::malformed(format!("state {text:?} is not active, revoked or ended"))
        })?),
    };
    let filter = SessionFilter {
        tenant: query.tenant,
        state,
        limit: query.limit.unwrap_or(DEFAULT_LIST).min(MAX_LIST),
    };
    let sessions = plane
        .blocking(move |store| store.sessions(&filter))
        .await
        .map_err(ApiError::store)?;
    let now = plane.clock.unix();
    let list: Vec<Value> = sessions.iter().map(|s| view(s, now)).collect();
    Ok(Json(json!({ "sessions": list })))
}

/// `GET /v1/sessions/{id}`.
pub(crate) async fn get(
    State(plane): State<Arc<Plane>>,
    _caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let session = load(&plane, id).await?;
    Ok(Json(view(&session, plane.clock.unix())))
}

/// `POST /v1/sessions/{id}/token`: a fresh token (new `jti`), never past the session's end.
pub(crate) async fn refresh(
    State(plane): State<Arc<Plane>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: RefreshToken = if body.iter().all(u8::is_ascii_whitespace) {
        RefreshToken::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => ApiError::invalid(e.to_string()),
            _ => ApiError::malformed(format!("malformed json: {e}")),
        })?
    };
    refuse_under_deny_all(&plane, "tokens cannot be refreshed").await?;
    let session = load(&plane, id).await?;
    let now = plane.clock.unix();
    if session.state != SessionState::Active {
        return Err(ApiError::conflict(format!(
            "session {} is {}",
            session.id,
            session.state.as_str()
        )));
    }
    if now >= session.expires_at {
        return Err(ApiError::conflict(format!(
            "session {} has expired",
            session.id
        )));
    }
    let remaining = Duration::from_secs(session.expires_at - now);
    let ttl = ttl(&plane, request.ttl_seconds, remaining)?;
    let exp = now.saturating_add(ttl.as_secs()).min(session.expires_at);
    let (token, issued) = {
        let key = plane.keys.read().await;
        let claims = claims(&plane, &session, now, exp);
        let token = key
            .sign(&claims)
            .map_err(|e| ApiError::internal("signing a token", &e))?;
        let issued = TokenIssued {
            kid: key.kid().to_owned(),
            exp,
        };
        let (sid, record) = (session.id.clone(), issued.clone());
        plane
            .blocking(move |store| store.record_token(&sid, &record))
            .await
            .map_err(ApiError::store)?;
        (token, issued)
    };
    plane.metrics.tokens_issued.inc();
    let mut entry = plane.entry(
        &caller,
        ClassUid::Authentication,
        "token_refresh",
        caller.request_id.as_deref(),
    );
    describe(&mut entry, &session);
    entry.detail = Some(format!("kid {}", issued.kid));
    plane.audit_after(entry).await;
    Ok(Json(token_answer(&plane, &session.id, &token, issued.exp)))
}

/// `DELETE /v1/sessions/{id}`: ends the session, which revokes it on every edge.
pub(crate) async fn end(
    State(plane): State<Arc<Plane>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    close(&plane, &caller, id, SessionState::Ended, "ended".to_owned()).await
}

/// `POST /v1/sessions/{id}/revoke {reason}`: operator only.
pub(crate) async fn revoke(
    State(plane): State<Arc<Plane>>,
    Operator(caller): Operator,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<RevokeSession>,
) -> Result<Json<Value>, ApiError> {
    let reason = request.reason.trim();
    if reason.is_empty() || reason.len() > MAX_REASON || reason.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "reason must be 1-{MAX_REASON} printable characters"
        )));
    }
    close(
        &plane,
        &caller,
        id,
        SessionState::Revoked,
        format!("revoked: {reason}"),
    )
    .await
}

async fn close(
    plane: &Plane,
    caller: &Caller,
    id: String,
    state: SessionState,
    reason: String,
) -> Result<Json<Value>, ApiError> {
    let session = load(plane, id).await?;
    if session.state != SessionState::Active {
        return Err(ApiError::conflict(format!(
            "session {} is already {}",
            session.id,
            session.state.as_str()
        )));
    }
    let activity = match state {
        SessionState::Ended => "session_end",
        SessionState::Revoked | SessionState::Active => "session_revoke",
    };
    let mut entry = plane.entry(
        caller,
        ClassUid::Authentication,
        activity,
        caller.request_id.as_deref(),
    );
    describe(&mut entry, &session);
    entry.detail = Some(reason.clone());
    plane.audit_first(entry).await?;
    let (at, at_ms) = (plane.clock.unix(), plane.clock.unix_ms());
    let sid = session.id.clone();
    plane
        .commit(move |store| store.close_session(&sid, state, &reason, at, at_ms))
        .await
        .map_err(ApiError::store)?;
    tracing::info!(target: "control", session = %session.id, state = state.as_str(), "session closed");
    let closed = load(plane, session.id).await?;
    Ok(Json(view(&closed, plane.clock.unix())))
}

async fn load(plane: &Plane, id: String) -> Result<Session, ApiError> {
    plane
        .blocking(move |store| store.session(&id))
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found("session"))
}

async fn refuse_under_deny_all(plane: &Plane, what: &str) -> Result<(), ApiError> {
    let deny_all = plane
        .blocking(|store| store.deny_all())
        .await
        .map_err(ApiError::store)?;
    if deny_all.on {
        return Err(ApiError::conflict(format!("deny-all is on: {what}")));
    }
    Ok(())
}

fn ttl(plane: &Plane, requested: Option<u64>, default: Duration) -> Result<Duration, ApiError> {
    let max = plane.config.max_session_ttl;
    let Some(seconds) = requested else {
        return Ok(default.min(max));
    };
    if seconds == 0 {
        return Err(ApiError::invalid("ttl_seconds must be positive"));
    }
    if seconds > max.as_secs() {
        return Err(ApiError::invalid(format!(
            "ttl_seconds {seconds} exceeds the maximum of {}",
            max.as_secs()
        )));
    }
    Ok(Duration::from_secs(seconds))
}

/// The bump CA bundle when `bump_ca_bundle` is configured, read now (it follows rotation).
/// A missing, oversized or non-certificate file refuses the session (503): handing out
/// something else, a private key above all, is never an option.
async fn ca_bundle(plane: &Plane) -> Result<Option<String>, ApiError> {
    let Some(path) = plane.config.bump_ca_bundle.as_deref() else {
        return Ok(None);
    };
    let read = async {
        use tokio::io::AsyncReadExt as _;
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| e.to_string())?;
        let mut text = String::new();
        file.take(MAX_CA_BUNDLE + 1)
            .read_to_string(&mut text)
            .await
            .map_err(|e| e.to_string())?;
        if text.len() as u64 > MAX_CA_BUNDLE {
            return Err(format!("it is larger than {MAX_CA_BUNDLE} bytes"));
        }
        if text.contains("PRIVATE KEY") {
            return Err("it holds a private key".to_owned());
        }
        if !text.contains("-----BEGIN CERTIFICATE-----") {
            return Err("it holds no PEM certificate".to_owned());
        }
        Ok(text)
    };
    read.await.map(Some).map_err(|reason| {
        tracing::error!(target: "control", path = %path.display(), %reason, "bump CA bundle unusable");
        ApiError::unavailable("the bump CA bundle is unavailable; no session was created")
    })
}

fn claims(plane: &Plane, session: &Session, iat: u64, exp: u64) -> SessionClaims {
    SessionClaims {
        sid: session.id.clone(),
        tenant: session.tenant.clone(),
        profile: session.profile.clone(),
        jti: uuid::Uuid::now_v7().to_string(),
        iss: plane.config.issuer.clone(),
        aud: plane.config.audience.clone(),
        iat,
        exp,
        nbf: None,
    }
}

fn token_answer(plane: &Plane, session_id: &str, token: &str, exp: u64) -> Value {
    json!({
        "session_id": session_id,
        "token": token,
        "expires_at": rfc3339(exp),
        "expires_at_unix": exp,
        "proxy_url": plane.config.proxy_url,
    })
}

fn describe(entry: &mut crate::store::AuditEntry, session: &Session) {
    entry.event.session_id = Some(session.id.clone());
    entry.event.tenant_id = Some(session.tenant.clone());
    entry.event.profile = Some(session.profile.clone());
}

/// The API's view of a session (never a token).
fn view(session: &Session, now: u64) -> Value {
    let state = if session.state == SessionState::Active && now >= session.expires_at {
        "expired"
    } else {
        session.state.as_str()
    };
    json!({
        "session_id": session.id,
        "tenant": session.tenant,
        "profile": session.profile,
        "labels": session.labels,
        "state": state,
        "created_at": rfc3339(session.created_at),
        "expires_at": rfc3339(session.expires_at),
        "closed_at": session.closed_at.map(rfc3339),
        "reason": session.close_reason,
        "tokens_issued": session.tokens_issued,
    })
}

fn check_name(field: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() || value.len() > MAX_NAME || value.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "{field} must be 1-{MAX_NAME} printable characters"
        )));
    }
    Ok(())
}

fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if labels.len() > MAX_LABELS {
        return Err(ApiError::invalid(format!("at most {MAX_LABELS} labels")));
    }
    for (key, value) in labels {
        if key.is_empty() || key.len() > MAX_LABEL_KEY || value.len() > MAX_LABEL_VALUE {
            return Err(ApiError::invalid(format!(
                "label keys are 1-{MAX_LABEL_KEY} characters, values at most {MAX_LABEL_VALUE}"
            )));
        }
    }
    Ok(())
}
