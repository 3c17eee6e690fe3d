//! A minimal client of control's HTTP API with the bootstrap tokens control wrote.

use std::path::Path;

use serde_json::json;

use crate::Error;

/// A session control created: its id and its egress token (a secret: never logged).
pub(crate) struct Session {
    /// `session_id`.
    pub(crate) id: String,
    /// The egress token.
    pub(crate) token: String,
}

/// Control's API with the orchestrator and operator tokens.
pub(crate) struct Api {
    http: reqwest::Client,
    base: String,
    operator: String,
    orchestrator: String,
}

impl Api {
    /// Reads control's bootstrap token files.
    pub(crate) fn new(control: &control::ControlHandle) -> Result<Api, Error> {
        let files = control.api_token_files();
        let read = |path: &Path| {
            std::fs::read_to_string(path)
                .map(|t| t.trim().to_owned())
                .map_err(Error::io("reading an api token"))
        };
        Ok(Api {
            http: reqwest::Client::builder()
                .build()
                .map_err(|e| Error::Config(format!("http client: {e}")))?,
            base: control.api_url(),
            operator: read(&files.operator)?,
            orchestrator: read(&files.orchestrator)?,
        })
    }

    /// `POST /v1/sessions` for `profile` (orchestrator token).
    pub(crate) async fn create_session(&self, profile: &str) -> Result<Session, Error> {
        let body = json!({"tenant": "load", "profile": profile});
        let reply = self
            .send(
                reqwest::Method::POST,
                "/v1/sessions",
                Some(body),
                &self.orchestrator,
            )
            .await?;
        let field = |name: &str| {
            reply
                .get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| Error::Config(format!("session answer without `{name}`")))
        };
        Ok(Session {
            id: field("session_id")?,
            token: field("token")?,
        })
    }

    /// `POST /v1/sessions/{id}/revoke` (operator token); returns once the answer is read.
    pub(crate) async fn revoke(&self, session_id: &str) -> Result<(), Error> {
        self.call(
            reqwest::Method::POST,
            &format!("/v1/sessions/{session_id}/revoke"),
            Some(json!({"reason": "loadtest"})),
        )
        .await
        .map(drop)
    }

    /// Deny-all on (`POST /v1/killswitch`) or off (`DELETE`), operator token.
    pub(crate) async fn deny_all(&self, on: bool) -> Result<(), Error> {
        let (method, body) = if on {
            (reqwest::Method::POST, Some(json!({"reason": "loadtest"})))
        } else {
            (reqwest::Method::DELETE, None)
        };
        self.call(method, "/v1/killswitch", body).await.map(drop)
    }

    /// An operator call; the answer's JSON body.
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, Error> {
        self.send(method, path, body, &self.operator).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
        token: &str,
    ) -> Result<serde_json::Value, Error> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Error::Config(format!("{path}: {e}")))?;
        let status = response.status();
        let value: serde_json::Value = response.json().await.unwrap_or_default();
        if status.is_success() {
            Ok(value)
        } else {
            Err(Error::Config(format!("{path}: {status} {value}")))
        }
    }
}
