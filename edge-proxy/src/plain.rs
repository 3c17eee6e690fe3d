//! The lean path for the most common allowed request: a plain-HTTP/1.1 request with no body and no
//! upgrade. The edge writes the origin-form head itself to a pooled upstream connection of the
//! request's session (see [`pool`]), reads the response head, and passes the body through as the
//! upstream framed it — no pingora session, no per-request peer. (The checked head is read once
//! more, by httparse, to copy its headers; the head reader keeps only the fields it decides on.)
//!
//! Everything else an allowed plain request can be (a body, an upgrade, HTTP/1.0) goes
//! through pingora ([`crate::handoff`]), as do requests inside bumped tunnels. Both paths strip
//! request headers by one rule ([`hop_by_hop`]; this path strips the response's too, pingora
//! passes response headers as it handles them), set `Host` from the target, answer an unreachable or
//! unframeable upstream with a structured `upstream_unreachable` and one silent for longer than
//! `proxy.upstream_timeout` with `upstream_timeout`, and keep upstream connections per
//! session.

mod chunked;
pub(crate) mod pool;
mod response;

use crate::client_conn::ClientConn;
use crate::decide::Allowed;
use crate::edge::Edge;
use crate::head::RequestHead;
use crate::record::Record;
use bytes::BytesMut;
use chunked::Chunked;
use response::Framing;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use trust_core::DenyReason;

/// The largest upstream response head accepted.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;
/// Read granularity from the upstream.
const READ_CHUNK: usize = 16 * 1024;
/// Interim (1xx) responses passed on before the final one; more is a broken upstream.
const MAX_INTERIM: usize = 8;

/// Headers that describe one hop and never travel further, in either direction.
const HOP_BY_HOP: [&[u8]; 5] = [b"connection", b"keep-alive", b"te", b"trailer", b"upgrade"];

/// Whether a header named `name` stays on this hop: a hop-by-hop header or any `Proxy-*`. The
/// pingora path ([`crate::service`]) applies the same rule.
pub(crate) fn hop_by_hop(name: &[u8]) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
        || name
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"proxy-"))
}

/// The comma-separated tokens of a `Connection` header value, each trimmed: the header names
/// it lists stay on this hop too.
pub(crate) fn connection_tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(<[u8]>::trim_ascii)
}

/// Appends, as `name: value` lines, every header that travels on: not hop-by-hop, not
/// `Proxy-*`, not named by the sender's `Connection` (`listed`), and not `replaced` (the edge sets
/// that one itself).
fn copy_headers(
    out: &mut Vec<u8>,
    headers: &[httparse::Header<'_>],
    listed: &[&[u8]],
    replaced: &[u8],
) {
    for h in headers {
        let name = h.name.as_bytes();
        if hop_by_hop(name)
            || name.eq_ignore_ascii_case(replaced)
            || listed.iter().any(|l| l.eq_ignore_ascii_case(name))
        {
            continue;
        }
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value);
        out.extend_from_slice(b"\r\n");
    }
}

/// Whether `head` takes the lean path.
pub(crate) fn eligible(head: &RequestHead) -> bool {
    head.http11 && head.upgrade.is_none() && !head.chunked && head.content_length.unwrap_or(0) == 0
}

/// What becomes of the client connection after one forward.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// It may carry another request.
    KeepAlive,
    /// It ends (either side asked, the body was close-delimited, or a write failed).
    Close,
    /// Nothing was written yet: answer this refusal, then close.
    Refuse(DenyReason),
}

/// The request as it goes upstream, and what it tells about the client connection.
struct Outgoing {
    head: Vec<u8>,
    client_close: bool,
    head_request: bool,
    /// Safe to send again when a pooled connection gave no response (RFC 9110 §9.2.2).
    idempotent: bool,
}

/// The client side of a forward: the connection, and the bytes it sends meanwhile (a pipelined
/// request, kept for the next head read, at most `limit` of them).
pub(crate) struct Client<'a> {
    /// The connection.
    pub(crate) conn: &'a mut ClientConn,
    /// Bytes read after the request's head.
    pub(crate) pipelined: &'a mut BytesMut,
    /// Most bytes read ahead while a response is pending.
    pub(crate) limit: usize,
    /// Longest wait for the upstream's next bytes.
    pub(crate) read_timeout: Duration,
}

/// What waiting for the upstream gave.
enum Read {
    /// This many bytes (0: the upstream closed).
    Upstream(usize),
    /// Reading the upstream failed.
    Failed,
    /// The upstream sent nothing within the read timeout.
    TimedOut,
    /// The client closed (or failed) while the edge waited: nobody wants the answer.
    ClientGone,
}

impl Client<'_> {
    /// Reads from `upstream` into `rbuf` within the read timeout, meanwhile noticing the client
    /// going away (as pingora does): neither a silent upstream nor a client that left holds the
    /// connection and its session slot.
    async fn read_upstream(&mut self, upstream: &mut TcpStream, rbuf: &mut BytesMut) -> Read {
        rbuf.reserve(READ_CHUNK);
        let deadline = tokio::time::sleep(self.read_timeout);
        tokio::pin!(deadline);
        loop {
            let room = self.pipelined.len() < self.limit;
            tokio::select! {
                biased;
                read = upstream.read_buf(rbuf) => {
                    return read.map_or(Read::Failed, Read::Upstream);
                }
                read = self.conn.read_buf(self.pipelined), if room => {
                    if !matches!(read, Ok(n) if n > 0) {
                        return Read::ClientGone;
                    }
                }
                () = &mut deadline => return Read::TimedOut,
            }
        }
    }
}

/// Forwards the bodyless request whose head (of `head.len` bytes) starts `client.pipelined`;
/// bytes after it (a pipelined request) stay there. `path` is the origin-form target, `host` the
/// `Host`.
pub(crate) async fn forward(
    edge: &Edge,
    mut client: Client<'_>,
    head: &RequestHead,
    allowed: &Allowed,
    rec: &mut Record,
    (path, host): (&str, &str),
) -> Next {
    let raw = client.pipelined.split_to(head.len);
    let Ok(outgoing) = outgoing(&raw, &head.method, path, host) else {
        return Next::Refuse(DenyReason::MalformedRequest);
    };
    let pool = &edge.upstreams;
    let closes = allowed.state.closes();
    let mut reused = pool.take(&allowed.session, allowed.addr);
    loop {
        let was_reused = reused.is_some();
        let mut upstream = match reused.take() {
            Some(stream) => stream,
            None => match connect(edge, allowed).await {
                Ok(stream) => stream,
                Err(_) => return Next::Refuse(DenyReason::UpstreamUnreachable),
            },
        };
        match exchange(&mut client, &mut upstream, &outgoing, rec).await {
            Exchange::Done {
                keep_upstream,
                next,
            } => {
                if keep_upstream {
                    // Not kept if the session was revoked meanwhile (its pooled connections
                    // were just closed).
                    let open = || allowed.state.closes() == closes;
                    pool.put(&allowed.session, allowed.addr, upstream, open);
                }
                return next;
            }
            // A pooled connection the upstream closed while idle: once more on a fresh one, if
            // the request never left or may safely be sent twice.
            Exchange::NotSent if was_reused => {}
            Exchange::NoResponse if was_reused && outgoing.idempotent => {}
            Exchange::NotSent | Exchange::NoResponse | Exchange::Unframeable => {
                return Next::Refuse(DenyReason::UpstreamUnreachable);
            }
            Exchange::TimedOut => return Next::Refuse(DenyReason::UpstreamTimeout),
            Exchange::Cut => return Next::Close,
        }
    }
}

async fn connect(edge: &Edge, allowed: &Allowed) -> io::Result<TcpStream> {
    let stream = tokio::time::timeout(
        edge.config.connect_timeout,
        TcpStream::connect(allowed.addr),
    )
    .await
    .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The upstream head: origin-form target, `Host` set by the edge, hop-by-hop and `Proxy-*`
/// headers and those the client's `Connection` names removed.
fn outgoing(raw: &[u8], method: &str, path: &str, host: &str) -> Result<Outgoing, ()> {
    let mut slots = [httparse::EMPTY_HEADER; crate::head::MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    req.parse(raw).map_err(|_| ())?;
    let mut client_close = false;
    let mut listed: Vec<&[u8]> = Vec::new();
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            for token in connection_tokens(h.value) {
                client_close |= token.eq_ignore_ascii_case(b"close");
                listed.push(token);
            }
        }
    }
    let mut out = Vec::with_capacity(raw.len() + 32);
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    copy_headers(&mut out, req.headers, &listed, b"host");
    out.extend_from_slice(b"\r\n");
    Ok(Outgoing {
        head: out,
        client_close,
        head_request: method == "HEAD",
        idempotent: matches!(
            method,
            "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
        ),
    })
}

/// How one exchange on one upstream connection went.
enum Exchange {
    /// The response reached the client.
    Done { keep_upstream: bool, next: Next },
    /// The request could not be written.
    NotSent,
    /// The upstream failed before any byte of a response.
    NoResponse,
    /// The upstream's response cannot be forwarded; nothing was written to the client.
    Unframeable,
    /// The upstream's final response head did not arrive within the read timeout; nothing was
    /// written to the client.
    TimedOut,
    /// Failed after the client saw part of the response, or the client left: the connection
    /// must end.
    Cut,
}

/// Whether `buf`, of which the first `scanned` bytes held no head end, may now hold one: an
/// empty line (`\n\n` or `\n\r\n`; httparse takes bare LF in responses). Parsing only then keeps
/// an upstream dribbling its head byte by byte from costing a parse per byte.
fn may_end_head(buf: &[u8], scanned: usize) -> bool {
    let from = buf.get(scanned.saturating_sub(2)..).unwrap_or_default();
    memchr::memmem::find(from, b"\n\n").is_some() || memchr::memmem::find(from, b"\n\r\n").is_some()
}

async fn exchange(
    client: &mut Client<'_>,
    upstream: &mut TcpStream,
    outgoing: &Outgoing,
    rec: &mut Record,
) -> Exchange {
    if upstream.write_all(&outgoing.head).await.is_err() {
        return Exchange::NotSent;
    }
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = Vec::with_capacity(1024);
    let mut interim = 0;
    let mut scanned = 0;
    // Interim (1xx) responses are passed on; the loop ends at the final head.
    let head = loop {
        let parsed = if may_end_head(&rbuf, scanned) {
            response::parse(
                &rbuf,
                outgoing.head_request,
                &rec.request_id,
                outgoing.client_close,
                &mut out,
            )
        } else {
            Ok(None)
        };
        scanned = rbuf.len();
        match parsed {
            Ok(Some(h)) if h.status >= 200 => {
                let _ = rbuf.split_to(h.len);
                break h;
            }
            Ok(Some(h)) if interim < MAX_INTERIM => {
                let _ = rbuf.split_to(h.len);
                scanned = 0;
                if client.conn.write_all(&out).await.is_err() || client.conn.flush().await.is_err()
                {
                    return Exchange::Cut;
                }
                out.clear();
                interim += 1;
                continue;
            }
            Ok(None) if rbuf.len() < MAX_RESPONSE_HEAD => {}
            Ok(_) | Err(_) if interim > 0 => return Exchange::Cut,
            Ok(_) | Err(_) => return Exchange::Unframeable,
        }
        match client.read_upstream(upstream, &mut rbuf).await {
            Read::Upstream(n) if n > 0 => {}
            Read::ClientGone => return Exchange::Cut,
            _ if interim > 0 => return Exchange::Cut,
            Read::TimedOut => return Exchange::TimedOut,
            _ if rbuf.is_empty() => return Exchange::NoResponse,
            _ => return Exchange::Unframeable,
        }
    };
    rec.status = Some(head.status);
    let body = body(client, upstream, &mut rbuf, &mut out, head.framing).await;
    rec.bytes_down = body.sent;
    rec.edge().metrics.bytes_down.inc_by(body.sent);
    if !body.complete {
        return Exchange::Cut;
    }
    let close = outgoing.client_close || head.framing == Framing::UntilClose;
    Exchange::Done {
        keep_upstream: !head.upstream_close && rbuf.is_empty(),
        next: if close { Next::Close } else { Next::KeepAlive },
    }
}

/// What passing the body on achieved.
struct Body {
    sent: u64,
    complete: bool,
}

/// Sends `out` (the response head) and the body that follows it in `rbuf` and on `upstream`,
/// delimited by `framing`; bytes past the body stay in `rbuf`. What the client has been given is
/// flushed before every wait on the upstream, so a streamed body arrives as it is sent.
async fn body(
    client: &mut Client<'_>,
    upstream: &mut TcpStream,
    rbuf: &mut BytesMut,
    out: &mut Vec<u8>,
    framing: Framing,
) -> Body {
    let mut sent = 0u64;
    let mut left = match framing {
        Framing::Length(n) => n,
        _ => u64::MAX,
    };
    let mut chunks = (framing == Framing::Chunked).then(Chunked::new);
    let mut finished = framing == Framing::None || left == 0;
    let cut = |sent| Body {
        sent,
        complete: false,
    };
    loop {
        if !finished && !rbuf.is_empty() {
            let take = match (&mut chunks, framing) {
                (Some(c), _) => match c.scan(rbuf) {
                    Ok(n) => n,
                    Err(_) => return cut(sent),
                },
                (None, Framing::UntilClose) => rbuf.len(),
                (None, _) => usize::try_from(left).unwrap_or(usize::MAX).min(rbuf.len()),
            };
            out.extend_from_slice(&rbuf.split_to(take));
            sent += take as u64;
            left = left.saturating_sub(take as u64);
            finished = chunks.as_ref().map_or(left == 0, Chunked::done);
        }
        if client.conn.write_all(out).await.is_err() || client.conn.flush().await.is_err() {
            return cut(sent);
        }
        out.clear();
        if finished {
            return Body {
                sent,
                complete: true,
            };
        }
        match client.read_upstream(upstream, rbuf).await {
            Read::Upstream(n) if n > 0 => {}
            Read::Upstream(_) if framing == Framing::UntilClose => {
                return Body {
                    sent,
                    complete: true,
                };
            }
            _ => return cut(sent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head_of(raw: &str) -> RequestHead {
        crate::head::parse(raw.as_bytes()).unwrap()
    }

    #[test]
    fn only_bodyless_http11_requests_without_upgrade_take_the_lean_path() {
        let base = "GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\n";
        assert!(eligible(&head_of(&format!("{base}\r\n"))));
        assert!(eligible(&head_of(&format!(
            "{base}Content-Length: 0\r\n\r\n"
        ))));
        assert!(!eligible(&head_of(&format!(
            "{base}Content-Length: 1\r\n\r\n"
        ))));
        assert!(!eligible(&head_of(&format!(
            "{base}Transfer-Encoding: chunked\r\n\r\n"
        ))));
        assert!(!eligible(&head_of(&format!(
            "{base}Upgrade: websocket\r\n\r\n"
        ))));
        assert!(!eligible(&head_of("GET http://a.test/ HTTP/1.0\r\n\r\n")));
    }

    #[test]
    fn a_head_end_is_only_looked_for_where_one_can_be() {
        assert!(!may_end_head(b"HTTP/1.1 200 OK\r\nA: b\r\n", 0));
        assert!(may_end_head(b"HTTP/1.1 200 OK\r\n\r\n", 0));
        // A blank line split across two reads is still seen.
        assert!(may_end_head(b"HTTP/1.1 200 OK\r\n\r\n", 17));
        assert!(may_end_head(b"HTTP/1.1 200 OK\n\n", 16));
        assert!(!may_end_head(b"HTTP/1.1 200 OK\r\n\r\n", 19));
    }

    #[test]
    fn the_upstream_head_carries_no_hop_by_hop_or_proxy_header() {
        let raw = "GET http://a.test/x?y HTTP/1.1\r\nHost: a.test\r\nProxy-Authorization: Bearer t\r\n\
                   Proxy-Connection: keep-alive\r\nProxy-Anything: 1\r\nConnection: close, x-hop\r\n\
                   x-hop: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nAccept: */*\r\n\r\n";
        let o = outgoing(raw.as_bytes(), "GET", "/x?y", "a.test").unwrap();
        assert_eq!(
            String::from_utf8(o.head).unwrap(),
            "GET /x?y HTTP/1.1\r\nhost: a.test\r\nAccept: */*\r\n\r\n"
        );
        assert!(o.client_close);
        assert!(!o.head_request);
        assert!(o.idempotent);
        assert!(
            !outgoing(raw.as_bytes(), "POST", "/", "a.test")
                .unwrap()
                .idempotent
        );
    }
}
