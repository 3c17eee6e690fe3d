//! The two peers doing the same interception: Envoy (CONNECT terminated into an internal
//! listener that terminates TLS with a leaf from our SDS server, injects the key from our SDS
//! server and re-originates TLS) and mitmdump (its own CA, an addon setting the header).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::peers;
use crate::process::{ChildProc, Pin, free_port};

/// The Envoy configuration template.
pub const ENVOY_TEMPLATE: &str = include_str!("../../peers/envoy-bump.yaml");
/// The mitmproxy addon template.
pub const MITM_ADDON: &str = include_str!("../../peers/mitm_inject.py");
/// How long a peer gets to start listening.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// Poll interval while waiting for mitmproxy's CA file.
const POLL: Duration = Duration::from_millis(50);

/// Where the peers' binaries are looked for: `<workspace>/.venv/bin/<name>`, then `PATH`.
pub fn venv_program(locations: &peers::Locations, name: &str) -> Option<PathBuf> {
    let venv = locations.workspace.join(".venv/bin").join(name);
    if venv.is_file() {
        return Some(venv);
    }
    locations.program(name)
}

/// What Envoy needs to know.
pub struct EnvoyFiles<'a> {
    /// Our SDS server's socket.
    pub sds_socket: &'a Path,
    /// The test CA the upstream's certificate chains to.
    pub upstream_ca: &'a Path,
    /// The upstream's port.
    pub upstream_port: u16,
    /// The upstream's name (SNI and the SAN checked).
    pub host: &'a str,
}

/// Starts Envoy (`--concurrency 1`) in `dir` listening on `port`; returns once the CONNECT
/// listener accepts. The internal listener serves only after the leaf arrived over SDS, so the
/// caller probes before measuring.
///
/// # Errors
/// Rendering, spawning or readiness failed.
pub fn start_envoy(
    bin: &Path,
    dir: &Path,
    port: u16,
    files: &EnvoyFiles,
    pin: Pin,
) -> Result<ChildProc, Error> {
    std::fs::create_dir_all(dir).map_err(Error::io("creating the envoy dir"))?;
    let admin = free_port()?;
    let yaml = peers::render(
        ENVOY_TEMPLATE,
        &[
            ("LISTEN_PORT", port.to_string()),
            ("ADMIN_PORT", admin.to_string()),
            ("UPSTREAM_PORT", files.upstream_port.to_string()),
            ("UPSTREAM_CA", files.upstream_ca.display().to_string()),
            ("SDS_SOCKET", files.sds_socket.display().to_string()),
            ("HOST", files.host.to_owned()),
        ],
    )?;
    let conf = dir.join("envoy-bump.yaml");
    std::fs::write(&conf, yaml).map_err(Error::io("writing envoy-bump.yaml"))?;
    let mut child = peers::spawn_envoy(bin, conf, &dir.join("envoy.out"), pin)?;
    child.wait_ready(SocketAddr::from(([127, 0, 0, 1], port)), READY_DEADLINE)?;
    Ok(child)
}

/// A running mitmdump and the CA certificate clients must trust.
pub struct Mitm {
    /// The process.
    pub child: ChildProc,
    /// mitmproxy's own CA certificate (PEM).
    pub ca_pem: String,
}

/// Starts mitmdump in `dir` on `port`, validating upstreams against `upstream_ca`, with the
/// addon that sets `x-api-key` to the contents of `key_file`.
///
/// # Errors
/// Rendering, spawning or readiness failed, or mitmproxy wrote no CA.
pub fn start_mitm(
    bin: &Path,
    dir: &Path,
    port: u16,
    upstream_ca: &Path,
    key_file: &Path,
    pin: Pin,
) -> Result<Mitm, Error> {
    let confdir = dir.join("conf");
    std::fs::create_dir_all(&confdir).map_err(Error::io("creating the mitmproxy dir"))?;
    let addon = dir.join("inject.py");
    let script = peers::render(MITM_ADDON, &[("KEY_FILE", key_file.display().to_string())])?;
    std::fs::write(&addon, script).map_err(Error::io("writing the mitmproxy addon"))?;
    let set = |k: &str, v: &str| -> [OsString; 2] { ["--set".into(), format!("{k}={v}").into()] };
    let mut args: Vec<OsString> = vec![
        "--listen-host".into(),
        "127.0.0.1".into(),
        "--listen-port".into(),
        port.to_string().into(),
        "-q".into(),
        "-s".into(),
        addon.into_os_string(),
    ];
    args.extend(set("confdir", &confdir.display().to_string()));
    args.extend(set(
        "ssl_verify_upstream_trusted_ca",
        &upstream_ca.display().to_string(),
    ));
    args.extend(set("http2", "false"));
    args.extend(set("termlog_verbosity", "error"));
    let mut child = ChildProc::spawn("mitmdump", bin, &args, &dir.join("mitmdump.out"), pin)?;
    child.wait_ready(SocketAddr::from(([127, 0, 0, 1], port)), READY_DEADLINE)?;
    let ca_file = confdir.join("mitmproxy-ca-cert.pem");
    let started = Instant::now();
    loop {
        if let Ok(ca_pem) = std::fs::read_to_string(&ca_file)
            && ca_pem.contains("END CERTIFICATE")
        {
            return Ok(Mitm { child, ca_pem });
        }
        if started.elapsed() > READY_DEADLINE {
            return Err(Error::Config(format!(
                "mitmproxy wrote no CA at {}",
                ca_file.display()
            )));
        }
        std::thread::sleep(POLL);
    }
}
