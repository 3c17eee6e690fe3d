//! A KV v2 server speaking the parts of Vault's documented HTTP API the source uses:
//! `GET /v1/{mount}/metadata/{path}`, `GET /v1/{mount}/data/{path}?version=N` and
//! `POST /v1/auth/approle/login`. No Vault binary can be installed here, so this stands in.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

#[derive(Default)]
pub struct State {
    /// Tokens that may read.
    pub tokens: HashSet<String>,
    /// AppRole: role id → secret id.
    pub approles: HashMap<String, String>,
    /// `mount/path` → versions (1-based), each a data map.
    pub kv: HashMap<String, Vec<Value>>,
    /// Answer 503 to everything.
    pub down: bool,
    pub metadata_reads: u64,
    pub data_reads: u64,
    pub logins: u64,
}

pub struct FakeVault {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for FakeVault {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeVault {
    pub async fn start() -> FakeVault {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, std::convert::Infallible>(handle(&state, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        FakeVault { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Writes a new version of `mount/path`.
    pub fn put(&self, key: &str, data: Value) {
        self.state
            .lock()
            .unwrap()
            .kv
            .entry(key.to_owned())
            .or_default()
            .push(data);
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }
}

fn reply(status: u16, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn envelope(data: Value) -> Value {
    json!({"request_id": "r", "lease_id": "", "renewable": false, "lease_duration": 0,
           "data": data, "wrap_info": null, "warnings": null, "auth": null})
}

const T: &str = "2024-01-01T00:00:00Z";

async fn handle(
    state: &Mutex<State>,
    req: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let token = req
        .headers()
        .get("x-vault-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let mut s = state.lock().unwrap();
    if s.down {
        return reply(503, json!({"errors": ["Vault is sealed"]}));
    }
    if path == "/v1/auth/approle/login" {
        let login: Value = serde_json::from_slice(&body).unwrap_or_default();
        let (role, secret) = (
            login["role_id"].as_str().unwrap_or(""),
            login["secret_id"].as_str().unwrap_or(""),
        );
        if s.approles.get(role).map(String::as_str) != Some(secret) {
            return reply(400, json!({"errors": ["invalid role or secret ID"]}));
        }
        s.logins += 1;
        let token = format!("hvs.approle-{}", s.logins);
        s.tokens.insert(token.clone());
        let mut out = envelope(Value::Null);
        out["auth"] = json!({"client_token": token, "accessor": "a", "policies": ["default"],
            "token_policies": ["default"], "metadata": {"role_name": role}, "lease_duration": 3600,
            "renewable": true, "entity_id": "e", "token_type": "service", "orphan": true});
        return reply(200, out);
    }
    if !s.tokens.contains(&token) {
        return reply(403, json!({"errors": ["permission denied"]}));
    }
    let mut parts = path.trim_start_matches("/v1/").splitn(3, '/');
    let (mount, kind, rest) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let key = format!("{mount}/{rest}");
    let Some(versions) = s.kv.get(&key).cloned() else {
        return reply(404, json!({"errors": []}));
    };
    match kind {
        "metadata" => {
            s.metadata_reads += 1;
            let listed: serde_json::Map<String, Value> = (1..=versions.len())
                .map(|v| {
                    (
                        v.to_string(),
                        json!({"created_time": T, "deletion_time": "", "destroyed": false}),
                    )
                })
                .collect();
            reply(
                200,
                envelope(json!({"cas_required": false, "created_time": T,
                "current_version": versions.len(), "delete_version_after": "0s", "max_versions": 0,
                "oldest_version": 1, "updated_time": T, "custom_metadata": null, "versions": listed})),
            )
        }
        "data" => {
            s.data_reads += 1;
            let version: usize = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("version="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(versions.len());
            match versions.get(version.wrapping_sub(1)) {
                Some(data) => reply(
                    200,
                    envelope(json!({"data": data, "metadata": {"created_time": T,
                    "custom_metadata": null, "deletion_time": "", "destroyed": false, "version": version}})),
                ),
                None => reply(404, json!({"errors": []})),
            }
        }
        _ => reply(404, json!({"errors": []})),
    }
}
