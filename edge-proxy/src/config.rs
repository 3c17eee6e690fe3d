//! The edge's configuration: the TOML file model and the validated [`Config`].
//!
//! Every key is optional and defaults to [`crate::defaults`]; unknown keys are errors. Relative
//! paths are taken from the directory the process runs in.

mod bump;

pub use bump::{BumpConfig, BumpSection, CaSource, SecretsConfig, SecretsSection};

use crate::defaults;
use crate::resolver::ResolverConfig;
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;
use trust_core::audit::AuditConfig;
use trust_core::token::{KeyAlgorithm, KeySource};

/// The config file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Data directory (dev signing key, JWKS, audit log).
    pub data_dir: Option<PathBuf>,
    /// Directory of policy files.
    pub policy_dir: Option<PathBuf>,
    /// The proxy listener and its per-connection bounds.
    #[serde(default)]
    pub proxy: ProxySection,
    /// The admin listener.
    #[serde(default)]
    pub admin: AdminSection,
    /// Session-token verification.
    #[serde(default)]
    pub tokens: TokenSection,
    /// The edge's own resolver.
    #[serde(default)]
    pub resolver: ResolverSection,
    /// The audit log.
    #[serde(default)]
    pub audit: AuditSection,
    /// Operator additions to the mandatory deny-set.
    #[serde(default)]
    pub deny_set: DenySetSection,
    /// The control plane this edge follows (keys, revocations, deny-all).
    #[serde(default)]
    pub control: ControlSection,
    /// The bump rung: the deployment CA and upstream validation.
    #[serde(default)]
    pub bump: BumpSection,
    /// Where injected credentials come from.
    #[serde(default)]
    pub secrets: SecretsSection,
}

/// `[control]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSection {
    /// `https://host:port` (TLS with control's CA pinned) or `unix:/path/to/socket`.
    pub url: Option<String>,
    /// Directory with `ca.pem` (control's CA), `edge.pem` and `edge.key` (this edge's client
    /// certificate); required for an https URL.
    pub tls_dir: Option<PathBuf>,
    /// This edge's name in control's `GET /v1/edges` (default: the proxy listen address).
    pub edge_id: Option<String>,
    /// With no word from control for this long, the edge refuses everything (`edge_not_ready`).
    pub staleness_window: Option<String>,
}

/// `[proxy]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySection {
    /// Listen address, e.g. `127.0.0.1:3128`.
    pub listen: Option<String>,
    /// Time allowed for a request head after its first byte, e.g. `10s`.
    pub header_read_timeout: Option<String>,
    /// Idle time allowed between requests on a kept-alive connection.
    pub keepalive_idle_timeout: Option<String>,
    /// Largest request head in bytes.
    pub max_head_bytes: Option<usize>,
    /// Cap on connections that have not yet authenticated.
    pub max_unauthenticated_connections: Option<usize>,
    /// Upstream TCP connect timeout.
    pub connect_timeout: Option<String>,
    /// Longest wait on an upstream that makes no progress (forwarded requests).
    pub upstream_timeout: Option<String>,
    /// Time allowed for a tunnel's ClientHello.
    pub client_hello_timeout: Option<String>,
}

/// `[admin]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Listen address, e.g. `127.0.0.1:9901`.
    pub listen: Option<String>,
}

/// `[tokens]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSection {
    /// A JWKS file (default: `<data_dir>/jwks.json`, written by `trust-edge up`).
    pub jwks_file: Option<PathBuf>,
    /// A JWKS URL (instead of a file).
    pub jwks_url: Option<String>,
    /// Expected `iss`.
    pub issuer: Option<String>,
    /// Expected `aud`.
    pub audience: Option<String>,
    /// Accepted algorithms: `EdDSA`, `ES256`.
    pub algorithms: Option<Vec<String>>,
    /// Clock skew tolerated, e.g. `30s`.
    pub leeway: Option<String>,
}

/// `[resolver]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolverSection {
    /// Nameservers as `ip:port` (UDP and TCP).
    pub nameservers: Option<Vec<String>>,
    /// Also use the system's resolv.conf.
    pub use_system_config: Option<bool>,
    /// Static name → addresses entries: they map names, they grant nothing.
    pub static_hosts: Option<HashMap<String, Vec<IpAddr>>>,
    /// Lower clamp on answer TTLs.
    pub min_ttl: Option<String>,
    /// Upper clamp on answer TTLs.
    pub max_ttl: Option<String>,
    /// Per-query timeout.
    pub timeout: Option<String>,
    /// Tries per query.
    pub attempts: Option<usize>,
    /// How long a negative answer (NXDOMAIN, no records) is cached.
    pub negative_ttl: Option<String>,
    /// Answers cached.
    pub cache_size: Option<usize>,
}

/// `[audit]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    /// File name inside the data dir.
    pub file: Option<String>,
    /// Also copy each line to stdout.
    pub stdout: Option<bool>,
    /// Rotate when the file would exceed this many bytes.
    pub max_file_bytes: Option<u64>,
    /// Rotated files kept.
    pub max_files: Option<usize>,
    /// Events queued for the writer before they are counted as dropped.
    pub queue_capacity: Option<usize>,
    /// How often the checkpoint (`audit.head`) is rewritten.
    pub checkpoint_interval: Option<String>,
}

/// `[deny_set]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenySetSection {
    /// Extra CIDRs to deny (additive only).
    pub additions: Option<Vec<String>>,
}

/// A validated configuration: parsed types, defaults applied.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Policy directory.
    pub policy_dir: PathBuf,
    /// Proxy listen address.
    pub proxy_listen: SocketAddr,
    /// Admin listen address.
    pub admin_listen: SocketAddr,
    /// Head deadline after the first byte.
    pub header_read_timeout: Duration,
    /// Keep-alive idle bound.
    pub keepalive_idle_timeout: Duration,
    /// Largest request head.
    pub max_head_bytes: usize,
    /// Cap on unauthenticated connections.
    pub max_unauthenticated_connections: usize,
    /// Upstream connect timeout.
    pub connect_timeout: Duration,
    /// Longest wait on an upstream of a forwarded request that sends nothing (or accepts none of
    /// the request body): `504 upstream_timeout` before the response starts, the client
    /// connection closed after.
    pub upstream_timeout: Duration,
    /// ClientHello deadline in tunnels.
    pub client_hello_timeout: Duration,
    /// Where verification keys come from.
    pub key_source: KeySource,
    /// Expected issuer.
    pub issuer: String,
    /// Expected audience.
    pub audience: String,
    /// Accepted algorithms.
    pub algorithms: Vec<KeyAlgorithm>,
    /// Clock skew tolerated.
    pub leeway: Duration,
    /// The resolver's settings.
    pub resolver: ResolverConfig,
    /// The audit log's settings.
    pub audit: AuditConfig,
    /// Operator deny-set additions.
    pub deny_additions: Vec<IpNet>,
    /// The control plane to follow, if any: then its pushed JWKS is the only key source.
    pub control: Option<ControlConfig>,
    /// The bump rung, when a CA is configured (without one, a policy with a `bump` rule is
    /// refused).
    pub bump: Option<BumpConfig>,
    /// The SDS server holding injected credentials, if any (without one, every injection is
    /// `credential_unavailable`).
    pub secrets: Option<SecretsConfig>,
}

/// A validated `[control]` section.
#[derive(Debug, Clone)]
pub struct ControlConfig {
    /// Where control's sync service is.
    pub url: String,
    /// Client certificate and pinned CA (https only).
    pub tls_dir: Option<PathBuf>,
    /// This edge's name.
    pub edge_id: String,
    /// How long without a word from control before refusing everything.
    pub staleness_window: Duration,
}

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Dotted key path, e.g. `proxy.listen`.
    pub path: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "{line}:{column}: {}", self.message),
            _ => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

impl Config {
    /// Parses and validates TOML text; `Err` lists every issue found.
    ///
    /// # Errors
    /// The first syntax error, or every semantic issue, each with its key path.
    pub fn from_toml(text: &str) -> Result<Config, Vec<ConfigIssue>> {
        let file: FileConfig = toml::from_str(text).map_err(|e| {
            let (line, column) =
                trust_core::position::line_column(text, e.span().map_or(0, |s| s.start));
            let message = e.message().to_owned();
            vec![ConfigIssue {
                path: "(file)".into(),
                line: Some(line),
                column: Some(column),
                message,
            }]
        })?;
        validate(file)
    }

    /// Reads and validates a config file.
    ///
    /// # Errors
    /// The file could not be read, or [`Config::from_toml`] failed.
    pub fn load(path: &Path) -> Result<Config, Vec<ConfigIssue>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![ConfigIssue {
                path: path.display().to_string(),
                line: None,
                column: None,
                message: e.to_string(),
            }]
        })?;
        Config::from_toml(&text)
    }
}

/// Turns the file model into a [`Config`], collecting every issue.
///
/// # Errors
/// Every invalid value, sorted by key path.
pub fn validate(file: FileConfig) -> Result<Config, Vec<ConfigIssue>> {
    let mut issues = Vec::new();
    let mut issue = |path: &str, message: String| {
        issues.push(ConfigIssue {
            path: path.into(),
            line: None,
            column: None,
            message,
        });
    };
    let addr = |issue: &mut dyn FnMut(&str, String), path: &str, v: Option<&str>, d: &str| {
        let text = v.unwrap_or(d);
        text.parse::<SocketAddr>().unwrap_or_else(|_| {
            issue(path, format!("`{text}` is not an ip:port address"));
            SocketAddr::from(([127, 0, 0, 1], 0))
        })
    };
    let dur = |issue: &mut dyn FnMut(&str, String), path: &str, v: Option<&str>, d: Duration| {
        v.map_or(d, |text| {
            humantime::parse_duration(text).unwrap_or_else(|_| {
                issue(
                    path,
                    format!("`{text}` is not a duration like `10s` or `5m`"),
                );
                d
            })
        })
    };
    let data_dir = file
        .data_dir
        .unwrap_or_else(|| PathBuf::from(defaults::DATA_DIR));
    let proxy_listen = addr(
        &mut issue,
        "proxy.listen",
        file.proxy.listen.as_deref(),
        defaults::PROXY_LISTEN,
    );
    let admin_listen = addr(
        &mut issue,
        "admin.listen",
        file.admin.listen.as_deref(),
        defaults::ADMIN_LISTEN,
    );
    let p = &file.proxy;
    let header_read_timeout = dur(
        &mut issue,
        "proxy.header_read_timeout",
        p.header_read_timeout.as_deref(),
        defaults::HEADER_READ_TIMEOUT,
    );
    let keepalive_idle_timeout = dur(
        &mut issue,
        "proxy.keepalive_idle_timeout",
        p.keepalive_idle_timeout.as_deref(),
        defaults::KEEPALIVE_IDLE_TIMEOUT,
    );
    let connect_timeout = dur(
        &mut issue,
        "proxy.connect_timeout",
        p.connect_timeout.as_deref(),
        defaults::CONNECT_TIMEOUT,
    );
    let upstream_timeout = dur(
        &mut issue,
        "proxy.upstream_timeout",
        p.upstream_timeout.as_deref(),
        defaults::UPSTREAM_TIMEOUT,
    );
    let client_hello_timeout = dur(
        &mut issue,
        "proxy.client_hello_timeout",
        p.client_hello_timeout.as_deref(),
        defaults::CLIENT_HELLO_TIMEOUT,
    );
    for (path, d) in [
        ("proxy.header_read_timeout", header_read_timeout),
        ("proxy.keepalive_idle_timeout", keepalive_idle_timeout),
        ("proxy.connect_timeout", connect_timeout),
        ("proxy.upstream_timeout", upstream_timeout),
        ("proxy.client_hello_timeout", client_hello_timeout),
    ] {
        if d.is_zero() {
            issue(
                path,
                "must be greater than zero (nothing here is unlimited)".into(),
            );
        }
    }
    let max_head_bytes = p.max_head_bytes.unwrap_or(defaults::MAX_HEAD_BYTES);
    if !(1024..=1024 * 1024).contains(&max_head_bytes) {
        issue(
            "proxy.max_head_bytes",
            format!("{max_head_bytes} is outside 1024..=1048576"),
        );
    }
    let max_unauthenticated_connections = p
        .max_unauthenticated_connections
        .unwrap_or(defaults::MAX_UNAUTHENTICATED_CONNECTIONS);
    if max_unauthenticated_connections == 0 {
        issue(
            "proxy.max_unauthenticated_connections",
            "must be at least 1".into(),
        );
    }
    let t = &file.tokens;
    let key_source = match (&t.jwks_file, &t.jwks_url) {
        (Some(_), Some(_)) => {
            issue("tokens", "set jwks_file or jwks_url, not both".into());
            KeySource::File(data_dir.join("jwks.json"))
        }
        (_, Some(url))
            if !(url.starts_with("https://")
                || url.starts_with("http://127.")
                || url.starts_with("http://localhost")) =>
        {
            issue(
                "tokens.jwks_url",
                format!("`{url}` must be https (plain http only on loopback)"),
            );
            KeySource::Url(url.clone())
        }
        (_, Some(url)) => KeySource::Url(url.clone()),
        (Some(f), None) => KeySource::File(f.clone()),
        (None, None) => KeySource::File(data_dir.join("jwks.json")),
    };
    let algorithms = match &t.algorithms {
        None => vec![KeyAlgorithm::EdDSA, KeyAlgorithm::Es256],
        Some(list) => list
            .iter()
            .filter_map(|a| match a.as_str() {
                "EdDSA" => Some(KeyAlgorithm::EdDSA),
                "ES256" => Some(KeyAlgorithm::Es256),
                other => {
                    issue(
                        "tokens.algorithms",
                        format!("`{other}` is not supported (EdDSA, ES256)"),
                    );
                    None
                }
            })
            .collect(),
    };
    if algorithms.is_empty() {
        issue(
            "tokens.algorithms",
            "at least one algorithm is required".into(),
        );
    }
    let leeway = dur(
        &mut issue,
        "tokens.leeway",
        t.leeway.as_deref(),
        defaults::TOKEN_LEEWAY,
    );
    if leeway > Duration::from_secs(300) {
        issue(
            "tokens.leeway",
            "more than 5m of skew would keep expired tokens alive".into(),
        );
    }
    let r = &file.resolver;
    let mut resolver = ResolverConfig::default();
    if let Some(list) = &r.nameservers {
        resolver.nameservers = list
            .iter()
            .filter_map(|s| {
                s.parse::<SocketAddr>()
                    .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                    .map_err(|_| {
                        issue(
                            "resolver.nameservers",
                            format!("`{s}` is not an ip or ip:port"),
                        )
                    })
                    .ok()
            })
            .collect();
    }
    if let Some(v) = r.use_system_config {
        resolver.use_system_config = v;
    }
    if let Some(hosts) = &r.static_hosts {
        for (name, addrs) in hosts {
            match policies::parse_authority(name, Some(443)) {
                Ok((policies::Destination::Name(normal), _)) => {
                    resolver.static_hosts.insert(normal, addrs.clone());
                }
                _ => issue(
                    "resolver.static_hosts",
                    format!("`{name}` is not a host name"),
                ),
            }
        }
    }
    resolver.min_ttl = dur(
        &mut issue,
        "resolver.min_ttl",
        r.min_ttl.as_deref(),
        resolver.min_ttl,
    );
    resolver.max_ttl = dur(
        &mut issue,
        "resolver.max_ttl",
        r.max_ttl.as_deref(),
        resolver.max_ttl,
    );
    resolver.timeout = dur(
        &mut issue,
        "resolver.timeout",
        r.timeout.as_deref(),
        resolver.timeout,
    );
    if let Err(e) = resolver.validate() {
        issue("resolver", e.to_string());
    }
    let a = &file.audit;
    let mut audit = AuditConfig::new(data_dir.clone());
    audit.file_name = a
        .file
        .clone()
        .unwrap_or_else(|| defaults::AUDIT_FILE.to_owned());
    audit.stdout = a.stdout.unwrap_or(false);
    if let Some(v) = a.max_file_bytes {
        audit.max_file_bytes = v;
    }
    if let Some(v) = a.max_files {
        audit.max_files = v;
    }
    if let Some(v) = a.queue_capacity {
        audit.queue_capacity = v;
    }
    audit.checkpoint_interval = dur(
        &mut issue,
        "audit.checkpoint_interval",
        a.checkpoint_interval.as_deref(),
        audit.checkpoint_interval,
    );
    let deny_additions = file
        .deny_set
        .additions
        .unwrap_or_default()
        .iter()
        .filter_map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| issue("deny_set.additions", format!("`{s}` is not a CIDR")))
                .ok()
        })
        .collect();
    let c = &file.control;
    let staleness_window = dur(
        &mut issue,
        "control.staleness_window",
        c.staleness_window.as_deref(),
        defaults::STALENESS_WINDOW,
    );
    let control = match &c.url {
        None => {
            if c.tls_dir.is_some() || c.edge_id.is_some() {
                issue("control.url", "control settings given without a url".into());
            }
            None
        }
        Some(url) => {
            if url.starts_with("https://") && c.tls_dir.is_none() {
                issue(
                    "control.tls_dir",
                    "an https control url needs tls_dir (ca.pem, edge.pem, edge.key)".into(),
                );
            } else if !url.starts_with("https://") && !url.starts_with("unix:") {
                issue(
                    "control.url",
                    format!(
                        "`{url}` must be https://host:port or unix:/path (control is never trusted over plain TCP)"
                    ),
                );
            }
            if staleness_window.is_zero() {
                issue(
                    "control.staleness_window",
                    "must be greater than zero".into(),
                );
            }
            Some(ControlConfig {
                url: url.clone(),
                tls_dir: c.tls_dir.clone(),
                edge_id: c
                    .edge_id
                    .clone()
                    .unwrap_or_else(|| proxy_listen.to_string()),
                staleness_window,
            })
        }
    };
    let (bump, secrets) = bump::validate(&file.bump, &file.secrets, &mut issue);
    let policy_dir = file
        .policy_dir
        .unwrap_or_else(|| PathBuf::from(defaults::POLICY_DIR));
    if !issues.is_empty() {
        issues.sort_by(|a, b| a.path.cmp(&b.path));
        return Err(issues);
    }
    Ok(Config {
        data_dir,
        policy_dir,
        proxy_listen,
        admin_listen,
        header_read_timeout,
        keepalive_idle_timeout,
        max_head_bytes,
        max_unauthenticated_connections,
        connect_timeout,
        upstream_timeout,
        client_hello_timeout,
        key_source,
        issuer: t
            .issuer
            .clone()
            .unwrap_or_else(|| defaults::TOKEN_ISSUER.to_owned()),
        audience: t
            .audience
            .clone()
            .unwrap_or_else(|| defaults::TOKEN_AUDIENCE.to_owned()),
        algorithms,
        leeway,
        resolver,
        audit,
        deny_additions,
        control,
        bump,
        secrets,
    })
}

#[cfg(test)]
mod tests;
