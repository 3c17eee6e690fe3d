//! Every default of the SDS server, with the reason it is what it is.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

/// The data directory when none is given (shared with the edge's default).
pub const DATA_DIR: &str = ".trust-edge";
/// The Unix socket's file name inside the data dir. Created with mode 0600: only the server's
/// own user (and root) can connect, and the grants then decide per uid/gid.
pub const UNIX_SOCKET: &str = "sds.sock";
/// Where `/metrics` and `/debug/sds` listen: loopback, next to the edge's admin port (9901).
pub const ADMIN_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9902));
/// The manifest's file name inside the file source's directory.
pub const MANIFEST: &str = "manifest.yaml";
/// Quiet time after the last file event before the directory is re-read: long enough for an
/// editor's or Kubernetes' burst of renames to settle, short enough that a rotation reaches
/// subscribers well within a second.
pub const DEBOUNCE: Duration = Duration::from_millis(150);
/// The file source re-reads everything this often even without events (a missed event, a
/// network filesystem); each good read confirms the secrets for `max_age`.
pub const RESCAN_INTERVAL: Duration = Duration::from_secs(10);
/// Vault and AWS are polled this often; each poll reads version metadata only and fetches the
/// value when the version changed.
pub const POLL_INTERVAL: Duration = Duration::from_secs(30);
/// A remote source's call is abandoned after this long (counted as unreachable).
pub const SOURCE_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 streams one connection may carry: Envoy without ADS opens one stream per secret.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 10_000;
/// The Vault AppRole auth mount.
pub const APPROLE_MOUNT: &str = "approle";
/// The generic secret's field in a Vault KV v2 secret when none is named.
pub const VAULT_FIELD: &str = "value";
/// How long a stopping server waits for streams to close before cutting them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
