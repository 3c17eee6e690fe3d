//! The trust-edge target: a generated config, policy and JWKS, one token per session, the
//! `trust-edge edge-proxy` child, and the edge's own counters after the run (token cache,
//! audit events, audit lines written). `bump-inject` builds its edge from the same pieces
//! ([`config_toml_with`], [`profile_yaml`], [`destination`], [`prepare_with`]).

#[cfg(test)]
mod tests;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use trust_core::token::{self, Jwks, KeyAlgorithm, SigningKey};

use crate::error::Error;
use crate::process::{ChildProc, Pin};

/// The name every edge request targets; the edge maps it to 127.0.0.1 by a static host entry.
pub const UPSTREAM_HOST: &str = "upstream.test";
/// A nameserver the edge never queries: `upstream.test` is a static host, answered before any
/// lookup, but the edge's resolver refuses to start with no nameserver at all. The discard port
/// on loopback fails fast if it were ever asked.
const UNUSED_NAMESERVER: &str = "127.0.0.1:9";
/// The profile (policy name) the load sessions run under.
pub const PROFILE: &str = "load";
/// The audit log's file name inside the edge's data dir.
const AUDIT_FILE: &str = "audit.log";
/// Token lifetime: longer than any run.
const TOKEN_TTL: Duration = Duration::from_secs(3600);
/// How long the edge gets to start listening.
const READY_DEADLINE: Duration = Duration::from_secs(20);
/// How long the audit writer gets to catch up with the responses served.
const AUDIT_SETTLE: Duration = Duration::from_secs(10);
/// Interval between audit-log polls.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Bound on one admin request.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest admin response read.
const MAX_METRICS_BYTES: u64 = 4 * 1024 * 1024;

/// Metric names the edge exports on its admin `/metrics`.
pub mod metric {
    /// Token verifications served from the cache.
    pub const TOKEN_CACHE_HITS: &str = "trust_edge_proxy_token_cache_hits_total";
    /// Token verifications that checked a signature.
    pub const TOKEN_CACHE_MISSES: &str = "trust_edge_proxy_token_cache_misses_total";
    /// Audit events written.
    pub const AUDIT_EVENTS: &str = "trust_edge_proxy_audit_events_total";
    /// Audit events dropped (queue full).
    pub const AUDIT_DROPPED: &str = "trust_edge_proxy_audit_dropped_total";
}

/// A prepared edge: its files, ports and session tokens.
pub struct Setup {
    /// The directory holding config, policy, JWKS and data.
    pub dir: PathBuf,
    /// The generated config file.
    pub config: PathBuf,
    /// The proxy listener.
    pub proxy: SocketAddr,
    /// The admin listener.
    pub admin: SocketAddr,
    /// One token per session; never logged.
    pub tokens: Vec<String>,
}

impl Setup {
    /// The directory holding the audit log (`audit.log`, rotated `audit.log.N`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
}

/// The edge's counters after a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EdgeExtras {
    /// Token verifications answered from the cache.
    pub token_cache_hits: Option<u64>,
    /// Token verifications that checked a signature.
    pub token_cache_misses: Option<u64>,
    /// Audit events the edge counted as written.
    pub audit_events: Option<u64>,
    /// Audit events the edge dropped.
    pub audit_dropped: Option<u64>,
    /// Lines in the audit log.
    pub audit_lines: Option<u64>,
    /// Complete responses the load generator received from the edge (warm-up included).
    pub responses_served: u64,
}

/// The edge config: every listener on loopback, the JWKS file, a static host for
/// [`UPSTREAM_HOST`], no system resolver, audit to `<dir>/data/audit.log` only.
pub fn config_toml(dir: &Path, proxy: SocketAddr, admin: SocketAddr) -> String {
    config_toml_with(dir, proxy, admin, &[UPSTREAM_HOST], "")
}

/// The edge config every scenario shares: listeners on `proxy` and `admin`, the JWKS file and
/// policies under `dir`, `hosts` as static hosts on 127.0.0.1 and no system resolver, audit to
/// `<dir>/data/audit.log` only; then `extra` (further sections) verbatim.
pub fn config_toml_with(
    dir: &Path,
    proxy: SocketAddr,
    admin: SocketAddr,
    hosts: &[&str],
    extra: &str,
) -> String {
    let d = dir.display();
    let hosts: String = hosts
        .iter()
        .map(|host| format!("\"{host}\" = [\"127.0.0.1\"]\n"))
        .collect();
    format!(
        "data_dir = \"{d}/data\"\n\
         policy_dir = \"{d}/policies\"\n\
         \n[proxy]\nlisten = \"{proxy}\"\n\
         \n[admin]\nlisten = \"{admin}\"\n\
         \n[tokens]\njwks_file = \"{d}/jwks.json\"\n\
         \n[resolver]\nuse_system_config = false\n\
         # never queried (static hosts answer first); the resolver refuses an empty list\n\
         nameservers = [\"{UNUSED_NAMESERVER}\"]\n\
         \n[resolver.static_hosts]\n{hosts}\
         \n[audit]\nstdout = false\n{extra}"
    )
}

/// The load policy: [`UPSTREAM_HOST`] on the upstream port, pinned to 127.0.0.1, limits far
/// above the offered load.
pub fn policy_yaml(upstream_port: u16) -> String {
    profile_yaml(&destination(
        UPSTREAM_HOST,
        upstream_port,
        "      rung: pass-through\n",
    ))
}

/// The [`PROFILE`] policy with limits far above any offered load and `destinations` (rules
/// rendered by [`destination`]).
pub fn profile_yaml(destinations: &str) -> String {
    format!(
        "apiVersion: trust-edge/v1\n\
         kind: EgressProfile\n\
         metadata: {{name: {PROFILE}}}\n\
         spec:\n\
         \x20 limits: {{requests_per_second: 1000000, burst: 1000000, max_connections: 4096}}\n\
         \x20 destinations:\n{destinations}"
    )
}

/// One destination rule: `host` on `port`, pinned to 127.0.0.1, then `rest` (the rung and
/// anything after it, as indented YAML lines).
pub fn destination(host: &str, port: u16, rest: &str) -> String {
    format!("    - host: {host}\n      ports: [{port}]\n      addresses: [127.0.0.1]\n{rest}")
}

/// Writes config, policy and JWKS into `dir` and issues one EdDSA token per session
/// (`load-0`, `load-1`, ...).
///
/// # Errors
/// A file could not be written, a port found, or a token issued.
pub fn prepare(dir: &Path, sessions: usize, upstream_port: u16) -> Result<Setup, Error> {
    let tokens = Tokens {
        sessions,
        subject_prefix: "load",
    };
    prepare_with(dir, &policy_yaml(upstream_port), tokens, |proxy, admin| {
        config_toml(dir, proxy, admin)
    })
}

/// The sessions an edge issues tokens for.
#[derive(Debug, Clone, Copy)]
pub struct Tokens<'a> {
    /// How many (one token each).
    pub sessions: usize,
    /// Session `i` is `<subject_prefix>-<i>`.
    pub subject_prefix: &'a str,
}

/// Writes `policy` (as the [`PROFILE`] policy), the config `config` renders for the proxy and
/// admin listeners it is given, and a fresh JWKS into `dir`; issues one EdDSA token per session
/// under [`PROFILE`].
///
/// # Errors
/// A file could not be written, a port found, or a token issued.
pub fn prepare_with(
    dir: &Path,
    policy: &str,
    tokens: Tokens<'_>,
    config: impl FnOnce(SocketAddr, SocketAddr) -> String,
) -> Result<Setup, Error> {
    std::fs::create_dir_all(dir.join("data")).map_err(Error::io("creating the edge data dir"))?;
    std::fs::create_dir_all(dir.join("policies"))
        .map_err(Error::io("creating the edge policy dir"))?;
    let proxy = SocketAddr::from(([127, 0, 0, 1], crate::process::free_port()?));
    let admin = SocketAddr::from(([127, 0, 0, 1], crate::process::free_port()?));
    let key = SigningKey::generate(KeyAlgorithm::EdDSA).map_err(|e| Error::Token(e.to_string()))?;
    let jwks = Jwks::from_signing_keys([&key]).to_value();
    std::fs::write(dir.join("jwks.json"), jwks.to_string())
        .map_err(Error::io("writing the edge jwks"))?;
    std::fs::write(dir.join("policies/load.yaml"), policy)
        .map_err(Error::io("writing the edge policy"))?;
    let config_path = dir.join("edge.toml");
    std::fs::write(&config_path, config(proxy, admin))
        .map_err(Error::io("writing the edge config"))?;
    let tokens = (0..tokens.sessions)
        .map(|i| {
            token::issue(
                &key,
                token::defaults::ISSUER,
                token::defaults::AUDIENCE,
                &format!("{}-{i}", tokens.subject_prefix),
                "load",
                PROFILE,
                TOKEN_TTL,
            )
            .map_err(|e| Error::Token(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Setup {
        dir: dir.to_owned(),
        config: config_path,
        proxy,
        admin,
        tokens,
    })
}

/// Starts `<bin> edge-proxy --config <config> --log warn` (warnings only, as the peers run
/// without access logs) and waits until the proxy listens.
///
/// # Errors
/// Spawning or readiness failed.
pub fn start(bin: &Path, setup: &Setup, pin: Pin) -> Result<ChildProc, Error> {
    let args = [
        "edge-proxy".into(),
        "--config".into(),
        setup.config.clone().into_os_string(),
        "--log".into(),
        "warn".into(),
    ];
    let mut child = ChildProc::spawn("edge", bin, &args, &setup.dir.join("edge.out"), pin)?;
    child.wait_ready(setup.proxy, READY_DEADLINE)?;
    Ok(child)
}

/// Waits (bounded) until the audit log holds `responses_served` lines or stops growing, then
/// reads the edge's counters from its admin `/metrics`.
pub fn collect(setup: &Setup, responses_served: u64) -> EdgeExtras {
    let data = setup.data_dir();
    let started = Instant::now();
    let mut lines = audit_lines(&data);
    while lines.is_none_or(|n| n < responses_served) && started.elapsed() < AUDIT_SETTLE {
        std::thread::sleep(POLL_INTERVAL);
        lines = audit_lines(&data);
    }
    let metrics = scrape_metrics(setup.admin).unwrap_or_default();
    let value = |name: &str| metric_value(&metrics, name);
    EdgeExtras {
        token_cache_hits: value(metric::TOKEN_CACHE_HITS),
        token_cache_misses: value(metric::TOKEN_CACHE_MISSES),
        audit_events: value(metric::AUDIT_EVENTS),
        audit_dropped: value(metric::AUDIT_DROPPED),
        audit_lines: lines,
        responses_served,
    }
}

/// Lines in `audit.log` and its rotated siblings `audit.log.N` in `dir`, or `None` if there is
/// no `audit.log`.
pub fn audit_lines(dir: &Path) -> Option<u64> {
    let current = count_lines(&dir.join(AUDIT_FILE))?;
    let rotated: u64 = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .and_then(|name| name.strip_prefix(AUDIT_FILE)?.strip_prefix('.'))
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .filter_map(|entry| count_lines(&entry.path()))
        .sum();
    Some(current + rotated)
}

/// The log's own bookkeeping records (rotation, gap) start with this; they are not decisions.
const OWN_RECORD: &[u8] = b"{\"class_uid\":0,";

/// Newline-terminated decision lines in `path` (the log's own `class_uid` 0 records are not
/// counted), or `None` if it cannot be read.
pub fn count_lines(path: &Path) -> Option<u64> {
    let file = std::fs::File::open(path).ok()?;
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, file);
    let mut line = Vec::with_capacity(1024);
    let mut lines = 0u64;
    loop {
        line.clear();
        let n = std::io::BufRead::read_until(&mut reader, b'\n', &mut line).ok()?;
        if n == 0 {
            return Some(lines);
        }
        if line.last() == Some(&b'\n') && !line.starts_with(OWN_RECORD) {
            lines += 1;
        }
    }
}

/// `GET /metrics` from the admin listener; the body as text.
///
/// # Errors
/// Connecting, writing or reading failed, or the status was not 200.
pub fn scrape_metrics(admin: SocketAddr) -> Result<String, Error> {
    let mut stream = TcpStream::connect_timeout(&admin, ADMIN_TIMEOUT)
        .map_err(Error::io("connecting to the edge admin"))?;
    stream
        .set_read_timeout(Some(ADMIN_TIMEOUT))
        .map_err(Error::io("setting the admin read timeout"))?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {admin}\r\nConnection: close\r\n\r\n"
    )
    .map_err(Error::io("writing the metrics request"))?;
    let mut raw = Vec::new();
    stream
        .take(MAX_METRICS_BYTES)
        .read_to_end(&mut raw)
        .map_err(Error::io("reading the metrics response"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| Error::Config("admin /metrics answered without a header block".into()))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        let status = head.lines().next().unwrap_or_default();
        return Err(Error::Config(format!("admin /metrics answered `{status}`")));
    }
    // A chunked body interleaves size lines; they never look like `name value` samples with
    // our metric names, so the parser below skips them.
    Ok(body.to_owned())
}

/// The sum over every label set of the Prometheus sample `name`, or `None` if absent.
pub fn metric_value(text: &str, name: &str) -> Option<u64> {
    let mut total: Option<f64> = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let value = if let Some(labelled) = rest.strip_prefix('{') {
            labelled.split_once('}').map(|(_, v)| v)
        } else {
            rest.starts_with(' ').then_some(rest)
        };
        if let Some(v) = value.and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok()) {
            *total.get_or_insert(0.0) += v;
        }
    }
    total.map(|t| t.max(0.0).round() as u64)
}
