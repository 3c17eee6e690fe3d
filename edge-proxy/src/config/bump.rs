//! `[bump]` and `[secrets]`: the deployment CA the bump rung mints leaves from, how the edge
//! validates upstreams it re-originates TLS to, and the SDS server holding injected credentials.

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// `[bump]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BumpSection {
    /// Directory of the deployment CA (`ca.pem`, `ca.key`, `bundle.pem`), as `trust-edge ca init`
    /// or `trust-edge up` creates it.
    pub ca_dir: Option<PathBuf>,
    /// Or: the name of a `tls_certificate` secret on the SDS server of `[secrets]` holding the CA.
    pub ca_secret: Option<String>,
    /// Lifetime of a minted leaf, e.g. `24h`.
    pub leaf_validity: Option<String>,
    /// Leaves kept in memory (least recently used are dropped).
    pub leaf_cache_size: Option<usize>,
    /// Also offer TLS 1.2 to sandboxes (TLS 1.3 always).
    pub tls12: Option<bool>,
    /// A PEM bundle of CAs trusted for upstreams in addition to the system roots.
    pub upstream_ca_file: Option<PathBuf>,
    /// Warn (log + metric) when the CA expires within this long.
    pub ca_expiry_warning: Option<String>,
}

/// `[secrets]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSection {
    /// The SDS server: `unix:/path/to/sds.sock`.
    pub sds: Option<String>,
    /// The node id the edge presents (it can only narrow what its identity may read).
    pub node_id: Option<String>,
}

/// Where the deployment CA comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSource {
    /// A directory with `ca.pem`, `ca.key` and `bundle.pem`.
    Dir(PathBuf),
    /// A `tls_certificate` secret of this name on the SDS server.
    Secret(String),
}

/// A validated `[bump]` section: present only when a CA is configured.
#[derive(Debug, Clone)]
pub struct BumpConfig {
    /// The CA.
    pub ca: CaSource,
    /// Leaf lifetime.
    pub leaf_validity: Duration,
    /// Leaf cache capacity.
    pub leaf_cache_size: usize,
    /// Whether TLS 1.2 is offered to sandboxes.
    pub tls12: bool,
    /// Extra upstream roots.
    pub upstream_ca_file: Option<PathBuf>,
    /// Expiry warning window.
    pub ca_expiry_warning: Duration,
}

/// A validated `[secrets]` section.
#[derive(Debug, Clone)]
pub struct SecretsConfig {
    /// The SDS server's Unix socket.
    pub sds_socket: PathBuf,
    /// Node id.
    pub node_id: String,
}

/// Default leaf lifetime.
pub(crate) const LEAF_VALIDITY: Duration = Duration::from_secs(24 * 3600);
/// Default leaf cache capacity.
pub(crate) const LEAF_CACHE_SIZE: usize = 10_000;
/// Default CA expiry warning window.
pub(crate) const CA_EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);

/// Validates `[bump]` and `[secrets]`, reporting problems through `issue`.
pub(crate) fn validate(
    bump: &BumpSection,
    secrets: &SecretsSection,
    issue: &mut dyn FnMut(&str, String),
) -> (Option<BumpConfig>, Option<SecretsConfig>) {
    let secrets_config = match &secrets.sds {
        None => {
            if secrets.node_id.is_some() {
                issue("secrets.sds", "secrets settings given without `sds`".into());
            }
            None
        }
        Some(text) => match text.strip_prefix("unix:") {
            Some(path) if !path.is_empty() => Some(SecretsConfig {
                sds_socket: PathBuf::from(path),
                node_id: secrets
                    .node_id
                    .clone()
                    .unwrap_or_else(|| "trust-edge".to_owned()),
            }),
            _ => {
                issue(
                    "secrets.sds",
                    format!("`{text}` must be unix:/path/to/sds.sock"),
                );
                None
            }
        },
    };
    let duration = |issue: &mut dyn FnMut(&str, String), path: &str, v: &Option<String>, d| {
        v.as_deref()
            .map_or(d, |text| match humantime::parse_duration(text) {
                Ok(v) if !v.is_zero() => v,
                _ => {
                    issue(
                        path,
                        format!("`{text}` is not a duration above zero like `24h`"),
                    );
                    d
                }
            })
    };
    let leaf_validity = duration(
        issue,
        "bump.leaf_validity",
        &bump.leaf_validity,
        LEAF_VALIDITY,
    );
    if leaf_validity > Duration::from_secs(7 * 24 * 3600) {
        issue(
            "bump.leaf_validity",
            "leaves are short-lived: at most 7d".into(),
        );
    }
    let ca_expiry_warning = duration(
        issue,
        "bump.ca_expiry_warning",
        &bump.ca_expiry_warning,
        CA_EXPIRY_WARNING,
    );
    let leaf_cache_size = bump.leaf_cache_size.unwrap_or(LEAF_CACHE_SIZE);
    if leaf_cache_size == 0 {
        issue("bump.leaf_cache_size", "must be at least 1".into());
    }
    let ca = match (&bump.ca_dir, &bump.ca_secret) {
        (Some(_), Some(_)) => {
            issue("bump", "set ca_dir or ca_secret, not both".into());
            None
        }
        (Some(dir), None) => Some(CaSource::Dir(dir.clone())),
        (None, Some(name)) => {
            if secrets_config.is_none() {
                issue(
                    "bump.ca_secret",
                    "a CA from the SDS server needs [secrets] sds".into(),
                );
            }
            Some(CaSource::Secret(name.clone()))
        }
        (None, None) => {
            if bump.upstream_ca_file.is_some()
                || bump.leaf_validity.is_some()
                || bump.leaf_cache_size.is_some()
                || bump.tls12.is_some()
            {
                issue(
                    "bump",
                    "bump settings given without a CA (ca_dir or ca_secret)".into(),
                );
            }
            None
        }
    };
    let bump_config = ca.map(|ca| BumpConfig {
        ca,
        leaf_validity,
        leaf_cache_size,
        tls12: bump.tls12.unwrap_or(true),
        upstream_ca_file: bump.upstream_ca_file.clone(),
        ca_expiry_warning,
    });
    (bump_config, secrets_config)
}
