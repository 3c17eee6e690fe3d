//! Who may read which secret: decided on the peer the transport authenticated, never on what
//! the client claims.
//!
//! A [`Grant`] matches a peer (Unix uid or gid from `SO_PEERCRED`, a TCP client certificate's
//! SAN, or — only with the explicit flag — any loopback TCP client) and lists the secret names
//! it may read. A grant may also list node ids: then it applies only to streams whose node id
//! matches. The node id is chosen by the caller, so it can only select among the grants the
//! peer already holds — it narrows, never widens.

use std::net::SocketAddr;

/// The identity the transport proved for a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// A Unix-socket peer, from `SO_PEERCRED`.
    Unix {
        /// Effective user id.
        uid: u32,
        /// Effective group id.
        gid: u32,
    },
    /// A TCP peer that presented a client certificate our CA verified.
    Certificate {
        /// The certificate's subject alternative names: DNS names, URIs and IP addresses as text.
        sans: Vec<String>,
    },
    /// A plain-TCP loopback peer (only with `insecure_loopback_tcp`): proves nothing.
    InsecureLoopback {
        /// The client's address.
        addr: SocketAddr,
    },
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Unix { uid, gid } => write!(f, "unix uid={uid} gid={gid}"),
            Peer::Certificate { sans } => write!(f, "cert san={}", sans.join(",")),
            Peer::InsecureLoopback { addr } => write!(f, "loopback {addr}"),
        }
    }
}

/// Which peers a grant applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerMatch {
    /// Unix-socket peers with this uid.
    Uid(u32),
    /// Unix-socket peers with this gid.
    Gid(u32),
    /// TLS peers whose certificate carries this SAN (exact match).
    San(String),
    /// Plain loopback TCP peers (only reachable with `insecure_loopback_tcp`).
    InsecureLoopback,
}

impl PeerMatch {
    fn matches(&self, peer: &Peer) -> bool {
        match (self, peer) {
            (PeerMatch::Uid(want), Peer::Unix { uid, .. }) => want == uid,
            (PeerMatch::Gid(want), Peer::Unix { gid, .. }) => want == gid,
            (PeerMatch::San(want), Peer::Certificate { sans }) => sans.iter().any(|s| s == want),
            (PeerMatch::InsecureLoopback, Peer::InsecureLoopback { .. }) => true,
            _ => false,
        }
    }
}

/// A name pattern: exact, a prefix ending in `*`, or `*` for everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    /// A pattern from its text.
    pub fn new(text: impl Into<String>) -> Pattern {
        Pattern(text.into())
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => self.0 == name,
        }
    }

    /// The pattern's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One access rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// A label for logs, audit and `/debug/sds`.
    pub name: String,
    /// The peers it applies to.
    pub peer: PeerMatch,
    /// The secret names they may read.
    pub secrets: Vec<Pattern>,
    /// If set, the grant applies only to streams whose node id matches one of these.
    pub nodes: Option<Vec<Pattern>>,
}

/// A refusal: the first name the peer may not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The refused name.
    pub name: String,
}

/// The grant table.
#[derive(Debug, Clone, Default)]
pub struct Access {
    grants: Vec<Grant>,
}

impl Access {
    /// A table of `grants`.
    pub fn new(grants: Vec<Grant>) -> Access {
        Access { grants }
    }

    /// The grants, in order.
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    fn applicable<'a>(&'a self, peer: &'a Peer, node: &'a str) -> impl Iterator<Item = &'a Grant> {
        self.grants.iter().filter(move |g| {
            g.peer.matches(peer)
                && g.nodes
                    .as_ref()
                    .is_none_or(|nodes| nodes.iter().any(|p| p.matches(node)))
        })
    }

    /// Whether `peer`, on a stream claiming `node`, may read `name`.
    pub fn allows(&self, peer: &Peer, node: &str, name: &str) -> bool {
        self.applicable(peer, node)
            .any(|g| g.secrets.iter().any(|p| p.matches(name)))
    }

    /// Checks every name; the first refused one is returned.
    ///
    /// # Errors
    /// [`Denied`] naming the first name `peer` may not read.
    pub fn check<'a>(
        &self,
        peer: &Peer,
        node: &str,
        names: impl IntoIterator<Item = &'a String>,
    ) -> Result<(), Denied> {
        for name in names {
            if !self.allows(peer, node, name) {
                return Err(Denied { name: name.clone() });
            }
        }
        Ok(())
    }

    /// The labels of the grants that apply to `peer` on `node` (for `/debug/sds`).
    pub fn grant_names(&self, peer: &Peer, node: &str) -> Vec<String> {
        self.applicable(peer, node)
            .map(|g| g.name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests;
