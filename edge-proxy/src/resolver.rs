//! The edge's own resolver: a name allowed by the profile becomes the addresses to screen.
//!
//! hickory looks up A and AAAA together, follows CNAME chains and caches each answer for its
//! TTL clamped to `[min_ttl, max_ttl]` (a TTL-0 answer, with the default `min_ttl` of 0, is
//! looked up again on the next request). Static hosts are answered without DNS; they only map
//! names and grant nothing. The system's `/etc/hosts` and search domains are never used: the
//! name is looked up exactly as given, as a fully qualified name.
//!
//! The caller screens every address with `policies::denyset::DenySet::screen` and dials the
//! one it checked; it never resolves the same name twice for one connection.
//!
//! hickory answers `localhost` names with loopback addresses without a query; the deny-set
//! refuses those like any other.

mod config;
pub mod defaults;
mod error;
pub mod interfaces;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RecordType};

pub use config::ResolverConfig;
pub use error::{ResolveError, ResolverError};

/// The addresses one name resolved to, in answer order (A records first, then AAAA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Every address of the answer, without duplicates; never empty.
    pub addrs: Arc<[IpAddr]>,
    /// True when a static host entry answered (no DNS query was made).
    pub from_static: bool,
}

/// The edge's resolver; cheap to share (`Arc`) across requests.
#[derive(Clone)]
pub struct Resolver {
    /// `None` when no name server is configured: only static hosts resolve.
    inner: Option<TokioResolver>,
    static_hosts: HashMap<String, Arc<[IpAddr]>>,
    deadline: Duration,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("static_hosts", &self.static_hosts.len())
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Resolver {
    /// Builds a resolver from `config`.
    ///
    /// # Errors
    /// [`ResolverError`] for an invalid configuration, an unreadable system configuration, or
    /// no name server at all.
    pub fn new(config: ResolverConfig) -> Result<Resolver, ResolverError> {
        config.validate()?;
        let mut nameservers: Vec<NameServerConfig> = config
            .nameservers
            .iter()
            .map(|addr| {
                let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                for connection in &mut server.connections {
                    connection.port = addr.port();
                }
                server
            })
            .collect();
        if config.use_system_config {
            let (system, _options) = hickory_resolver::system_conf::read_system_conf()
                .map_err(|err| ResolverError::SystemConfig(err.to_string()))?;
            nameservers.extend(system.name_servers().iter().cloned());
        }
        let inner = if nameservers.is_empty() {
            None
        } else {
            Some(build(&config, nameservers)?)
        };
        let static_hosts = config
            .static_hosts
            .iter()
            .filter_map(|(name, addrs)| Some((host_key(name)?, dedup(addrs.iter().copied()))))
            .collect();
        Ok(Resolver {
            inner,
            static_hosts,
            deadline: config.deadline(),
        })
    }
}

/// Builds the hickory resolver for the configured and system name servers.
fn build(
    config: &ResolverConfig,
    nameservers: Vec<NameServerConfig>,
) -> Result<TokioResolver, ResolverError> {
    {
        let mut options = ResolverOpts::default();
        options.timeout = config.timeout;
        // hickory counts retries after the first try
        options.attempts = config.attempts.saturating_sub(1);
        options.cache_size = u64::try_from(config.cache_size).unwrap_or(u64::MAX);
        options.positive_min_ttl = Some(config.min_ttl);
        options.positive_max_ttl = Some(config.max_ttl);
        options.negative_min_ttl = Some(Duration::ZERO);
        options.negative_max_ttl = Some(config.negative_ttl);
        options.use_hosts_file = ResolveHosts::Never;

        let hickory_config =
            hickory_resolver::config::ResolverConfig::from_parts(None, Vec::new(), nameservers);
        let inner = hickory_resolver::Resolver::builder_with_config(
            hickory_config,
            TokioRuntimeProvider::default(),
        )
        .with_options(options)
        .build()
        .map_err(|err| ResolverError::Build(err.to_string()))?;
        Ok(inner)
    }
}

impl Resolver {
    /// Resolves `name` (normalised ASCII, trailing dot optional) to its A and AAAA addresses.
    ///
    /// # Errors
    /// [`ResolveError`]: NXDOMAIN, no address records, timeout (the whole lookup is bounded by
    /// `timeout × attempts`), a server failure, or a name that is not a DNS name.
    pub async fn resolve(&self, name: &str) -> Result<Resolution, ResolveError> {
        let invalid = || ResolveError::InvalidName {
            name: name.to_owned(),
        };
        let key = host_key(name).ok_or_else(invalid)?;
        if let Some(addrs) = self.static_hosts.get(&key) {
            return Ok(Resolution {
                addrs: addrs.clone(),
                from_static: true,
            });
        }
        let Some(inner) = &self.inner else {
            return Err(ResolveError::Failed {
                name: key,
                detail: "no name servers configured: only static hosts resolve".to_owned(),
            });
        };
        let fqdn = Name::from_ascii(format!("{key}.")).map_err(|_| invalid())?;

        let lookups = async {
            tokio::join!(
                inner.lookup(fqdn.clone(), RecordType::A),
                inner.lookup(fqdn.clone(), RecordType::AAAA),
            )
        };
        let Ok((v4, v6)) = tokio::time::timeout(self.deadline, lookups).await else {
            return Err(ResolveError::Timeout { name: key });
        };

        let mut failures = Vec::with_capacity(2);
        let mut found = Vec::new();
        for (result, rtype) in [(v4, RecordType::A), (v6, RecordType::AAAA)] {
            match result {
                Ok(lookup) => found.extend(
                    lookup
                        .answers()
                        .iter()
                        .filter(|record| record.record_type() == rtype)
                        .filter_map(|record| record.data.ip_addr()),
                ),
                Err(err) => failures.push(err),
            }
        }
        if !found.is_empty() {
            return Ok(Resolution {
                addrs: dedup(found),
                from_static: false,
            });
        }
        Err(classify(key, &failures))
    }
}

/// The lookup key of a name: lowercase, without the trailing dot; `None` for something that
/// is not a DNS host name (empty, an IP literal, too long).
fn host_key(name: &str) -> Option<String> {
    let key = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if key.is_empty() || key.len() > 253 || key.parse::<IpAddr>().is_ok() {
        return None;
    }
    Name::from_ascii(&key).ok()?;
    Some(key)
}

/// The addresses in order, each once.
fn dedup(addrs: impl IntoIterator<Item = IpAddr>) -> Arc<[IpAddr]> {
    let mut out: Vec<IpAddr> = Vec::new();
    for addr in addrs {
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
    out.into()
}

/// One error for a lookup whose A and AAAA queries both came back without an address.
/// NXDOMAIN (an authoritative "no such name") wins, then timeout, then any other failure;
/// otherwise the name simply has no address records.
fn classify(name: String, failures: &[NetError]) -> ResolveError {
    let nxdomain = failures.iter().any(|err| {
        matches!(err, NetError::Dns(DnsError::NoRecordsFound(no)) if no.response_code == ResponseCode::NXDomain)
    });
    if nxdomain {
        return ResolveError::NxDomain { name };
    }
    if failures.iter().any(|err| matches!(err, NetError::Timeout)) {
        return ResolveError::Timeout { name };
    }
    let failed = failures.iter().find(|err| {
        !matches!(err, NetError::Dns(DnsError::NoRecordsFound(no)) if no.response_code == ResponseCode::NoError)
    });
    match failed {
        Some(err) => ResolveError::Failed {
            name,
            detail: err.to_string(),
        },
        None => ResolveError::NoRecords { name },
    }
}
