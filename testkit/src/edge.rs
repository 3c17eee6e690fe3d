//! An edge started in-process on port 0 with its own data dir, signing key, policies and a real
//! DNS server; tokens are minted with the same key its JWKS holds.

use crate::dns::DnsServer;
use edge_proxy::{Config, EdgeHandle};
use std::path::PathBuf;
use std::time::Duration;
use tempfile::TempDir;
use trust_core::token::{self, KeyAlgorithm, SigningKey};

/// Builds a test edge.
pub struct EdgeBuilder {
    policies: Vec<(String, String)>,
    extra_toml: String,
    static_hosts: Vec<(String, String)>,
    listen: Option<(u16, u16)>,
}

/// A running test edge.
pub struct TestEdge {
    /// The edge.
    pub handle: Option<EdgeHandle>,
    /// The key whose public half the edge trusts.
    pub key: SigningKey,
    /// Temporary data + policy dir (removed on drop).
    pub dir: TempDir,
    /// The real DNS server the edge resolves with.
    pub dns: DnsServer,
}

/// Starts building a test edge.
pub fn edge() -> EdgeBuilder {
    EdgeBuilder {
        policies: Vec::new(),
        extra_toml: String::new(),
        static_hosts: Vec::new(),
        listen: None,
    }
}

impl EdgeBuilder {
    /// Adds a policy file.
    pub fn policy(mut self, file: &str, yaml: &str) -> Self {
        self.policies.push((file.to_owned(), yaml.to_owned()));
        self
    }

    /// Appends raw TOML to the generated config (sections must not repeat the generated ones:
    /// `[proxy]`, `[tokens]`, `[resolver]`, `[audit]` are generated; use `proxy_toml` for proxy keys).
    pub fn toml(mut self, extra: &str) -> Self {
        self.extra_toml.push_str(extra);
        self.extra_toml.push('\n');
        self
    }

    /// Adds a static host entry to the edge's resolver.
    pub fn static_host(mut self, name: &str, addr: &str) -> Self {
        self.static_hosts.push((name.to_owned(), addr.to_owned()));
        self
    }

    /// Listens on these loopback ports instead of port 0 (for tests whose policy must name them).
    pub fn listen(mut self, proxy: u16, admin: u16) -> Self {
        self.listen = Some((proxy, admin));
        self
    }

    /// Starts the edge.
    pub async fn start(self) -> TestEdge {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let policy_dir = dir.path().join("policies");
        std::fs::create_dir_all(&policy_dir).unwrap();
        for (name, text) in &self.policies {
            std::fs::write(policy_dir.join(name), text).unwrap();
        }
        let key = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
        let jwks = serde_json::json!({ "keys": [key.public_jwk()] });
        let jwks_path = dir.path().join("jwks.json");
        std::fs::write(&jwks_path, jwks.to_string()).unwrap();
        let dns = DnsServer::start().await;
        let nameservers = format!("\"{}\"", dns.addr());
        let hosts: Vec<String> = self
            .static_hosts
            .iter()
            .map(|(n, a)| format!("\"{n}\" = [\"{a}\"]"))
            .collect();
        let text = format!(
            "data_dir = {data:?}\npolicy_dir = {pol:?}\n[proxy]\nlisten = \"127.0.0.1:{pp}\"\n{proxy_extra}\n[admin]\nlisten = \"127.0.0.1:{ap}\"\n[tokens]\njwks_file = {jwks:?}\n[resolver]\nuse_system_config = false\nnameservers = [{nameservers}]\ntimeout = \"2s\"\n[resolver.static_hosts]\n{hosts}\n[audit]\nstdout = false\n{audit_extra}\n{rest}",
            pp = self.listen.map_or(0, |l| l.0),
            ap = self.listen.map_or(0, |l| l.1),
            data = dir.path().join("data"),
            pol = policy_dir,
            jwks = jwks_path,
            hosts = hosts.join("\n"),
            proxy_extra = section(&self.extra_toml, "proxy"),
            audit_extra = section(&self.extra_toml, "audit"),
            rest = without_sections(&self.extra_toml, &["proxy", "audit"]),
        );
        let config = Config::from_toml(&text)
            .unwrap_or_else(|e| panic!("test config invalid: {e:?}\n{text}"));
        let handle = edge_proxy::run(config).await.unwrap();
        TestEdge {
            handle: Some(handle),
            key,
            dir,
            dns,
        }
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `key = value` lines of `[name]` in `toml` (for merging into a generated section).
fn section(toml: &str, name: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in toml.lines() {
        if line.trim_start().starts_with('[') {
            inside = line.trim() == format!("[{name}]");
            continue;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn without_sections(toml: &str, names: &[&str]) -> String {
    let mut out = String::new();
    let mut skip = false;
    for line in toml.lines() {
        if line.trim_start().starts_with('[') {
            skip = names.iter().any(|n| line.trim() == format!("[{n}]"));
        }
        if !skip {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

impl TestEdge {
    /// The running edge.
    pub fn handle(&self) -> &EdgeHandle {
        self.handle.as_ref().unwrap()
    }

    /// A valid token for `session` with `profile`.
    pub fn token(&self, profile: &str, session: &str) -> String {
        token::issue(
            &self.key,
            "trust-edge",
            "trust-edge-egress",
            session,
            "tenant-a",
            profile,
            Duration::from_secs(600),
        )
        .unwrap()
    }

    /// `http://127.0.0.1:PORT` of the proxy.
    pub fn proxy_url(&self) -> String {
        format!("http://{}", self.handle().proxy_addr())
    }

    /// Every audit line written so far, parsed.
    pub async fn audit(&self) -> Vec<serde_json::Value> {
        self.handle().flush_audit().await;
        let path: PathBuf = self.dir.path().join("data").join("audit.log");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Stops the edge.
    pub async fn stop(mut self) {
        if let Some(h) = self.handle.take() {
            h.stop().await;
        }
    }
}
