//! The name a leaf is minted for: exactly one DNS name or one IP address.

use crate::error::CaError;
use rustls_pki_types::DnsName;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// A validated leaf name; its `Display` form is the cache key (lower-case DNS name, canonical IP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LeafName {
    /// A DNS name, lower-cased, without a trailing dot.
    Dns(String),
    /// An IP literal (IPv6 given with or without brackets).
    Ip(IpAddr),
}

impl LeafName {
    /// Checks `host` and normalises it.
    ///
    /// # Errors
    /// [`CaError::InvalidName`] for an empty name, a wildcard, a trailing dot, non-ASCII
    /// (use the punycode form) or anything that is not a valid DNS name or IP literal.
    pub(crate) fn parse(host: &str) -> Result<LeafName, CaError> {
        let refuse = |reason| CaError::InvalidName {
            host: host.chars().take(80).collect(),
            reason,
        };
        if host.is_empty() {
            return Err(refuse("empty name"));
        }
        if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            return inner
                .parse::<Ipv6Addr>()
                .map(|ip| LeafName::Ip(IpAddr::V6(ip)))
                .map_err(|_| refuse("not an IPv6 address inside brackets"));
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(LeafName::Ip(ip));
        }
        if host.contains('*') {
            return Err(refuse("wildcards are never minted"));
        }
        if !host.is_ascii() {
            return Err(refuse("not ASCII (use the punycode form)"));
        }
        if host.ends_with('.') {
            return Err(refuse("trailing dot"));
        }
        let lower = host.to_ascii_lowercase();
        if DnsName::try_from_str(&lower).is_err() {
            return Err(refuse("not a valid DNS name or IP address"));
        }
        Ok(LeafName::Dns(lower))
    }
}

impl fmt::Display for LeafName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeafName::Dns(name) => f.write_str(name),
            LeafName::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

#[cfg(test)]
mod tests;
