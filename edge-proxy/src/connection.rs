//! One client connection's life: read and check each request head, decide it, then answer the
//! refusal, run the tunnel, forward it (a bodyless request on the lean path of [`crate::plain`],
//! any other through pingora) — and loop for the next request on a kept-alive connection, so
//! every request is decided on its own.

use crate::client_conn::ClientConn;
use crate::decide::{self, Allowed, Denied};
use crate::deny::Refusal;
use crate::edge::Edge;
use crate::handoff;
use crate::head::{self, HeadError};
use crate::plain;
use crate::record::Record;
use crate::service::{Forward, Forwarder, Upstream};
use crate::sessions::{Closing, ConnectionGuard};
use crate::target::Kind;
use crate::tunnel;
use bytes::BytesMut;
use pingora_proxy::HttpProxy;
use policies::Destination;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use trust_core::DenyReason;

/// Serves one accepted connection until it closes.
pub(crate) async fn serve(
    edge: Arc<Edge>,
    proxy: Arc<HttpProxy<Forwarder>>,
    tcp: TcpStream,
    shutdown: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let mut stream = ClientConn::new(tcp);
    // Held until the connection's first request is authenticated and allowed.
    let Ok(mut unauthenticated) = edge.unauthenticated.clone().try_acquire_owned().map(Some) else {
        let rec = Record::new(edge.clone(), false);
        refuse(&mut stream, rec, Denied::from(DenyReason::ConnectionLimit)).await;
        return;
    };
    let mut buf = BytesMut::with_capacity(4096);
    let mut slot: Option<ConnectionGuard> = None;
    // Fires when the session this connection serves is revoked (or deny-all goes on).
    let mut closing = Closing::never();
    loop {
        let idle_deadline = Instant::now() + edge.config.keepalive_idle_timeout;
        let read = head::read_head(
            &mut stream,
            &mut buf,
            edge.config.max_head_bytes,
            idle_deadline,
            edge.config.header_read_timeout,
        );
        let head = match tokio::select! {
            read = read => read,
            () = closing.wait() => return,
        } {
            Ok(head) => head,
            Err(HeadError::Closed | HeadError::Io(_)) => return,
            Err(HeadError::Timeout) => {
                if !buf.is_empty() {
                    edge.metrics.head_timeouts.inc();
                }
                return;
            }
            Err(HeadError::TooLarge(_) | HeadError::Malformed(_)) => {
                let rec = Record::new(edge.clone(), false);
                refuse(&mut stream, rec, DenyReason::MalformedRequest.into()).await;
                return;
            }
        };
        let started = Instant::now();
        let mut rec = Record::new(edge.clone(), head.method == "CONNECT");
        rec.method = Some(head.method.clone());
        rec.user_agent = head.user_agent.clone();
        let decided = decide::decide(&edge, &head, &mut rec).await;
        let histogram = if rec.tunnel {
            &edge.metrics.decision_connect
        } else {
            &edge.metrics.decision_forward
        };
        histogram.observe(started.elapsed().as_secs_f64());
        let allowed = match decided {
            Ok(allowed) => allowed,
            Err(denied) => return refuse(&mut stream, rec, denied).await,
        };
        drop(unauthenticated.take());
        // The connection counts against the session of its latest request.
        if !slot
            .as_ref()
            .is_some_and(|g| Arc::ptr_eq(g.session(), &allowed.state))
        {
            drop(slot.take());
            match allowed.state.try_connect() {
                Some(guard) => slot = Some(guard),
                None => return refuse(&mut stream, rec, DenyReason::ConnectionLimit.into()).await,
            }
            closing = allowed.state.closing();
            // A revocation that landed between the decision and subscribing is caught here.
            if let Some(Err(reason)) = edge
                .control
                .as_ref()
                .map(|c| c.check_session(&allowed.session.claims.sid))
            {
                return refuse(&mut stream, rec, reason.into()).await;
            }
        }
        match &allowed.target.kind {
            Kind::Connect => {
                let early = buf.split_off(head.len);
                let ends = tunnel::Ends {
                    proxy: &proxy,
                    shutdown: &shutdown,
                };
                tunnel::run(stream, early, allowed, &mut rec, &mut closing, ends).await;
                return;
            }
            Kind::Forward { path } if plain::eligible(&head) => {
                let host = host_header(&allowed);
                let next = tokio::select! {
                    next = plain::forward(
                        &edge,
                        plain::Client {
                            conn: &mut stream,
                            pipelined: &mut buf,
                            limit: edge.config.max_head_bytes,
                            read_timeout: edge.config.upstream_timeout,
                        },
                        &head,
                        &allowed,
                        &mut rec,
                        (path, &host),
                    ) => next,
                    () = closing.wait() => return,
                };
                match next {
                    plain::Next::KeepAlive if !*shutdown.borrow() => {}
                    plain::Next::KeepAlive | plain::Next::Close => return,
                    plain::Next::Refuse(reason) => {
                        return refuse(&mut stream, rec, reason.into()).await;
                    }
                }
            }
            Kind::Forward { path } => {
                let forward = Forward {
                    path: path.clone(),
                    host: host_header(&allowed),
                    upgrade: head.upgrade.is_some(),
                    allowed,
                    record: rec,
                    upstream: Upstream::Plain,
                    redactor: None,
                };
                stream.rewind(&buf);
                buf.clear();
                let keepalive = edge.config.keepalive_idle_timeout;
                let next = handoff::forward(
                    &proxy,
                    stream,
                    forward,
                    keepalive,
                    &shutdown,
                    closing.wait(),
                );
                match next.await {
                    Some(s) => stream = s,
                    None => return,
                }
            }
        }
    }
}

/// `Host` for the upstream: the normalised host, with the port when it is not 80.
fn host_header(allowed: &Allowed) -> String {
    let host = match &allowed.target.destination {
        Some(Destination::Name(n)) => n.clone(),
        Some(Destination::Ip(std::net::IpAddr::V6(v6))) => format!("[{v6}]"),
        Some(Destination::Ip(ip)) => ip.to_string(),
        None => String::new(),
    };
    if allowed.target.port == 80 {
        host
    } else {
        format!("{host}:{}", allowed.target.port)
    }
}

/// Writes the structured refusal, records it and closes.
async fn refuse(stream: &mut ClientConn, mut rec: Record, denied: Denied) {
    rec.deny(denied.reason);
    let refusal = Refusal {
        reason: denied.reason,
        request_id: rec.request_id.clone(),
        retry_after: denied.retry_after,
    };
    let _ = stream.write_all(&refusal.to_http1()).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
}
