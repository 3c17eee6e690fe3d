//! The SDS server's configuration: the TOML file model ([`FileConfig`]) and the validated
//! [`Config`]. Every key is optional except what a configured source needs; unknown keys are
//! errors. Relative paths are taken from the data dir (listener files) or the file source's
//! directory (manifest).

mod file;
mod validate;

pub use file::{
    AppRoleSection, AwsSection, FileConfig, FilesSection, GrantSection, SecretSection,
    SecretSourceSection, TcpSection, UnixSection, VaultSection,
};
pub use validate::validate;

use crate::access::Grant;
use crate::defaults;
use crate::secret::SecretKind;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A validated configuration: parsed types, defaults applied.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data directory: the Unix socket lives here.
    pub data_dir: PathBuf,
    /// The Unix socket (mode 0600), or `None` to serve TCP only.
    pub unix_socket: Option<PathBuf>,
    /// The TCP listener, if any.
    pub tcp: Option<TcpConfig>,
    /// Where `/metrics` and `/debug/sds` listen.
    pub admin_listen: SocketAddr,
    /// Who may read what. Empty: the server's own uid may read every secret over the Unix
    /// socket, and nobody else anything.
    pub grants: Vec<Grant>,
    /// The watched directory source.
    pub files: Option<FilesConfig>,
    /// The Vault connection, for secrets with a `vault` source.
    pub vault: Option<VaultConfig>,
    /// The AWS connection, for secrets with an `aws` source.
    pub aws: Option<AwsConfig>,
    /// Secrets served from Vault or AWS (file secrets are named in the manifest).
    pub secrets: Vec<SecretSpec>,
    /// Leaves minted from the deployment CA and served as `tls_certificate` secrets, for Envoy
    /// fleets that bump TLS themselves.
    pub minted_leaves: Option<MintedLeavesConfig>,
    /// HTTP/2 streams one connection may carry.
    pub max_streams_per_connection: u32,
    /// Tests only, never from a file: serve content without our checks (to see what a real
    /// Envoy does with content it rejects).
    pub skip_content_checks: bool,
}

impl Config {
    /// A config with every default: the Unix socket in `data_dir`, admin on
    /// [`defaults::ADMIN_LISTEN`], no TCP listener, no sources. `trust-edge up` starts from this
    /// and adds the file source.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        let data_dir = data_dir.into();
        Config {
            unix_socket: Some(data_dir.join(defaults::UNIX_SOCKET)),
            data_dir,
            tcp: None,
            admin_listen: defaults::ADMIN_LISTEN,
            grants: Vec::new(),
            files: None,
            vault: None,
            aws: None,
            secrets: Vec::new(),
            minted_leaves: None,
            max_streams_per_connection: defaults::MAX_STREAMS_PER_CONNECTION,
            skip_content_checks: false,
        }
    }

    /// The config `trust-edge up` embeds: [`Config::new`] plus the file source on
    /// `<data_dir>/secrets` (call [`FilesConfig::prepare`] before [`run`](crate::run)).
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Config {
        let mut config = Config::new(data_dir);
        config.files = Some(FilesConfig::new(config.data_dir.join("secrets")));
        config
    }

    /// Parses and validates TOML text; `Err` lists every issue found.
    ///
    /// # Errors
    /// The first syntax error, or every semantic issue, each with its key path.
    pub fn from_toml(text: &str) -> Result<Config, Vec<ConfigIssue>> {
        let file: FileConfig = toml::from_str(text).map_err(|e| {
            let (line, column) =
                trust_core::position::line_column(text, e.span().map_or(0, |s| s.start));
            vec![ConfigIssue {
                path: "(file)".into(),
                line: Some(line),
                column: Some(column),
                message: e.message().to_owned(),
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

/// The TCP listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// TLS with a required client certificate; `None` only for plain loopback TCP
    /// (`insecure_loopback = true`, checked at validation).
    pub tls: Option<TlsConfig>,
}

/// The TCP listener's TLS material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM certificate chain of the server.
    pub cert: PathBuf,
    /// PEM private key of the server.
    pub key: PathBuf,
    /// PEM CA bundle that client certificates must chain to.
    pub client_ca: PathBuf,
}

/// The watched directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesConfig {
    /// The directory.
    pub dir: PathBuf,
    /// The manifest (relative paths are inside `dir`).
    pub manifest: PathBuf,
    /// Quiet time after the last event before re-reading.
    pub debounce: Duration,
    /// Re-read everything this often even without events.
    pub rescan_interval: Duration,
}

impl FilesConfig {
    /// A file source on `dir` with the default manifest name and timings.
    pub fn new(dir: impl Into<PathBuf>) -> FilesConfig {
        let dir = dir.into();
        FilesConfig {
            manifest: dir.join(defaults::MANIFEST),
            dir,
            debounce: defaults::DEBOUNCE,
            rescan_interval: defaults::RESCAN_INTERVAL,
        }
    }
}

impl FilesConfig {
    /// Creates the directory (mode 0700) and an empty manifest if they are missing, so a fresh
    /// `trust-edge up` has a place to drop secrets. Existing files are left alone.
    ///
    /// # Errors
    /// The directory or the manifest cannot be created.
    pub fn prepare(&self) -> std::io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        if !self.manifest.exists() {
            std::fs::write(&self.manifest, EMPTY_MANIFEST)?;
        }
        Ok(())
    }
}

/// The manifest `prepare` writes: no secrets yet, and how to add one.
const EMPTY_MANIFEST: &str = "# Secrets served over SDS (see docs/sds.md). Paths are relative to this directory.\n\
# secrets:\n\
#   - {name: anthropic-api-key, kind: generic_secret, file: anthropic-api-key}\n\
#   - {name: edge-cert, kind: tls_certificate, certificate: tls.crt, private_key: tls.key}\n\
secrets: []\n";

/// The minted-leaf source: for each host, the secret `<prefix><host>` is a `tls_certificate`
/// whose chain is a fresh leaf for exactly that host (then the CA certificate) and whose key is
/// the leaf's. Leaves are re-minted before the last quarter of their life and whenever the CA
/// in `ca_dir` changes (a rotation). Which peer may read which leaf is still decided by the
/// grants: list `<prefix>*` or the exact names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintedLeavesConfig {
    /// The CA directory (`ca.key`, `ca.pem`; as `trust-edge ca init` writes it).
    pub ca_dir: PathBuf,
    /// Prefix of the secret names (default [`MINTED_PREFIX`]).
    pub prefix: String,
    /// The hosts served: exact DNS names or IP literals, never wildcards.
    pub hosts: Vec<String>,
    /// Validity of each leaf (default `trust_ca::defaults::LEAF_VALIDITY`, 24 h).
    pub leaf_validity: Duration,
    /// How often the CA is re-read and leaves near expiry are re-minted (default
    /// [`MINTED_CHECK_INTERVAL`]; never longer than an eighth of `leaf_validity`).
    pub check_interval: Duration,
}

/// The secret-name prefix of minted leaves: `bump-leaf/api.example.com`.
pub const MINTED_PREFIX: &str = "bump-leaf/";

/// How often the minted-leaf source re-reads the CA: a minute, so a rotated CA reaches Envoy
/// within a minute while costing one small file read.
pub const MINTED_CHECK_INTERVAL: Duration = Duration::from_secs(60);

impl MintedLeavesConfig {
    /// Leaves for `hosts` from the CA in `ca_dir`, with the default prefix and timings.
    pub fn new(ca_dir: impl Into<PathBuf>, hosts: Vec<String>) -> MintedLeavesConfig {
        MintedLeavesConfig {
            ca_dir: ca_dir.into(),
            prefix: MINTED_PREFIX.to_owned(),
            hosts,
            leaf_validity: trust_ca::defaults::LEAF_VALIDITY,
            check_interval: MINTED_CHECK_INTERVAL,
        }
    }
}

/// How the server logs in to Vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultAuth {
    /// A token read from a file (re-read at each login).
    TokenFile(PathBuf),
    /// AppRole: a role id and a secret id read from a file.
    AppRole {
        /// The auth mount (default `approle`).
        mount: String,
        /// The role id (not a secret).
        role_id: String,
        /// File holding the secret id.
        secret_id_file: PathBuf,
    },
}

/// The Vault connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultConfig {
    /// Base address, e.g. `https://vault.internal:8200`.
    pub address: String,
    /// Login method.
    pub auth: VaultAuth,
    /// Extra CA certificate files to trust.
    pub ca_files: Vec<PathBuf>,
    /// Vault Enterprise namespace.
    pub namespace: Option<String>,
    /// Poll interval.
    pub poll_interval: Duration,
    /// Per-call timeout.
    pub timeout: Duration,
}

/// AWS credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsCredentials {
    /// The standard chain: environment, profile, web identity, ECS, IMDS.
    DefaultChain,
    /// A fixed key pair; the secret key is read from a file.
    Static {
        /// Access key id (not a secret).
        access_key_id: String,
        /// File holding the secret access key.
        secret_access_key_file: PathBuf,
    },
}

/// The AWS Secrets Manager connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// Region.
    pub region: String,
    /// Endpoint override (e.g. a local moto server or a VPC endpoint).
    pub endpoint: Option<String>,
    /// Credentials.
    pub credentials: AwsCredentials,
    /// Poll interval.
    pub poll_interval: Duration,
    /// Per-call timeout.
    pub timeout: Duration,
}

/// One Vault- or AWS-sourced secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSpec {
    /// The SDS resource name.
    pub name: String,
    /// Its kind.
    pub kind: SecretKind,
    /// Withdraw it once its source has not confirmed it for this long.
    pub max_age: Option<Duration>,
    /// Where it is read.
    pub source: RemoteSource,
}

/// Where a remote secret is read. For `tls_certificate` the value holds the fields
/// `certificate` and `private_key`; for `validation_context`, `trusted_ca`; for
/// `generic_secret`, `field` (Vault: default `value`; AWS: the whole `SecretString` unless a
/// field is named, which then reads it as JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteSource {
    /// Vault KV v2.
    Vault {
        /// Mount of the KV v2 engine, e.g. `secret`.
        mount: String,
        /// Path inside the mount.
        path: String,
        /// Field of a generic secret.
        field: Option<String>,
    },
    /// AWS Secrets Manager (`AWSCURRENT`).
    Aws {
        /// Secret name or ARN.
        secret_id: String,
        /// JSON field of a generic secret.
        field: Option<String>,
    },
}

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Dotted key path, e.g. `secrets[1].vault.path`.
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

#[cfg(test)]
mod tests;
