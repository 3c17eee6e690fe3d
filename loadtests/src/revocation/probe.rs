//! What the scenario does on the wire: one-shot requests through an edge and polls of them, CONNECT
//! tunnels carrying a real TLS ClientHello, the watch that notes when a tunnel is closed, and the
//! upstream that holds the tunnels' far ends open.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::Error;

/// Largest response head read.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Bound on one poll request (connect + exchange).
pub(crate) const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// What an edge answered to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    /// HTTP status.
    pub(crate) status: u16,
    /// `x-deny-reason`, if any.
    pub(crate) reason: Option<String>,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            Some(reason) => write!(f, "{} {reason}", self.status),
            None => write!(f, "{}", self.status),
        }
    }
}

/// What a poll waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// A refusal with this `x-deny-reason`.
    Refused(&'static str),
    /// A 200 from the upstream (no deny reason).
    Served,
}

impl Expect {
    /// Whether `answer` is what the poll waits for.
    pub(crate) fn met_by(self, answer: &Answer) -> bool {
        match self {
            Expect::Refused(code) => answer.reason.as_deref() == Some(code),
            Expect::Served => answer.status == 200 && answer.reason.is_none(),
        }
    }
}

/// Parses a complete response head; `None` while incomplete or if it is not HTTP.
pub(crate) fn parse_answer(head: &[u8]) -> Option<Answer> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return None,
    }
    let status = response.code?;
    let reason = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("x-deny-reason"))
        .map(|h| String::from_utf8_lossy(h.value).trim().to_owned());
    Some(Answer { status, reason })
}

/// A one-shot absolute-form GET through the proxy (fresh connection, `Connection: close`).
pub(crate) fn get_request(authority: &str, token: &str) -> Vec<u8> {
    format!(
        "GET http://{authority}/ HTTP/1.1\r\nHost: {authority}\r\n\
         Proxy-Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// A CONNECT to `authority` with the session's token.
pub(crate) fn connect_request(authority: &str, token: &str) -> Vec<u8> {
    format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\
         Proxy-Authorization: Bearer {token}\r\n\r\n"
    )
    .into_bytes()
}

/// The first flight of a real rustls client for `sni`: a TLS ClientHello record. The far end
/// never answers it; the edge only needs it (SNI == CONNECT host) to dial upstream and splice.
pub(crate) fn client_hello(sni: &str) -> Result<Vec<u8>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("tls client: {e}")))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(sni.to_owned())
        .map_err(|e| Error::Config(format!("sni `{sni}`: {e}")))?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| Error::Config(format!("tls client: {e}")))?;
    let mut hello = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut hello)
            .map_err(Error::io("writing the ClientHello"))?;
    }
    Ok(hello)
}

/// Reads until a whole response head is in. It may read past the head: the callers either drop
/// the connection after the head or (tunnels) expect nothing more from the far end.
async fn read_head(stream: &mut TcpStream) -> Result<Answer, Error> {
    let mut head = Vec::with_capacity(1024);
    while head.len() < MAX_HEAD_BYTES {
        let n = stream
            .read_buf(&mut head)
            .await
            .map_err(Error::io("reading a response head"))?;
        if n == 0 {
            break;
        }
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            return parse_answer(&head)
                .ok_or_else(|| Error::Config("the edge answered something not HTTP".into()));
        }
    }
    Err(Error::Config(
        "the edge closed or sent an oversized head before its answer".into(),
    ))
}

/// Sends `request` on a fresh connection and reads the answer's head.
pub(crate) async fn ask(proxy: SocketAddr, request: &[u8]) -> Result<Answer, Error> {
    let exchange = async {
        let mut stream = TcpStream::connect(proxy)
            .await
            .map_err(Error::io(format!("connecting to the edge at {proxy}")))?;
        let _ = stream.set_nodelay(true);
        stream
            .write_all(request)
            .await
            .map_err(Error::io("writing a request"))?;
        read_head(&mut stream).await
    };
    tokio::time::timeout(ASK_TIMEOUT, exchange)
        .await
        .map_err(|_| Error::Config(format!("no answer from the edge at {proxy}")))?
}

/// When a poll saw what it waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Polled {
    /// The moment the matching answer was read.
    pub(crate) at: Instant,
    /// Requests sent, the matching one included.
    pub(crate) requests: usize,
}

/// Asks `request` every `interval` until the answer meets `expect`. Bounded by `deadline`.
pub(crate) async fn poll_until(
    proxy: SocketAddr,
    request: &[u8],
    expect: Expect,
    interval: Duration,
    deadline: Instant,
) -> Result<Polled, Error> {
    let mut requests = 0;
    loop {
        requests += 1;
        let last = match ask(proxy, request).await {
            Ok(answer) if expect.met_by(&answer) => {
                let at = Instant::now();
                return Ok(Polled { at, requests });
            }
            Ok(answer) => answer.to_string(),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(Error::Config(format!(
                "the edge at {proxy} did not answer {expect:?} in time; last: {last}"
            )));
        }
        tokio::time::sleep(interval).await;
    }
}

/// Opens a CONNECT tunnel, checks its `200`, and sends `hello` into it.
pub(crate) async fn open_tunnel(
    proxy: SocketAddr,
    connect: &[u8],
    hello: &[u8],
) -> Result<TcpStream, Error> {
    let open = async {
        let mut stream = TcpStream::connect(proxy)
            .await
            .map_err(Error::io(format!("connecting to the edge at {proxy}")))?;
        let _ = stream.set_nodelay(true);
        stream
            .write_all(connect)
            .await
            .map_err(Error::io("writing a CONNECT"))?;
        let answer = read_head(&mut stream).await?;
        if answer.status != 200 {
            return Err(Error::Config(format!(
                "the edge at {proxy} refused a tunnel: {answer}"
            )));
        }
        stream
            .write_all(hello)
            .await
            .map_err(Error::io("writing the ClientHello"))?;
        Ok(stream)
    };
    tokio::time::timeout(ASK_TIMEOUT, open)
        .await
        .map_err(|_| Error::Config(format!("the edge at {proxy} did not open a tunnel")))?
}

/// A tunnel's identity: (session index, edge index).
pub(crate) type TunnelKey = (usize, usize);

/// Reads `stream` until it ends (the far end sends nothing), then reports `key` and the moment.
pub(crate) async fn watch_close(
    mut stream: TcpStream,
    key: TunnelKey,
    out: mpsc::UnboundedSender<(TunnelKey, Instant)>,
) {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let _ = out.send((key, Instant::now()));
}

/// The tunnels' upstream: accepts, counts, and reads everything until the peer closes, never
/// writing. Its tasks end with the runtime.
pub(crate) struct Holder {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Holder {
    /// Binds `127.0.0.1:0` and starts accepting.
    pub(crate) async fn start() -> Result<Holder, Error> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(Error::io("binding the holding upstream"))?;
        let addr = listener
            .local_addr()
            .map_err(Error::io("reading the holding upstream's address"))?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
                });
            }
        });
        Ok(Holder {
            addr,
            accepted,
            task,
        })
    }

    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits until `count` connections have been accepted in all, or `deadline` passes.
    pub(crate) async fn wait_accepted(&self, count: usize, deadline: Instant) -> Result<(), Error> {
        loop {
            let now = self.accepted.load(Ordering::Relaxed);
            if now >= count {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Config(format!(
                    "the edges dialled {now} of {count} tunnel upstreams in time"
                )));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.task.abort();
    }
}
