//! Control's configuration: [`FileConfig`] mirrors the TOML file, [`validate`] turns it into a
//! [`Config`] of parsed values with every default applied, and reports every issue at once.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use trust_core::token::KeyAlgorithm;

use crate::defaults;

/// The validated configuration `run` starts from.
#[derive(Debug, Clone)]
pub struct Config {
    /// Database, signing keys (`keys/`), the sync CA (`pki/`) and API tokens (`api-tokens/`).
    pub data_dir: PathBuf,
    /// The policy directory; a session's profile must exist in it.
    pub policy_dir: PathBuf,
    /// HTTP API address (`127.0.0.1:0` picks a free port).
    pub api_listen: SocketAddr,
    /// Sync (gRPC over mutual TLS) address.
    pub sync_listen: SocketAddr,
    /// An optional Unix socket for edges on this host (no TLS; mode 0600).
    pub sync_socket: Option<PathBuf>,
    /// The proxy URL returned with each session.
    pub proxy_url: String,
    /// The algorithm of new signing keys.
    pub key_algorithm: KeyAlgorithm,
    /// How long a key signs before a scheduled rotation.
    pub key_rotation_interval: Duration,
    /// A session's lifetime when the request names none.
    pub default_session_ttl: Duration,
    /// The longest session a request may ask for.
    pub max_session_ttl: Duration,
    /// Skew added to `exp` before a key leaves the JWKS or a revocation is forgotten.
    pub token_leeway: Duration,
    /// Heartbeat period on every sync stream.
    pub heartbeat_interval: Duration,
    /// How often due rotations and expired keys are handled.
    pub maintenance_interval: Duration,
    /// Changes kept for resuming edges.
    pub change_retention: u64,
    /// The `iss` of every token.
    pub issuer: String,
    /// The `aud` of every egress token.
    pub audience: String,
    /// Create one orchestrator and one operator API token on first run.
    pub bootstrap_api_tokens: bool,
    /// The deployment CA bundle (PEM) sandboxes must trust for bumped TLS; when set, every
    /// `POST /v1/sessions` answer carries it as `ca_certificate`. Read on each request, so a
    /// rotated bundle is handed out at once. `None`: no bump rung, no field.
    pub bump_ca_bundle: Option<PathBuf>,
}

impl Config {
    /// Every default, with these directories.
    pub fn new(data_dir: impl Into<PathBuf>, policy_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            policy_dir: policy_dir.into(),
            api_listen: parse_default(defaults::API_LISTEN),
            sync_listen: parse_default(defaults::SYNC_LISTEN),
            sync_socket: None,
            proxy_url: defaults::PROXY_URL.to_owned(),
            key_algorithm: KeyAlgorithm::EdDSA,
            key_rotation_interval: defaults::KEY_ROTATION_INTERVAL,
            default_session_ttl: defaults::SESSION_TTL,
            max_session_ttl: defaults::MAX_SESSION_TTL,
            token_leeway: defaults::TOKEN_LEEWAY,
            heartbeat_interval: defaults::HEARTBEAT_INTERVAL,
            maintenance_interval: defaults::MAINTENANCE_INTERVAL,
            change_retention: defaults::CHANGE_RETENTION,
            issuer: trust_core::token::defaults::ISSUER.to_owned(),
            audience: trust_core::token::defaults::AUDIENCE.to_owned(),
            bootstrap_api_tokens: true,
            bump_ca_bundle: None,
        }
    }

    /// The defaults with both listeners on `127.0.0.1:0` (tests, and `trust-edge up` when the
    /// ports do not matter).
    pub fn ephemeral(data_dir: impl Into<PathBuf>, policy_dir: impl Into<PathBuf>) -> Config {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        Config {
            api_listen: loopback,
            sync_listen: loopback,
            ..Config::new(data_dir, policy_dir)
        }
    }
}

fn parse_default(text: &str) -> SocketAddr {
    text.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// The TOML file, every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FileConfig {
    /// See [`Config::data_dir`].
    pub data_dir: Option<PathBuf>,
    /// See [`Config::policy_dir`].
    pub policy_dir: Option<PathBuf>,
    /// See [`Config::proxy_url`].
    pub proxy_url: Option<String>,
    /// See [`Config::bump_ca_bundle`].
    pub bump_ca_bundle: Option<PathBuf>,
    /// `[api]`.
    #[serde(default)]
    pub api: FileApi,
    /// `[sync]`.
    #[serde(default)]
    pub sync: FileSync,
    /// `[sessions]`.
    #[serde(default)]
    pub sessions: FileSessions,
    /// `[keys]`.
    #[serde(default)]
    pub keys: FileKeys,
}

/// `[api]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FileApi {
    /// `listen = "127.0.0.1:7070"`.
    pub listen: Option<String>,
}

/// `[sync]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FileSync {
    /// `listen = "127.0.0.1:7071"`.
    pub listen: Option<String>,
    /// `unix_socket = "/run/trust-edge/control.sock"`.
    pub unix_socket: Option<PathBuf>,
    /// `heartbeat_interval = "1s"`.
    pub heartbeat_interval: Option<String>,
    /// `change_retention = 100000`.
    pub change_retention: Option<u64>,
}

/// `[sessions]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FileSessions {
    /// `default_ttl = "8h"`.
    pub default_ttl: Option<String>,
    /// `max_ttl = "24h"`.
    pub max_ttl: Option<String>,
}

/// `[keys]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct FileKeys {
    /// `algorithm = "EdDSA"` or `"ES256"`.
    pub algorithm: Option<String>,
    /// `rotation_interval = "30days"`.
    pub rotation_interval: Option<String>,
    /// `maintenance_interval = "1m"`.
    pub maintenance_interval: Option<String>,
}

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The key, e.g. `sessions.max_ttl`.
    pub path: String,
    /// What is wrong, naming the value.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Checks every value and applies the defaults.
///
/// # Errors
/// Every issue found, sorted by path.
pub fn validate(file: FileConfig) -> Result<Config, Vec<ConfigIssue>> {
    let mut issues = Vec::new();
    let mut config = Config::new(
        file.data_dir
            .unwrap_or_else(|| PathBuf::from(defaults::DATA_DIR)),
        file.policy_dir
            .unwrap_or_else(|| PathBuf::from(defaults::POLICY_DIR)),
    );
    let mut issue = |path: &str, message: String| {
        issues.push(ConfigIssue {
            path: path.to_owned(),
            message,
        });
    };
    if let Some(listen) = file.api.listen {
        match listen.parse() {
            Ok(addr) => config.api_listen = addr,
            Err(_) => issue("api.listen", format!("{listen:?} is not an ip:port")),
        }
    }
    if let Some(listen) = file.sync.listen {
        match listen.parse() {
            Ok(addr) => config.sync_listen = addr,
            Err(_) => issue("sync.listen", format!("{listen:?} is not an ip:port")),
        }
    }
    if let Some(path) = file.sync.unix_socket {
        if path.is_absolute() {
            config.sync_socket = Some(path);
        } else {
            issue(
                "sync.unix_socket",
                format!("{} is not an absolute path", path.display()),
            );
        }
    }
    if let Some(path) = file.bump_ca_bundle {
        if path.as_os_str().is_empty() {
            issue("bump_ca_bundle", "must name a file".to_owned());
        } else {
            config.bump_ca_bundle = Some(path);
        }
    }
    if let Some(url) = file.proxy_url {
        if url.starts_with("http://") || url.starts_with("https://") {
            config.proxy_url = url;
        } else {
            issue("proxy_url", format!("{url:?} is not an http(s) url"));
        }
    }
    let mut duration = |path: &str, value: Option<String>, target: &mut Duration| {
        if let Some(text) = value {
            match humantime::parse_duration(&text) {
                Ok(d) if !d.is_zero() => *target = d,
                Ok(_) => issue(path, format!("{text:?} must be positive")),
                Err(e) => issue(path, format!("{text:?} is not a duration: {e}")),
            }
        }
    };
    duration(
        "sync.heartbeat_interval",
        file.sync.heartbeat_interval,
        &mut config.heartbeat_interval,
    );
    duration(
        "sessions.default_ttl",
        file.sessions.default_ttl,
        &mut config.default_session_ttl,
    );
    duration(
        "sessions.max_ttl",
        file.sessions.max_ttl,
        &mut config.max_session_ttl,
    );
    duration(
        "keys.rotation_interval",
        file.keys.rotation_interval,
        &mut config.key_rotation_interval,
    );
    duration(
        "keys.maintenance_interval",
        file.keys.maintenance_interval,
        &mut config.maintenance_interval,
    );
    if let Some(retention) = file.sync.change_retention {
        if retention == 0 {
            issue("sync.change_retention", "0 must be positive".to_owned());
        } else {
            config.change_retention = retention;
        }
    }
    if let Some(alg) = file.keys.algorithm {
        match KeyAlgorithm::from_jwa(&alg) {
            Some(alg) => config.key_algorithm = alg,
            None => issue("keys.algorithm", format!("{alg:?} is not EdDSA or ES256")),
        }
    }
    if config.max_session_ttl > defaults::MAX_SESSION_TTL {
        issue(
            "sessions.max_ttl",
            format!(
                "{} exceeds the 24h ceiling",
                humantime::format_duration(config.max_session_ttl)
            ),
        );
    }
    if config.default_session_ttl > config.max_session_ttl {
        issue(
            "sessions.default_ttl",
            format!(
                "{} exceeds sessions.max_ttl",
                humantime::format_duration(config.default_session_ttl)
            ),
        );
    }
    if issues.is_empty() {
        Ok(config)
    } else {
        issues.sort_by(|a, b| a.path.cmp(&b.path));
        Err(issues)
    }
}

#[cfg(test)]
mod tests;
