//! The trust-edge side of the run: our SDS server (`trust-edge sds-server`, a file source
//! holding the API key and the leaf Envoy serves), and `trust-edge edge-proxy` with a `bump`
//! rule that injects the key, a `pass-through` rule, and bump rules for the cold-cache names
//! (files, tokens and the child come from `edge.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::edge;
use crate::error::Error;
use crate::process::{ChildProc, Pin, free_port};

/// The bumped, injected host.
pub const API_HOST: &str = "api.bench.test";
/// The pass-through host (same upstream).
pub const PASS_HOST: &str = "pass.bench.test";
/// The secret's name on the SDS server.
pub const KEY_SECRET: &str = "api-key";
/// The leaf (for [`API_HOST`], from the deployment CA) Envoy gets from the SDS server.
pub const LEAF_SECRET: &str = "bump-leaf";
/// How long a child gets to start listening.
const READY_DEADLINE: Duration = Duration::from_secs(30);

/// The name of cold-cache host `i`.
pub fn cold_host(i: usize) -> String {
    format!("h{i}.bench.test")
}

/// A running SDS server child.
pub struct Sds {
    /// Its Unix socket.
    pub socket: PathBuf,
    _child: ChildProc,
}

/// Writes the file source (the key, the leaf, the manifest) and starts `<bin> sds-server`.
///
/// # Errors
/// A file could not be written or the server did not come up.
pub fn start_sds(
    bin: &Path,
    dir: &Path,
    secret: &str,
    leaf: &trust_ca::Leaf,
) -> Result<Sds, Error> {
    let files = dir.join("secrets");
    std::fs::create_dir_all(&files).map_err(Error::io("creating the SDS files dir"))?;
    let write = |name: &str, text: &str| {
        std::fs::write(files.join(name), text).map_err(Error::io(format!("writing {name}")))
    };
    write("api-key", secret)?;
    write("leaf.crt", &leaf.cert_pem)?;
    write("leaf.key", leaf.key_pem.as_str())?;
    write(
        "manifest.yaml",
        &format!(
            "secrets:\n  - {{name: {KEY_SECRET}, kind: generic_secret, file: api-key}}\n  - {{name: \
             {LEAF_SECRET}, kind: tls_certificate, certificate: leaf.crt, private_key: leaf.key}}\n"
        ),
    )?;
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let data = dir.join("data");
    let config = dir.join("sds.toml");
    let toml = format!(
        "data_dir = {:?}\nadmin_listen = \"{admin}\"\n[files]\ndir = {:?}\n",
        data.display().to_string(),
        files.display().to_string(),
    );
    std::fs::write(&config, toml).map_err(Error::io("writing the SDS config"))?;
    let args = [
        "sds-server".into(),
        "--config".into(),
        config.into_os_string(),
    ];
    let mut child = ChildProc::spawn("sds-server", bin, &args, &dir.join("sds.out"), Pin::None)?;
    child.wait_ready(admin, READY_DEADLINE)?;
    Ok(Sds {
        socket: data.join("sds.sock"),
        _child: child,
    })
}

/// What the edge is configured with.
pub struct EdgeFiles<'a> {
    /// The deployment CA directory.
    pub ca_dir: &'a Path,
    /// The test CA the upstream's certificate chains to.
    pub upstream_ca: &'a Path,
    /// The SDS server's socket.
    pub sds_socket: &'a Path,
    /// The upstream's port.
    pub upstream_port: u16,
    /// Bump rules (no injection) for `h0..h{cold_hosts}.bench.test`.
    pub cold_hosts: usize,
    /// `[bump] leaf_cache_size`: 1 makes every handshake for a new name a mint.
    pub leaf_cache_size: usize,
    /// Session tokens to issue.
    pub sessions: usize,
}

/// The edge config: loopback listeners, the JWKS file, static hosts for every bench name, the
/// deployment CA and the SDS server, audit to a file only.
pub fn config_toml(dir: &Path, proxy: SocketAddr, admin: SocketAddr, files: &EdgeFiles) -> String {
    let cold: Vec<String> = (0..files.cold_hosts).map(cold_host).collect();
    let mut hosts = vec![API_HOST, PASS_HOST];
    hosts.extend(cold.iter().map(String::as_str));
    let extra = format!(
        "\n[bump]\nca_dir = {:?}\nupstream_ca_file = {:?}\nleaf_cache_size = {}\n\
         \n[secrets]\nsds = \"unix:{}\"\n",
        files.ca_dir.display().to_string(),
        files.upstream_ca.display().to_string(),
        files.leaf_cache_size,
        files.sds_socket.display(),
    );
    edge::config_toml_with(dir, proxy, admin, &hosts, &extra)
}

/// The load policy: [`API_HOST`] bumped with the key injected as `x-api-key`, [`PASS_HOST`]
/// passed through, the cold names bumped without injection; all pinned to 127.0.0.1 on the
/// upstream port, limits far above the offered load.
pub fn policy_yaml(upstream_port: u16, cold_hosts: usize) -> String {
    let mut destinations = edge::destination(
        API_HOST,
        upstream_port,
        &format!(
            "      rung: bump\n      inject: [{{secret: {KEY_SECRET}, header: {}}}]\n",
            super::origin::KEY_HEADER
        ),
    );
    destinations.push_str(&edge::destination(
        PASS_HOST,
        upstream_port,
        "      rung: pass-through\n",
    ));
    for i in 0..cold_hosts {
        destinations.push_str(&edge::destination(
            &cold_host(i),
            upstream_port,
            "      rung: bump\n",
        ));
    }
    edge::profile_yaml(&destinations)
}

/// Writes config, policy and JWKS into `dir` and issues one token per session (at least one).
///
/// # Errors
/// A file could not be written, a port found, or a token issued.
pub fn prepare(dir: &Path, files: &EdgeFiles) -> Result<edge::Setup, Error> {
    let policy = policy_yaml(files.upstream_port, files.cold_hosts);
    let tokens = edge::Tokens {
        sessions: files.sessions.max(1),
        subject_prefix: "bump",
    };
    edge::prepare_with(dir, &policy, tokens, |proxy, admin| {
        config_toml(dir, proxy, admin, files)
    })
}

/// The edge's bump counters, read from its admin `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BumpCounters {
    /// `trust_edge_proxy_leaf_mints_total`.
    pub leaf_mints: Option<u64>,
    /// `trust_edge_proxy_leaf_cache_hits_total`.
    pub leaf_cache_hits: Option<u64>,
    /// `trust_edge_proxy_bump_handshakes_total` (every result).
    pub bump_handshakes: Option<u64>,
    /// `trust_edge_proxy_injections_total`.
    pub injections: Option<u64>,
    /// `trust_edge_proxy_audit_dropped_total`.
    pub audit_dropped: Option<u64>,
}

/// Scrapes the counters (all `None` when the admin does not answer).
pub fn counters(admin: SocketAddr) -> BumpCounters {
    let text = edge::scrape_metrics(admin).unwrap_or_default();
    let value = |name: &str| edge::metric_value(&text, name);
    BumpCounters {
        leaf_mints: value("trust_edge_proxy_leaf_mints_total"),
        leaf_cache_hits: value("trust_edge_proxy_leaf_cache_hits_total"),
        bump_handshakes: value("trust_edge_proxy_bump_handshakes_total"),
        injections: value("trust_edge_proxy_injections_total"),
        audit_dropped: value(edge::metric::AUDIT_DROPPED),
    }
}
