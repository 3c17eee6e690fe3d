//! The config file as written: every key optional, unknown keys refused. [`validate`](super::validate)
//! turns it into a [`Config`](super::Config).

use crate::secret::SecretKind;
use serde::Deserialize;
use std::path::PathBuf;

/// The config file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Data directory (the Unix socket lives here).
    pub data_dir: Option<PathBuf>,
    /// Admin listen address (`/metrics`, `/debug/sds`).
    pub admin_listen: Option<String>,
    /// HTTP/2 streams per connection.
    pub max_streams_per_connection: Option<u32>,
    /// `[unix]`.
    #[serde(default)]
    pub unix: UnixSection,
    /// `[tcp]`.
    pub tcp: Option<TcpSection>,
    /// `[files]`.
    pub files: Option<FilesSection>,
    /// `[vault]`.
    pub vault: Option<VaultSection>,
    /// `[aws]`.
    pub aws: Option<AwsSection>,
    /// `[minted_leaves]`.
    pub minted_leaves: Option<MintedLeavesSection>,
    /// `[[grants]]`.
    #[serde(default)]
    pub grants: Vec<GrantSection>,
    /// `[[secrets]]`: Vault- and AWS-sourced secrets.
    #[serde(default)]
    pub secrets: Vec<SecretSection>,
}

/// `[unix]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnixSection {
    /// Serve on the Unix socket (default true).
    pub enabled: Option<bool>,
    /// Socket path, relative to the data dir (default `sds.sock`).
    pub path: Option<PathBuf>,
}

/// `[tcp]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpSection {
    /// Listen address.
    pub listen: String,
    /// Server certificate chain (PEM).
    pub cert: Option<PathBuf>,
    /// Server private key (PEM).
    pub key: Option<PathBuf>,
    /// CA bundle client certificates must chain to (PEM).
    pub client_ca: Option<PathBuf>,
    /// Plain TCP without TLS: only on a loopback address, and peers are then unauthenticated.
    pub insecure_loopback: Option<bool>,
}

/// `[files]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesSection {
    /// The watched directory.
    pub dir: PathBuf,
    /// Manifest file (relative to `dir`; default `manifest.yaml`).
    pub manifest: Option<PathBuf>,
    /// Quiet time before re-reading, e.g. `150ms`.
    pub debounce: Option<String>,
    /// Re-read everything this often, e.g. `10s`.
    pub rescan_interval: Option<String>,
}

/// `[vault]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultSection {
    /// Base address.
    pub address: String,
    /// File holding a Vault token.
    pub token_file: Option<PathBuf>,
    /// AppRole login instead of a token.
    pub approle: Option<AppRoleSection>,
    /// Extra CA files to trust.
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
    /// Vault Enterprise namespace.
    pub namespace: Option<String>,
    /// Poll interval, e.g. `30s`.
    pub poll_interval: Option<String>,
    /// Per-call timeout.
    pub timeout: Option<String>,
}

/// `[vault.approle]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppRoleSection {
    /// Auth mount (default `approle`).
    pub mount: Option<String>,
    /// Role id.
    pub role_id: String,
    /// File holding the secret id.
    pub secret_id_file: PathBuf,
}

/// `[aws]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSection {
    /// Region.
    pub region: String,
    /// Endpoint override.
    pub endpoint: Option<String>,
    /// Static access key id (with `secret_access_key_file`); else the standard chain.
    pub access_key_id: Option<String>,
    /// File holding the static secret access key.
    pub secret_access_key_file: Option<PathBuf>,
    /// Poll interval.
    pub poll_interval: Option<String>,
    /// Per-call timeout.
    pub timeout: Option<String>,
}

/// `[[grants]]`: exactly one of `uid`, `gid`, `san`, `insecure_loopback`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantSection {
    /// Label.
    pub name: String,
    /// Unix peers with this uid.
    pub uid: Option<u32>,
    /// Unix peers with this gid.
    pub gid: Option<u32>,
    /// TLS peers with this SAN.
    pub san: Option<String>,
    /// Plain loopback TCP peers.
    pub insecure_loopback: Option<bool>,
    /// Secret names (exact, `prefix*` or `*`).
    pub secrets: Vec<String>,
    /// Node ids the grant is limited to.
    pub nodes: Option<Vec<String>>,
}

/// `[[secrets]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSection {
    /// SDS resource name.
    pub name: String,
    /// Kind.
    pub kind: SecretKind,
    /// Withdraw after this long unconfirmed, e.g. `1h`.
    pub max_age: Option<String>,
    /// Vault source.
    pub vault: Option<SecretSourceSection>,
    /// AWS source.
    pub aws: Option<SecretSourceSection>,
}

/// A secret's place in Vault (`mount`, `path`) or AWS (`secret_id`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSourceSection {
    /// Vault: KV v2 mount.
    pub mount: Option<String>,
    /// Vault: path.
    pub path: Option<String>,
    /// AWS: secret id or ARN.
    pub secret_id: Option<String>,
    /// Field of a generic secret.
    pub field: Option<String>,
}

/// `[minted_leaves]`: leaves minted from the deployment CA, served as `tls_certificate`s.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintedLeavesSection {
    /// The CA directory (`trust-edge ca init` writes it).
    pub ca_dir: PathBuf,
    /// The hosts served, as `<prefix><host>`.
    pub hosts: Vec<String>,
    /// Secret-name prefix (default `bump-leaf/`).
    pub prefix: Option<String>,
    /// Leaf validity, e.g. `24h`.
    pub leaf_validity: Option<String>,
    /// How often the CA is re-read, e.g. `1m`.
    pub check_interval: Option<String>,
}
