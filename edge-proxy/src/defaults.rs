//! Every default of the edge, with the reason it is what it is.

use std::time::Duration;

/// Where the proxy listens: loopback, so a fresh `trust-edge up` exposes nothing.
pub const PROXY_LISTEN: &str = "127.0.0.1:3128";
/// Where the admin endpoints (/metrics, /healthz, /readyz) listen; loopback only by default.
pub const ADMIN_LISTEN: &str = "127.0.0.1:9901";
/// The data directory (keys, JWKS, audit log) when none is given.
pub const DATA_DIR: &str = ".trust-edge";
/// The policy directory when none is given: the shipped defaults.
pub const POLICY_DIR: &str = "policies/default";
/// A request head must be complete this long after its first byte (slow-loris bound).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a kept-alive client connection may sit idle between requests.
pub const KEEPALIVE_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest request head accepted; real clients stay far below (curl sends < 1 KiB).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Connections that have not yet presented a valid token; bounds what an unauthenticated flood costs.
pub const MAX_UNAUTHENTICATED_CONNECTIONS: usize = 1024;
/// How long the edge waits for a TCP connection to an upstream.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an idle upstream connection is kept for its session's next request, on both
/// forwarding paths (the lean path's pool and pingora's).
pub const UPSTREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the edge waits on an upstream of a forwarded request that makes no progress: sends
/// nothing (the response head, then each read of the body) or, on the pingora path, accepts none
/// of the request body. Five minutes, the tunnel idle default: long enough for a slow API or a
/// quiet event stream, short enough that a stuck upstream cannot hold a connection forever.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a tunnel may take to send its ClientHello after the CONNECT was answered.
pub const CLIENT_HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest ClientHello gathered (a hello with post-quantum key shares is ~2 KiB).
pub const MAX_CLIENT_HELLO_BYTES: usize = 32 * 1024;
/// Token issuer expected until a control plane is configured.
pub const TOKEN_ISSUER: &str = "trust-edge";
/// Token audience expected: tokens minted for something else are refused.
pub const TOKEN_AUDIENCE: &str = "trust-edge-egress";
/// Clock skew tolerated on `exp`/`nbf`: small, since revocation is the fast control.
pub const TOKEN_LEEWAY: Duration = Duration::from_secs(30);
/// The audit log's file name inside the data dir.
pub const AUDIT_FILE: &str = "audit.log";
/// How often the deny-set's view of the host's own interface addresses is refreshed.
pub const INTERFACE_REFRESH: Duration = Duration::from_secs(30);
/// How often expired per-session state is swept.
pub const SESSION_SWEEP: Duration = Duration::from_secs(60);
/// With no message from control for this long, an edge refuses everything (`edge_not_ready`):
/// revocations it may have missed must not be outlived by much.
pub const STALENESS_WINDOW: Duration = Duration::from_secs(5 * 60);

/// How often the edge checks whether the deployment CA changed (rotation) and refreshes its
/// expiry metric.
pub const CA_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);
