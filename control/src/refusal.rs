//! Structured refusals for the HTTP API (ARCHITECTURE.md, "Structured deny"): a status, an
//! `x-deny-reason` header, `x-request-id`, and `{"reason", "message", "request_id"}`.
//!
//! [`ApiError`] renders the status and header and leaves a [`Refusal`] in the response's
//! extensions; the [`request_id`] middleware, which made the request id, writes the body. The
//! extractors here ([`ApiJson`], [`ApiQuery`], [`ApiPath`]) turn axum's rejections into
//! refusals, so every error, including a malformed body, has the same shape.

use axum::body::Body;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::error::StoreError;

/// Control's refusal codes. Closed: extend deliberately, with the status match below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 401: no API token, or not a known one.
    Unauthorized,
    /// 403: the token's role may not do this.
    Forbidden,
    /// 404: no such session, key or route.
    NotFound,
    /// 409: the resource's state forbids it (revoked session, deny-all on, ...).
    Conflict,
    /// 400 (unparseable) or 422 (parsed but invalid: unknown field, unknown profile, TTL).
    InvalidRequest,
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 503: a dependency (the audit trail, the store) failed; nothing was changed.
    Unavailable,
    /// 500: a bug or an unexpected failure; logged at `error`.
    Internal,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 8] = [
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::InvalidRequest,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The stable code in `x-deny-reason` and the body's `reason`.
    pub const fn code(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal_error",
        }
    }

    /// The default status (`invalid_request` may also be 400).
    pub const fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::InvalidRequest => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The longest message sent to a caller.
const MAX_MESSAGE: usize = 256;

/// A refusal on its way out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status: code.status(),
            code,
            message: message.into(),
        }
    }

    pub(crate) fn unauthorized(message: &str) -> ApiError {
        ApiError::new(ErrorCode::Unauthorized, message)
    }

    pub(crate) fn forbidden(message: &str) -> ApiError {
        ApiError::new(ErrorCode::Forbidden, message)
    }

    pub(crate) fn not_found(what: &str) -> ApiError {
        ApiError::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub(crate) fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Conflict, message)
    }

    /// 422: well-formed but not acceptable.
    pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidRequest, message)
    }

    /// 400: not parseable.
    pub(crate) fn malformed(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            ..ApiError::new(ErrorCode::InvalidRequest, message)
        }
    }

    pub(crate) fn unavailable(message: &str) -> ApiError {
        ApiError::new(ErrorCode::Unavailable, message)
    }

    /// A store failure: 404/409 pass through, anything else is logged and answered 503.
    pub(crate) fn store(error: StoreError) -> ApiError {
        match error {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Conflict(message) => ApiError::conflict(message),
            other => {
                tracing::error!(target: "control", error = %other, "store failure");
                ApiError::unavailable("the store is unavailable; nothing was changed")
            }
        }
    }

    pub(crate) fn internal(context: &str, error: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(target: "control", %error, "{context}");
        ApiError::new(ErrorCode::Internal, format!("{context} failed"))
    }
}

/// What the middleware needs to write the body.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    code: ErrorCode,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = self.status;
        response
            .headers_mut()
            .insert("x-deny-reason", HeaderValue::from_static(self.code.code()));
        if self.code == ErrorCode::Unauthorized {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        let mut message = self.message;
        if message.len() > MAX_MESSAGE {
            let mut end = MAX_MESSAGE;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        response.extensions_mut().insert(Refusal {
            code: self.code,
            message,
        });
        response
    }
}

/// The request's id (UUIDv7), made at the start of every request.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) String);

/// Middleware: makes the request id, runs the request in a `control.request` span, writes a
/// refusal's JSON body and sets `x-request-id` on every answer.
pub(crate) async fn request_id(
    axum::extract::State(metrics): axum::extract::State<std::sync::Arc<crate::metrics::Metrics>>,
    mut request: Request,
    next: Next,
) -> Response {
    let id = uuid::Uuid::now_v7().to_string();
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("control.request", request_id = %id, method = %request.method());
    let mut response = next.run(request).instrument(span).await;
    let outcome = match response.extensions_mut().remove::<Refusal>() {
        Some(refusal) => {
            let body = serde_json::json!({
                "reason": refusal.code.code(),
                "message": refusal.message,
                "request_id": id,
            });
            *response.body_mut() = Body::from(body.to_string());
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            refusal.code.code()
        }
        None => "ok",
    };
    metrics.api_requests.with_label_values(&[outcome]).inc();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// 404 for every unknown route.
pub(crate) async fn no_route() -> ApiError {
    ApiError::not_found("route")
}

/// 405 for a known route with another method.
pub(crate) async fn no_method() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "method not allowed on this route",
    )
}

/// A JSON body; rejections become `invalid_request` (400 unparseable, 422 wrong shape).
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::JsonDataError(e)) => {
                Err(ApiError::invalid(serde_detail(&e.body_text())))
            }
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::malformed(format!(
                "malformed json: {}",
                serde_detail(&e.body_text())
            ))),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::malformed(
                "expected content-type: application/json",
            )),
            Err(other) => Err(ApiError::malformed(other.body_text())),
        }
    }
}

/// Query parameters; rejections become 400 `invalid_request`.
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| ApiError::malformed(e.body_text()))
    }
}

/// Path parameters; rejections become 400 `invalid_request`.
#[derive(Debug)]
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e: PathRejection| ApiError::malformed(e.body_text()))
    }
}

/// serde's message without axum's generic prefix.
fn serde_detail(text: &str) -> String {
    text.split_once(": ")
        .map_or(text, |(_, detail)| detail)
        .to_owned()
}

#[cfg(test)]
mod tests;
