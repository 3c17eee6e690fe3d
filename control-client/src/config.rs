//! [`SyncConfig`], [`Endpoint`] and [`TlsSettings`]: where control is and how the edge proves
//! who it is and checks who control is.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::defaults;
use crate::error::SyncError;

/// How a [`SyncClient`](crate::SyncClient) reaches control.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// This edge's name, shown in control's `GET /v1/edges`.
    pub edge_id: String,
    /// Where control's sync service listens.
    pub endpoint: Endpoint,
    /// The hash of the edge's active policy set, sent in the first message (update it later with
    /// [`SyncClient::report_policy_hash`](crate::SyncClient::report_policy_hash)).
    pub policy_hash: String,
    /// The first reconnect delay (doubles up to `reconnect_max`).
    pub reconnect_min: Duration,
    /// The longest reconnect delay.
    pub reconnect_max: Duration,
    /// How long one connect (TCP + TLS + HTTP/2) may take.
    pub connect_timeout: Duration,
}

impl SyncConfig {
    /// A config with the default timings.
    pub fn new(edge_id: impl Into<String>, endpoint: Endpoint) -> SyncConfig {
        SyncConfig {
            edge_id: edge_id.into(),
            endpoint,
            policy_hash: String::new(),
            reconnect_min: defaults::RECONNECT_MIN,
            reconnect_max: defaults::RECONNECT_MAX,
            connect_timeout: defaults::CONNECT_TIMEOUT,
        }
    }
}

/// Control's sync listener.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// TCP with mutual TLS: control's CA pinned, the edge's client certificate presented.
    Tls {
        /// `host:port` to dial.
        address: String,
        /// The pinned CA and the edge's certificate.
        tls: TlsSettings,
    },
    /// A Unix socket on the same host (its file mode is the access control).
    Unix(PathBuf),
}

impl Endpoint {
    /// Parses a control URL: `https://host:port` (needs `tls`) or `unix:/path` (also
    /// `unix:///path`).
    ///
    /// # Errors
    /// [`SyncError::InvalidUrl`] for any other form, or `https` without TLS settings.
    pub fn parse(url: &str, tls: Option<TlsSettings>) -> Result<Endpoint, SyncError> {
        let invalid = |reason| SyncError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        if let Some(rest) = url.strip_prefix("unix:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if !path.starts_with('/') {
                return Err(invalid("a unix socket path must be absolute"));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        let Some(address) = url.strip_prefix("https://") else {
            return Err(invalid("expected https://host:port or unix:/path"));
        };
        let address = address.strip_suffix('/').unwrap_or(address);
        let Some((host, port)) = address.rsplit_once(':') else {
            return Err(invalid("missing port"));
        };
        if host.is_empty() || port.parse::<u16>().is_err() || address.contains('/') {
            return Err(invalid("expected https://host:port"));
        }
        let tls =
            tls.ok_or_else(|| invalid("https needs the control CA and an edge certificate"))?;
        Ok(Endpoint::Tls {
            address: address.to_owned(),
            tls,
        })
    }
}

/// The pinned control CA and the edge's client certificate and key, all PEM. Only this CA is
/// trusted for control: no system roots.
#[derive(Clone)]
pub struct TlsSettings {
    /// Control's CA certificate(s).
    pub ca_pem: String,
    /// The edge's certificate (chain), issued by control's CA.
    pub cert_pem: String,
    /// The edge's private key (PKCS#8). Never printed.
    pub key_pem: String,
    /// The name control's certificate must carry ([`defaults::SERVER_NAME`] unless overridden).
    pub server_name: String,
}

impl TlsSettings {
    /// The file names [`TlsSettings::from_dir`] reads, as `trust-edge control issue-edge-cert`
    /// writes them: the CA, the certificate and the key.
    pub const FILE_NAMES: [&'static str; 3] = ["ca.pem", "edge.pem", "edge.key"];

    /// Settings from PEM text, checking the default server name.
    pub fn from_pem(ca_pem: String, cert_pem: String, key_pem: String) -> TlsSettings {
        TlsSettings {
            ca_pem,
            cert_pem,
            key_pem,
            server_name: defaults::SERVER_NAME.to_owned(),
        }
    }

    /// Reads `ca.pem`, `edge.pem` and `edge.key` from `dir`.
    ///
    /// # Errors
    /// [`SyncError::Io`] if a file cannot be read.
    pub fn from_dir(dir: &Path) -> Result<TlsSettings, SyncError> {
        let [ca, cert, key] = TlsSettings::FILE_NAMES.map(|name| dir.join(name));
        Ok(TlsSettings::from_pem(read(&ca)?, read(&cert)?, read(&key)?))
    }
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("server_name", &self.server_name)
            .field("key_pem", &"***")
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<String, SyncError> {
    std::fs::read_to_string(path).map_err(|source| SyncError::Io {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests;
