//! The TLS load generator: per connection an optional `CONNECT` through a proxy, one TLS
//! handshake, then keep-alive requests inside until the window ends (closed loop, with the
//! exchange, counting and HTTP/1.1 of `client.rs`); and the handshake-only load (`CONNECT` +
//! TLS, close, again).

mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::client::conn::{Conn, Failure};
use crate::client::{self, Outcome, Phases};
use crate::error::Error;

/// What one TLS load run sends, and how each connection is opened.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Where TCP connects (the proxy, or the upstream for the direct path).
    pub addr: SocketAddr,
    /// `CONNECT` request heads; connection `i` sends `connects[i % len]` first. Empty: no
    /// proxy, TLS straight away.
    pub connects: Vec<Arc<[u8]>>,
    /// The TLS server name (SNI and the name the certificate is checked for).
    pub server_name: String,
    /// Whom the client trusts.
    pub tls: Arc<ClientConfig>,
    /// The request sent inside the TLS connection, again and again.
    pub request: Arc<[u8]>,
    /// Concurrent connections.
    pub connections: usize,
    /// Hard cap on requests across all connections.
    pub max_requests: u64,
    /// Bound on one connection set-up or one exchange.
    pub request_timeout: Duration,
}

/// Runs `spec` on a fresh current-thread runtime.
///
/// # Errors
/// The spec is empty, the server name invalid, or the runtime could not be built.
pub fn run_blocking(spec: &Spec, phases: Phases) -> Result<Outcome, Error> {
    client::runtime()?.block_on(run(spec, phases))
}

fn server_name(name: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(name.to_owned())
        .map_err(|_| Error::Config(format!("`{name}` is not a TLS server name")))
}

/// Drives `spec.connections` keep-alive TLS connections until `phases.end`.
///
/// # Errors
/// As [`run_blocking`].
pub async fn run(spec: &Spec, phases: Phases) -> Result<Outcome, Error> {
    if spec.connections == 0 {
        return Err(Error::Config("a load run needs a connection".into()));
    }
    let name = server_name(&spec.server_name)?;
    let spec = Arc::new(spec.clone());
    let sent = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for id in 0..spec.connections {
        let out = Outcome::empty()?;
        let (spec, sent, name) = (Arc::clone(&spec), Arc::clone(&sent), name.clone());
        tasks.spawn(drive(id, spec, name, phases, sent, out));
    }
    client::gather(tasks).await
}

async fn drive(
    id: usize,
    spec: Arc<Spec>,
    name: ServerName<'static>,
    phases: Phases,
    sent: Arc<AtomicU64>,
    mut out: Outcome,
) -> Outcome {
    let connect = spec.connects.get(id % spec.connects.len().max(1)).cloned();
    let mut conn: Option<Conn<TlsStream<TcpStream>>> = None;
    let mut opened: u64 = 0;
    loop {
        let origin = Instant::now();
        if origin >= phases.end {
            break;
        }
        if sent.fetch_add(1, Ordering::Relaxed) >= spec.max_requests {
            out.capped = true;
            break;
        }
        out.sent_total += 1;
        let at = origin.checked_duration_since(phases.measure_start);
        let open = || async {
            Ok(Conn::new(
                open(spec.addr, connect.as_deref(), &spec.tls, &name).await?,
            ))
        };
        let result = tokio::time::timeout(
            spec.request_timeout,
            client::exchange(
                &mut conn,
                &mut opened,
                &spec.request,
                spec.request_timeout,
                open,
            ),
        )
        .await
        .unwrap_or(Err(Failure::Timeout));
        if result.is_err() {
            conn = None;
        }
        out.record(result, at, origin.elapsed());
        if result == Err(Failure::Connect) {
            client::connect_backoff(phases.end).await;
        }
    }
    out.reconnects = opened.saturating_sub(1);
    out
}

/// TCP connect, the `CONNECT` exchange when given (a 200 is required), then the TLS handshake.
async fn open(
    addr: SocketAddr,
    connect: Option<&[u8]>,
    tls: &Arc<ClientConfig>,
    name: &ServerName<'static>,
) -> Result<TlsStream<TcpStream>, Failure> {
    let mut tcp = TcpStream::connect(addr)
        .await
        .map_err(|_| Failure::Connect)?;
    tcp.set_nodelay(true).map_err(|_| Failure::Connect)?;
    if let Some(head) = connect {
        tcp.write_all(head).await.map_err(|_| Failure::Connect)?;
        if wire::connect_reply(&mut tcp).await? != 200 {
            return Err(Failure::Connect);
        }
    }
    TlsConnector::from(Arc::clone(tls))
        .connect(name.clone(), tcp)
        .await
        .map_err(|_| Failure::Connect)
}

/// The handshake-only load: each connection repeatedly opens a fresh TCP connection, sends
/// `CONNECT <host>:<port>` and completes a TLS handshake for `host`, then closes.
#[derive(Debug, Clone)]
pub struct HandshakeSpec {
    /// The proxy.
    pub addr: SocketAddr,
    /// Host names, used round-robin across all handshakes of the run.
    pub hosts: Vec<String>,
    /// The port in every `CONNECT`.
    pub port: u16,
    /// Session tokens; connection `i` presents `tokens[i % len]`.
    pub tokens: Vec<String>,
    /// Whom the client trusts (the deployment CA).
    pub tls: Arc<ClientConfig>,
    /// Concurrent connections.
    pub connections: usize,
    /// Bound on one handshake.
    pub timeout: Duration,
}

/// What the handshake load observed in the measured window.
#[derive(Debug, Clone)]
pub struct Handshakes {
    /// Completed handshakes.
    pub ok: u64,
    /// Failed ones.
    pub failed: u64,
    /// Time from TCP connect to the end of the TLS handshake, ns.
    pub latency: Histogram<u64>,
}

/// Runs the handshake load on a fresh current-thread runtime.
///
/// # Errors
/// The spec is empty, a host is not a server name, or the runtime could not be built.
pub fn handshakes_blocking(spec: &HandshakeSpec, phases: Phases) -> Result<Handshakes, Error> {
    if spec.connections == 0 || spec.hosts.is_empty() || spec.tokens.is_empty() {
        return Err(Error::Config(
            "handshake load needs connections, hosts, tokens".into(),
        ));
    }
    let names = spec
        .hosts
        .iter()
        .map(|h| server_name(h))
        .collect::<Result<Vec<_>, _>>()?;
    let spec = Arc::new(spec.clone());
    let names = Arc::new(names);
    let next = Arc::new(AtomicU64::new(0));
    client::runtime()?.block_on(async move {
        let mut tasks = tokio::task::JoinSet::new();
        for id in 0..spec.connections {
            let (spec, names, next) = (Arc::clone(&spec), Arc::clone(&names), Arc::clone(&next));
            let latency = client::latency_histogram()?;
            tasks.spawn(handshake_loop(id, spec, names, next, phases, latency));
        }
        let mut total = Handshakes {
            ok: 0,
            failed: 0,
            latency: client::latency_histogram()?,
        };
        while let Some(joined) = tasks.join_next().await {
            let one = joined.map_err(|e| Error::Config(format!("handshake task failed: {e}")))?;
            total.ok += one.ok;
            total.failed += one.failed;
            total
                .latency
                .add(&one.latency)
                .map_err(|e| Error::Config(format!("latency histogram merge: {e}")))?;
        }
        Ok(total)
    })
}

async fn handshake_loop(
    id: usize,
    spec: Arc<HandshakeSpec>,
    names: Arc<Vec<ServerName<'static>>>,
    next: Arc<AtomicU64>,
    phases: Phases,
    latency: Histogram<u64>,
) -> Handshakes {
    let mut out = Handshakes {
        ok: 0,
        failed: 0,
        latency,
    };
    let token = spec
        .tokens
        .get(id % spec.tokens.len())
        .cloned()
        .unwrap_or_default();
    loop {
        let started = Instant::now();
        if started >= phases.end {
            return out;
        }
        let k = usize::try_from(next.fetch_add(1, Ordering::Relaxed)).unwrap_or(0);
        let (Some(host), Some(name)) = (
            spec.hosts.get(k % spec.hosts.len()),
            names.get(k % names.len()),
        ) else {
            return out;
        };
        let authority = format!("{host}:{}", spec.port);
        let head = connect_head(&authority, Some(&token));
        let result =
            tokio::time::timeout(spec.timeout, open(spec.addr, Some(&head), &spec.tls, name))
                .await
                .unwrap_or(Err(Failure::Timeout));
        let measured = started >= phases.measure_start;
        match result {
            Ok(mut tls) => {
                if measured {
                    out.ok += 1;
                    let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    out.latency.saturating_record(nanos.max(1));
                }
                let _ = tls.shutdown().await;
            }
            Err(_) => {
                if measured {
                    out.failed += 1;
                }
                client::connect_backoff(phases.end).await;
            }
        }
    }
}

/// A `CONNECT` request head, with a bearer token for the edge when given.
pub fn connect_head(authority: &str, token: Option<&str>) -> Vec<u8> {
    let auth = token.map_or(String::new(), |t| {
        format!("Proxy-Authorization: Bearer {t}\r\n")
    });
    format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n{auth}\r\n").into_bytes()
}
