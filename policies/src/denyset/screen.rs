//! Screening a whole DNS answer: which address to dial, or why none may be.

use std::fmt;
use std::net::IpAddr;

use super::{DenyMatch, DenySet};

/// The outcome of [`DenySet::screen`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screened {
    /// Every answer passed; dial `addr` (the first answer) and nothing else.
    Allowed {
        /// The address to dial.
        addr: IpAddr,
        /// True when an exact-address rule decided (audit it as such).
        exact_rule: bool,
        /// The deny-set range the exact-address rule overrode for `addr`, if any.
        overrides: Option<DenyMatch>,
    },
    /// The answer as a whole is refused (`resolved_address_denied`).
    Denied(ScreenDenial),
}

/// Why an answer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreenDenial {
    /// The answer held no address at all.
    NoAddresses,
    /// `addr`, one of the answers, is in the deny-set.
    InDenySet {
        /// The first offending answer.
        addr: IpAddr,
        /// The range it matched.
        matched: DenyMatch,
    },
    /// `addr`, one of the answers, is not among the addresses the exact-address rule names.
    NotInAddressRule {
        /// The first offending answer.
        addr: IpAddr,
    },
}

impl DenySet {
    /// Screens every address of one resolution and picks the one to dial.
    ///
    /// - `exact_allowed` non-empty (the matching rule names exact addresses): EVERY answer must
    ///   be one of them (compared in canonical form, so `::ffff:a.b.c.d` equals `a.b.c.d`).
    ///   Those addresses bypass the deny-set ranges; protected sockets are never bypassed, and
    ///   the caller checks them with [`DenySet::is_protected_socket`] once the port is known.
    /// - `exact_allowed` empty: EVERY answer must be outside the deny-set. A mix of public and
    ///   denied answers is refused as a whole: a client library may pick any of them and
    ///   round-robin means a later connection could, so an answer that contains an internal
    ///   address is treated as the attempt to reach it that it usually is.
    ///
    /// The edge dials the returned address and never looks the name up again for this
    /// connection, so a rebinding answer cannot slip in between check and connect.
    pub fn screen(&self, addrs: &[IpAddr], exact_allowed: &[IpAddr]) -> Screened {
        let Some(&first) = addrs.first() else {
            return Screened::Denied(ScreenDenial::NoAddresses);
        };
        if !exact_allowed.is_empty() {
            let named = |addr: &IpAddr| {
                exact_allowed
                    .iter()
                    .any(|allowed| allowed.to_canonical() == addr.to_canonical())
            };
            if let Some(&addr) = addrs.iter().find(|addr| !named(addr)) {
                return Screened::Denied(ScreenDenial::NotInAddressRule { addr });
            }
            return Screened::Allowed {
                addr: first,
                exact_rule: true,
                overrides: self.check(first),
            };
        }
        let denied = addrs
            .iter()
            .find_map(|&addr| self.check(addr).map(|matched| (addr, matched)));
        match denied {
            Some((addr, matched)) => Screened::Denied(ScreenDenial::InDenySet { addr, matched }),
            None => Screened::Allowed {
                addr: first,
                exact_rule: false,
                overrides: None,
            },
        }
    }
}

impl fmt::Display for ScreenDenial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScreenDenial::NoAddresses => f.write_str("the answer holds no address"),
            ScreenDenial::InDenySet { addr, matched } => {
                write!(f, "resolved address {addr} is in the deny-set: {matched}")
            }
            ScreenDenial::NotInAddressRule { addr } => {
                write!(
                    f,
                    "resolved address {addr} is not named by the addresses rule"
                )
            }
        }
    }
}
