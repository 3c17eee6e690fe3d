//! Scenario `bump-inject`: TLS interception with credential injection, through the edge and
//! two peers, against the direct TLS path and the edge's own pass-through, in one run.
//!
//! ```text
//!                  CONNECT + TLS once per connection, then keep-alive requests
//! tls_load.rs ──▶ edge-bump-inject  (bump rule: leaf from the deployment CA, decide, inject
//!             │                      `x-api-key` from our SDS, scrub)  ─TLS─▶ origin.rs
//!             ──▶ edge-pass-through (splice; the client's TLS reaches the upstream) ─▶   (200
//!             ──▶ direct-tls        (no proxy) ───────────────────────────────────▶  only with
//!             ──▶ envoy-bump        (interceptors.rs, leaf + key from our SDS) ─TLS─▶  the key)
//!             ──▶ mitmproxy         (its own CA, addon sets the header)         ─TLS─▶
//! then: handshake rate through the edge with a warm leaf cache (one name) and a cold one
//! (cache of 1, names round-robin, every handshake mints), and `trust_ca` mint cost in process.
//! ```
//! Every target runs with the same warm-up, window and connections; with `--pin` the proxy
//! under test runs on core 0 and the load generator, upstream and SDS server on core 1.

pub mod edge_rig;
mod handshake;
pub mod interceptors;
pub mod origin;
pub mod pki;
pub mod report;
mod table;
mod targets;
#[cfg(test)]
mod tests;
pub mod tls_load;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use edge_rig::{API_HOST, BumpCounters, PASS_HOST};
pub use report::{BumpReport, HandshakeReport, Settings};
pub use table::render_table;

use crate::edge::Setup as EdgeSetup;
use crate::error::Error;
use crate::load::Load;
use crate::peers::Locations;
use crate::process::{self, ChildProc, Pins};
use crate::report::TargetReport;
use origin::TlsOrigin;
use pki::UpstreamCert;

/// The injected credential (URL-safe: it is also written into nginx's config).
pub const SECRET: &str = "sk-bench-7Yq2Lm9ZxKk4PwR4sTuVb8Nc";
const USER_AGENT: &str = "trust-edge-loadtests";

/// A target of the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// trust-edge with a bump + inject rule.
    EdgeBumpInject,
    /// trust-edge with a pass-through rule.
    EdgePassThrough,
    /// Straight to the upstream over TLS.
    DirectTls,
    /// Envoy terminating CONNECT and TLS, injecting from our SDS.
    EnvoyBump,
    /// mitmdump with an addon setting the header.
    Mitmproxy,
}

impl Target {
    /// Every target, in the default run order.
    pub const ALL: [Target; 5] = [
        Self::EdgeBumpInject,
        Self::EdgePassThrough,
        Self::DirectTls,
        Self::EnvoyBump,
        Self::Mitmproxy,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::EdgeBumpInject => "edge-bump-inject",
            Self::EdgePassThrough => "edge-pass-through",
            Self::DirectTls => "direct-tls",
            Self::EnvoyBump => "envoy-bump",
            Self::Mitmproxy => "mitmproxy",
        }
    }
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == s.trim())
            .ok_or_else(|| {
                format!(
                    "unknown target `{}` (edge-bump-inject, edge-pass-through, direct-tls, \
                     envoy-bump, mitmproxy)",
                    s.trim()
                )
            })
    }
}

/// Everything the scenario needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// How each target is loaded.
    pub load: Load,
    /// Targets, in run order.
    pub targets: Vec<Target>,
    /// Measured time of each handshake-rate phase (zero: skip them).
    pub handshake_duration: Duration,
    /// Concurrent connections of the handshake load.
    pub handshake_connections: usize,
    /// Names the cold-cache handshakes cycle through.
    pub cold_hosts: usize,
    /// Leaves minted in process for the mint-cost figure.
    pub mint_samples: usize,
    /// The trust-edge binary (runs `edge-proxy` and `sds-server`).
    pub edge_bin: PathBuf,
    /// Use the in-process TLS upstream even when nginx is installed.
    pub in_process_upstream: bool,
    /// Pin the proxy to core 0 and everything else to core 1.
    pub pin: bool,
    /// How long a target gets to answer its first 200 (SDS delivery, listener warming).
    pub ready_timeout: Duration,
    /// Where binaries are looked for.
    pub locations: Locations,
}

/// The running upstream (dropping it stops it).
enum Upstream {
    Nginx { _child: ChildProc },
    InProcess(TlsOrigin),
}

/// What every target shares.
struct Shared {
    dir: PathBuf,
    upstream_port: u16,
    upstream_cert: UpstreamCert,
    upstream_ca_file: PathBuf,
    deployment_bundle: String,
    sds: Option<edge_rig::Sds>,
    edge: Option<(EdgeSetup, ChildProc)>,
    key_file: PathBuf,
}

/// Runs every target, then the handshake phases, and builds the report.
///
/// # Errors
/// Invalid options, or the certificates, the upstream or pinning failed; a target that fails
/// is reported as skipped instead.
pub fn run(options: &Options) -> Result<BumpReport, Error> {
    validate(options)?;
    let tmp = tempfile::Builder::new()
        .prefix("loadtests-bump-")
        .tempdir()
        .map_err(Error::io("creating the run directory"))?;
    let dir = tmp.path().to_owned();
    let pins = Pins::apply(options.pin)?;
    let load_average = crate::usage::host_load_average();
    let upstream_cert = UpstreamCert::new(&[API_HOST, PASS_HOST, "127.0.0.1"])?;
    let (upstream_ca_file, cert_file, key_pem_file) = upstream_cert.write(&dir.join("upstream"))?;
    let ca_dir = dir.join("deployment-ca");
    let ca = pki::deployment_ca(&ca_dir)?;
    let mint = (options.mint_samples > 0)
        .then(|| pki::mint_cost(&ca, options.mint_samples))
        .transpose()?;
    let envoy_leaf = ca
        .mint(API_HOST, Duration::from_secs(24 * 3600))
        .map_err(|e| Error::Config(format!("minting the envoy leaf: {e}")))?;
    let key_file = dir.join("api-key");
    std::fs::write(&key_file, SECRET).map_err(Error::io("writing the key file"))?;
    let (upstream, upstream_port) = match options.locations.program("nginx") {
        Some(nginx) if !options.in_process_upstream => {
            let port = process::free_port()?;
            let child = origin::start_nginx(
                &nginx,
                &dir.join("nginx"),
                port,
                (&cert_file, &key_pem_file),
                SECRET,
                options.load.body_bytes,
                pins.load,
            )?;
            (Upstream::Nginx { _child: child }, port)
        }
        _ => {
            let server = TlsOrigin::start(
                upstream_cert.server_config()?,
                SECRET,
                options.load.body_bytes,
            )?;
            let port = server.addr().port();
            (Upstream::InProcess(server), port)
        }
    };
    let mut notes = Vec::new();
    let sds = if options.edge_bin.is_file() {
        match edge_rig::start_sds(&options.edge_bin, &dir.join("sds"), SECRET, &envoy_leaf) {
            Ok(sds) => Some(sds),
            Err(e) => {
                notes.push(format!("SDS server failed: {e}"));
                None
            }
        }
    } else {
        None
    };
    let mut shared = Shared {
        dir: dir.clone(),
        upstream_port,
        upstream_cert,
        upstream_ca_file,
        deployment_bundle: ca.bundle_pem(),
        sds,
        edge: None,
        key_file,
    };
    let mut targets = Vec::new();
    for target in &options.targets {
        let report = match targets::run_target(options, &mut shared, *target, pins.proxy) {
            Ok(report) => report,
            Err(e) => skipped(*target, format!("failed: {e}")),
        };
        targets.push(report);
    }
    let edge_counters = shared
        .edge
        .as_ref()
        .map(|(setup, _)| edge_rig::counters(setup.admin));
    if let Some((_, mut child)) = shared.edge.take() {
        child.stop();
    }
    let handshakes = if options.handshake_duration.is_zero() {
        Vec::new()
    } else {
        handshake::handshake_phases(options, &shared, &ca_dir, pins.proxy, &mut notes)
    };
    let upstream_name = match &upstream {
        Upstream::Nginx { .. } => "nginx (TLS)",
        Upstream::InProcess(_) => "in-process (rustls)",
    };
    let injected_seen = match &upstream {
        Upstream::InProcess(server) => Some(
            server
                .seen()
                .with_key
                .load(std::sync::atomic::Ordering::Relaxed),
        ),
        Upstream::Nginx { .. } => None,
    };
    drop(upstream);
    let settings = Settings {
        load: options.load.settings(),
        handshake_duration_s: options.handshake_duration.as_secs_f64(),
        handshake_connections: options.handshake_connections,
        cold_hosts: options.cold_hosts,
        pinned: options.pin,
        upstream: upstream_name.into(),
    };
    Ok(report::build(report::Parts {
        settings,
        targets,
        handshakes,
        mint,
        edge: edge_counters,
        upstream_requests_with_key: injected_seen,
        load_average,
        notes,
    }))
}

fn validate(options: &Options) -> Result<(), Error> {
    options.load.validate()?;
    if options.handshake_connections == 0 {
        return Err(Error::Config(
            "connections and sessions must be at least 1".into(),
        ));
    }
    if options.cold_hosts < 2 {
        return Err(Error::Config("--cold-hosts must be at least 2".into()));
    }
    if options.targets.is_empty() {
        return Err(Error::Config("no targets".into()));
    }
    if options.pin && process::available_cores() < 2 {
        return Err(Error::Config("--pin needs at least 2 cores".into()));
    }
    Ok(())
}

fn skipped(target: Target, why: String) -> TargetReport {
    TargetReport {
        target: target.name().into(),
        skipped: Some(why),
        measured: None,
    }
}

/// The request every client sends inside TLS; `with_key` for the paths where the client
/// itself holds the key (direct, pass-through), so the upstream sees the same request.
pub fn inner_request(host: &str, port: u16, with_key: bool) -> Arc<[u8]> {
    let key = if with_key {
        format!("{}: {SECRET}\r\n", origin::KEY_HEADER)
    } else {
        String::new()
    };
    format!(
        "GET /v1/bench HTTP/1.1\r\nHost: {host}:{port}\r\n{key}User-Agent: {USER_AGENT}\r\nAccept: */*\r\n\r\n"
    )
    .into_bytes()
    .into()
}
