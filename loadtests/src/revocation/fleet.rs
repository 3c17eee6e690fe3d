//! The watching edges: one `trust-edge edge-proxy` child per edge, each with its own config,
//! data dir and client certificate, following the in-process control over mutual TLS.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::Error;
use crate::edge::UPSTREAM_HOST;
use crate::process::{ChildProc, Pin, free_port};

/// The profile the load sessions run under.
pub(crate) const PROFILE: &str = "revocation-load";
/// A nameserver the edge never queries ([`UPSTREAM_HOST`] is a static host); the resolver
/// refuses an empty list. The discard port on loopback fails fast if it were ever asked.
const UNUSED_NAMESERVER: &str = "127.0.0.1:9";
/// How long an edge gets to listen.
const LISTEN_DEADLINE: Duration = Duration::from_secs(30);

/// Where an edge finds control.
pub(crate) struct ControlLink<'a> {
    /// control's sync URL (`https://127.0.0.1:port`).
    pub(crate) url: &'a str,
    /// Directory with control's CA and this edge's client certificate.
    pub(crate) tls_dir: &'a Path,
    /// The edge's name in control's `GET /v1/edges`.
    pub(crate) edge_id: &'a str,
}

/// The load profile: [`UPSTREAM_HOST`] on `ports`, pinned to 127.0.0.1 by an exact-address
/// rule, pass-through, limits far above what the scenario offers, tunnels idle for an hour.
pub(crate) fn policy_yaml(ports: &[u16]) -> String {
    let ports = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "apiVersion: trust-edge/v1\n\
         kind: EgressProfile\n\
         metadata: {{name: {PROFILE}}}\n\
         spec:\n\
         \x20 limits: {{requests_per_second: 1000000, burst: 1000000, max_connections: 4096,\n\
         \x20          tunnel_idle_timeout: 1h, tunnel_max_lifetime: 2h}}\n\
         \x20 destinations:\n\
         \x20   - host: {UPSTREAM_HOST}\n\
         \x20     ports: [{ports}]\n\
         \x20     addresses: [127.0.0.1]\n\
         \x20     rung: pass-through\n"
    )
}

/// One edge's config: listeners on loopback, a static host for [`UPSTREAM_HOST`], no system
/// resolver, audit to its data dir only, and `[control]` (its pushed JWKS is the only key
/// source, so there is no `[tokens]`).
pub(crate) fn config_toml(
    dir: &Path,
    policy_dir: &Path,
    proxy: SocketAddr,
    admin: SocketAddr,
    control: &ControlLink<'_>,
) -> String {
    let d = dir.display();
    format!(
        "data_dir = \"{d}/data\"\n\
         policy_dir = \"{}\"\n\
         \n[proxy]\nlisten = \"{proxy}\"\n\
         \n[admin]\nlisten = \"{admin}\"\n\
         \n[resolver]\nuse_system_config = false\n\
         nameservers = [\"{UNUSED_NAMESERVER}\"]\n\
         \n[resolver.static_hosts]\n\"{UPSTREAM_HOST}\" = [\"127.0.0.1\"]\n\
         \n[audit]\nstdout = false\n\
         \n[control]\nurl = \"{}\"\ntls_dir = \"{}\"\nedge_id = \"{}\"\n",
        policy_dir.display(),
        control.url,
        control.tls_dir.display(),
        control.edge_id,
    )
}

/// A running edge.
pub(crate) struct Edge {
    /// `edge-NN`.
    pub(crate) name: String,
    /// Its proxy listener.
    pub(crate) proxy: SocketAddr,
    child: ChildProc,
}

/// Writes each edge's files under `root/edge-NN/` and starts `count` edges, then waits
/// (bounded) until each listens. Readiness to decide is the caller's poll.
pub(crate) fn start(
    bin: &Path,
    root: &Path,
    policy_dir: &Path,
    count: usize,
    control: &control::ControlHandle,
) -> Result<Vec<Edge>, Error> {
    let url = control.sync_url();
    let mut edges = Vec::with_capacity(count);
    for index in 0..count {
        let name = format!("edge-{index:02}");
        let dir: PathBuf = root.join(&name);
        let tls_dir = dir.join("tls");
        std::fs::create_dir_all(dir.join("data")).map_err(Error::io("creating an edge dir"))?;
        control
            .issue_edge_cert(&name, &tls_dir)
            .map_err(|e| Error::Config(format!("{name} certificate: {e}")))?;
        let proxy = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let admin = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let link = ControlLink {
            url: &url,
            tls_dir: &tls_dir,
            edge_id: &name,
        };
        let config = dir.join("edge.toml");
        std::fs::write(&config, config_toml(&dir, policy_dir, proxy, admin, &link))
            .map_err(Error::io("writing an edge config"))?;
        let args: [OsString; 5] = [
            "edge-proxy".into(),
            "--config".into(),
            config.into_os_string(),
            "--log".into(),
            "warn".into(),
        ];
        let child = ChildProc::spawn(&name, bin, &args, &dir.join("edge.out"), Pin::None)?;
        edges.push(Edge { name, proxy, child });
    }
    for edge in &mut edges {
        edge.child.wait_ready(edge.proxy, LISTEN_DEADLINE)?;
    }
    Ok(edges)
}

/// Waits (bounded by `deadline`) until every edge serves `request` (a GET with a live session's
/// token): until then an edge answers `edge_not_ready` (no snapshot from control yet).
pub(crate) async fn wait_serving(
    edges: &[Edge],
    request: &[u8],
    deadline: Instant,
) -> Result<(), Error> {
    for edge in edges {
        super::probe::poll_until(
            edge.proxy,
            request,
            super::probe::Expect::Served,
            Duration::from_millis(20),
            deadline,
        )
        .await
        .map_err(|e| Error::Config(format!("{} never became ready: {e}", edge.name)))?;
    }
    Ok(())
}

/// Stops every edge (SIGTERM, then SIGKILL after a grace), all at once.
pub(crate) async fn stop(edges: Vec<Edge>) {
    let mut stopping = tokio::task::JoinSet::new();
    for mut edge in edges {
        stopping.spawn_blocking(move || edge.child.stop());
    }
    while stopping.join_next().await.is_some() {}
}
