//! Every default of the control plane, with the reason it has that value.

use std::time::Duration;

/// The HTTP API's address: loopback, so only the orchestrator on this host reaches it until an
/// operator chooses otherwise.
pub const API_LISTEN: &str = "127.0.0.1:7070";

/// The sync (gRPC, mutual TLS) listener's address. Loopback by default like the API; edges on
/// other hosts need it on a reachable address.
pub const SYNC_LISTEN: &str = "127.0.0.1:7071";

/// The data directory (database, keys, CA, API tokens); the same default as the edge's, so
/// `trust-edge up` keeps everything in one place.
pub const DATA_DIR: &str = ".trust-edge";

/// The policy directory whose profiles sessions may name.
pub const POLICY_DIR: &str = "policies/default";

/// The proxy URL handed to orchestrators with each session (the edge's default listener).
pub const PROXY_URL: &str = "http://127.0.0.1:3128";

/// A session (and its egress token) lives 8 h unless asked otherwise: a working day of an agent
/// run. Running processes cannot pick up a new token, so revocation, not `exp`, is the fast
/// control (ARCHITECTURE.md, "The trust path" step 1).
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);

/// The longest session: 24 h. `exp` is the backstop if every push path failed.
pub const MAX_SESSION_TTL: Duration = Duration::from_secs(24 * 3600);

/// Signing keys rotate every 30 days; the old key stays published until its last token expires.
pub const KEY_ROTATION_INTERVAL: Duration = Duration::from_secs(30 * 24 * 3600);

/// How often control sends each edge a heartbeat. Edges treat a stream silent for three
/// intervals as dead and reconnect, so a lost control is noticed within seconds.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// How often control checks for due rotations and keys whose last token has expired.
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(60);

/// Changes kept for resuming edges. An edge further behind gets a snapshot instead, which is
/// always correct, only larger.
pub const CHANGE_RETENTION: u64 = 100_000;

/// Clock skew added to a token's `exp` before its key leaves the JWKS or its revocation is
/// forgotten; the same leeway the edge's verifier allows.
pub const TOKEN_LEEWAY: Duration = trust_core::token::defaults::LEEWAY;

/// A sync client must send its hello this soon after opening the stream.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// A TLS handshake on the sync listener must finish this soon.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The most records `GET /v1/audit` returns at once (and its default `limit`).
pub const AUDIT_PAGE_LIMIT: usize = 1000;

/// How long `stop()` waits for streams and requests to finish before aborting them.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Validity of the control CA created on first run.
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Validity of control's sync server certificate; renewed at start when under a month is left.
pub const SERVER_CERT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);

/// Validity of an edge client certificate.
pub const EDGE_CERT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
