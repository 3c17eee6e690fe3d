//! Scenario `revocation`: how fast a revocation, and deny-all, reaches every watching edge.
//!
//! ```text
//! control (in process, SQLite in a temp dir) ◀── HTTP: create sessions, revoke them one by
//!      │ sync: mutual TLS on 127.0.0.1                one; deny-all on/off R times
//!      ▼
//! E × `trust-edge edge-proxy` (child processes, fleet.rs)
//!      ▲ one CONNECT tunnel per (session, edge), spliced to a holding upstream (probe.rs)
//!      └ per edge, after each API answer: a fresh request every ~1 ms until it is refused
//! ```
//!
//! For each action the clock starts when the API answer has been read. Per edge it stops when
//! the first refused answer (`session_revoked`, `deny_all`) has been read, and, separately, when
//! the session's tunnel through that edge reads end-of-stream. After lifting deny-all it stops
//! when the edge serves a request again. Each action waits for every edge before the next one
//! starts, so samples do not queue behind each other. `--sync-clients` runs the earlier,
//! lighter variant (sync_clients.rs): the "edges" are control sync clients in this process and
//! the clock stops when their state shows the change (no proxy, no tunnel).

mod api;
mod edges;
mod fleet;
mod probe;
mod sync_clients;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::Error;
use crate::report::Check;

/// The claim checked: p99 from API answer to every edge, in ms.
pub const REVOCATION_P99_BOUND_MS: f64 = 250.0;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Watching edges.
    pub edges: usize,
    /// Sessions created (each with a tunnel through every edge) and then revoked one by one.
    pub sessions: usize,
    /// Deny-all on/off rounds.
    pub deny_all_rounds: usize,
    /// How long one action may take to reach every edge before the run fails.
    pub timeout: Duration,
    /// What the edges are.
    pub target: Target,
}

/// What plays the edges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `<bin> edge-proxy` child processes following control.
    Edges {
        /// The trust-edge binary.
        bin: PathBuf,
        /// Pause between one edge's polls after an action.
        poll_interval: Duration,
    },
    /// `control-client` sync clients in this process: no proxy, no tunnels.
    SyncClients,
}

/// The scenario's result.
#[derive(Debug, Clone, Serialize)]
pub struct RevocationReport {
    /// `revocation`.
    pub scenario: String,
    /// `edge-proxy` (child processes) or `sync-client` (in process).
    pub edges_are: String,
    /// Edges, sessions, rounds.
    pub settings: serde_json::Value,
    /// API answer → the edge refuses the session's next request (`session_revoked`); for sync
    /// clients, → the client's state shows it. Every (session, edge) pair.
    pub revocation: Stats,
    /// Revoke request sent → the same (includes the API's own work: audit record and commit,
    /// both fsynced).
    pub revocation_from_request: Stats,
    /// API answer → refusal, per edge (edge name, stats).
    pub revocation_per_edge: Vec<(String, Stats)>,
    /// API answer → the session's open tunnel through the edge closed (edge processes only).
    pub revocation_tunnel_closed: Option<Stats>,
    /// API answer → the edge refuses with `deny_all` (sync clients: state shows it on).
    pub deny_all_on: Stats,
    /// API answer → an open tunnel through the edge closed by deny-all (edge processes only).
    pub deny_all_on_tunnel_closed: Option<Stats>,
    /// API answer (lift) → the edge serves again (sync clients: state shows it off).
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

/// Runs the scenario on its own tokio runtime.
///
/// # Errors
/// [`Error`] if control or an edge cannot start, an edge never becomes ready, a tunnel cannot
/// be opened, or an action misses the timeout.
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
    let _ = rustls::crypto::ring::default_provider().install_default();
    match &options.target {
        Target::Edges { bin, poll_interval } => {
            if !bin.is_file() {
                return Err(Error::MissingBinary(bin.clone()));
            }
            runtime.block_on(edges::scenario(options, bin, *poll_interval))
        }
        Target::SyncClients => runtime.block_on(sync_clients::scenario(options)),
    }
}

/// The claims a run checks: p99 API answer → refusal below [`REVOCATION_P99_BOUND_MS`]; with
/// tunnels, also p99 API answer → tunnel closed below it and no tunnel closed before its
/// session was revoked (`early_closures`).
pub fn checks(
    edges: usize,
    revocation: &Stats,
    tunnels: Option<(&Stats, usize)>,
    edges_are: &str,
) -> Vec<Check> {
    let until = if tunnels.is_some() {
        "refusal"
    } else {
        "the client's state showing it"
    };
    let mut checks = vec![Check {
        claim: format!(
            "a revocation reaches {edges} watching edges ({edges_are}) with p99 below \
             {REVOCATION_P99_BOUND_MS} ms from API answer to {until}"
        ),
        passed: revocation.samples > 0 && revocation.p99_ms < REVOCATION_P99_BOUND_MS,
        detail: format!(
            "p99 {} ms over {} samples",
            revocation.p99_ms, revocation.samples
        ),
    }];
    if let Some((closed, early)) = tunnels {
        checks.push(Check {
            claim: format!(
                "the revoked session's tunnels close on {edges} edges with p99 below \
                 {REVOCATION_P99_BOUND_MS} ms from API answer"
            ),
            passed: closed.samples > 0 && closed.p99_ms < REVOCATION_P99_BOUND_MS,
            detail: format!("p99 {} ms over {} samples", closed.p99_ms, closed.samples),
        });
        checks.push(Check {
            claim: "no tunnel closes before its own session is revoked".into(),
            passed: early == 0,
            detail: format!("{early} tunnels closed early"),
        });
    }
    checks
}

/// The report as a table.
pub fn render_table(report: &RevocationReport) -> String {
    let row = |name: &str, s: &Stats| {
        format!(
            "{name:<42} {:>8} {:>9.3} {:>9.3} {:>9.3} {:>9.3}\n",
            s.samples, s.p50_ms, s.p99_ms, s.max_ms, s.mean_ms
        )
    };
    let mut out = format!(
        "{:<42} {:>8} {:>9} {:>9} {:>9} {:>9}\n",
        format!("revocation ({})", report.edges_are),
        "samples",
        "p50 ms",
        "p99 ms",
        "max ms",
        "mean ms"
    );
    let tunnels = report.revocation_tunnel_closed.is_some();
    let (seen, off) = if tunnels {
        ("refused", "served again")
    } else {
        ("edge state", "edge state")
    };
    out.push_str(&row(
        &format!("revoke: API answer -> {seen}"),
        &report.revocation,
    ));
    if let Some(closed) = &report.revocation_tunnel_closed {
        out.push_str(&row("revoke: API answer -> tunnel closed", closed));
    }
    out.push_str(&row(
        &format!("revoke: sent -> {seen}"),
        &report.revocation_from_request,
    ));
    out.push_str(&row(
        &format!("deny-all on: API answer -> {seen}"),
        &report.deny_all_on,
    ));
    if let Some(closed) = &report.deny_all_on_tunnel_closed {
        out.push_str(&row("deny-all on: API answer -> tunnel closed", closed));
    }
    out.push_str(&row(
        &format!("deny-all off: API answer -> {off}"),
        &report.deny_all_off,
    ));
    out.push_str(&row("revoke API round trip", &report.revoke_api));
    if let Some((edge, worst)) = report
        .revocation_per_edge
        .iter()
        .max_by(|a, b| a.1.p99_ms.total_cmp(&b.1.p99_ms))
    {
        out.push_str(&row(&format!("worst edge ({edge}), revoke"), worst));
    }
    for check in &report.checks {
        let verdict = if check.passed { "PASS" } else { "FAIL" };
        out.push_str(&format!("{verdict}  {} ({})\n", check.claim, check.detail));
    }
    out
}
