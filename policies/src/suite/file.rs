//! A policy test file (`kind: PolicyTests`): from its YAML tree to checked cases, every
//! problem recorded with its position.

use std::net::IpAddr;

use trust_core::DenyReason;

use crate::compile::API_VERSION;
use crate::explain::Decision;
use crate::request::Request;
use crate::walker::{Fields, Walker};
use crate::yaml::Node;

/// The `kind` of a policy test file.
pub const KIND: &str = "PolicyTests";

pub(crate) const TOP_KEYS: &[&str] = &["apiVersion", "kind", "profile", "cases"];
pub(crate) const CASE_KEYS: &[&str] = &[
    "name", "profile", "url", "connect", "method", "path", "resolve", "expect",
];
pub(crate) const EXPECT_KEYS: &[&str] = &[
    "decision",
    "reason",
    "enforce_would_deny",
    "rung",
    "rule",
    "deny_set_override",
    "inject",
];

const DECISIONS: &[(&str, Decision)] = &[("allow", Decision::Allow), ("deny", Decision::Deny)];

/// The deny reasons a policy (rather than the running edge) decides: the only ones a test
/// case can expect.
pub(crate) const POLICY_REASONS: &[DenyReason] = &[
    DenyReason::UnknownProfile,
    DenyReason::IpLiteralNotAllowed,
    DenyReason::DestinationNotAllowed,
    DenyReason::PortNotAllowed,
    DenyReason::ResolvedAddressDenied,
    DenyReason::MethodNotAllowed,
    DenyReason::PathNotAllowed,
];

/// One checked case.
pub(crate) struct Case {
    pub(crate) name: String,
    pub(crate) line: usize,
    pub(crate) profile: String,
    pub(crate) request: Request,
    pub(crate) answers: Vec<IpAddr>,
    pub(crate) expect: Expect,
}

/// What a case expects; `None` means "not checked".
pub(crate) struct Expect {
    pub(crate) decision: Decision,
    pub(crate) reason: Option<DenyReason>,
    pub(crate) enforce_would_deny: bool,
    pub(crate) rung: Option<String>,
    pub(crate) rule: Option<String>,
    pub(crate) deny_set_override: Option<bool>,
    /// The secret names expected to be injected, sorted.
    pub(crate) inject: Option<Vec<String>>,
}

/// Reads every document of a test file; the cases that are free of errors.
pub(crate) fn cases(w: &mut Walker<'_>, docs: &[Node]) -> Vec<Case> {
    let mut out = Vec::new();
    for doc in docs {
        let Some(top) = w.mapping(doc, "the document", TOP_KEYS) else {
            continue;
        };
        constant(w, &top, "apiVersion", API_VERSION);
        constant(w, &top, "kind", KIND);
        let default_profile = top.get("profile").and_then(|n| w.string(n, "profile"));
        let Some(items) = (match top.get("cases") {
            Some(node) => w.list(node, "cases", "test cases"),
            None => {
                w.missing(&top, "the document", "cases", "cases: [...]");
                None
            }
        }) else {
            continue;
        };
        for (index, item) in items.iter().enumerate() {
            if let Some(case) = case(w, item, index, default_profile) {
                if let Some(first) = out.iter().find(|c: &&Case| c.name == case.name) {
                    let message = format!(
                        "test `{}` is already defined at line {}; give each case its own name",
                        case.name, first.line
                    );
                    w.error(item.pos, message);
                    continue;
                }
                out.push(case);
            }
        }
    }
    out
}

fn constant(w: &mut Walker<'_>, top: &Fields<'_>, key: &str, want: &str) {
    let Some(node) = top.get(key) else {
        w.missing(top, "the document", key, &format!("{key}: {want}"));
        return;
    };
    if let Some(text) = w.string(node, key)
        && text != want
    {
        w.error(
            node.pos,
            format!("`{key}` must be `{want}`, found `{text}`"),
        );
    }
}

fn case(w: &mut Walker<'_>, node: &Node, index: usize, profile: Option<&str>) -> Option<Case> {
    let what = format!("cases[{index}]");
    let errors_before = w.error_count();
    let fields = w.mapping(node, &what, CASE_KEYS)?;
    let name = match fields.get("name") {
        Some(n) => w.string(n, &format!("{what}.name")),
        None => {
            w.missing(&fields, &what, "name", "name: pip reaches the index");
            None
        }
    };
    let profile = match fields.get("profile") {
        Some(n) => w.string(n, &format!("{what}.profile")),
        None if profile.is_some() => profile,
        None => {
            w.missing(&fields, &what, "profile", "profile: sandbox-default");
            None
        }
    };
    let method = match fields.get("method") {
        Some(n) => w.string(n, &format!("{what}.method")),
        None => None,
    };
    let path = match fields.get("path") {
        Some(n) => w.string(n, &format!("{what}.path")),
        None => None,
    };
    let request = match (fields.get("url"), fields.get("connect")) {
        (Some(url), None) => w.string(url, &format!("{what}.url")).and_then(|text| {
            if !text.contains("://") {
                w.error(url.pos, format!("`{what}.url` must start with `https://` or `http://`; use `connect` for a `host:port`"));
                return None;
            }
            if let Some(p) = fields.key("path") {
                w.error(
                    p.pos,
                    format!("`{what}.path` does not go with `url`, which carries its own path; put the path in the URL"),
                );
                return None;
            }
            request(w, url, &format!("{what}.url"), text, method, None)
        }),
        (None, Some(connect)) => w.string(connect, &format!("{what}.connect")).and_then(|text| {
            if text.contains("://") {
                w.error(connect.pos, format!("`{what}.connect` is a `host:port`; use `url` for a URL"));
                return None;
            }
            request(w, connect, &format!("{what}.connect"), text, method, path)
        }),
        (Some(_), Some(second)) => {
            w.error(second.pos, format!("`{what}` has both `url` and `connect`; keep one"));
            None
        }
        (None, None) => {
            w.missing(&fields, &what, "url", "url: https://pypi.org/simple/");
            None
        }
    };
    let answers = match fields.get("resolve") {
        Some(n) => answers(w, n, &format!("{what}.resolve")),
        None => Some(Vec::new()),
    };
    let expect = match fields.get("expect") {
        Some(n) => expect(w, n, &format!("{what}.expect")),
        None => {
            w.missing(&fields, &what, "expect", "expect: {decision: allow}");
            None
        }
    };
    if w.error_count() != errors_before {
        return None;
    }
    Some(Case {
        name: name?.to_owned(),
        line: node.pos.line,
        profile: profile?.to_owned(),
        request: request?,
        answers: answers?,
        expect: expect?,
    })
}

fn request(
    w: &mut Walker<'_>,
    node: &Node,
    field: &str,
    text: &str,
    method: Option<&str>,
    path: Option<&str>,
) -> Option<Request> {
    match Request::parse(text, method, path) {
        Ok(request) => Some(request),
        Err(e) => {
            w.error(node.pos, format!("`{field}`: {e}"));
            None
        }
    }
}

fn answers(w: &mut Walker<'_>, node: &Node, field: &str) -> Option<Vec<IpAddr>> {
    let items = w.list(node, field, "IP addresses")?;
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        let Some(text) = w.string(item, field) else {
            ok = false;
            continue;
        };
        match text.parse::<IpAddr>() {
            Ok(ip) => out.push(ip),
            Err(_) => {
                w.error(
                    item.pos,
                    format!("`{field}`: `{text}` is not an IP address"),
                );
                ok = false;
            }
        }
    }
    if ok && out.is_empty() {
        w.error(
            node.pos,
            format!("`{field}` must list at least one address (or be left out)"),
        );
        return None;
    }
    ok.then_some(out)
}

fn expect(w: &mut Walker<'_>, node: &Node, what: &str) -> Option<Expect> {
    let errors_before = w.error_count();
    let fields = w.mapping(node, what, EXPECT_KEYS)?;
    let inject = fields
        .get_raw("inject")
        .and_then(|n| secret_names(w, n, &format!("{what}.inject")));
    let decision = match fields.get("decision") {
        Some(n) => w.keyword(n, &format!("{what}.decision"), DECISIONS),
        None => {
            w.missing(&fields, what, "decision", "decision: allow");
            None
        }
    };
    let reason = fields.get("reason").and_then(|n| {
        let text = w.string(n, &format!("{what}.reason"))?;
        match DenyReason::from_code(text) {
            Some(r) if POLICY_REASONS.contains(&r) => Some(r),
            found => {
                let codes: Vec<&str> = POLICY_REASONS.iter().map(|r| r.code()).collect();
                let why = if found.is_some() {
                    "is decided by the running edge, not by the policy"
                } else {
                    "is not a deny reason"
                };
                w.error(
                    n.pos,
                    format!(
                        "`{what}.reason`: `{text}` {why}; a policy test can expect {}",
                        crate::walker::quoted_list(&codes)
                    ),
                );
                None
            }
        }
    });
    let flag = |w: &mut Walker<'_>, key: &str| {
        fields.get(key).and_then(|n| {
            w.keyword(
                n,
                &format!("{what}.{key}"),
                &[("true", true), ("false", false)],
            )
        })
    };
    let enforce_would_deny = flag(w, "enforce_would_deny");
    let deny_set_override = flag(w, "deny_set_override");
    let rung = fields
        .get("rung")
        .and_then(|n| w.string(n, &format!("{what}.rung")))
        .map(str::to_owned);
    let rule = fields
        .get("rule")
        .and_then(|n| w.string(n, &format!("{what}.rule")))
        .map(str::to_owned);
    match (decision, fields.get("reason"), enforce_would_deny) {
        (Some(Decision::Deny), None, _) => w.missing(&fields, what, "reason", "reason: destination_not_allowed"),
        (Some(Decision::Deny), _, Some(true)) => w.error(
            fields.pos,
            format!("`{what}`: `enforce_would_deny: true` goes with `decision: allow` (report mode lets the request through)"),
        ),
        (Some(Decision::Allow), Some(n), None | Some(false)) => w.error(
            n.pos,
            format!("`{what}.reason` goes with `decision: deny`, or with `enforce_would_deny: true` in report mode"),
        ),
        _ => {}
    }
    if w.error_count() != errors_before {
        return None;
    }
    Some(Expect {
        decision: decision?,
        reason,
        enforce_would_deny: enforce_would_deny.unwrap_or(false),
        rung,
        rule,
        deny_set_override,
        inject,
    })
}

/// `[anthropic-api-key]`: secret names, sorted; `[]` expects no credential at all.
fn secret_names(w: &mut Walker<'_>, node: &Node, field: &str) -> Option<Vec<String>> {
    let items = w.list(node, field, "secret names")?;
    let mut names = Vec::with_capacity(items.len());
    for item in items {
        names.push(w.string(item, field)?.to_owned());
    }
    names.sort();
    Some(names)
}
