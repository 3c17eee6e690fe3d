//! The mandatory deny-set: addresses no sandbox may reach, checked on every resolved address at
//! connect time.
//!
//! A [`DenySet`] holds four things:
//! - the **mandatory ranges** of ARCHITECTURE.md ("Fixed rules of the boundary"), fixed at
//!   compile time ([`DenySet::mandatory_ranges`]);
//! - **operator additions** (additive only: nothing can remove a mandatory range);
//! - the **edge host's own interface addresses**, refreshed by the edge;
//! - the **protected sockets**: the edge's own listeners (and the control, SDS and admin
//!   endpoints) that nothing may reach, not even an exact-address rule.
//!
//! An IPv6 address that embeds an IPv4 address — IPv4-mapped (`::ffff:a.b.c.d`),
//! IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`), 6to4 (`2002::/16`, IPv4 in bits
//! 16..48) and Teredo (`2001::/32`, server IPv4 in bits 32..64, client IPv4 in the last 32 bits
//! inverted) — is denied when the embedded IPv4 address is denied.
//!
//! # Precedence (published and fixed)
//! 1. A protected socket is never reachable: no rule of any kind overrides it
//!    ([`DenySet::is_protected_socket`]; the caller checks it with the port it will dial).
//! 2. A rule that names exact addresses (`addresses:` on a host rule, or an IP-literal rule)
//!    allows exactly those addresses, even inside the deny-set; it is audited as such
//!    ([`Screened::Allowed`] with `exact_rule: true` and the range it `overrides`). Every
//!    answer must then be one of the named addresses.
//! 3. Otherwise the deny-set wins over every allow: every resolved address must lie outside it.
//!
//! # Refresh
//! A `DenySet` is an immutable value. The edge keeps it in an `arc_swap::ArcSwap<DenySet>` and,
//! when its interface addresses change, builds a new one
//! (`current.as_ref().clone().with_host_addresses(new)`) and swaps it in. The lists are small,
//! so rebuilding costs a few allocations once per refresh, while [`DenySet::check`] on the
//! request path stays lock-free and allocation-free.

mod ranges;
mod screen;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

pub use screen::{ScreenDenial, Screened};

/// The set of addresses a sandbox may never reach; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenySet {
    additions: Vec<IpNet>,
    host_addresses: Vec<IpAddr>,
    protected_sockets: Vec<SocketAddr>,
}

/// Why an address is denied: the range it fell in, where that range comes from, and the
/// embedded IPv4 address if the match was made through an IPv6 embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DenyMatch {
    /// The range that matched (a `/32` or `/128` for a host interface address).
    pub range: IpNet,
    /// Where the range comes from.
    pub kind: DenyKind,
    /// The IPv4 address found inside an IPv6 address, when that is what matched.
    pub embedded: Option<Embedding>,
}

/// The source of a deny-set range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyKind {
    /// One of the mandatory ranges of the architecture.
    Mandatory,
    /// An operator addition from the edge configuration.
    Operator,
    /// An address of one of the edge host's own interfaces.
    HostInterface,
}

/// An IPv4 address carried inside an IPv6 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Embedding {
    /// How the IPv4 address is carried.
    pub form: EmbedForm,
    /// The embedded IPv4 address.
    pub ipv4: Ipv4Addr,
}

/// The ways an IPv6 address can carry an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmbedForm {
    /// `::ffff:a.b.c.d` (RFC 4291 2.5.5.2).
    Mapped,
    /// `::a.b.c.d`, deprecated (RFC 4291 2.5.5.1).
    Compatible,
    /// `64:ff9b::a.b.c.d`, the NAT64 well-known prefix (RFC 6052).
    Nat64,
    /// `2002:aabb:ccdd::/48`, 6to4 (RFC 3056): IPv4 in bits 16..48.
    SixToFour,
    /// Teredo (RFC 4380) server address: IPv4 in bits 32..64 of `2001::/32`.
    TeredoServer,
    /// Teredo (RFC 4380) client address: the last 32 bits of `2001::/32`, inverted.
    TeredoClient,
}

impl DenySet {
    /// The mandatory deny-set alone: no operator additions, no host addresses, no protected
    /// sockets.
    pub fn mandatory() -> DenySet {
        DenySet {
            additions: Vec::new(),
            host_addresses: Vec::new(),
            protected_sockets: Vec::new(),
        }
    }

    /// The mandatory ranges, in the order they are checked (exactly the ARCHITECTURE.md list;
    /// a more specific range comes before a broader one that contains it).
    pub fn mandatory_ranges() -> impl Iterator<Item = IpNet> {
        ranges::MANDATORY_V4
            .iter()
            .copied()
            .map(IpNet::V4)
            .chain(ranges::MANDATORY_V6.iter().copied().map(IpNet::V6))
    }

    /// Adds operator ranges to the deny-set (additive only: nothing is ever removed).
    pub fn with_additions(mut self, additions: Vec<IpNet>) -> DenySet {
        for net in additions {
            let net = net.trunc();
            if !self.additions.contains(&net) {
                self.additions.push(net);
            }
        }
        self
    }

    /// Replaces the edge host's interface addresses (the edge refreshes them periodically).
    pub fn with_host_addresses(mut self, addresses: Vec<IpAddr>) -> DenySet {
        let mut addresses: Vec<IpAddr> = addresses.into_iter().map(|a| a.to_canonical()).collect();
        addresses.sort_unstable();
        addresses.dedup();
        self.host_addresses = addresses;
        self
    }

    /// Replaces the protected sockets: the edge's own listeners and the control, SDS and admin
    /// endpoints. A socket bound to `0.0.0.0` or `::` protects its port on every address.
    pub fn with_protected_sockets(mut self, sockets: Vec<SocketAddr>) -> DenySet {
        self.protected_sockets = sockets;
        self
    }

    /// The operator additions.
    pub fn additions(&self) -> &[IpNet] {
        &self.additions
    }

    /// The edge host's interface addresses currently in the set.
    pub fn host_addresses(&self) -> &[IpAddr] {
        &self.host_addresses
    }

    /// The protected sockets.
    pub fn protected_sockets(&self) -> &[SocketAddr] {
        &self.protected_sockets
    }

    /// Checks one address: `Some` with the first matching range when it is denied.
    ///
    /// Order: mandatory ranges, operator additions, host interface addresses; for IPv6, then
    /// each embedded IPv4 address against the same IPv4 checks.
    pub fn check(&self, ip: IpAddr) -> Option<DenyMatch> {
        match ip {
            IpAddr::V4(v4) => self.check_v4(v4, None),
            IpAddr::V6(v6) => self.check_v6(v6),
        }
    }

    /// Whether `addr` is (or may be) one of the protected sockets. The address is compared in
    /// canonical form (`::ffff:a.b.c.d` is `a.b.c.d`); a protected socket on an unspecified
    /// address, and a target on an unspecified address (which reaches the local host), match on
    /// the port alone.
    pub fn is_protected_socket(&self, addr: SocketAddr) -> bool {
        let ip = addr.ip().to_canonical();
        self.protected_sockets.iter().any(|socket| {
            let listener = socket.ip().to_canonical();
            socket.port() == addr.port()
                && (listener.is_unspecified() || ip.is_unspecified() || listener == ip)
        })
    }

    fn check_v4(&self, ip: Ipv4Addr, embedded: Option<Embedding>) -> Option<DenyMatch> {
        let found = |range: IpNet, kind: DenyKind| DenyMatch {
            range,
            kind,
            embedded,
        };
        if let Some(net) = ranges::MANDATORY_V4.iter().find(|net| net.contains(&ip)) {
            return Some(found(IpNet::V4(*net), DenyKind::Mandatory));
        }
        let added = self.additions.iter().find(|net| match net {
            IpNet::V4(net) => net.contains(&ip),
            IpNet::V6(_) => false,
        });
        if let Some(net) = added {
            return Some(found(*net, DenyKind::Operator));
        }
        if self.host_addresses.contains(&IpAddr::V4(ip)) {
            return Some(found(IpNet::V4(Ipv4Net::from(ip)), DenyKind::HostInterface));
        }
        None
    }

    fn check_v6(&self, ip: Ipv6Addr) -> Option<DenyMatch> {
        let found = |range: IpNet, kind: DenyKind| DenyMatch {
            range,
            kind,
            embedded: None,
        };
        if let Some(net) = ranges::MANDATORY_V6.iter().find(|net| net.contains(&ip)) {
            return Some(found(IpNet::V6(*net), DenyKind::Mandatory));
        }
        let added = self.additions.iter().find(|net| match net {
            IpNet::V6(net) => net.contains(&ip),
            IpNet::V4(_) => false,
        });
        if let Some(net) = added {
            return Some(found(*net, DenyKind::Operator));
        }
        if self.host_addresses.contains(&IpAddr::V6(ip)) {
            return Some(found(IpNet::V6(Ipv6Net::from(ip)), DenyKind::HostInterface));
        }
        ranges::embeddings(ip)
            .into_iter()
            .flatten()
            .find_map(|embedding| self.check_v4(embedding.ipv4, Some(embedding)))
    }
}

impl DenyKind {
    /// A stable snake_case name for audit events and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            DenyKind::Mandatory => "mandatory",
            DenyKind::Operator => "operator",
            DenyKind::HostInterface => "host_interface",
        }
    }
}

impl EmbedForm {
    /// A stable name for audit events and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            EmbedForm::Mapped => "ipv4-mapped",
            EmbedForm::Compatible => "ipv4-compatible",
            EmbedForm::Nat64 => "nat64",
            EmbedForm::SixToFour => "6to4",
            EmbedForm::TeredoServer => "teredo-server",
            EmbedForm::TeredoClient => "teredo-client",
        }
    }
}

impl fmt::Display for DenyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Embedding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.form.as_str(), self.ipv4)
    }
}

impl fmt::Display for DenyMatch {
    /// `10.0.0.0/8 (mandatory)`, or `127.0.0.0/8 (mandatory) via ipv4-mapped 127.0.0.1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.range, self.kind)?;
        if let Some(embedding) = &self.embedded {
            write!(f, " via {embedding}")?;
        }
        Ok(())
    }
}
