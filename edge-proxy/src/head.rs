//! Reading and strictly checking one HTTP/1.x request head.
//!
//! Every request on a client connection passes through here before pingora sees it, so
//! ambiguous framing is refused once, in one place: bare LF, obsolete line folding, a
//! Content-Length together with Transfer-Encoding, repeated Content-Length, any transfer coding
//! other than `chunked`, duplicate `Host` and duplicate `Proxy-Authorization` are all
//! `malformed_request`. Only the fields later stages need are kept.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

/// How many headers a request may carry (the lean path re-reads a head with the same bound).
pub(crate) const MAX_HEADERS: usize = 100;

/// The request line and the few headers the edge decides on.
#[derive(Debug, Default)]
pub(crate) struct RequestHead {
    /// The method as sent (case preserved).
    pub(crate) method: String,
    /// The request target as sent.
    pub(crate) target: String,
    /// `true` for HTTP/1.1, `false` for HTTP/1.0.
    pub(crate) http11: bool,
    /// The single `Host` header, if any.
    pub(crate) host: Option<String>,
    /// The single `Proxy-Authorization` header, if any.
    pub(crate) proxy_authorization: Option<String>,
    /// `User-Agent`, kept for the audit event.
    pub(crate) user_agent: Option<String>,
    /// The `Upgrade` header, if any.
    pub(crate) upgrade: Option<String>,
    /// Whether the request carries a body framed by `Transfer-Encoding: chunked`.
    pub(crate) chunked: bool,
    /// The declared body length, if any.
    pub(crate) content_length: Option<u64>,
    /// Length of the head in the read buffer, including the blank line.
    pub(crate) len: usize,
}

/// Why no head could be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HeadError {
    /// The peer closed the connection before sending anything.
    #[error("connection closed before a request")]
    Closed,
    /// The head did not arrive before its deadline.
    #[error("request head not complete before the deadline")]
    Timeout,
    /// The head exceeded the size bound.
    #[error("request head larger than {0} bytes")]
    TooLarge(usize),
    /// The bytes are not an unambiguous HTTP/1.x request head.
    #[error("malformed request head: {0}")]
    Malformed(&'static str),
    /// Reading from the socket failed.
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads from `stream` into `buf` until a full head is present, then parses it.
///
/// `idle_deadline` bounds the wait for the first byte (keep-alive idle); once a byte arrived,
/// the rest must come within `head_timeout`. Bytes after the head stay in `buf`.
pub(crate) async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    max_len: usize,
    idle_deadline: Instant,
    head_timeout: std::time::Duration,
) -> Result<RequestHead, HeadError> {
    let mut head_deadline = if buf.is_empty() {
        None
    } else {
        Some(Instant::now() + head_timeout)
    };
    loop {
        if let Some(end) = find_head_end(buf)? {
            return parse(buf.get(..end).ok_or(HeadError::Malformed("head bounds"))?);
        }
        if buf.len() >= max_len {
            return Err(HeadError::TooLarge(max_len));
        }
        let deadline = head_deadline.unwrap_or(idle_deadline);
        buf.reserve(4096.min(max_len - buf.len()).max(1));
        let read = tokio::time::timeout_at(deadline, stream.read_buf(buf)).await;
        match read {
            Err(_) => return Err(HeadError::Timeout),
            Ok(Err(e)) => return Err(HeadError::Io(e)),
            Ok(Ok(0)) if buf.is_empty() => return Err(HeadError::Closed),
            Ok(Ok(0)) => return Err(HeadError::Malformed("connection closed inside the head")),
            Ok(Ok(_)) => {
                if head_deadline.is_none() {
                    head_deadline = Some(Instant::now() + head_timeout);
                }
            }
        }
    }
}

/// Finds the end of the head (just past `\r\n\r\n`), refusing bare LF and stray CR on the way.
/// Only line ends are visited (a SIMD scan for CR and LF), not every byte.
fn find_head_end(buf: &[u8]) -> Result<Option<usize>, HeadError> {
    for i in memchr::memchr2_iter(b'\r', b'\n', buf) {
        if buf.get(i) == Some(&b'\r') {
            if buf.get(i + 1).is_some_and(|&next| next != b'\n') {
                return Err(HeadError::Malformed("CR not followed by LF"));
            }
            continue;
        }
        if i == 0 || buf.get(i - 1) != Some(&b'\r') {
            return Err(HeadError::Malformed("bare LF line ending"));
        }
        if i >= 3 && buf.get(i - 3..=i) == Some(b"\r\n\r\n") {
            return Ok(Some(i + 1));
        }
    }
    Ok(None)
}

/// Parses a complete head (ending in the blank line) and applies the framing rules.
pub(crate) fn parse(raw: &[u8]) -> Result<RequestHead, HeadError> {
    if raw
        .windows(3)
        .any(|w| matches!(w, [b'\r', b'\n', b' ' | b'\t']))
    {
        return Err(HeadError::Malformed("obsolete line folding"));
    }
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    let len = match req.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err(HeadError::Malformed("incomplete head")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HeadError::Malformed("too many headers"));
        }
        Err(_) => return Err(HeadError::Malformed("unparseable request head")),
    };
    let mut head = RequestHead {
        method: req.method.unwrap_or_default().to_owned(),
        target: req.path.unwrap_or_default().to_owned(),
        http11: req.version == Some(1),
        len,
        ..RequestHead::default()
    };
    let mut transfer_encoding = None;
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value)
            .map_err(|_| HeadError::Malformed("non-UTF-8 header value"))?
            .trim();
        let name = h.name;
        if name.eq_ignore_ascii_case("host") {
            set_once(&mut head.host, value, "duplicate Host")?;
        } else if name.eq_ignore_ascii_case("proxy-authorization") {
            set_once(
                &mut head.proxy_authorization,
                value,
                "duplicate Proxy-Authorization",
            )?;
        } else if name.eq_ignore_ascii_case("content-length") {
            if head.content_length.is_some() {
                return Err(HeadError::Malformed("repeated Content-Length"));
            }
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) || value.len() > 18 {
                return Err(HeadError::Malformed("invalid Content-Length"));
            }
            head.content_length = Some(
                value
                    .parse()
                    .map_err(|_| HeadError::Malformed("invalid Content-Length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            set_once(&mut transfer_encoding, value, "repeated Transfer-Encoding")?;
        } else if name.eq_ignore_ascii_case("user-agent") {
            set_once(&mut head.user_agent, value, "duplicate User-Agent")?;
        } else if name.eq_ignore_ascii_case("upgrade") {
            set_once(&mut head.upgrade, value, "duplicate Upgrade")?;
        }
    }
    if let Some(te) = transfer_encoding {
        if head.content_length.is_some() {
            return Err(HeadError::Malformed(
                "Content-Length with Transfer-Encoding",
            ));
        }
        if !te.eq_ignore_ascii_case("chunked") || !head.http11 {
            return Err(HeadError::Malformed("unsupported transfer coding"));
        }
        head.chunked = true;
    }
    if head.method.is_empty() || head.target.is_empty() {
        return Err(HeadError::Malformed("empty request line"));
    }
    Ok(head)
}

fn set_once(slot: &mut Option<String>, value: &str, dup: &'static str) -> Result<(), HeadError> {
    if slot.is_some() {
        return Err(HeadError::Malformed(dup));
    }
    *slot = Some(value.to_owned());
    Ok(())
}

#[cfg(test)]
mod tests;
