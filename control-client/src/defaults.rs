//! Every default of the sync client, with the reason it has that value.

use std::time::Duration;

/// The name the client checks control's certificate against, whatever address it dials.
/// Control's CA is pinned and private, and its server certificate always carries this name, so
/// the check does not depend on how the edge reaches control (IP, service name, port-forward).
pub const SERVER_NAME: &str = "trust-edge-control";

/// The first reconnect delay. Short, so a control restart costs an edge well under a second.
pub const RECONNECT_MIN: Duration = Duration::from_millis(100);

/// The longest reconnect delay. Doubling stops here so an edge notices control's return within
/// seconds, while a fleet of edges does not hammer a control that is down.
pub const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// How long one TCP + TLS connect may take before it counts as a failure.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Silence allowed before the first message (snapshot or resumed changes) arrives.
pub const FIRST_MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// A stream with no message for this many heartbeat intervals is dead: reconnect.
pub const LIVENESS_INTERVALS: u32 = 3;

/// The shortest liveness window, whatever heartbeat interval control announces; a busy host
/// can delay a 1 s heartbeat by a few hundred milliseconds without costing a reconnect.
pub const MIN_LIVENESS: Duration = Duration::from_secs(3);

/// How long an edge keeps deciding with a snapshot after the last message from control. After
/// that it refuses everything with `edge_not_ready` (ARCHITECTURE.md, "Fail closed"). The
/// edge owns this window; the constant is here so every consumer shares one default.
pub const STALENESS_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Revocation and deny-all events buffered for a slow subscriber before it sees `Lagged`
/// (it should then re-read [`ControlState`](crate::ControlState), which is always complete).
pub const EVENT_CAPACITY: usize = 4096;

/// Clock skew tolerated after a revoked session's last token expires before the revocation is
/// forgotten; matches the token verifier's leeway.
pub const REVOCATION_LEEWAY: Duration = trust_core::token::defaults::LEEWAY;
