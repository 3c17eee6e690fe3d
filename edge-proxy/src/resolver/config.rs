//! The resolver's configuration and its checks.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::defaults;
use super::error::ResolverError;

/// How the edge resolves names. Defaults live in [`defaults`](super::defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverConfig {
    /// Name servers, each queried over UDP (and TCP for truncated answers), tried before the
    /// system's.
    pub nameservers: Vec<SocketAddr>,
    /// Also use the name servers of the host's `/etc/resolv.conf` (never its search domains).
    pub use_system_config: bool,
    /// Names answered without DNS (lowercase ASCII, trailing dot optional). They only map names
    /// to addresses and grant nothing: the answers are screened like any other.
    pub static_hosts: HashMap<String, Vec<IpAddr>>,
    /// Shortest time a positive answer is cached.
    pub min_ttl: Duration,
    /// Longest time a positive answer is cached.
    pub max_ttl: Duration,
    /// Longest time a negative answer is cached.
    pub negative_ttl: Duration,
    /// Time allowed for one query to one name server.
    pub timeout: Duration,
    /// Tries per query, the first one included (at least 1).
    pub attempts: usize,
    /// Number of cached responses (at least 1).
    pub cache_size: usize,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            nameservers: Vec::new(),
            use_system_config: defaults::USE_SYSTEM_CONFIG,
            static_hosts: HashMap::new(),
            min_ttl: defaults::MIN_TTL,
            max_ttl: defaults::MAX_TTL,
            negative_ttl: defaults::NEGATIVE_TTL,
            timeout: defaults::TIMEOUT,
            attempts: defaults::ATTEMPTS,
            cache_size: defaults::CACHE_SIZE,
        }
    }
}

impl ResolverConfig {
    /// A configuration that queries only `nameservers`, with every other value at its default.
    pub fn with_nameservers(nameservers: Vec<SocketAddr>) -> Self {
        ResolverConfig {
            nameservers,
            use_system_config: false,
            ..ResolverConfig::default()
        }
    }

    /// Checks the values that do not depend on the host (the system's name servers are read
    /// when the resolver is built).
    ///
    /// # Errors
    /// The first problem found, as a [`ResolverError`].
    pub fn validate(&self) -> Result<(), ResolverError> {
        if self.nameservers.is_empty() && !self.use_system_config && self.static_hosts.is_empty() {
            return Err(ResolverError::NoNameservers);
        }
        if self.min_ttl > self.max_ttl {
            return Err(ResolverError::TtlBounds {
                min: self.min_ttl,
                max: self.max_ttl,
            });
        }
        if self.timeout.is_zero() {
            return Err(ResolverError::ZeroTimeout);
        }
        if self.attempts == 0 {
            return Err(ResolverError::ZeroAttempts);
        }
        if self.cache_size == 0 {
            return Err(ResolverError::ZeroCacheSize);
        }
        for (name, addrs) in &self.static_hosts {
            if super::host_key(name).is_none() {
                return Err(ResolverError::StaticHostName { name: name.clone() });
            }
            if addrs.is_empty() {
                return Err(ResolverError::StaticHostEmpty { name: name.clone() });
            }
        }
        Ok(())
    }

    /// The longest a whole lookup may take: `timeout × attempts`.
    pub fn deadline(&self) -> Duration {
        let attempts = u32::try_from(self.attempts).unwrap_or(u32::MAX);
        self.timeout.saturating_mul(attempts)
    }
}
