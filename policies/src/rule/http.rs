//! A rule's `http:` mapping: its method and path rules, checked as the edge will apply them.

use crate::http::{HttpRules, is_method, is_upper_token, unsafe_path};
use crate::walker::Walker;
use crate::yaml::Node;

/// Keys of `http:`.
pub(crate) const KEYS: &[&str] = &["methods", "paths"];

/// Longest path prefix accepted.
const MAX_PATH_LEN: usize = 1024;

/// Checks `http:` at `node`; `what` is its key path.
pub(super) fn compile(w: &mut Walker<'_>, node: &Node, what: &str) -> Option<HttpRules> {
    let fields = w.mapping(node, what, KEYS)?;
    let methods = match fields.get("methods") {
        Some(node) => methods(w, node, &format!("{what}.methods")),
        None => Some(Vec::new()),
    };
    let paths = match fields.get("paths") {
        Some(node) => paths(w, node, &format!("{what}.paths")),
        None => Some(Vec::new()),
    };
    Some(HttpRules {
        methods: methods?,
        paths: paths?,
    })
}

/// `[GET, POST]`: upper-case tokens, at least one, no repeats, never `CONNECT`.
fn methods(w: &mut Walker<'_>, node: &Node, field: &str) -> Option<Vec<String>> {
    let items = w.list(node, field, "methods")?;
    if items.is_empty() {
        w.error(
            node.pos,
            format!(
                "`{field}` must list at least one method (or be left out to allow any method \
                 but TRACE and CONNECT)"
            ),
        );
        return None;
    }
    let mut methods: Vec<String> = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        let Some(text) = w.string(item, field) else {
            ok = false;
            continue;
        };
        let problem = if !is_method(text) {
            Some(format!("`{field}`: `{text}` is not an HTTP method"))
        } else if !is_upper_token(text) {
            Some(format!(
                "`{field}`: `{text}` is not upper-case; methods are compared exactly as sent, \
                 so write `{}`",
                text.to_ascii_uppercase()
            ))
        } else if text == "CONNECT" {
            Some(format!(
                "`{field}`: `CONNECT` is never allowed inside a bumped tunnel (a tunnel in a \
                 tunnel would carry traffic the edge does not read)"
            ))
        } else if methods.iter().any(|m| m == text) {
            Some(format!("`{field}` lists `{text}` twice"))
        } else {
            None
        };
        match problem {
            Some(message) => {
                w.error(item.pos, message);
                ok = false;
            }
            None => methods.push(text.to_owned()),
        }
    }
    ok.then_some(methods)
}

/// `["/v1/"]`: safe path prefixes, at least one, no repeats.
fn paths(w: &mut Walker<'_>, node: &Node, field: &str) -> Option<Vec<String>> {
    let items = w.list(node, field, "path prefixes")?;
    if items.is_empty() {
        w.error(
            node.pos,
            format!(
                "`{field}` must list at least one path prefix (or be left out to allow any path)"
            ),
        );
        return None;
    }
    let mut paths: Vec<String> = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        let Some(text) = w.string(item, field) else {
            ok = false;
            continue;
        };
        let problem = if text.len() > MAX_PATH_LEN {
            Some(format!(
                "`{field}`: a path prefix is at most {MAX_PATH_LEN} characters"
            ))
        } else if !text.starts_with('/') {
            Some(format!(
                "`{field}`: `{text}` must start with `/`: a prefix of the path as sent, like `/v1/`"
            ))
        } else if text.contains(['?', '#']) {
            Some(format!(
                "`{field}`: `{text}` holds a query or fragment; a prefix matches the path only \
                 (the query is never matched)"
            ))
        } else if text.bytes().any(|b| !b.is_ascii_graphic()) {
            Some(format!(
                "`{field}`: a path prefix is written as it is sent: visible ASCII, with spaces \
                 and other characters percent-encoded"
            ))
        } else if let Some(why) = unsafe_path(text) {
            Some(format!(
                "`{field}`: `{text}` {why}; the edge refuses such paths rather than guess how \
                 the upstream reads them, so no request could match it"
            ))
        } else if paths.iter().any(|p| p == text) {
            Some(format!("`{field}` lists `{text}` twice"))
        } else {
            None
        };
        match problem {
            Some(message) => {
                w.error(item.pos, message);
                ok = false;
            }
            None => paths.push(text.to_owned()),
        }
    }
    ok.then_some(paths)
}
