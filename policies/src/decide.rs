//! The per-request decision: which rule of a profile allows a destination and port.
//!
//! Hash lookups only, never a scan: the exact name, then each parent domain (longest first)
//! in the wildcard map, or the address in the IP-literal map. Pure: no I/O, no clock.

use trust_core::DenyReason;

use crate::authority::Destination;
use crate::host;
use crate::model::{Mode, Profile, Rule};

/// A decision under the profile's [`Mode`]: what the edge does with a request's host and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportDecision<'p> {
    /// A rule allows the destination and port: carry it on the rule's rung (with the rule's
    /// exact `addresses:`, if any, when screening the resolved addresses).
    Allow(&'p Rule),
    /// Report mode only: the profile would deny the request for this reason, and lets it
    /// through. The edge marks the audit event `enforce_would_deny: true`; there is no rule,
    /// so it screens the resolved addresses with NO exact addresses (the whole deny-set
    /// applies), injects nothing, allows no `Upgrade`, and every later check (deny-set,
    /// protected sockets, limits, SNI/Host binding) still refuses as usual.
    WouldDeny(DenyReason),
    /// Refused, in either mode.
    Deny(DenyReason),
}

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

    /// Decides like [`Profile::decide`], then applies the profile's mode.
    ///
    /// In [`Mode::Enforce`] every refusal is [`ReportDecision::Deny`]. In [`Mode::Report`] a
    /// host or port refusal of a NAME ([`DenyReason::DestinationNotAllowed`],
    /// [`DenyReason::PortNotAllowed`]) becomes [`ReportDecision::WouldDeny`]. An IP-literal
    /// destination is never relaxed by report mode: an unlisted address
    /// ([`DenyReason::IpLiteralNotAllowed`]) and a listed address on an unlisted port
    /// ([`DenyReason::PortNotAllowed`]) are both [`ReportDecision::Deny`], since an IP-literal
    /// rule bypasses the deny-set for its address and must not widen to other ports. Report
    /// mode relaxes nothing else either (tokens, the deny-set, SNI/Host binding, limits, the
    /// kill switch are checked outside this function and stay enforced). Pure, like
    /// [`Profile::decide`].
    pub fn decide_report(&self, dest: &Destination, port: u16) -> ReportDecision<'_> {
        match self.decide(dest, port) {
            Ok(rule) => ReportDecision::Allow(rule),
            Err(reason @ (DenyReason::DestinationNotAllowed | DenyReason::PortNotAllowed))
                if self.mode == Mode::Report && matches!(dest, Destination::Name(_)) =>
            {
                ReportDecision::WouldDeny(reason)
            }
            Err(reason) => ReportDecision::Deny(reason),
        }
    }

    /// Every rule whose host matches `dest`, in the order [`Profile::decide`] tries them
    /// (exact name, then wildcards from the longest suffix), whatever their ports: what
    /// `policy explain` shows when a port falls through. Allocates; not for the request path.
    pub fn matching_rules(&self, dest: &Destination) -> Vec<&Rule> {
        let indexes: Vec<usize> = match dest {
            Destination::Ip(ip) => self.ip.get(ip).copied().into_iter().collect(),
            Destination::Name(name) if host::is_valid_name(name) => {
                let parents = name
                    .match_indices('.')
                    .filter_map(|(dot, _)| name.get(dot.saturating_add(1)..));
                self.exact
                    .get(name.as_str())
                    .into_iter()
                    .chain(parents.filter_map(|suffix| self.wildcard.get(suffix)))
                    .copied()
                    .collect()
            }
            Destination::Name(_) => Vec::new(),
        };
        indexes.iter().filter_map(|&i| self.rules.get(i)).collect()
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
