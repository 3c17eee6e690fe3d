//! Scenario `revocation`: how fast a revocation, and deny-all, reaches every watching edge.
//!
//! ```text
//! control (in process, SQLite in a temp dir) ◀── HTTP: create N sessions, then revoke them
//!      │ sync: mutual TLS on 127.0.0.1                one by one; deny-all on/off R times
//!      ▼
//! E × SyncClient (control-client) ── watch ──▶ observer per edge: (edge, what, Instant)
//! ```
//!
//! For each action the clock starts when the API answer has been read and stops, per edge, when
//! that edge's `ControlState` shows the change. A push can overtake the HTTP answer; such a
//! sample counts as 0 ms. Each action waits until every edge saw it before the next one starts,
//! so samples do not queue behind each other. The "edges" are sync clients in this process:
//! the time measured is control's commit + push + the client's apply, not yet an edge proxy
//! refusing the next request or closing a tunnel (the edge integration extends this).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use control_client::{ControlState, Endpoint, SyncClient, SyncConfig};
use serde::Serialize;
use serde_json::json;
use tokio::sync::mpsc;

use crate::Error;
use crate::report::Check;

/// The policy the sessions' profile comes from.
const POLICY: &str = include_str!("../../policies/default/sandbox-default.yaml");
const PROFILE: &str = "sandbox-default";
/// The claim checked: p99 from API answer to every edge, in ms.
pub const REVOCATION_P99_BOUND_MS: f64 = 250.0;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Watching edges (sync clients).
    pub edges: usize,
    /// Sessions created and then revoked one by one.
    pub sessions: usize,
    /// Deny-all on/off rounds.
    pub deny_all_rounds: usize,
    /// How long one action may take to reach every edge before the run fails.
    pub timeout: Duration,
}

/// The scenario's result.
#[derive(Debug, Clone, Serialize)]
pub struct RevocationReport {
    /// `revocation`.
    pub scenario: String,
    /// Edges, sessions, rounds.
    pub settings: serde_json::Value,
    /// API answer → edge state shows the session revoked, all edges.
    pub revocation: Stats,
    /// Revoke request sent → edge state shows it (includes the API's own work: audit record,
    /// commit, both fsynced).
    pub revocation_from_request: Stats,
    /// The same, per edge (edge name, stats).
    pub revocation_per_edge: Vec<(String, Stats)>,
    /// API answer → edge state shows deny-all on.
    pub deny_all_on: Stats,
    /// API answer → edge state shows deny-all off.
    pub deny_all_off: Stats,
    /// API round trip of the revoke call itself (client side).
    pub revoke_api: Stats,
    /// Pass/fail claims.
    pub checks: Vec<Check>,
    /// Remarks.
    pub notes: Vec<String>,
}

/// Latency statistics in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Samples.
    pub samples: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile (nearest rank).
    pub p99_ms: f64,
    /// Maximum.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

impl Stats {
    /// Statistics of `samples` (any order).
    pub fn of(samples: &[Duration]) -> Stats {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        let rank = |p: f64| -> f64 {
            if ms.is_empty() {
                return 0.0;
            }
            // Nearest rank: the smallest value with at least p of the samples at or below it.
            let index = ((p * ms.len() as f64).ceil() as usize).saturating_sub(1);
            ms.get(index.min(ms.len() - 1)).copied().unwrap_or(0.0)
        };
        let round = |v: f64| (v * 1000.0).round() / 1000.0;
        Stats {
            samples: ms.len(),
            p50_ms: round(rank(0.50)),
            p99_ms: round(rank(0.99)),
            max_ms: round(ms.last().copied().unwrap_or(0.0)),
            mean_ms: round(if ms.is_empty() {
                0.0
            } else {
                ms.iter().sum::<f64>() / ms.len() as f64
            }),
        }
    }
}

/// What an observer saw change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Seen {
    Revoked(String),
    DenyAll(bool),
}

/// Runs the scenario on its own tokio runtime.
///
/// # Errors
/// [`Error`] if control cannot start, an edge never syncs, or an action misses the timeout.
pub fn run(options: &Options) -> Result<RevocationReport, Error> {
    if options.edges == 0 || options.sessions == 0 {
        return Err(Error::Config(
            "--edges and --sessions must be positive".into(),
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::io("building the runtime"))?;
    runtime.block_on(scenario(options))
}

async fn scenario(options: &Options) -> Result<RevocationReport, Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().map_err(Error::io("creating a temp dir"))?;
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).map_err(Error::io("creating the policy dir"))?;
    std::fs::write(policies.join("sandbox-default.yaml"), POLICY)
        .map_err(Error::io("writing the policy"))?;
    let config = control::Config::ephemeral(dir.path().join("data"), policies);
    let control = control::run(config)
        .await
        .map_err(|e| Error::Config(format!("control: {e}")))?;
    let api = Api::new(&control)?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut clients = Vec::with_capacity(options.edges);
    let mut names = Vec::with_capacity(options.edges);
    for index in 0..options.edges {
        let name = format!("edge-{index:02}");
        let tls = control
            .edge_tls(&name)
            .map_err(|e| Error::Config(format!("edge cert: {e}")))?;
        let endpoint = Endpoint::Tls {
            address: control.sync_addr().to_string(),
            tls,
        };
        let client = SyncClient::start(SyncConfig::new(name.clone(), endpoint))
            .map_err(|e| Error::Config(format!("sync client: {e}")))?;
        client
            .wait_ready(options.timeout)
            .await
            .map_err(|e| Error::Config(format!("{name}: {e}")))?;
        tokio::spawn(observe(index, client.state(), tx.clone()));
        clients.push(client);
        names.push(name);
    }
    let mut sessions = Vec::with_capacity(options.sessions);
    for _ in 0..options.sessions {
        sessions.push(api.create_session().await?);
    }
    let mut pending: HashMap<Seen, Vec<(usize, Instant)>> = HashMap::new();
    let mut revocation = Vec::new();
    let mut from_request = Vec::new();
    let mut per_edge: Vec<Vec<Duration>> = vec![Vec::new(); options.edges];
    let mut revoke_api = Vec::new();
    for session in &sessions {
        let sent = Instant::now();
        api.call(
            reqwest::Method::POST,
            &format!("/v1/sessions/{session}/revoke"),
            Some(json!({"reason": "loadtest"})),
        )
        .await?;
        let answered = Instant::now();
        revoke_api.push(answered - sent);
        let seen = collect(
            &mut rx,
            &mut pending,
            Seen::Revoked(session.clone()),
            options,
        )
        .await?;
        for (edge, at) in seen {
            let latency = at.saturating_duration_since(answered);
            revocation.push(latency);
            from_request.push(at.saturating_duration_since(sent));
            if let Some(samples) = per_edge.get_mut(edge) {
                samples.push(latency);
            }
        }
    }
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for _ in 0..options.deny_all_rounds {
        for (switch_on, samples) in [(true, &mut on), (false, &mut off)] {
            let (method, body) = if switch_on {
                (reqwest::Method::POST, Some(json!({"reason": "loadtest"})))
            } else {
                (reqwest::Method::DELETE, None)
            };
            api.call(method, "/v1/killswitch", body).await?;
            let answered = Instant::now();
            let seen = collect(&mut rx, &mut pending, Seen::DenyAll(switch_on), options).await?;
            samples.extend(
                seen.into_iter()
                    .map(|(_, at)| at.saturating_duration_since(answered)),
            );
        }
    }
    for client in clients {
        client.stop().await;
    }
    control.stop().await;
    let revocation = Stats::of(&revocation);
    let checks = vec![Check {
        claim: format!(
            "a revocation reaches {} watching edges with p99 below {REVOCATION_P99_BOUND_MS} ms",
            options.edges
        ),
        passed: revocation.p99_ms < REVOCATION_P99_BOUND_MS,
        detail: format!(
            "p99 {} ms over {} samples",
            revocation.p99_ms, revocation.samples
        ),
    }];
    Ok(RevocationReport {
        scenario: "revocation".into(),
        settings: json!({
            "edges": options.edges,
            "sessions": options.sessions,
            "deny_all_rounds": options.deny_all_rounds,
            "transport": "grpc over mutual TLS on 127.0.0.1",
        }),
        revocation,
        revocation_from_request: Stats::of(&from_request),
        revocation_per_edge: names
            .into_iter()
            .zip(per_edge.iter().map(|s| Stats::of(s)))
            .collect(),
        deny_all_on: Stats::of(&on),
        deny_all_off: Stats::of(&off),
        revoke_api: Stats::of(&revoke_api),
        checks,
        notes: vec![
            "edges are control-client SyncClients in the load generator's process; the time is \
             API answer -> the client's ControlState shows the change (commit, push, apply)"
                .into(),
            "a push that overtakes the HTTP answer counts as 0 ms".into(),
        ],
    })
}

/// Reports every newly revoked session and every deny-all switch an edge's state shows.
async fn observe(
    edge: usize,
    mut state: tokio::sync::watch::Receiver<Arc<ControlState>>,
    out: mpsc::UnboundedSender<(usize, Seen, Instant)>,
) {
    let mut known: HashSet<String> = state.borrow().revoked.clone();
    let mut deny_all = state.borrow().deny_all;
    while state.changed().await.is_ok() {
        let now = Instant::now();
        let current = Arc::clone(&state.borrow_and_update());
        for sid in current.revoked.difference(&known) {
            if out.send((edge, Seen::Revoked(sid.clone()), now)).is_err() {
                return;
            }
        }
        if current.deny_all != deny_all
            && out
                .send((edge, Seen::DenyAll(current.deny_all), now))
                .is_err()
        {
            return;
        }
        known.clone_from(&current.revoked);
        deny_all = current.deny_all;
    }
}

/// Waits until every edge reported `what`; returns (edge, when) per edge.
async fn collect(
    rx: &mut mpsc::UnboundedReceiver<(usize, Seen, Instant)>,
    pending: &mut HashMap<Seen, Vec<(usize, Instant)>>,
    what: Seen,
    options: &Options,
) -> Result<Vec<(usize, Instant)>, Error> {
    let deadline = tokio::time::Instant::now() + options.timeout;
    loop {
        if pending
            .get(&what)
            .is_some_and(|seen| seen.len() >= options.edges)
        {
            return Ok(pending.remove(&what).unwrap_or_default());
        }
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((edge, seen, at))) => pending.entry(seen).or_default().push((edge, at)),
            Ok(None) | Err(_) => {
                return Err(Error::Config(format!(
                    "{what:?} did not reach every edge within {:?}",
                    options.timeout
                )));
            }
        }
    }
}

/// A minimal client of control's API with the bootstrap tokens.
struct Api {
    http: reqwest::Client,
    base: String,
    operator: String,
    orchestrator: String,
}

impl Api {
    fn new(control: &control::ControlHandle) -> Result<Api, Error> {
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

    async fn create_session(&self) -> Result<String, Error> {
        let body = json!({"tenant": "load", "profile": PROFILE});
        let reply = self
            .send(
                reqwest::Method::POST,
                "/v1/sessions",
                Some(body),
                &self.orchestrator,
            )
            .await?;
        reply
            .get("session_id")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::Config("session answer without an id".into()))
    }

    async fn call(
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

/// The report as a table.
pub fn render_table(report: &RevocationReport) -> String {
    let row = |name: &str, s: &Stats| {
        format!(
            "{name:<34} {:>8} {:>9.3} {:>9.3} {:>9.3} {:>9.3}\n",
            s.samples, s.p50_ms, s.p99_ms, s.max_ms, s.mean_ms
        )
    };
    let mut out = format!(
        "{:<34} {:>8} {:>9} {:>9} {:>9} {:>9}\n",
        "revocation scenario", "samples", "p50 ms", "p99 ms", "max ms", "mean ms"
    );
    out.push_str(&row("revocation -> edge state", &report.revocation));
    out.push_str(&row(
        "revoke sent -> edge state",
        &report.revocation_from_request,
    ));
    out.push_str(&row("deny-all on -> edge state", &report.deny_all_on));
    out.push_str(&row("deny-all off -> edge state", &report.deny_all_off));
    out.push_str(&row("revoke API round trip", &report.revoke_api));
    if let Some((edge, worst)) = report
        .revocation_per_edge
        .iter()
        .max_by(|a, b| a.1.p99_ms.total_cmp(&b.1.p99_ms))
    {
        out.push_str(&row(&format!("worst edge ({edge})"), worst));
    }
    for check in &report.checks {
        let verdict = if check.passed { "PASS" } else { "FAIL" };
        out.push_str(&format!("{verdict}  {} ({})\n", check.claim, check.detail));
    }
    out
}

#[cfg(test)]
mod tests;
