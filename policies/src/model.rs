//! The compiled policy model: what a profile allows, ready for hash lookups.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::http::HttpRules;
use crate::inject::Inject;

/// One compiled egress profile (one `EgressProfile` document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// `metadata.name`; the session token's `profile` claim selects it.
    pub name: String,
    /// Whether decisions are enforced or only reported.
    pub mode: Mode,
    /// Per-session limits.
    pub limits: Limits,
    /// Per-session exfiltration tripwire.
    pub tripwire: Tripwire,
    /// The rules, in file order.
    pub(crate) rules: Vec<Rule>,
    /// Exact host name → index into `rules`.
    pub(crate) exact: HashMap<String, usize>,
    /// Wildcard suffix (without `*.`) → index into `rules`.
    pub(crate) wildcard: HashMap<String, usize>,
    /// IP-literal rule address → index into `rules`.
    pub(crate) ip: HashMap<IpAddr, usize>,
}

impl Profile {
    /// Builds the lookup maps. Hosts are unique per profile (the loader refuses duplicates);
    /// should one repeat anyway, the first rule wins.
    pub(crate) fn new(
        name: String,
        mode: Mode,
        limits: Limits,
        tripwire: Tripwire,
        rules: Vec<Rule>,
    ) -> Profile {
        let mut exact = HashMap::new();
        let mut wildcard = HashMap::new();
        let mut ip = HashMap::new();
        for (index, rule) in rules.iter().enumerate() {
            match &rule.host {
                HostPattern::Exact(host) => exact.entry(host.clone()).or_insert(index),
                HostPattern::Wildcard(suffix) => wildcard.entry(suffix.clone()).or_insert(index),
                HostPattern::Ip(addr) => ip.entry(*addr).or_insert(index),
            };
        }
        Profile {
            name,
            mode,
            limits,
            tripwire,
            rules,
            exact,
            wildcard,
            ip,
        }
    }

    /// The profile's rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

/// Whether a profile's host, port, method and path decisions are enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Refuse what the profile does not allow.
    Enforce,
    /// Trial a profile: log would-be denials of host, port, method and path and allow them
    /// (never injecting a credential on such a request). Never relaxes tokens, the deny-set,
    /// IP literals, SNI/Host binding, limits or the kill switch.
    Report,
}

impl Mode {
    /// The name used in policy files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Report => "report",
        }
    }
}

/// Per-session limits. Every value is finite and above zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Sustained request rate.
    pub requests_per_second: u32,
    /// Requests allowed at once above the sustained rate.
    pub burst: u32,
    /// Concurrent connections (tunnels and plain requests).
    pub max_connections: u32,
    /// A tunnel with no bytes either way for this long is closed.
    pub tunnel_idle_timeout: Duration,
    /// A tunnel is closed after this long regardless of activity.
    pub tunnel_max_lifetime: Duration,
}

/// The per-session exfiltration tripwire: counters over a sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tripwire {
    /// Bytes uploaded (client to upstream) within `window` that trip it.
    pub upload_bytes: u64,
    /// Distinct destinations within `window` that trip it.
    pub distinct_destinations: u32,
    /// The counting window.
    pub window: Duration,
    /// What happens when it trips.
    pub action: TripwireAction,
}

/// What a tripped tripwire does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TripwireAction {
    /// Raise an alert (audit event and metric); traffic continues.
    Alert,
    /// Refuse the session's further requests with `tripwire`.
    Deny,
}

impl TripwireAction {
    /// The name used in policy files.
    pub const fn as_str(self) -> &'static str {
        match self {
            TripwireAction::Alert => "alert",
            TripwireAction::Deny => "deny",
        }
    }
}

/// One destination rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Where the rule is written: `file:line` (file relative to the policy directory).
    pub id: String,
    /// The host (or address) the rule names.
    pub host: HostPattern,
    /// Allowed ports, ascending and unique, never empty.
    pub ports: Vec<u16>,
    /// How traffic to the destination is carried.
    pub rung: Rung,
    /// Exact addresses this rule may reach even though the deny-set holds them (only on an
    /// exact-host rule; empty otherwise).
    pub addresses: Vec<IpAddr>,
    /// HTTP upgrades allowed on this destination (never on a rule with `inject`).
    pub upgrades: Vec<Upgrade>,
    /// Method and path rules for the requests inside a bumped tunnel (empty on `pass-through`).
    pub http: HttpRules,
    /// Credentials attached to every request the rule allows inside a bumped tunnel, in file
    /// order, each on its own header (only on a `bump` rule naming an exact host).
    pub inject: Vec<Inject>,
}

impl Rule {
    /// Whether the rule allows `port`.
    pub fn allows_port(&self, port: u16) -> bool {
        self.ports.binary_search(&port).is_ok()
    }

    /// Whether the rule allows the `Upgrade` protocol `u`.
    pub fn allows_upgrade(&self, u: Upgrade) -> bool {
        self.upgrades.contains(&u)
    }
}

/// The host part of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// Exactly this lowercase punycode name.
    Exact(String),
    /// Any sub-domain of this suffix (written `*.suffix`), at any depth; not the suffix itself.
    Wildcard(String),
    /// Exactly this address, written as an IP literal.
    Ip(IpAddr),
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(name) => f.write_str(name),
            HostPattern::Wildcard(suffix) => write!(f, "*.{suffix}"),
            HostPattern::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// How traffic to a destination is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rung {
    /// CONNECT: SNI must equal the CONNECT host, then bytes are spliced. Plain HTTP: forwarded
    /// with `Host` taken from the absolute URI.
    PassThrough,
    /// TLS interception: the edge terminates the sandbox's TLS with a leaf minted from the
    /// deployment CA, decides every request inside ([`Rule::check_request`]), attaches the
    /// rule's credentials and opens its own validated TLS to the upstream.
    Bump,
}

impl Rung {
    /// The name used in policy files and audit events.
    pub const fn as_str(self) -> &'static str {
        match self {
            Rung::PassThrough => "pass-through",
            Rung::Bump => "bump",
        }
    }
}

/// An HTTP `Upgrade` protocol a rule may allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Upgrade {
    /// `Upgrade: websocket`.
    WebSocket,
    /// `Upgrade: h2c` (cleartext HTTP/2).
    H2c,
}

impl Upgrade {
    /// The name used in policy files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Upgrade::WebSocket => "websocket",
            Upgrade::H2c => "h2c",
        }
    }

    /// Recognises one protocol token of an `Upgrade` header, case-insensitively, ignoring a
    /// `/version` suffix (`WebSocket`, `h2c`). `None` for any other protocol.
    pub fn from_header_token(token: &str) -> Option<Upgrade> {
        let name = token.trim().split('/').next().unwrap_or_default();
        if name.eq_ignore_ascii_case("websocket") {
            Some(Upgrade::WebSocket)
        } else if name.eq_ignore_ascii_case("h2c") {
            Some(Upgrade::H2c)
        } else {
            None
        }
    }
}
