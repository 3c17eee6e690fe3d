//! The harness: a control plane in a temp dir, an API client holding the bootstrap tokens, and
//! sync clients.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use control::{Config, ControlHandle, Overrides};
use control_client::{ControlState, Endpoint, SyncClient, SyncConfig};
use serde_json::{Value, json};

pub(crate) const POLICY: &str = include_str!("../../../policies/default/sandbox-default.yaml");
pub(crate) const PROFILE: &str = "sandbox-default";
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);

pub(crate) fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A temp data dir and policy dir that outlive restarts.
pub(crate) struct Dirs {
    pub(crate) root: tempfile::TempDir,
}

impl Dirs {
    pub(crate) fn new() -> Dirs {
        init();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("policies")).unwrap();
        std::fs::write(root.path().join("policies/sandbox-default.yaml"), POLICY).unwrap();
        Dirs { root }
    }

    pub(crate) fn data(&self) -> PathBuf {
        self.root.path().join("data")
    }

    pub(crate) fn config(&self) -> Config {
        let mut config = Config::ephemeral(self.data(), self.root.path().join("policies"));
        config.heartbeat_interval = Duration::from_millis(200);
        config
    }
}

pub(crate) async fn start(config: Config) -> ControlHandle {
    control::run(config).await.unwrap()
}

pub(crate) async fn start_with(config: Config, overrides: Overrides) -> ControlHandle {
    control::run_with(config, overrides).await.unwrap()
}

/// An HTTP client for one control.
pub(crate) struct Api {
    pub(crate) base: String,
    pub(crate) operator: String,
    pub(crate) orchestrator: String,
    pub(crate) http: reqwest::Client,
}

impl Api {
    pub(crate) fn new(control: &ControlHandle) -> Api {
        init();
        let files = control.api_token_files();
        Api {
            base: control.api_url(),
            operator: read_token(&files.operator),
            orchestrator: read_token(&files.orchestrator),
            http: reqwest::Client::new(),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Reply::from(request.send().await.unwrap()).await
    }

    pub(crate) async fn op(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        self.send(method, path, Some(&self.operator.clone()), body)
            .await
    }

    pub(crate) async fn orch(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        self.send(method, path, Some(&self.orchestrator.clone()), body)
            .await
    }

    /// Creates a session (orchestrator) and returns (id, token).
    pub(crate) async fn create_session(&self, ttl_seconds: Option<u64>) -> (String, String) {
        let mut body = json!({"tenant": "acme", "profile": PROFILE});
        if let Some(ttl) = ttl_seconds {
            body["ttl_seconds"] = ttl.into();
        }
        let reply = self
            .orch(reqwest::Method::POST, "/v1/sessions", Some(body))
            .await;
        assert_eq!(reply.status, 201, "{reply:?}");
        (
            reply.body["session_id"].as_str().unwrap().to_owned(),
            reply.body["token"].as_str().unwrap().to_owned(),
        )
    }

    pub(crate) async fn revoke(&self, id: &str) -> Reply {
        self.op(
            reqwest::Method::POST,
            &format!("/v1/sessions/{id}/revoke"),
            Some(json!({"reason": "test"})),
        )
        .await
    }
}

fn read_token(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

/// An answer: status, headers, JSON body (Null if not JSON).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Value,
}

impl Reply {
    async fn from(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        Reply {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// Asserts a structured refusal with this status and reason.
    pub(crate) fn assert_refused(&self, status: u16, reason: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.headers["x-deny-reason"], reason, "{self:?}");
        assert_eq!(self.body["reason"], reason, "{self:?}");
        let request_id = self.headers["x-request-id"].to_str().unwrap();
        assert_eq!(self.body["request_id"], request_id, "{self:?}");
        assert!(!self.body["message"].as_str().unwrap().is_empty());
    }
}

/// A TLS sync client for `edge` against `control`.
pub(crate) fn sync_client(control: &ControlHandle, edge: &str) -> SyncClient {
    let tls = control.edge_tls(edge).unwrap();
    let endpoint = Endpoint::parse(&control.sync_url(), Some(tls)).unwrap();
    SyncClient::start(fast(SyncConfig::new(edge, endpoint))).unwrap()
}

pub(crate) fn fast(mut config: SyncConfig) -> SyncConfig {
    config.reconnect_min = Duration::from_millis(20);
    config.reconnect_max = Duration::from_millis(200);
    config
}

/// Waits until the client's state satisfies `check`.
pub(crate) async fn wait_state(
    client: &SyncClient,
    what: &str,
    check: impl Fn(&ControlState) -> bool,
) -> Arc<ControlState> {
    let mut rx = client.state();
    let result = tokio::time::timeout(DEADLINE, rx.wait_for(|s| check(s))).await;
    match result {
        Ok(Ok(state)) => Arc::clone(&state),
        _ => panic!(
            "timed out waiting for {what}; state: {:?}",
            client.current()
        ),
    }
}

/// Polls `check` until it is true.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < DEADLINE {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The kids in a JWKS document.
pub(crate) fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// The header of a JWT.
pub(crate) fn jwt_header(token: &str) -> Value {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A TCP relay between a sync client and control that a test can cut and restore (the client
/// keeps dialling the relay's address).
pub(crate) struct Relay {
    pub(crate) addr: std::net::SocketAddr,
    target: Arc<std::sync::Mutex<std::net::SocketAddr>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    pub(crate) async fn start(target: std::net::SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let target = Arc::new(std::sync::Mutex::new(target));
        let task = Some(Relay::serve(listener, Arc::clone(&target)));
        Relay { addr, target, task }
    }

    fn serve(
        listener: tokio::net::TcpListener,
        target: Arc<std::sync::Mutex<std::net::SocketAddr>>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let to = *target.lock().unwrap();
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        })
    }

    pub(crate) fn set_target(&self, target: std::net::SocketAddr) {
        *self.target.lock().unwrap() = target;
    }

    /// Closes the listener and every relayed connection.
    pub(crate) async fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same address.
    pub(crate) async fn restore(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.task = Some(Relay::serve(listener, Arc::clone(&self.target)));
    }

    pub(crate) fn url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

/// A TLS sync client for `edge` dialling `url` with a certificate from `control`.
pub(crate) fn sync_client_at(control: &ControlHandle, edge: &str, url: &str) -> SyncClient {
    let tls = control.edge_tls(edge).unwrap();
    let endpoint = Endpoint::parse(url, Some(tls)).unwrap();
    SyncClient::start(fast(SyncConfig::new(edge, endpoint))).unwrap()
}

/// A metric's value from `/metrics` (0 if absent).
pub(crate) async fn metric(api: &Api, line_prefix: &str) -> f64 {
    let text = api
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| {
            line.strip_prefix(line_prefix)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0.0)
}
