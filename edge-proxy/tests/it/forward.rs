//! The lean plain-HTTP path (bodyless requests) against a scripted upstream: every response
//! framing passes through byte for byte, hop-by-hop headers go, `x-request-id` is the edge's, an
//! unframeable answer is a structured 502, a pooled connection the upstream closed is replaced,
//! and pipelined requests are each decided.

use crate::get;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::{TestEdge, raw};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One scripted answer: the bytes (possibly none), and whether the upstream closes the
/// connection after them.
pub(crate) type Answer = (&'static str, bool);

/// An upstream answering each request head it reads with the next scripted answer.
pub(crate) struct Scripted {
    pub(crate) addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    /// Connections accepted.
    pub(crate) connections: Arc<AtomicUsize>,
    /// Connections that ended (either side closed).
    pub(crate) ended: Arc<AtomicUsize>,
}

impl Scripted {
    pub(crate) async fn start(answers: &[Answer]) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let answers = Arc::new(Mutex::new(answers.iter().copied().collect::<VecDeque<_>>()));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let ended = Arc::new(AtomicUsize::new(0));
        let (h, c, e) = (heads.clone(), connections.clone(), ended.clone());
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let (answers, h, e) = (answers.clone(), h.clone(), e.clone());
                tokio::spawn(async move {
                    serve(s, answers, h).await;
                    e.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        Scripted {
            addr,
            heads,
            connections,
            ended,
        }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

async fn serve(
    mut s: TcpStream,
    answers: Arc<Mutex<VecDeque<Answer>>>,
    heads: Arc<Mutex<Vec<String>>>,
) {
    let mut buf = Vec::new();
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head: Vec<u8> = buf.drain(..end + 4).collect();
            heads
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head).into_owned());
            let Some((bytes, close)) = answers.lock().unwrap().pop_front() else {
                return;
            };
            s.write_all(bytes.as_bytes()).await.unwrap();
            if close {
                return;
            }
        }
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk).await {
            Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
}

/// An edge whose profile `web` reaches the scripted upstream as `scripted.test`, a token of
/// `session`, and the absolute URL of `path` there.
async fn through_edge(
    upstream: &Scripted,
    session: &str,
    path: &str,
) -> (TestEdge, String, String) {
    through_edge_with(upstream, session, path, "").await
}

/// [`through_edge`], with `toml` added to the edge's config.
async fn through_edge_with(
    upstream: &Scripted,
    session: &str,
    path: &str,
    toml: &str,
) -> (TestEdge, String, String) {
    let port = upstream.addr.port();
    let policy = format!(
        "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {{name: web}}\nspec:\n  destinations:\n\
         \x20   - host: scripted.test\n      ports: [{port}]\n      addresses: [127.0.0.1]\n      rung: pass-through\n"
    );
    let edge = testkit::edge()
        .policy("web.yaml", &policy)
        .static_host("scripted.test", "127.0.0.1")
        .toml(toml)
        .start()
        .await;
    let token = edge.token("web", session);
    (edge, token, format!("http://scripted.test:{port}{path}"))
}

/// [`through_edge`] with a 300 ms `proxy.upstream_timeout`.
async fn through_impatient_edge(upstream: &Scripted, session: &str) -> (TestEdge, String, String) {
    through_edge_with(
        upstream,
        session,
        "/",
        "[proxy]\nupstream_timeout = \"300ms\"",
    )
    .await
}

/// A POST of `abc` to `url` with a Bearer token: a request with a body, so the pingora path.
fn post_abc(url: &str, token: &str) -> Vec<u8> {
    format!(
        "POST {url} HTTP/1.1\r\nHost: {}\r\nProxy-Authorization: Bearer {token}\r\n\
         Content-Length: 3\r\n\r\nabc",
        crate::host_of(url)
    )
    .into_bytes()
}

/// Everything `s` receives until the edge closes the connection (10 s at most).
async fn read_until_closed(s: &mut TcpStream) -> String {
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut all))
        .await
        .expect("the edge closes the connection")
        .expect("a clean close");
    String::from_utf8(all).unwrap()
}

/// Reads from `s` until `want` bytes arrived (10 s at most), with every request id the edge set
/// (a UUID, checked) replaced by `ID`.
async fn read_exact_text(s: &mut TcpStream, want: usize) -> String {
    let mut buf = vec![0u8; want];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut buf))
        .await
        .expect("response within 10 s")
        .expect("response bytes");
    let mut text = String::from_utf8(buf).unwrap();
    let mut from = 0;
    while let Some(at) = text[from..].find("x-request-id: ") {
        let start = from + at + "x-request-id: ".len();
        uuid::Uuid::parse_str(&text[start..start + 36]).expect("the edge's request id");
        text.replace_range(start..start + 36, "ID");
        from = start;
    }
    text
}

#[tokio::test]
async fn every_response_framing_passes_through_on_one_kept_alive_connection() {
    let upstream = Scripted::start(&[
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: x-hop\r\nx-hop: 1\r\nKeep-Alive: timeout=5\r\nx-request-id: forged\r\n\r\nhello", false),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nx-trailer: t\r\n\r\n", false),
        ("HTTP/1.1 204 No Content\r\nx-a: 1\r\n\r\n", false),
        ("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", false),
        ("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false),
    ])
    .await;
    let (edge, token, url) = through_edge(&upstream, "s-framings", "/p?q=1").await;
    let mut client = TcpStream::connect(edge.handle().proxy_addr())
        .await
        .unwrap();
    let head_req = String::from_utf8(get(&url, &token))
        .unwrap()
        .replacen("GET", "HEAD", 1)
        .into_bytes();
    let expected = [
        (
            get(&url, &token),
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nx-request-id: ID\r\n\r\nhello",
        ),
        (
            get(&url, &token),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nx-request-id: ID\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nx-trailer: t\r\n\r\n",
        ),
        (
            get(&url, &token),
            "HTTP/1.1 204 No Content\r\nx-a: 1\r\nx-request-id: ID\r\n\r\n",
        ),
        (
            head_req,
            "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nx-request-id: ID\r\n\r\n",
        ),
        (
            get(&url, &token),
            "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\nx-request-id: ID\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\nx-request-id: ID\r\n\r\nok",
        ),
    ];
    for (request, response) in expected {
        client.write_all(&request).await.unwrap();
        // The edge's id is 36 characters where the expectation says `ID`.
        let ids = response.matches("x-request-id: ID").count();
        assert_eq!(
            read_exact_text(&mut client, response.len() + ids * 34).await,
            response
        );
    }
    assert_eq!(
        upstream.connections.load(Ordering::SeqCst),
        1,
        "one upstream connection, reused"
    );
    let heads = upstream.heads();
    assert_eq!(heads.len(), 5);
    assert!(heads[0].starts_with(&format!(
        "GET /p?q=1 HTTP/1.1\r\nhost: scripted.test:{}\r\n",
        upstream.addr.port()
    )));
    assert!(
        heads
            .iter()
            .all(|h| !h.to_ascii_lowercase().contains("proxy-authorization"))
    );
    assert!(heads[3].starts_with("HEAD /p?q=1 HTTP/1.1\r\n"));
    edge.stop().await;
}

#[tokio::test]
async fn a_close_delimited_body_reaches_the_client_and_ends_its_connection() {
    let upstream =
        Scripted::start(&[("HTTP/1.1 200 OK\r\nx-b: 2\r\n\r\nuntil the end", true)]).await;
    let (edge, token, url) = through_edge(&upstream, "s-close", "/").await;
    let mut client = TcpStream::connect(edge.handle().proxy_addr())
        .await
        .unwrap();
    client.write_all(&get(&url, &token)).await.unwrap();
    let text = read_until_closed(&mut client).await;
    assert!(
        text.starts_with("HTTP/1.1 200 OK\r\nx-b: 2\r\nx-request-id: "),
        "{text}"
    );
    assert!(
        text.ends_with("\r\nconnection: close\r\n\r\nuntil the end"),
        "{text}"
    );
    edge.stop().await;
}

#[tokio::test]
async fn an_upstream_answer_that_cannot_be_framed_is_a_structured_502() {
    let upstream = Scripted::start(&[
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            true,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            true,
        ),
        ("SSH-2.0-OpenSSH_9.2\r\n\r\n", true),
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
            true,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: content-length\r\n\r\nok",
            true,
        ),
    ])
    .await;
    let (edge, token, url) = through_edge(&upstream, "s-unframeable", "/").await;
    for case in [
        "CL+TE",
        "two lengths",
        "not HTTP",
        "unrequested 101",
        "Connection names the framing header",
    ] {
        let r = raw::send(edge.handle().proxy_addr(), &get(&url, &token))
            .await
            .unwrap();
        assert_eq!(
            (r.status, r.deny_reason()),
            (502, Some("upstream_unreachable")),
            "{case}"
        );
        assert!(r.header("x-request-id").is_some(), "{case}");
    }
    edge.stop().await;
}

#[tokio::test]
async fn a_pooled_connection_the_upstream_closed_is_replaced_and_a_live_one_reused() {
    // Twice the upstream answers with a length (so the edge keeps the connection) and then
    // closes it; then it keeps its third connection open for two answers.
    let upstream = Scripted::start(&[
        ("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none", true),
        ("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo", true),
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthree", false),
        ("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfour", false),
    ])
    .await;
    let (edge, token, url) = through_edge(&upstream, "s-stale", "/").await;
    let mut client = TcpStream::connect(edge.handle().proxy_addr())
        .await
        .unwrap();
    for body in ["one", "two", "three", "four"] {
        client.write_all(&get(&url, &token)).await.unwrap();
        let r = raw::read_reply(&mut client).await.unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, body));
    }
    assert_eq!(
        upstream.connections.load(Ordering::SeqCst),
        3,
        "two replaced, the third reused"
    );
    edge.stop().await;
}

#[tokio::test]
async fn pipelined_requests_are_each_decided() {
    let upstream =
        Scripted::start(&[("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)]).await;
    let (edge, token, url) = through_edge(&upstream, "s-pipeline", "/").await;
    let mut both = get(&url, &token);
    both.extend_from_slice(&get("http://elsewhere.test/", &token));
    let mut client = TcpStream::connect(edge.handle().proxy_addr())
        .await
        .unwrap();
    client.write_all(&both).await.unwrap();
    // The refusal of the second request ends the connection: read both answers to the end.
    let text = read_until_closed(&mut client).await;
    let (first, second) = text
        .split_once("\r\n\r\nok")
        .expect("the first answer, whole");
    assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(second.starts_with("HTTP/1.1 403 "), "{text}");
    assert!(
        second.contains("x-deny-reason: destination_not_allowed\r\n"),
        "{text}"
    );
    assert_eq!(
        upstream.heads().len(),
        1,
        "the refused request never reached the upstream"
    );
    edge.stop().await;
}

#[tokio::test]
async fn a_client_that_leaves_frees_a_request_its_upstream_never_answers() {
    // The upstream reads the request and says nothing, ever.
    let upstream = Scripted::start(&[("", false)]).await;
    let (edge, token, url) = through_edge(&upstream, "s-silent", "/").await;
    let mut client = TcpStream::connect(edge.handle().proxy_addr())
        .await
        .unwrap();
    client.write_all(&get(&url, &token)).await.unwrap();
    crate::eventually(10, "the upstream got the request", || async {
        upstream.heads().len() == 1
    })
    .await;
    drop(client);
    crate::eventually(10, "the edge let go of the upstream connection", || async {
        upstream.ended.load(Ordering::SeqCst) == 1
    })
    .await;
    edge.stop().await;
}

#[tokio::test]
async fn a_streamed_body_reaches_the_client_before_it_ends() {
    // Head and a first chunk, then the upstream pauses without ending the body.
    let upstream = Scripted::start(&[(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        false,
    )])
    .await;
    let (edge, token, url) = through_edge(&upstream, "s-stream", "/").await;
    let mut client = TcpStream::connect(edge.handle().proxy_addr())
        .await
        .unwrap();
    client.write_all(&get(&url, &token)).await.unwrap();
    let want =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nx-request-id: ID\r\n\r\n5\r\nhello\r\n";
    assert_eq!(read_exact_text(&mut client, want.len() + 34).await, want);
    edge.stop().await;
}

#[tokio::test]
async fn only_idempotent_requests_are_sent_again_after_a_pooled_connection_fails() {
    // Each connection answers once, then reads the next request and closes without a word.
    let upstream = Scripted::start(&[
        ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false),
        ("", true),
        ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false),
        ("", true),
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain", false),
    ])
    .await;
    let (edge, token, url) = through_edge(&upstream, "s-retry", "/").await;
    let post = String::from_utf8(get(&url, &token))
        .unwrap()
        .replacen("GET", "POST", 1)
        .replacen("\r\n\r\n", "\r\nContent-Length: 0\r\n\r\n", 1)
        .into_bytes();
    // The POST rides the pooled connection, which dies unanswered: refused, never resent.
    let first = raw::send(edge.handle().proxy_addr(), &get(&url, &token))
        .await
        .unwrap();
    assert_eq!(first.status, 200);
    let refused = raw::send(edge.handle().proxy_addr(), &post).await.unwrap();
    assert_eq!(
        (refused.status, refused.deny_reason()),
        (502, Some("upstream_unreachable"))
    );
    assert_eq!(upstream.heads().len(), 2, "the POST was sent once");
    // A GET in the same spot is sent again, on a fresh connection.
    let second = raw::send(edge.handle().proxy_addr(), &get(&url, &token))
        .await
        .unwrap();
    assert_eq!(second.status, 200);
    let again = raw::send(edge.handle().proxy_addr(), &get(&url, &token))
        .await
        .unwrap();
    assert_eq!((again.status, again.body.as_str()), (200, "again"));
    let heads = upstream.heads();
    assert_eq!(heads.len(), 5);
    assert!(heads[1].starts_with("POST / HTTP/1.1\r\n"));
    assert_eq!(heads[3], heads[4], "the GET was resent as it was");
    edge.stop().await;
}

#[tokio::test]
async fn a_request_with_a_body_goes_through_pingora_under_the_same_header_rule() {
    let upstream =
        Scripted::start(&[("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)]).await;
    let (edge, token, url) = through_edge(&upstream, "s-body", "/").await;
    let request = format!(
        "POST {url} HTTP/1.1\r\nHost: {}\r\nProxy-Authorization: Bearer {token}\r\n\
         Proxy-Anything: 1\r\nConnection: x-hop\r\nx-hop: 1\r\nx-keep: 2\r\nContent-Length: 3\r\n\r\nabc",
        crate::host_of(&url)
    );
    let r = raw::send(edge.handle().proxy_addr(), request.as_bytes())
        .await
        .unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    let head = upstream.heads()[0].to_ascii_lowercase();
    assert!(head.starts_with("post / http/1.1\r\n"), "{head}");
    assert!(head.contains("x-keep: 2\r\n"), "{head}");
    for gone in ["proxy-", "x-hop"] {
        assert!(!head.contains(gone), "{gone} reached the upstream: {head}");
    }
    edge.stop().await;
}

#[tokio::test]
async fn a_silent_upstream_is_a_504_upstream_timeout_on_both_paths() {
    // Every connection reads its request and never answers.
    let upstream = Scripted::start(&[("", false), ("", false)]).await;
    let (edge, token, url) = through_impatient_edge(&upstream, "s-timeout").await;
    // The lean path (a bodyless GET), then pingora (a request with a body).
    for (path, request) in [
        ("lean", get(&url, &token)),
        ("pingora", post_abc(&url, &token)),
    ] {
        let r = tokio::time::timeout(
            Duration::from_secs(10),
            raw::send(edge.handle().proxy_addr(), &request),
        )
        .await
        .expect("answered long before the test's bound")
        .unwrap();
        assert_eq!(
            (r.status, r.deny_reason()),
            (504, Some("upstream_timeout")),
            "{path}"
        );
        assert!(r.header("x-request-id").is_some(), "{path}");
        assert!(r.body.contains("\"reason\":\"upstream_timeout\""), "{path}");
    }
    assert_eq!(
        upstream.heads().len(),
        2,
        "each request reached the upstream once"
    );
    assert_eq!(crate::audited(&edge, "upstream_timeout").await.len(), 2);
    edge.stop().await;
}

#[tokio::test]
async fn an_upstream_that_stalls_mid_body_ends_the_client_connection_on_both_paths() {
    // The head and a first chunk, then nothing; once for the lean path, once for pingora.
    // (Chunked, because pingora holds back a length-delimited body until it is complete.)
    let stall = (
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
        false,
    );
    let upstream = Scripted::start(&[stall, stall]).await;
    let (edge, token, url) = through_impatient_edge(&upstream, "s-stall").await;
    for (n, (path, request)) in [
        ("lean", get(&url, &token)),
        ("pingora", post_abc(&url, &token)),
    ]
    .into_iter()
    .enumerate()
    {
        let mut client = TcpStream::connect(edge.handle().proxy_addr())
            .await
            .unwrap();
        client.write_all(&request).await.unwrap();
        let text = read_until_closed(&mut client).await;
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{path}: {text}");
        assert!(
            text.ends_with("\r\n\r\n3\r\nabc\r\n"),
            "{path}: the first chunk and no last chunk: {text}"
        );
        crate::eventually(10, "the edge let go of the upstream connection", || async {
            upstream.ended.load(Ordering::SeqCst) == n + 1
        })
        .await;
    }
    // The decision was allow; the cut response is not recorded as a refusal.
    assert!(crate::audited(&edge, "upstream_timeout").await.is_empty());
    edge.stop().await;
}

#[tokio::test]
async fn a_pooled_connection_that_goes_silent_is_a_504_and_is_not_sent_again() {
    let upstream = Scripted::start(&[
        ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false),
        ("", false),
    ])
    .await;
    let (edge, token, url) = through_impatient_edge(&upstream, "s-silent-pooled").await;
    let first = raw::send(edge.handle().proxy_addr(), &get(&url, &token))
        .await
        .unwrap();
    assert_eq!(first.status, 200);
    // A GET is idempotent, so a dead pooled connection would be retried; a silent one is not.
    let r = raw::send(edge.handle().proxy_addr(), &get(&url, &token))
        .await
        .unwrap();
    assert_eq!((r.status, r.deny_reason()), (504, Some("upstream_timeout")));
    assert_eq!(upstream.heads().len(), 2, "the second GET was sent once");
    assert_eq!(upstream.connections.load(Ordering::SeqCst), 1);
    edge.stop().await;
}

#[tokio::test]
async fn silence_after_an_interim_response_ends_the_connection() {
    let upstream =
        Scripted::start(&[("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n", false)]).await;
    let (edge, token, url) = through_impatient_edge(&upstream, "s-interim").await;
    let mut client = TcpStream::connect(edge.handle().proxy_addr())
        .await
        .unwrap();
    client.write_all(&get(&url, &token)).await.unwrap();
    let text = read_until_closed(&mut client).await;
    // The client has seen a response begin: no refusal can follow it, only the close.
    assert!(text.starts_with("HTTP/1.1 103 Early Hints\r\n"), "{text}");
    assert!(!text.contains("504"), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "{text}");
    edge.stop().await;
}
