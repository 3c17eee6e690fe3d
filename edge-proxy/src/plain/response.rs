//! An upstream response head: how its body is framed (RFC 9112 §6.3, strictly: a head the edge
//! cannot frame unambiguously is refused), whether the upstream connection can be kept, and the
//! head the client receives — hop-by-hop headers and those the upstream's `Connection` names
//! removed, the edge's `x-request-id` set. `Transfer-Encoding` stays: the body passes through as
//! the upstream framed it.

use super::{connection_tokens, copy_headers};

/// How many headers a response may carry.
const MAX_HEADERS: usize = 128;

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the upstream closes.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    /// The status code.
    pub(crate) status: u16,
    /// The body's framing.
    pub(crate) framing: Framing,
    /// Bytes of the head in the upstream buffer.
    pub(crate) len: usize,
    /// The upstream will not take another request on this connection.
    pub(crate) upstream_close: bool,
}

/// The upstream's response head cannot be forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadResponse(pub(crate) &'static str);

/// Parses the head at the start of `buf` and appends the client's version of it to `out`;
/// `Ok(None)` while the head is incomplete. `head_request` marks a response to `HEAD`;
/// `client_close` adds `connection: close` (as does a body delimited by the upstream's close).
pub(crate) fn parse(
    buf: &[u8],
    head_request: bool,
    request_id: &str,
    client_close: bool,
    out: &mut Vec<u8>,
) -> Result<Option<ResponseHead>, BadResponse> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut slots);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(BadResponse("unparseable response head")),
    };
    let status = resp.code.ok_or(BadResponse("no status"))?;
    if !(100..=599).contains(&status) {
        return Err(BadResponse("status out of range"));
    }
    if status == 101 {
        return Err(BadResponse("switching protocols without an upgrade"));
    }
    let http11 = resp.version == Some(1);
    let mut length: Option<u64> = None;
    let mut chunked_last = None;
    let mut upstream_close = !http11;
    let mut listed: Vec<&[u8]> = Vec::new();
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            // Digits only (no sign, no non-ASCII space): the header is passed on as sent, so the
            // client must read the same length the edge framed.
            let digits = h.value.trim_ascii();
            if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
                return Err(BadResponse("invalid Content-Length"));
            }
            let value = digits
                .iter()
                .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
            if length.replace(value).is_some() {
                return Err(BadResponse("repeated Content-Length"));
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if !http11 {
                return Err(BadResponse("Transfer-Encoding in an HTTP/1.0 response"));
            }
            let last = h.value.rsplit(|&b| b == b',').next().unwrap_or_default();
            chunked_last = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in connection_tokens(h.value) {
                // The edge frames the body by these and passes them on: stripping them as
                // hop-by-hop would leave the client reading a different framing.
                if token.eq_ignore_ascii_case(b"content-length")
                    || token.eq_ignore_ascii_case(b"transfer-encoding")
                {
                    return Err(BadResponse("Connection names a framing header"));
                }
                if token.eq_ignore_ascii_case(b"close") {
                    upstream_close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && !http11 {
                    upstream_close = false;
                }
                listed.push(token);
            }
        }
    }
    let framing = if head_request || matches!(status, 100..=199 | 204 | 304) {
        Framing::None
    } else {
        match (chunked_last, length) {
            (Some(_), Some(_)) => {
                return Err(BadResponse("Content-Length with Transfer-Encoding"));
            }
            (Some(true), None) => Framing::Chunked,
            (Some(false), None) | (None, None) => Framing::UntilClose,
            (None, Some(n)) => Framing::Length(n),
        }
    };
    out.extend_from_slice(b"HTTP/1.1 ");
    push_status(out, status);
    out.push(b' ');
    out.extend_from_slice(resp.reason.unwrap_or_default().as_bytes());
    out.extend_from_slice(b"\r\n");
    copy_headers(out, resp.headers, &listed, b"x-request-id");
    out.extend_from_slice(b"x-request-id: ");
    out.extend_from_slice(request_id.as_bytes());
    out.extend_from_slice(b"\r\n");
    if status >= 200 && (client_close || framing == Framing::UntilClose) {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(Some(ResponseHead {
        status,
        framing,
        len,
        upstream_close: upstream_close || framing == Framing::UntilClose,
    }))
}

/// Appends a status code's three digits (httparse only accepts 100..=999).
fn push_status(out: &mut Vec<u8>, status: u16) {
    for divisor in [100, 10, 1] {
        out.push(b'0' + u8::try_from(status / divisor % 10).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str, head_request: bool) -> (Result<Option<ResponseHead>, BadResponse>, String) {
        let mut out = Vec::new();
        let r = parse(raw.as_bytes(), head_request, "rid", false, &mut out);
        (r, String::from_utf8(out).unwrap_or_default())
    }

    #[test]
    fn frames_by_length_and_rewrites_the_head() {
        let raw = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive, x-hop\r\n\
                   x-hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\n\
                   x-request-id: forged\r\nx-end: 2\r\n\r\nhello";
        let (r, out) = head(raw, false);
        let r = r.unwrap().unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.framing, Framing::Length(5));
        assert_eq!(r.len, raw.len() - 5);
        assert!(!r.upstream_close);
        assert_eq!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nx-end: 2\r\nx-request-id: rid\r\n\r\n"
        );
    }

    #[test]
    fn chooses_the_framing_rfc_9112_gives() {
        let cases = [
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                false,
                Framing::Chunked,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                false,
                Framing::Chunked,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                false,
                Framing::UntilClose,
            ),
            ("HTTP/1.1 200 OK\r\n\r\n", false, Framing::UntilClose),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",
                true,
                Framing::None,
            ),
            ("HTTP/1.1 204 No Content\r\n\r\n", false, Framing::None),
            (
                "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
                false,
                Framing::None,
            ),
            (
                "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
                false,
                Framing::None,
            ),
        ];
        for (raw, head_request, framing) in cases {
            assert_eq!(
                head(raw, head_request).0.unwrap().unwrap().framing,
                framing,
                "{raw}"
            );
        }
    }

    #[test]
    fn a_close_delimited_body_closes_both_sides() {
        let (r, out) = head("HTTP/1.1 200 OK\r\n\r\n", false);
        assert!(r.unwrap().unwrap().upstream_close);
        assert!(out.ends_with("connection: close\r\n\r\n"));
        let (r, _) = head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false);
        assert!(r.unwrap().unwrap().upstream_close);
        let (r, _) = head(
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n",
            false,
        );
        assert!(r.unwrap().unwrap().upstream_close);
    }

    #[test]
    fn refuses_what_it_cannot_frame() {
        for raw in [
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: \u{a0}5\r\n\r\n",
            "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 099 Odd\r\n\r\n",
            "HTTP/1.1 600 Odd\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: Content-Length\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: x, transfer-encoding\r\n\r\n",
            "SSH-2.0-OpenSSH\r\n\r\n",
        ] {
            assert!(head(raw, false).0.is_err(), "{raw}");
        }
    }

    #[test]
    fn waits_for_a_complete_head() {
        assert!(
            head("HTTP/1.1 200 OK\r\nContent-Le", false)
                .0
                .unwrap()
                .is_none()
        );
    }
}
