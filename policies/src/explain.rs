//! `policy explain`: which rule decides a request for a profile, and why; with resolved
//! addresses, what the deny-set does with them.
//!
//! The explanation follows the edge's fixed check order for the parts a policy decides:
//! profile → IP literal → host → port → (resolve) → deny-set → (bump) method and path →
//! credentials (names only, never values). What only the running edge
//! knows (the token, revocation, limits, the tripwire, its own listeners, operator
//! additions to the deny-set) is not part of it. Pure: no resolver, no clock.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;
use trust_core::DenyReason;

use crate::authority::Destination;
use crate::decide::ReportDecision;
use crate::denyset::{DenySet, Screened};
use crate::model::{Mode, Rule, Rung};

mod bump;

use crate::request::{Carried, Request, serialize_display};
use crate::set::PolicySet;
pub use bump::{HttpCheck, InjectView};

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The edge carries the request (possibly only because of report mode).
    Allow,
    /// The edge refuses it.
    Deny,
}

impl Decision {
    /// `allow` or `deny`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
        }
    }
}

/// A rule, as shown to a reviewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleView {
    /// `file:line` (file relative to the policy directory), as in audit events.
    pub id: String,
    /// The host pattern.
    pub host: String,
    /// Allowed ports.
    pub ports: Vec<u16>,
    /// The rung.
    pub rung: String,
    /// Exact addresses the rule may reach past the deny-set.
    pub addresses: Vec<IpAddr>,
    /// Allowed `Upgrade` protocols.
    pub upgrades: Vec<String>,
    /// Allowed methods inside a bumped tunnel (empty: any but TRACE and CONNECT).
    pub methods: Vec<String>,
    /// Allowed path prefixes inside a bumped tunnel (empty: any safe path).
    pub paths: Vec<String>,
    /// Credentials the rule attaches (names and headers, never values).
    pub inject: Vec<InjectView>,
}

impl From<&Rule> for RuleView {
    fn from(rule: &Rule) -> RuleView {
        RuleView {
            id: rule.id.clone(),
            host: rule.host.to_string(),
            ports: rule.ports.clone(),
            rung: rule.rung.as_str().to_owned(),
            addresses: rule.addresses.clone(),
            upgrades: rule
                .upgrades
                .iter()
                .map(|u| u.as_str().to_owned())
                .collect(),
            methods: rule.http.methods.clone(),
            paths: rule.http.paths.clone(),
            inject: rule.inject.iter().map(InjectView::from).collect(),
        }
    }
}

impl fmt::Display for RuleView {
    /// `sandbox-default.yaml:28 (host pypi.org, ports 443, rung pass-through)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (host {}, ports {}, rung {}",
            self.id,
            self.host,
            join(&self.ports),
            self.rung
        )?;
        if !self.addresses.is_empty() {
            write!(f, ", addresses {}", join(&self.addresses))?;
        }
        if !self.upgrades.is_empty() {
            write!(f, ", upgrades {}", self.upgrades.join(", "))?;
        }
        if !self.methods.is_empty() {
            write!(f, ", methods {}", self.methods.join(", "))?;
        }
        if !self.paths.is_empty() {
            write!(f, ", paths {}", self.paths.join(", "))?;
        }
        if !self.inject.is_empty() {
            write!(f, ", inject {}", join(&self.inject))?;
        }
        f.write_str(")")
    }
}

/// What the deny-set does with the addresses the destination resolves to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressCheck {
    /// The answers screened (for an IP literal, the literal itself).
    pub answers: Vec<IpAddr>,
    /// The exact addresses that may pass the deny-set (the rule's `addresses:`, or the
    /// literal of an IP-literal rule); empty when the whole deny-set applies.
    pub exact_addresses: Vec<IpAddr>,
    /// Whether the answers pass.
    pub allowed: bool,
    /// The one address the edge would dial.
    pub dial: Option<IpAddr>,
    /// The deny-set range an exact-address rule overrides for `dial` (audited as such).
    pub overrides: Option<String>,
    /// A sentence saying what happened.
    pub detail: String,
}

/// The whole explanation of one request for one profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The profile asked about.
    pub profile: String,
    /// Its mode, when the profile exists.
    pub mode: Option<String>,
    /// The request, as the edge sees it.
    pub request: Request,
    /// `CONNECT pypi.org:443` or `GET http://example.com:80/`.
    pub seen_by_edge: String,
    /// The decision.
    pub decision: Decision,
    /// True when the profile is in report mode and lets through what enforce mode would deny.
    pub enforce_would_deny: bool,
    /// Why it is denied (or, with `enforce_would_deny`, why enforce mode would deny it).
    #[serde(serialize_with = "serialize_reason")]
    pub reason: Option<DenyReason>,
    /// The rule that allowed the host and port.
    pub rule: Option<RuleView>,
    /// The rung the request would be carried on.
    pub rung: Option<String>,
    /// Rules that name the host but not the port, tried before the deciding rule (or
    /// before the refusal): the port fall-through.
    pub passed_over: Vec<RuleView>,
    /// The deny-set's verdict on the resolved addresses, when they are known.
    pub address_check: Option<AddressCheck>,
    /// The method and path verdict of a `bump` rule (`GET /` for a bare CONNECT authority).
    pub http: Option<HttpCheck>,
    /// The credentials the edge would attach (names and headers, never values): only on a
    /// `bump` rule, over TLS, for a request it allows outright (never one let through only by
    /// report mode).
    pub inject: Vec<InjectView>,
    /// What a reviewer should know about this decision.
    pub notes: Vec<String>,
}

/// Explains `request` for `profile` in `set`, screening `answers` (the addresses the name
/// resolves to, if given) against `deny_set`.
pub fn explain(
    set: &PolicySet,
    profile: &str,
    request: &Request,
    answers: &[IpAddr],
    deny_set: &DenySet,
) -> Explanation {
    let mut out = Explanation {
        profile: profile.to_owned(),
        mode: None,
        request: request.clone(),
        seen_by_edge: request.to_string(),
        decision: Decision::Deny,
        enforce_would_deny: false,
        reason: None,
        rule: None,
        rung: None,
        passed_over: Vec::new(),
        address_check: None,
        http: None,
        inject: Vec::new(),
        notes: Vec::new(),
    };
    let Some(p) = set.profile(profile) else {
        out.reason = Some(DenyReason::UnknownProfile);
        let names: Vec<&str> = set.profiles().map(|p| p.name.as_str()).collect();
        out.notes.push(format!(
            "no profile is called `{profile}`; the profiles are: {}",
            if names.is_empty() {
                "(none)".to_owned()
            } else {
                names.join(", ")
            }
        ));
        return out;
    };
    out.mode = Some(p.mode.as_str().to_owned());
    let dest = &request.destination;
    let decision = p.decide_report(dest, request.port);
    let deciding = match decision {
        ReportDecision::Allow(rule) => Some(rule),
        _ => None,
    };
    out.passed_over = p
        .matching_rules(dest)
        .into_iter()
        .take_while(|r| deciding.is_none_or(|d| !std::ptr::eq(*r, d)))
        .map(RuleView::from)
        .collect();
    if !out.passed_over.is_empty() {
        out.notes.push(format!(
            "{} rule(s) name this host but not port {}{}",
            out.passed_over.len(),
            request.port,
            if deciding.is_some() {
                ", so a less specific rule decided"
            } else {
                ", and no less specific rule allows it"
            }
        ));
    }
    let exact: Vec<IpAddr> = match decision {
        ReportDecision::Deny(reason) => {
            out.reason = Some(reason);
            if p.mode == Mode::Report {
                out.notes.push(
                    "report mode never relaxes an IP-literal refusal: it is denied in both modes"
                        .to_owned(),
                );
            }
            return out;
        }
        ReportDecision::WouldDeny(reason) => {
            out.decision = Decision::Allow;
            out.enforce_would_deny = true;
            out.reason = Some(reason);
            out.notes.push(format!(
                "report mode: enforce mode would deny this ({}); the edge lets it through, audits \
                 it with enforce_would_deny: true, injects nothing, and still applies the \
                 deny-set in full",
                reason.code()
            ));
            Vec::new()
        }
        ReportDecision::Allow(rule) => {
            out.decision = Decision::Allow;
            out.rule = Some(RuleView::from(rule));
            out.rung = Some(rule.rung.as_str().to_owned());
            out.notes.push(rung_note(request, rule));
            rule.addresses.clone()
        }
    };
    let screened: Option<(Vec<IpAddr>, Vec<IpAddr>)> = match dest {
        Destination::Ip(ip) => {
            if !answers.is_empty() {
                out.notes.push(
                    "an IP literal is not resolved; the given answers are ignored".to_owned(),
                );
            }
            Some((vec![*ip], vec![*ip]))
        }
        Destination::Name(_) if answers.is_empty() => {
            out.notes.push(if exact.is_empty() {
                "the deny-set is checked on the resolved addresses at connect time; give them \
                 (`--resolve host=ip`) to see its verdict"
                    .to_owned()
            } else {
                format!(
                    "every resolved address must be one of {} (the rule's exact `addresses:`); \
                     give them (`--resolve host=ip`) to see the verdict",
                    join(&exact)
                )
            });
            None
        }
        Destination::Name(_) => Some((answers.to_vec(), exact)),
    };
    if let Some((answers, exact)) = screened {
        let check = address_check(deny_set, answers, exact);
        if !check.allowed {
            out.decision = Decision::Deny;
            out.reason = Some(DenyReason::ResolvedAddressDenied);
            out.enforce_would_deny = false;
        }
        out.address_check = Some(check);
    }
    if let Some(rule) = deciding.filter(|r| r.rung == Rung::Bump)
        && out.decision == Decision::Allow
    {
        bump::inside(&mut out, request, rule, p.mode);
    }
    if out.decision == Decision::Allow {
        out.notes.push(
            "at run time the edge also checks the session token and kill switch, limits and \
             tripwire, its own listeners and operator additions to the deny-set"
                .to_owned(),
        );
    }
    out
}

fn rung_note(request: &Request, rule: &Rule) -> String {
    if rule.rung == Rung::Bump {
        return bump::rung_note(request, rule);
    }
    match request.carried {
        Carried::Tunnel if matches!(request.destination, Destination::Ip(_)) => format!(
            "pass-through to an IP literal: there is no name to bind the TLS SNI to; the edge \
             dials exactly {} and splices the bytes unread",
            request.destination
        ),
        Carried::Tunnel => {
            let inside = match &request.path {
                Some(path) => format!(" (`{} {path}` here)", request.method),
                None => String::new(),
            };
            format!(
                "pass-through: the edge requires the TLS SNI to be `{}` and splices the bytes; \
                 it never sees the method or path{inside}, and whatever is served behind this \
                 name is reachable (behind a CDN, other tenants too: domain fronting)",
                request.destination
            )
        }
        Carried::Forward => format!(
            "pass-through over plain HTTP: forwarded with Host `{}`; rule {} has no method or \
             path rules (those need rung `bump`)",
            request.authority(),
            rule.id
        ),
    }
}

fn address_check(deny_set: &DenySet, answers: Vec<IpAddr>, exact: Vec<IpAddr>) -> AddressCheck {
    let screened = deny_set.screen(&answers, &exact);
    let (allowed, dial, overrides, detail) = match screened {
        Screened::Allowed {
            addr,
            exact_rule,
            overrides: Some(matched),
        } if exact_rule => (
            true,
            Some(addr),
            Some(matched.to_string()),
            format!(
                "{addr} is in the deny-set ({matched}), but the rule names it exactly; the edge \
                 dials it and audits the exception"
            ),
        ),
        Screened::Allowed {
            addr, exact_rule, ..
        } => (
            true,
            Some(addr),
            None,
            if exact_rule {
                format!("every answer is one the rule names exactly; the edge dials {addr}")
            } else {
                format!("every answer is outside the deny-set; the edge dials {addr}")
            },
        ),
        Screened::Denied(denial) => (false, None, None, format!("refused: {denial}")),
    };
    AddressCheck {
        answers,
        exact_addresses: exact,
        allowed,
        dial,
        overrides,
        detail,
    }
}

fn serialize_reason<S: serde::Serializer>(
    reason: &Option<DenyReason>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match reason {
        Some(reason) => serialize_display(reason, serializer),
        None => serializer.serialize_none(),
    }
}

/// `a, b, c`.
pub(crate) fn join<T: fmt::Display>(items: &[T]) -> String {
    let parts: Vec<String> = items.iter().map(ToString::to_string).collect();
    parts.join(", ")
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = self.mode.as_deref().unwrap_or("unknown profile");
        writeln!(f, "profile:   {} ({mode})", self.profile)?;
        writeln!(f, "request:   {}", self.seen_by_edge)?;
        let decision = match (self.decision, self.enforce_would_deny) {
            (Decision::Allow, true) => "allow (report mode; enforce mode would deny)",
            (decision, _) => decision.as_str(),
        };
        writeln!(f, "decision:  {decision}")?;
        if let Some(reason) = self.reason {
            writeln!(f, "reason:    {} ({})", reason.code(), reason.message())?;
        }
        if let Some(rule) = &self.rule {
            writeln!(f, "rule:      {rule}")?;
        }
        if let Some(rung) = &self.rung {
            writeln!(f, "rung:      {rung}")?;
        }
        for rule in &self.passed_over {
            writeln!(f, "passed:    {rule}")?;
        }
        if let Some(check) = &self.address_check {
            writeln!(f, "addresses: {}", join(&check.answers))?;
            writeln!(f, "deny-set:  {}", check.detail)?;
        }
        if let Some(http) = &self.http {
            writeln!(
                f,
                "http:      {} {}: {}",
                http.method, http.path, http.detail
            )?;
        }
        for inject in &self.inject {
            writeln!(f, "inject:    {inject}")?;
        }
        for note in &self.notes {
            writeln!(f, "note:      {note}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
