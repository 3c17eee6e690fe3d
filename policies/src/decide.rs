//! The per-request decision: which rule of a profile allows a destination and port.
//!
//! Hash lookups only, never a scan: the exact name, then each parent domain (longest first)
//! in the wildcard map, or the address in the IP-literal map. Pure: no I/O, no clock.

use trust_core::DenyReason;

use crate::authority::Destination;
use crate::host;
use crate::model::{Profile, Rule};

impl Profile {
    /// Decides whether this profile allows `dest` on `port`, and by which rule.
    ///
    /// - [`Destination::Ip`]: only an IP-literal rule naming exactly that address matches (an
    ///   IPv4-mapped IPv6 literal does not match an IPv4 rule).
    /// - [`Destination::Name`]: the exact-host rule, then wildcard rules from the longest
    ///   suffix to the shortest; a match whose ports exclude `port` falls through to the next,
    ///   less specific one.
    ///
    /// `dest` must come from [`crate::parse_authority`] (lowercase punycode); any other
    /// spelling simply matches nothing.
    ///
    /// # Errors
    /// [`DenyReason::IpLiteralNotAllowed`] for an unlisted address,
    /// [`DenyReason::DestinationNotAllowed`] when no rule names the host, and
    /// [`DenyReason::PortNotAllowed`] when rules name it but none on `port`.
    pub fn decide(&self, dest: &Destination, port: u16) -> Result<&Rule, DenyReason> {
        match dest {
            Destination::Ip(ip) => {
                let rule = self.ip.get(ip).and_then(|&i| self.rules.get(i));
                match rule {
                    Some(rule) if rule.allows_port(port) => Ok(rule),
                    Some(_) => Err(DenyReason::PortNotAllowed),
                    None => Err(DenyReason::IpLiteralNotAllowed),
                }
            }
            Destination::Name(name) => self.decide_name(name, port),
        }
    }

    fn decide_name(&self, name: &str, port: u16) -> Result<&Rule, DenyReason> {
        // Defence in depth: a name that is not normalised (empty labels, uppercase) must not
        // reach the suffix walk, where `.example.com` would look like a sub-domain.
        if !host::is_valid_name(name) {
            return Err(DenyReason::DestinationNotAllowed);
        }
        let mut host_matched = false;
        let exact = self.exact.get(name);
        let parents = name
            .match_indices('.')
            .filter_map(|(dot, _)| name.get(dot.saturating_add(1)..));
        let wildcards = parents.filter_map(|suffix| self.wildcard.get(suffix));
        for &index in exact.into_iter().chain(wildcards) {
            let Some(rule) = self.rules.get(index) else {
                continue;
            };
            if rule.allows_port(port) {
                return Ok(rule);
            }
            host_matched = true;
        }
        Err(if host_matched {
            DenyReason::PortNotAllowed
        } else {
            DenyReason::DestinationNotAllowed
        })
    }
}

#[cfg(test)]
mod tests;
