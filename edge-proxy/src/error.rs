//! Why the edge could not start.

/// A start-up failure. Request-time refusals are [`trust_core::DenyReason`]s, not errors.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// The policy directory did not load; each problem has file:line:column.
    #[error("policies did not load:\n{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Policy(Vec<policies::PolicyError>),
    /// The token verifier could not load its keys.
    #[error("session-token keys: {0}")]
    Token(#[from] trust_core::token::TokenError),
    /// The resolver could not be built.
    #[error("resolver: {0}")]
    Resolver(#[from] crate::resolver::ResolverError),
    /// The audit log could not be opened.
    #[error("audit log: {0}")]
    Audit(#[from] trust_core::audit::AuditError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The host's interface addresses (part of the deny-set) could not be listed.
    #[error("listing interface addresses: {0}")]
    Interfaces(std::io::Error),
    /// The control plane link could not be set up (bad URL or TLS files).
    #[error("control: {0}")]
    Control(control_client::SyncError),
    /// The bump rung could not be set up (the deployment CA, or the upstream roots).
    #[error("bump: {0}")]
    Bump(String),
    /// Metrics registration failed (a bug).
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}
