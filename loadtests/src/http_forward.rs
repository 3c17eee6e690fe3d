//! Scenario `http-forward`: plain HTTP through the edge, direct, and through peer proxies, in
//! one run against one upstream.
//!
//! ```text
//! load generator ──▶ direct ─────────────────────────────▶ upstream (nginx, 200 + N bytes)
//!   (client.rs)  ──▶ edge  (token, policy, audit)  ──────▶      ▲
//!                ──▶ envoy / squid / tinyproxy / nginx-proxy (peers.rs) ┘
//! ```
//! Targets run one after another, each with the same warm-up, window and load.

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::client::{self, Spec};
use crate::edge;
use crate::error::Error;
use crate::load::Load;
use crate::peers::{self, Locations, Peer};
use crate::process::{self, ChildProc, Pin, Pins};
use crate::report::{self, Measured, Report, Settings, TargetReport};
use crate::upstream::{self, Behaviour, InProcess};
use crate::usage::Sampler;

const USER_AGENT: &str = "trust-edge-loadtests";

/// A target of the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The trust-edge proxy.
    Edge,
    /// Straight to the upstream.
    Direct,
    /// A peer proxy.
    Peer(Peer),
}

impl Target {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Edge => report::EDGE,
            Self::Direct => report::DIRECT,
            Self::Peer(peer) => peer.name(),
        }
    }
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "edge" => Ok(Self::Edge),
            "direct" => Ok(Self::Direct),
            "envoy" => Ok(Self::Peer(Peer::Envoy)),
            "squid" => Ok(Self::Peer(Peer::Squid)),
            "tinyproxy" => Ok(Self::Peer(Peer::Tinyproxy)),
            "nginx-proxy" => Ok(Self::Peer(Peer::NginxProxy)),
            other => Err(format!(
                "unknown target `{other}` (edge, direct, envoy, squid, tinyproxy, nginx-proxy)"
            )),
        }
    }
}

/// Everything the scenario needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// How each target is loaded.
    pub load: Load,
    /// Open-loop offered rate (req/s); `None` for closed loop.
    pub rate: Option<f64>,
    /// Targets, in run order.
    pub targets: Vec<Target>,
    /// The trust-edge binary.
    pub edge_bin: PathBuf,
    /// Pin the proxy to core 0 and the load generator + upstream to core 1.
    pub pin: bool,
    /// Where binaries are looked for.
    pub locations: Locations,
}

/// The running upstream, held until the run ends (dropping it stops it).
enum Upstream {
    Nginx { _child: ChildProc },
    InProcess { _server: InProcess },
}

/// Runs every target and builds the report.
///
/// # Errors
/// Invalid options, pinning or the upstream failed; a target that fails is reported as
/// skipped instead.
pub fn run(options: &Options) -> Result<Report, Error> {
    validate(options)?;
    let dir = tempfile::Builder::new()
        .prefix("loadtests-")
        .tempdir()
        .map_err(Error::io("creating the run directory"))?;
    // Peers that drop privileges (squid) must reach their subdirectory.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .map_err(Error::io("opening the run directory"))?;
    let pins = Pins::apply(options.pin)?;
    let load_average = crate::usage::host_load_average();
    let (upstream, port) = start_upstream(options, &dir.path().join("nginx"), pins.load)?;
    let mut targets = Vec::new();
    for target in &options.targets {
        let report = match run_target(options, *target, dir.path(), port) {
            Ok(report) => report,
            Err(e) => skipped(*target, format!("failed: {e}")),
        };
        targets.push(report);
    }
    let upstream_name = match upstream {
        Upstream::Nginx { .. } => "nginx",
        Upstream::InProcess { .. } => "in-process",
    };
    drop(upstream);
    let settings = Settings {
        load: options.load.settings(),
        rate: options.rate,
        pinned: options.pin,
        upstream: upstream_name.into(),
    };
    let ratios = report::ratios(&targets);
    let added_latency = report::added_latency(&targets);
    let checks = report::checks(&settings, &targets, &added_latency);
    Ok(Report {
        scenario: "http-forward".into(),
        settings,
        targets,
        ratios,
        added_latency,
        checks,
        notes: [
            "peers get absolute-form requests to 127.0.0.1 and resolve nothing; the edge \
             resolves upstream.test through its own resolver (static host) on every request"
                .into(),
            "latency is measured by the load generator, which shares its core with the upstream"
                .into(),
        ]
        .into_iter()
        .chain(load_average.map(report::load_average_note))
        .collect(),
    })
}

fn validate(options: &Options) -> Result<(), Error> {
    options.load.validate()?;
    if options.targets.is_empty() {
        return Err(Error::Config("no targets".into()));
    }
    if options.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err(Error::Config("--rate must be a positive number".into()));
    }
    if options.pin && process::available_cores() < 2 {
        return Err(Error::Config("--pin needs at least 2 cores".into()));
    }
    Ok(())
}

fn start_upstream(options: &Options, dir: &Path, pin: Pin) -> Result<(Upstream, u16), Error> {
    if let Some(nginx) = options.locations.program("nginx") {
        let port = process::free_port()?;
        let child = upstream::start_nginx(&nginx, dir, port, options.load.body_bytes, pin)?;
        return Ok((Upstream::Nginx { _child: child }, port));
    }
    let server = InProcess::start(Behaviour::ok(options.load.body_bytes))?;
    let port = server.addr().port();
    Ok((Upstream::InProcess { _server: server }, port))
}

fn skipped(target: Target, why: String) -> TargetReport {
    TargetReport {
        target: target.name().into(),
        skipped: Some(why),
        measured: None,
    }
}

fn run_target(
    options: &Options,
    target: Target,
    dir: &Path,
    upstream_port: u16,
) -> Result<TargetReport, Error> {
    let proxy_pin = if options.pin {
        Pin::Core(process::PROXY_CORE)
    } else {
        Pin::None
    };
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], upstream_port));
    let (measured, name) = match target {
        Target::Direct => {
            let spec = spec(options, loopback, vec![direct_request(upstream_port)]);
            (measure(options, &spec, None)?, target.name())
        }
        Target::Peer(peer) => {
            let Some(bin) = options.locations.peer(peer) else {
                return Ok(skipped(target, format!("{} binary not found", peer.name())));
            };
            let port = process::free_port()?;
            let peer_dir = dir.join(peer.name());
            let mut child = peers::start(peer, &bin, &peer_dir, port, upstream_port, proxy_pin)?;
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            let request = proxy_request("127.0.0.1", upstream_port, None);
            let measured = measure(options, &spec(options, addr, vec![request]), Some(&child));
            child.stop();
            (measured?, target.name())
        }
        Target::Edge => {
            if !options.edge_bin.is_file() {
                let why = format!("edge binary {} not found", options.edge_bin.display());
                return Ok(skipped(target, why));
            }
            let setup = edge::prepare(&dir.join("edge"), options.load.sessions, upstream_port)?;
            let mut child = edge::start(&options.edge_bin, &setup, proxy_pin)?;
            let requests = setup
                .tokens
                .iter()
                .map(|token| proxy_request(edge::UPSTREAM_HOST, upstream_port, Some(token)))
                .collect();
            let result = measure(options, &spec(options, setup.proxy, requests), Some(&child));
            let measured = result.map(|(mut m, responses)| {
                m.edge = Some(edge::collect(&setup, responses));
                (m, responses)
            });
            child.stop();
            (measured?, target.name())
        }
    };
    Ok(TargetReport {
        target: name.into(),
        skipped: None,
        measured: Some(measured.0),
    })
}

fn spec(options: &Options, addr: std::net::SocketAddr, requests: Vec<Arc<[u8]>>) -> Spec {
    Spec {
        addr,
        requests,
        connections: options.load.connections,
        rate: options.rate,
        max_requests: options.load.max_requests,
        request_timeout: options.load.request_timeout,
    }
}

/// Runs one load against `spec`, sampling the proxy's usage; returns the measurement and the
/// total number of complete responses (warm-up included).
fn measure(
    options: &Options,
    spec: &Spec,
    proxy: Option<&ChildProc>,
) -> Result<(Measured, u64), Error> {
    let phases = options.load.phases();
    let sampler = proxy.map(|child| Sampler::start(child.pid(), phases));
    let outcome = client::run_blocking(spec, phases)?;
    let usage = sampler.and_then(Sampler::finish);
    let window = phases.window().as_secs_f64();
    let measured = Measured::from_outcome(&outcome, window, usage);
    Ok((measured, outcome.responses_total))
}

/// An origin-form request straight to the upstream.
pub fn direct_request(port: u16) -> Arc<[u8]> {
    format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\n\r\n"
    )
    .into_bytes()
    .into()
}

/// An absolute-form request for a forward proxy, with a bearer token when given.
pub fn proxy_request(host: &str, port: u16, token: Option<&str>) -> Arc<[u8]> {
    let auth = token.map_or(String::new(), |t| {
        format!("Proxy-Authorization: Bearer {t}\r\n")
    });
    format!(
        "GET http://{host}:{port}/ HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}User-Agent: {USER_AGENT}\r\n\
         Accept: */*\r\n\r\n"
    )
    .into_bytes()
    .into()
}
