//! The decision for one request, in the fixed order of ARCHITECTURE.md; the first failure answers:
//!
//! ```text
//! parse/framing → control ready → token → revoked / deny-all → profile → IP literal → host → port → limits → resolve → deny-set
//!   → Host binding → upgrade
//! ```
//!
//! A name is resolved only after the profile allowed it, so the edge's resolver cannot be used to
//! leak data through lookups of names a sandbox chose.

use crate::edge::Edge;
use crate::head::RequestHead;
use crate::record::Record;
use crate::sessions::{SessionState, Trip};
use crate::target::{self, Kind, Target};
use base64::Engine;
use policies::denyset::Screened;
use policies::{Destination, ReportDecision, Upgrade};
use std::borrow::Cow;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use trust_core::DenyReason;
use trust_core::token::VerifiedSession;

/// A refusal with its optional retry hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Denied {
    /// Why.
    pub(crate) reason: DenyReason,
    /// Seconds to wait (rate limits).
    pub(crate) retry_after: Option<u64>,
}

impl From<DenyReason> for Denied {
    fn from(reason: DenyReason) -> Self {
        Denied {
            reason,
            retry_after: None,
        }
    }
}

/// An allowed request: where to go and on whose behalf.
#[derive(Clone)]
pub(crate) struct Allowed {
    /// The parsed target.
    pub(crate) target: Target,
    /// The verified session.
    pub(crate) session: Arc<VerifiedSession>,
    /// The session's state on this edge.
    pub(crate) state: Arc<SessionState>,
    /// The checked address to dial: the only one the edge will connect to.
    pub(crate) addr: SocketAddr,
    /// The SNI a tunnel's ClientHello must carry (`None` for an IP-literal destination).
    pub(crate) sni: Option<String>,
}

/// Decides `head`, filling `rec` as it goes.
pub(crate) async fn decide(
    edge: &Edge,
    head: &RequestHead,
    rec: &mut Record,
) -> Result<Allowed, Denied> {
    let target = target::parse(head).map_err(|_| DenyReason::MalformedRequest)?;
    rec.dst_port = Some(target.port);
    rec.dst_host = Some(match &target.destination {
        Some(Destination::Name(n)) => n.clone(),
        Some(Destination::Ip(ip)) => ip.to_string(),
        None => target.authority.clone(),
    });

    if let Some(control) = &edge.control {
        control.ready()?;
    }
    let token = token_of(head.proxy_authorization.as_deref())?;
    let session = edge
        .verifier
        .verify(&token)
        .await
        .map_err(|r| r.deny_reason())?;
    rec.session = Some(session.clone());
    if let Some(control) = &edge.control {
        control.check_session(&session.claims.sid)?;
    }

    let policies = edge.policies.load();
    rec.policy_hash = Some(policies.hash().to_owned());
    let profile = policies
        .profile(&session.claims.profile)
        .ok_or(DenyReason::UnknownProfile)?;
    let destination = target
        .destination
        .as_ref()
        .ok_or(DenyReason::IpLiteralNotAllowed)?;
    // Report mode relaxes host and port refusals only (see `Profile::decide_report`).
    let rule = match profile.decide_report(destination, target.port) {
        ReportDecision::Deny(reason) => return Err(reason.into()),
        ReportDecision::Allow(rule) => {
            rec.rule = Some(rule.id.clone());
            rec.rung = Some(rule.rung);
            Some(rule)
        }
        ReportDecision::WouldDeny(reason) => {
            rec.enforce_would_deny = Some(reason);
            None
        }
    };

    let state = edge
        .sessions
        .get_or_create(&session.claims.sid, session.claims.exp, profile);
    if state.is_tripped() {
        return Err(DenyReason::Tripwire.into());
    }
    state.check_rate().map_err(|secs| Denied {
        reason: DenyReason::RateLimited,
        retry_after: Some(secs),
    })?;
    let mut h = DefaultHasher::new();
    (destination, target.port).hash(&mut h);
    if let Trip::Crossed { deny } = state.count(Some(h.finish()), head.len as u64) {
        crate::tripwire::report(edge, &session, rec);
        if deny {
            return Err(DenyReason::Tripwire.into());
        }
    }

    let (candidates, sni): (Vec<IpAddr>, Option<String>) = match destination {
        Destination::Ip(ip) => (vec![*ip], None),
        Destination::Name(name) => {
            let resolved = edge
                .resolver
                .resolve(name)
                .await
                .map_err(|_| DenyReason::ResolutionFailed)?;
            (resolved.addrs.to_vec(), Some(name.clone()))
        }
    };
    let exact: &[IpAddr] = match destination {
        Destination::Ip(ip) => std::slice::from_ref(ip),
        Destination::Name(_) => rule.map_or(&[], |r| &r.addresses),
    };
    let deny_set = edge.deny_set.load();
    let ip = match deny_set.screen(&candidates, exact) {
        Screened::Allowed {
            addr, overrides, ..
        } => {
            if overrides.is_some() {
                rec.exception = Some("address_rule");
            }
            addr
        }
        Screened::Denied(_) => {
            rec.dst_addr = candidates.first().copied();
            return Err(DenyReason::ResolvedAddressDenied.into());
        }
    };
    let addr = SocketAddr::new(ip, target.port);
    rec.dst_addr = Some(ip);
    if deny_set.is_protected_socket(addr) {
        return Err(DenyReason::ResolvedAddressDenied.into());
    }

    // An absolute-form request's Host must be its target's authority, byte for byte: a
    // different Host is a confusion attempt (and pingora would refuse it unstructured).
    if matches!(target.kind, Kind::Forward { .. })
        && head.host.as_deref().is_some_and(|h| h != target.authority)
    {
        return Err(DenyReason::HostMismatch.into());
    }
    // A plain request to a `bump` destination still obeys its method and path rules (report
    // mode may relax them); nothing is ever injected over plain HTTP.
    if let (Kind::Forward { path }, Some(rule)) = (&target.kind, rule)
        && rule.rung == policies::Rung::Bump
        && let Err(reason) = rule.check_request(&head.method, path)
    {
        if profile.mode == policies::Mode::Report {
            rec.enforce_would_deny = Some(reason);
        } else {
            return Err(reason.into());
        }
    }
    if let (Kind::Forward { .. }, Some(upgrade)) = (&target.kind, head.upgrade.as_deref()) {
        let wanted = if upgrade.eq_ignore_ascii_case("websocket") {
            Some(Upgrade::WebSocket)
        } else if upgrade.eq_ignore_ascii_case("h2c") {
            Some(Upgrade::H2c)
        } else {
            None
        };
        if !wanted.is_some_and(|u| rule.is_some_and(|r| r.allows_upgrade(u))) {
            return Err(DenyReason::ProtocolNotAllowed.into());
        }
    }
    Ok(Allowed {
        target,
        session,
        state,
        addr,
        sni,
    })
}

/// Whether the current policy set still allows an open tunnel to `allowed`'s destination and
/// the address it dialled (after a reload).
pub(crate) fn still_allowed(edge: &Edge, allowed: &Allowed) -> bool {
    let policies = edge.policies.load();
    let Some(profile) = policies.profile(&allowed.session.claims.profile) else {
        return false;
    };
    let Some(destination) = &allowed.target.destination else {
        return false;
    };
    let exact: &[IpAddr] = match (
        profile.decide_report(destination, allowed.target.port),
        destination,
    ) {
        (ReportDecision::Deny(_), _) => return false,
        (_, Destination::Ip(ip)) => std::slice::from_ref(ip),
        (ReportDecision::Allow(rule), Destination::Name(_)) => &rule.addresses,
        (ReportDecision::WouldDeny(_), Destination::Name(_)) => &[],
    };
    matches!(
        edge.deny_set.load().screen(&[allowed.addr.ip()], exact),
        Screened::Allowed { .. }
    )
}

/// The session token from `Proxy-Authorization`: `Bearer <t>`, or `Basic` with the token as the
/// password (or as the user name when the password is empty).
pub(crate) fn token_of(header: Option<&str>) -> Result<Cow<'_, str>, Denied> {
    let value = header.ok_or(DenyReason::MissingSessionToken)?;
    let (scheme, rest) = value
        .split_once(' ')
        .ok_or(DenyReason::InvalidSessionToken)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        return Ok(Cow::Borrowed(rest));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        // Decoding allocates; the decoded token is then looked up by hash like any other.
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| DenyReason::InvalidSessionToken)?;
        let text = String::from_utf8(decoded).map_err(|_| DenyReason::InvalidSessionToken)?;
        let token = match text.split_once(':') {
            Some((user, "")) => user.to_owned(),
            Some((_, pass)) => pass.to_owned(),
            None => text,
        };
        if token.is_empty() {
            return Err(DenyReason::MissingSessionToken.into());
        }
        return Ok(Cow::Owned(token));
    }
    Err(DenyReason::InvalidSessionToken.into())
}
