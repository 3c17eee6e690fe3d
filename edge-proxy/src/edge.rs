//! The state one edge shares across its connections.

use crate::config::Config;
use crate::control_link::ControlLink;
use crate::metrics::Metrics;
use crate::resolver::Resolver;
use crate::sessions::Sessions;
use arc_swap::ArcSwap;
use policies::PolicySet;
use policies::denyset::DenySet;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::Semaphore;
use trust_core::audit::AuditLog;
use trust_core::token::Verifier;

/// Everything a request decision reads.
pub(crate) struct Edge {
    /// The validated configuration.
    pub(crate) config: Config,
    /// Session-token verification with its caches.
    pub(crate) verifier: Verifier,
    /// The active policy set, swapped whole.
    pub(crate) policies: ArcSwap<PolicySet>,
    /// The edge's own resolver.
    pub(crate) resolver: Resolver,
    /// The mandatory deny-set plus operator additions, host addresses and own listeners.
    pub(crate) deny_set: ArcSwap<DenySet>,
    /// Per-session limits and tripwire state.
    pub(crate) sessions: Sessions,
    /// The audit log.
    pub(crate) audit: AuditLog,
    /// Metrics.
    pub(crate) metrics: Metrics,
    /// Slots for connections that have not yet authenticated.
    pub(crate) unauthenticated: Arc<Semaphore>,
    /// Bumped on every policy swap, so open tunnels re-check their destination.
    pub(crate) policy_generation: tokio::sync::watch::Sender<u64>,
    /// The control plane this edge follows, if configured.
    pub(crate) control: Option<ControlLink>,
    /// The bump rung, when a deployment CA is configured.
    pub(crate) bump: Option<crate::bump::Bump>,
    /// Idle upstream connections of the lean plain-HTTP path, per session.
    pub(crate) upstreams: crate::plain::pool::UpstreamPool,
    /// Injected credentials, when an SDS server is configured.
    pub(crate) secrets: Option<crate::secrets::SecretStore>,
}

impl Edge {
    /// Ends what session `sid` holds open on this edge (it was revoked): its tunnels and
    /// kept-alive client connections, and the lean path's idle upstream connections (pingora's
    /// pool has no per-session purge; its idle connections close after 60 s).
    pub(crate) fn close_session(&self, sid: &str) {
        self.sessions.close(sid);
        self.upstreams.close_session(sid);
    }

    /// [`close_session`](Edge::close_session) for every session in `sids`, in one pass over the
    /// pool.
    pub(crate) fn close_sessions(&self, sids: &HashSet<String>) {
        for sid in sids {
            self.sessions.close(sid);
        }
        self.upstreams.close_sessions(sids);
    }

    /// Ends every session's open connections (deny-all went on).
    pub(crate) fn close_all_sessions(&self) {
        self.sessions.close_all();
        self.upstreams.close_all();
    }
}
