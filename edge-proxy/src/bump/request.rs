//! The decision for one request inside a bumped tunnel. The tunnel's CONNECT was decided in full;
//! each request inside is decided again, in this order (the first failure answers):
//!
//! ```text
//! control ready → token expiry → revoked / deny-all → Proxy-Authorization (another session's
//!   token is refused, the tunnel's own is stripped) → tripwire, rate, head bytes → destination
//!   and address still allowed (reloads) → CONNECT inside → target form and
//!   Host == CONNECT authority → rule still `bump` → method and path (report mode may relax) →
//!   upgrade (never on an inject rule) → credentials
//! ```
//!
//! Credentials are attached only when every check above passed for real (not relaxed by report
//! mode), only from the rule that names this exact host, and a credential that is not available
//! refuses the request rather than sending it bare.

use crate::decide::{Allowed, Denied, token_of};
use crate::edge::Edge;
use crate::head::RequestHead;
use crate::record::Record;
use crate::secrets::Credential;
use crate::sessions::Trip;
use crate::sessions::now_unix;
use policies::{Destination, ReportDecision, Rung, Upgrade};
use scrub::Patterns;
use std::sync::Arc;
use trust_core::DenyReason;
use zeroize::Zeroizing;

/// One header the edge attaches upstream.
pub(crate) struct Injection {
    /// Lower-case header name.
    pub(crate) header: String,
    /// The rendered value (e.g. `Bearer <secret>`), zeroised on drop.
    pub(crate) value: Zeroizing<Vec<u8>>,
}

/// An allowed request inside a bumped tunnel.
pub(crate) struct Inner {
    /// The origin-form target sent upstream.
    pub(crate) path: String,
    /// Whether an upgrade the rule allows is requested.
    pub(crate) upgrade: bool,
    /// Headers to attach (empty: nothing injected).
    pub(crate) injections: Vec<Injection>,
    /// The forms of every injected value, to scrub from the response.
    pub(crate) patterns: Option<Arc<Patterns>>,
}

/// Decides one request read from inside the tunnel `tunnel`.
pub(crate) async fn decide(
    edge: &Edge,
    head: &RequestHead,
    tunnel: &Allowed,
    rec: &mut Record,
) -> Result<Inner, Denied> {
    if let Some(control) = &edge.control {
        control.ready()?;
    }
    let session = &tunnel.session;
    if session.claims.exp <= now_unix() {
        return Err(DenyReason::SessionExpired.into());
    }
    if let Some(control) = &edge.control {
        control.check_session(&session.claims.sid)?;
    }
    if head.proxy_authorization.is_some() {
        // Never obeyed: at most it may repeat the tunnel's own session (then it is stripped).
        let token = token_of(head.proxy_authorization.as_deref())?;
        let inner = edge
            .verifier
            .verify(&token)
            .await
            .map_err(|r| r.deny_reason())?;
        if inner.claims.sid != session.claims.sid || inner.claims.jti != session.claims.jti {
            return Err(DenyReason::InvalidSessionToken.into());
        }
    }
    // A tripwire crossed in another of the session's connections stops this one too.
    if tunnel.state.is_tripped() {
        return Err(DenyReason::Tripwire.into());
    }
    tunnel.state.check_rate().map_err(|secs| Denied {
        reason: DenyReason::RateLimited,
        retry_after: Some(secs),
    })?;
    // The head is upload too (a query string or headers can carry data).
    if let Trip::Crossed { deny } = tunnel.state.count(None, head.len as u64) {
        crate::tripwire::report(edge, session, rec);
        if deny {
            return Err(DenyReason::Tripwire.into());
        }
    }
    // A reload may have taken the destination or the address it dialled away.
    if !crate::decide::still_allowed(edge, tunnel) {
        return Err(DenyReason::DestinationNotAllowed.into());
    }
    if head.method.eq_ignore_ascii_case("CONNECT") {
        return Err(DenyReason::MethodNotAllowed.into());
    }
    let path = origin_form(head, tunnel)?;
    check_host(head.host.as_deref(), tunnel)?;

    let policies = edge.policies.load();
    rec.policy_hash = Some(policies.hash().to_owned());
    let profile = policies
        .profile(&session.claims.profile)
        .ok_or(DenyReason::UnknownProfile)?;
    let destination = tunnel
        .target
        .destination
        .as_ref()
        .ok_or(DenyReason::IpLiteralNotAllowed)?;
    let rule = match profile.decide_report(destination, tunnel.target.port) {
        ReportDecision::Allow(rule) if rule.rung == Rung::Bump => rule,
        ReportDecision::Allow(_) | ReportDecision::WouldDeny(_) => {
            // A reload turned the destination into pass-through (or report-only): the tunnel
            // cannot change rungs, so nothing more is decrypted here.
            return Err(DenyReason::ProtocolNotAllowed.into());
        }
        ReportDecision::Deny(reason) => return Err(reason.into()),
    };
    rec.rule = Some(rule.id.clone());
    rec.rung = Some(rule.rung);
    let mut relaxed = false;
    if let Err(reason) = rule.check_request(&head.method, &path) {
        if profile.mode == policies::Mode::Report {
            rec.enforce_would_deny = Some(reason);
            relaxed = true;
        } else {
            return Err(reason.into());
        }
    }
    let upgrade = match head.upgrade.as_deref() {
        None => false,
        Some(value) => {
            let wanted = value
                .split(',')
                .map(Upgrade::from_header_token)
                .collect::<Option<Vec<_>>>()
                .unwrap_or_default();
            let allowed = !wanted.is_empty()
                && rule.inject.is_empty()
                && wanted.iter().all(|u| rule.allows_upgrade(*u));
            if !allowed {
                return Err(DenyReason::ProtocolNotAllowed.into());
            }
            true
        }
    };
    let mut injections = Vec::new();
    let mut credentials: Vec<(&str, Credential)> = Vec::new();
    if !relaxed && !rule.inject.is_empty() {
        let store = edge
            .secrets
            .as_ref()
            .ok_or(DenyReason::CredentialUnavailable)?;
        for inject in &rule.inject {
            let credential = match credentials.iter().find(|(n, _)| *n == inject.secret) {
                Some((_, c)) => c.clone(),
                None => {
                    let c = store
                        .get(&inject.secret)
                        .ok_or(DenyReason::CredentialUnavailable)?;
                    credentials.push((&inject.secret, c.clone()));
                    rec.injected.push(inject.secret.clone());
                    c
                }
            };
            let raw = credential.secret.value().generic().unwrap_or_default();
            injections.push(Injection {
                header: inject.header.clone(),
                value: Zeroizing::new(inject.render(raw)),
            });
        }
    }
    let patterns = match credentials.as_slice() {
        [] => None,
        [(_, one)] => Some(one.patterns.clone()),
        several => {
            // Several secrets on one request (rare): one automaton for all of them.
            let raws: Vec<&[u8]> = several
                .iter()
                .map(|(_, c)| c.secret.value().generic().unwrap_or_default())
                .collect();
            Some(Arc::new(Patterns::new(&raws)))
        }
    };
    Ok(Inner {
        path,
        upgrade,
        injections,
        patterns,
    })
}

/// The origin-form target of a request inside the tunnel. An absolute-form target must name the
/// tunnel's own authority; `*` (asterisk form) is refused.
fn origin_form(head: &RequestHead, tunnel: &Allowed) -> Result<String, Denied> {
    let target = head.target.as_str();
    if target.starts_with('/') {
        return Ok(target.to_owned());
    }
    let rest = strip_scheme(target).ok_or(DenyReason::PathNotAllowed)?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (
            rest.get(..i).unwrap_or_default(),
            rest.get(i..).unwrap_or_default(),
        ),
        None => (rest, "/"),
    };
    if !same_authority(authority, tunnel) {
        return Err(DenyReason::HostMismatch.into());
    }
    Ok(if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    })
}

fn strip_scheme(target: &str) -> Option<&str> {
    for scheme in ["https://", "http://"] {
        if let Some(prefix) = target.get(..scheme.len())
            && prefix.eq_ignore_ascii_case(scheme)
        {
            return target.get(scheme.len()..);
        }
    }
    None
}

/// `Host` must be present and name the CONNECT authority: normalised host and effective port.
fn check_host(host: Option<&str>, tunnel: &Allowed) -> Result<(), Denied> {
    match host {
        Some(h) if same_authority(h, tunnel) => Ok(()),
        _ => Err(DenyReason::HostMismatch.into()),
    }
}

fn same_authority(text: &str, tunnel: &Allowed) -> bool {
    match policies::parse_authority(text, Some(443)) {
        Ok((destination, port)) => {
            port == tunnel.target.port
                && match (&destination, &tunnel.target.destination) {
                    (Destination::Name(a), Some(Destination::Name(b))) => a == b,
                    (Destination::Ip(a), Some(Destination::Ip(b))) => a == b,
                    _ => false,
                }
        }
        Err(_) => false,
    }
}
