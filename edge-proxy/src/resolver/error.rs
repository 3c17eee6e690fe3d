//! The resolver's two error enums: building it, and one lookup.

use std::time::Duration;

/// A resolver configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolverError {
    /// No configured or system name server and no static host: nothing could resolve.
    #[error(
        "resolver has no name servers and no static hosts: set nameservers, use_system_config or static_hosts"
    )]
    NoNameservers,
    /// `min_ttl` above `max_ttl`.
    #[error("resolver min_ttl {min:?} is above max_ttl {max:?}")]
    TtlBounds {
        /// The configured minimum.
        min: Duration,
        /// The configured maximum.
        max: Duration,
    },
    /// `timeout` of zero.
    #[error("resolver timeout must be above 0")]
    ZeroTimeout,
    /// `attempts` of zero.
    #[error("resolver attempts must be at least 1")]
    ZeroAttempts,
    /// `cache_size` of zero.
    #[error("resolver cache_size must be at least 1")]
    ZeroCacheSize,
    /// A static host entry whose name is not a DNS name.
    #[error("resolver static host {name:?} is not a valid dns name")]
    StaticHostName {
        /// The configured name.
        name: String,
    },
    /// A static host entry with no address.
    #[error("resolver static host {name:?} has no address")]
    StaticHostEmpty {
        /// The configured name.
        name: String,
    },
    /// The system resolver configuration could not be read.
    #[error("reading the system resolver configuration failed: {0}")]
    SystemConfig(String),
    /// hickory refused the configuration.
    #[error("building the resolver failed: {0}")]
    Build(String),
}

/// Why one name could not be resolved. The edge answers every kind with `resolution_failed`;
/// the kinds differ for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The name does not exist (NXDOMAIN).
    #[error("name {name} does not exist")]
    NxDomain {
        /// The name looked up.
        name: String,
    },
    /// The name exists but has no A or AAAA record.
    #[error("name {name} has no address records")]
    NoRecords {
        /// The name looked up.
        name: String,
    },
    /// No name server answered in time.
    #[error("resolving {name} timed out")]
    Timeout {
        /// The name looked up.
        name: String,
    },
    /// A name server failed (SERVFAIL, REFUSED, I/O error, …).
    #[error("resolving {name} failed: {detail}")]
    Failed {
        /// The name looked up.
        name: String,
        /// What went wrong, from hickory.
        detail: String,
    },
    /// Not a DNS name (empty, too long, an IP literal, …).
    #[error("{name:?} is not a dns name")]
    InvalidName {
        /// The name given.
        name: String,
    },
}

impl ResolveError {
    /// A stable snake_case label for the kind of failure (for metrics and logs).
    pub fn kind(&self) -> &'static str {
        match self {
            ResolveError::NxDomain { .. } => "nxdomain",
            ResolveError::NoRecords { .. } => "no_records",
            ResolveError::Timeout { .. } => "timeout",
            ResolveError::Failed { .. } => "failed",
            ResolveError::InvalidName { .. } => "invalid_name",
        }
    }
}
