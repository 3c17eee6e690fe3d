//! What `policy explain` adds for a `bump` rule: the method and path verdict of the request
//! inside the tunnel, and the credentials the edge would attach (names, never values).

use std::fmt;

use serde::Serialize;
use trust_core::DenyReason;

use super::{Decision, Explanation};
use crate::http::{HttpRules, is_upper_token, path_of, unsafe_target};
use crate::inject::{Inject, PLACEHOLDER};
use crate::model::{Mode, Rule};
use crate::request::{Carried, Request};

/// A credential of a rule, as shown to a reviewer: names, never values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InjectView {
    /// The secret's SDS name.
    pub secret: String,
    /// The header it is written to.
    pub header: String,
    /// The format template (`Bearer {secret}`).
    pub format: String,
}

impl From<&Inject> for InjectView {
    fn from(inject: &Inject) -> InjectView {
        InjectView {
            secret: inject.secret.clone(),
            header: inject.header.clone(),
            format: inject.format.template(),
        }
    }
}

impl fmt::Display for InjectView {
    /// `authorization: Bearer {github-token}`: the header as sent, with the secret's name in
    /// place of its value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self
            .format
            .replace(PLACEHOLDER, &format!("{{{}}}", self.secret));
        write!(f, "{}: {value}", self.header)
    }
}

/// What a `bump` rule's method and path rules do with the request inside the tunnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpCheck {
    /// The method checked.
    pub method: String,
    /// The request-target checked (path and query).
    pub path: String,
    /// Whether the rule allows them.
    pub allowed: bool,
    /// A sentence saying why.
    pub detail: String,
}

/// The method and path verdict of a `bump` rule, and the credentials it would attach.
pub(super) fn inside(out: &mut Explanation, request: &Request, rule: &Rule, mode: Mode) {
    let (method, path) = request.inner();
    let verdict = rule.check_request(method, path);
    out.http = Some(HttpCheck {
        method: method.to_owned(),
        path: path.to_owned(),
        allowed: verdict.is_ok(),
        detail: http_detail(&rule.http, method, path, verdict.err()),
    });
    match verdict {
        Err(reason) if mode == Mode::Report => {
            out.enforce_would_deny = true;
            out.reason = Some(reason);
            out.notes.push(format!(
                "report mode: enforce mode would deny this request inside the tunnel ({}); the \
                 edge lets it through, audits it with enforce_would_deny: true and injects \
                 nothing",
                reason.code()
            ));
        }
        Err(reason) => {
            out.decision = Decision::Deny;
            out.reason = Some(reason);
        }
        Ok(()) if rule.inject.is_empty() => {}
        Ok(()) if request.carried == Carried::Forward => out.notes.push(
            "no credential over plain HTTP: the edge injects only on its own validated TLS to \
             the upstream"
                .to_owned(),
        ),
        Ok(()) => {
            out.inject = rule.inject.iter().map(InjectView::from).collect();
            out.notes.push(
                "the edge replaces any value the sandbox sent in these headers, and removes \
                 the injected values from the response before it reaches the sandbox"
                    .to_owned(),
            );
        }
    }
}

/// Why a `bump` rule allows or refuses `method` and `path`.
fn http_detail(http: &HttpRules, method: &str, path: &str, refused: Option<DenyReason>) -> String {
    let methods = if http.methods.is_empty() {
        "any but TRACE and CONNECT".to_owned()
    } else {
        http.methods.join(", ")
    };
    let paths = if http.paths.is_empty() {
        "any".to_owned()
    } else {
        http.paths.join(", ")
    };
    let rules = format!("(methods {methods}; paths {paths})");
    match refused {
        None => format!("allowed {rules}"),
        Some(DenyReason::MethodNotAllowed) => {
            let why = if method == "CONNECT" {
                "`CONNECT` is never allowed inside a tunnel".to_owned()
            } else if !is_upper_token(method) {
                format!("methods are compared exactly as sent, and `{method}` is not upper-case")
            } else if method == "TRACE" && http.methods.is_empty() {
                "`TRACE` is refused unless the rule lists it".to_owned()
            } else {
                format!("`{method}` is not listed")
            };
            format!("refused: {why} {rules}")
        }
        Some(_) => match unsafe_target(path) {
            Some(why) => format!("refused: the path {why} {rules}"),
            None => format!(
                "refused: `{}` is under none of the path prefixes {rules}",
                path_of(path)
            ),
        },
    }
}

/// The note on how a `bump` rule carries `request`.
pub(super) fn rung_note(request: &Request, rule: &Rule) -> String {
    match request.carried {
        Carried::Tunnel => format!(
            "bump: the edge terminates the sandbox's TLS with a certificate for `{}` from \
                 the deployment CA, decides every request inside on its own (Host, method, \
                 path) and opens its own TLS to the upstream, validating its certificate",
            request.destination
        ),
        Carried::Forward => format!(
            "bump over plain HTTP: forwarded with Host `{}`; the edge reads the request and \
                 applies rule {}'s method and path rules",
            request.authority(),
            rule.id
        ),
    }
}
