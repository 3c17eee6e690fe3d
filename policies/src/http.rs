//! Method and path rules of a `bump` rule: what one request inside a bumped tunnel may be.
//!
//! Nothing is decoded or normalised: a method is compared exactly as sent, and a path prefix
//! is matched on segment boundaries of the path as sent. What a server could read in more
//! than one way (dot-segments, encoded `/` or `\`, backslashes, NUL, malformed escapes, a
//! fragment) is refused rather than guessed at. Pure: no I/O.

use trust_core::DenyReason;

use crate::model::Rule;

/// Longest method accepted (the longest registered method is 17 characters).
const MAX_METHOD_LEN: usize = 32;

/// The `http:` rules of a `bump` destination.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct HttpRules {
    /// Allowed methods, exact and upper-case, in file order. Empty allows any method except
    /// `TRACE` and `CONNECT`; `TRACE` only when listed; `CONNECT` never.
    pub methods: Vec<String>,
    /// Allowed path prefixes, matched on segment boundaries of the path as sent (`/v1/`
    /// matches `/v1/messages`; `/v1` matches `/v1` and `/v1/x`, not `/v1x`). Empty allows any
    /// path that passes the safety checks.
    pub paths: Vec<String>,
}

impl HttpRules {
    /// Whether `method` is allowed: an upper-case token, listed (or, with no list, anything
    /// but `TRACE`), never `CONNECT`.
    pub fn allows_method(&self, method: &str) -> bool {
        if method == "CONNECT" || !is_upper_token(method) {
            return false;
        }
        if self.methods.is_empty() {
            return method != "TRACE";
        }
        self.methods.iter().any(|m| m == method)
    }

    /// Whether the request-target `target` (origin form, possibly with a query) is allowed:
    /// a safe path ([`unsafe_target`]) under one of the prefixes (or any, with no list).
    pub fn allows_target(&self, target: &str) -> bool {
        if unsafe_target(target).is_some() {
            return false;
        }
        let path = path_of(target);
        self.paths.is_empty() || self.paths.iter().any(|p| prefix_matches(p, path))
    }
}

impl Rule {
    /// Method and path rules for one request inside a bumped tunnel. `path` is the
    /// request-target as sent (origin form, may include a query). The caller applies report
    /// mode ([`crate::Profile::mode`]): a refusal here is one report mode may relax.
    ///
    /// # Errors
    /// [`DenyReason::MethodNotAllowed`] for a method the rule does not allow (including a
    /// lower-case one, `TRACE` unless listed, and `CONNECT` always), then
    /// [`DenyReason::PathNotAllowed`] for an unsafe target or a path under no prefix.
    pub fn check_request(&self, method: &str, path: &str) -> Result<(), DenyReason> {
        if !self.http.allows_method(method) {
            return Err(DenyReason::MethodNotAllowed);
        }
        if !self.http.allows_target(path) {
            return Err(DenyReason::PathNotAllowed);
        }
        Ok(())
    }
}

/// The path of a request-target: the part before `?`.
pub(crate) fn path_of(target: &str) -> &str {
    target.split('?').next().unwrap_or_default()
}

/// Whether `prefix` matches `path` on a segment boundary.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// An RFC 9110 token with no lower-case letter, at most [`MAX_METHOD_LEN`] long.
pub(crate) fn is_upper_token(text: &str) -> bool {
    is_token(text, MAX_METHOD_LEN) && !text.bytes().any(|b| b.is_ascii_lowercase())
}

/// A method: an RFC 9110 token, at most [`MAX_METHOD_LEN`] long (any case).
pub(crate) fn is_method(text: &str) -> bool {
    is_token(text, MAX_METHOD_LEN)
}

/// An RFC 9110 token (a method or a header name) of 1 to `max` characters.
pub(crate) fn is_token(text: &str, max: usize) -> bool {
    (1..=max).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Why a request-target is refused whatever the prefixes, or `None` when it is safe: it
/// must be an origin-form path (optionally with a query) of visible ASCII, with no fragment,
/// and its path part must hold no dot-segment, encoded `/` or `\`, backslash, encoded NUL or
/// malformed `%` escape (also double-encoded: `%252e`).
pub(crate) fn unsafe_target(target: &str) -> Option<&'static str> {
    if target.bytes().any(|b| !b.is_ascii_graphic()) {
        return Some("holds a space, a control character or a non-ASCII byte");
    }
    if target.contains('#') {
        return Some("holds a fragment (`#`), which a request never sends");
    }
    unsafe_path(path_of(target))
}

/// Why a path (no query) is refused, or `None` when it is safe. See [`unsafe_target`].
pub(crate) fn unsafe_path(path: &str) -> Option<&'static str> {
    if !path.starts_with('/') {
        return Some("does not start with `/`");
    }
    if path.contains('\\') {
        return Some("holds a backslash");
    }
    if !escapes_well_formed(path) {
        return Some("holds a `%` that is not followed by two hex digits");
    }
    let once_decoded_percent = path.replace("%25", "%");
    for candidate in [path, once_decoded_percent.as_str()] {
        let lower = candidate.to_ascii_lowercase();
        if lower.contains("%2f") || lower.contains("%5c") {
            return Some("holds an encoded `/` or `\\` (`%2F`, `%5C`)");
        }
        if lower.contains("%00") {
            return Some("holds an encoded NUL (`%00`)");
        }
        if lower.split('/').any(is_dot_segment) {
            return Some("holds a dot-segment (`.` or `..`, also percent-encoded)");
        }
    }
    None
}

/// Whether every `%` is followed by two hex digits.
fn escapes_well_formed(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || bytes
                .get(i.saturating_add(1)..i.saturating_add(3))
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    })
}

/// Whether a lower-cased segment is `.` or `..`, with dots written as `%2e` and any
/// `;parameters` after it (which some servers strip before resolving dot-segments).
fn is_dot_segment(segment: &str) -> bool {
    let name = segment.split(';').next().unwrap_or_default();
    matches!(name.replace("%2e", ".").as_str(), "." | "..")
}

#[cfg(test)]
mod tests;
