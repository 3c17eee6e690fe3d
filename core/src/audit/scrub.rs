//! Last line of defence against a token reaching the log: JWT-shaped values are redacted.
//!
//! Callers put only names, ids and Host/User-Agent into events; this catches the mistake of
//! passing a session token (a JWT) where an id was expected, or a client echoing a token in its
//! User-Agent. It runs on the writer thread, not on the request path.

use std::borrow::Cow;

use super::event::AuditEvent;

/// What replaces a redacted value.
pub(crate) const REDACTED: &str = "[redacted]";

/// Shortest base64url run accepted as a JWT header or payload segment.
const MIN_SEGMENT: usize = 8;

/// Replaces every text field holding a JWT-shaped string with [`REDACTED`]; returns how many
/// fields were replaced.
pub(crate) fn scrub(event: &mut AuditEvent) -> u32 {
    let mut redacted = 0;
    let mut check = |text: &mut String| {
        if looks_like_jwt(text) {
            *text = REDACTED.to_owned();
            redacted += 1;
        }
    };
    for field in [
        &mut event.trace_id,
        &mut event.session_id,
        &mut event.tenant_id,
        &mut event.profile,
        &mut event.dst_host,
        &mut event.rule,
        &mut event.method,
        &mut event.http_host,
        &mut event.user_agent,
        &mut event.policy_hash,
    ]
    .into_iter()
    .flatten()
    {
        check(field);
    }
    event.injected.iter_mut().for_each(&mut check);
    let mut check_cow = |text: &mut Cow<'static, str>| {
        if looks_like_jwt(text) {
            *text = Cow::Borrowed(REDACTED);
            redacted += 1;
        }
    };
    check_cow(&mut event.activity);
    for field in [
        &mut event.status_detail,
        &mut event.rung,
        &mut event.exception,
    ]
    .into_iter()
    .flatten()
    {
        check_cow(field);
    }
    redacted
}

/// Whether `text` contains `eyJ…​.eyJ…​.`: a JWS/JWT header and payload (base64url of `{"`).
pub(crate) fn looks_like_jwt(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(offset) = bytes.get(from..).and_then(|rest| find(rest, b"eyJ")) {
        let start = from + offset;
        if let Some(rest) = bytes.get(start..)
            && let Some(after_header) = segment_then_dot(rest)
            && after_header.starts_with(b"eyJ")
            && segment_then_dot(after_header).is_some()
        {
            return true;
        }
        from = start + 1;
    }
    false
}

/// If `text` starts with a base64url run of at least [`MIN_SEGMENT`] bytes followed by `.`,
/// what follows the dot.
fn segment_then_dot(text: &[u8]) -> Option<&[u8]> {
    let run = text
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        .count();
    if run < MIN_SEGMENT {
        return None;
    }
    text.get(run..)?.strip_prefix(b".")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
