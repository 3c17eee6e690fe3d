//! The harness: an SDS server on a temp dir with a file source, helpers to write secrets the
//! way operators and Kubernetes do, and readers for `/metrics`, `/debug/sds` and the audit log.

pub mod certs;
pub mod echo;
pub mod envoy;
pub mod grpc;
pub mod process;
pub mod vault;

use sds_server::access::Grant;
use sds_server::config::FilesConfig;
use sds_server::{Config, SdsHandle};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trust_core::audit::{AuditConfig, AuditLog, AuditWriter};

/// Installs the ring provider (ignoring "already installed").
pub fn crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A server's directory layout and config, before it starts.
pub struct Setup {
    pub dir: TempDir,
    pub config: Config,
}

impl Setup {
    /// A config on a fresh temp dir: Unix socket in `data/`, admin on port 0, a file source on
    /// `secrets/` with a 30 ms debounce and a 100 ms rescan.
    pub fn new() -> Setup {
        crypto();
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("data"));
        config.admin_listen = "127.0.0.1:0".parse().unwrap();
        let secrets = dir.path().join("secrets");
        std::fs::create_dir_all(&secrets).unwrap();
        let mut files = FilesConfig::new(&secrets);
        files.debounce = Duration::from_millis(30);
        files.rescan_interval = Duration::from_millis(100);
        config.files = Some(files);
        Setup { dir, config }
    }

    pub fn secrets_dir(&self) -> PathBuf {
        self.dir.path().join("secrets")
    }

    pub fn grants(mut self, grants: Vec<Grant>) -> Setup {
        self.config.grants = grants;
        self
    }

    /// Writes `name` in the secrets dir atomically (temp file + rename).
    pub fn write(&self, name: &str, contents: &str) {
        write_atomic(&self.secrets_dir(), name, contents);
    }

    /// Writes the manifest (YAML).
    pub fn manifest(&self, yaml: &str) {
        self.write("manifest.yaml", yaml);
    }

    pub async fn start(self) -> Server {
        let audit_dir = self.dir.path().join("audit");
        let (audit, writer) = trust_core::audit::start(AuditConfig::new(&audit_dir)).unwrap();
        let handle = sds_server::run(self.config.clone(), audit.clone())
            .await
            .unwrap();
        Server {
            handle: Some(handle),
            secrets: self.secrets_dir(),
            audit,
            _writer: writer,
            audit_dir,
            config: self.config,
            dir: self.dir,
        }
    }
}

/// Writes `dir/name` atomically: a temp file in the same dir, then a rename.
pub fn write_atomic(dir: &Path, name: &str, contents: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

/// A running server and its files.
pub struct Server {
    pub handle: Option<SdsHandle>,
    pub secrets: PathBuf,
    pub audit: AuditLog,
    _writer: AuditWriter,
    pub audit_dir: PathBuf,
    pub config: Config,
    pub dir: TempDir,
}

impl Server {
    pub fn handle(&self) -> &SdsHandle {
        self.handle.as_ref().unwrap()
    }

    pub fn socket(&self) -> PathBuf {
        self.handle().socket_path().unwrap().to_path_buf()
    }

    pub fn write(&self, name: &str, contents: &str) {
        write_atomic(&self.secrets, name, contents);
    }

    /// The value of one sample in `/metrics` (0 when absent), e.g.
    /// `trust_edge_sds_nacks_total{api="sotw"}`.
    pub fn metric(&self, sample: &str) -> f64 {
        metric(&self.handle().metrics_text(), sample)
    }

    pub fn debug(&self) -> serde_json::Value {
        serde_json::from_str(&self.handle().debug_json()).unwrap()
    }

    /// Every audit line written so far.
    pub async fn audit_lines(&self) -> Vec<serde_json::Value> {
        self.audit.flush().await.unwrap();
        std::fs::read_to_string(self.audit_dir.join("audit.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Stops the server (keeping the directory for a restart).
    pub async fn stop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.stop().await;
        }
    }

    /// Starts a new server on the same config and directory.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.handle = Some(
            sds_server::run(self.config.clone(), self.audit.clone())
                .await
                .unwrap(),
        );
    }
}

/// The value of `sample` in Prometheus text (0 when absent).
pub fn metric(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(sample)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}

/// Polls `check` every 20 ms until it returns `Some`, panicking after `deadline` with `what`.
pub async fn eventually<T>(
    what: &str,
    deadline: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An HTTP/1.1 GET with `Connection: close`; returns status and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"),
    )
    .await
}

/// Sends a raw HTTP/1.x request (the server must close the connection) and parses the answer,
/// decoding a chunked body.
pub async fn http_request(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut tcp = connect(addr).await;
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return (status, body.to_owned());
    }
    let mut decoded = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        decoded.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    (status, decoded)
}

/// Connects to `addr`, retrying refusals for up to 10 s (a listener Envoy just reported may not
/// accept for a moment).
pub async fn connect(addr: SocketAddr) -> tokio::net::TcpStream {
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(tcp) => return tcp,
            Err(e) => assert!(
                tokio::time::Instant::now() < end,
                "cannot connect to {addr}: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A manifest with one generic secret per `(name, file)`.
pub fn generic_manifest(entries: &[(&str, &str)]) -> String {
    let mut yaml = String::from("secrets:\n");
    for (name, file) in entries {
        yaml.push_str(&format!(
            "  - {{name: {name}, kind: generic_secret, file: {file}}}\n"
        ));
    }
    yaml
}
