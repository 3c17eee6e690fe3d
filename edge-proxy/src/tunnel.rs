//! CONNECT tunnels: answer 200, read the ClientHello (deadline + size bound) and require its SNI
//! to equal the CONNECT host before a single byte goes upstream. Then, for a `bump` rule, hand
//! the connection to [`crate::bump`]; for pass-through, dial exactly the checked address and
//! splice — ending on idle, on total lifetime or when the token expires.

use crate::client_conn::ClientConn;
use crate::client_hello::{self, Hello};
use crate::decide::Allowed;
use crate::record::Record;
use crate::service::Forwarder;
use crate::sessions::{Closing, Trip, until_unix};
use bytes::BytesMut;
use pingora_proxy::HttpProxy;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use trust_core::DenyReason;

/// The answer that opens a tunnel.
const ESTABLISHED: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";
/// Relay buffer per direction.
const BUF: usize = 16 * 1024;

/// What a bumped tunnel forwards through, and the edge's shutdown signal.
pub(crate) struct Ends<'a> {
    /// pingora, which forwards each request read inside a bumped tunnel.
    pub(crate) proxy: &'a Arc<HttpProxy<Forwarder>>,
    /// The edge's shutdown signal.
    pub(crate) shutdown: &'a watch::Receiver<bool>,
}

/// Runs one tunnel to its end; `early` holds bytes the client sent after the CONNECT head.
pub(crate) async fn run(
    mut client: ClientConn,
    mut early: BytesMut,
    allowed: Allowed,
    rec: &mut Record,
    closing: &mut Closing,
    ends: Ends<'_>,
) {
    let edge = rec.edge().clone();
    let cfg = &edge.config;
    if client.write_all(ESTABLISHED).await.is_err() || client.flush().await.is_err() {
        return;
    }
    let _active = Active::new(&edge.metrics.active_tunnels);
    let hello_deadline = Instant::now() + cfg.client_hello_timeout;
    let reading = client_hello::read(
        &mut client,
        &mut early,
        crate::defaults::MAX_CLIENT_HELLO_BYTES,
        hello_deadline,
    );
    // A revocation also ends a tunnel that has not sent its ClientHello yet.
    let hello = tokio::select! {
        hello = reading => hello,
        () = closing.wait() => return,
    };
    let sni_ok = match (&hello, &allowed.sni) {
        (Ok(Hello::Sni(sni)), Some(host)) => sni == host,
        (Ok(Hello::NoSni), None) => true,
        (Ok(_), _) => false,
        (Err(_), _) => {
            rec.deny(DenyReason::ProtocolNotAllowed);
            return;
        }
    };
    if !sni_ok {
        rec.deny(DenyReason::SniMismatch);
        return;
    }
    let (idle, lifetime) = tunnel_bounds(&edge, &allowed);
    let lifetime = lifetime.min(until_unix(allowed.state.exp()));
    if rec.rung == Some(policies::Rung::Bump) {
        let bounds = Bounds {
            idle,
            end: Instant::now() + lifetime,
        };
        crate::bump::run(client, early, allowed, rec, closing, ends, bounds).await;
        return;
    }
    let upstream =
        match tokio::time::timeout(cfg.connect_timeout, TcpStream::connect(allowed.addr)).await {
            Ok(Ok(s)) => s,
            _ => {
                rec.deny(DenyReason::UpstreamUnreachable);
                return;
            }
        };
    let _ = upstream.set_nodelay(true);
    let mut upstream = upstream;
    let bounds = Bounds {
        idle,
        end: Instant::now() + lifetime,
    };
    splice(
        &mut client,
        &mut upstream,
        early,
        bounds,
        &allowed,
        rec,
        closing,
    )
    .await;
}

/// The profile's idle and lifetime bounds for a tunnel.
fn tunnel_bounds(edge: &crate::edge::Edge, allowed: &Allowed) -> (Duration, Duration) {
    edge.policies
        .load()
        .profile(&allowed.session.claims.profile)
        .map_or((Duration::from_secs(300), Duration::from_secs(3600)), |p| {
            (p.limits.tunnel_idle_timeout, p.limits.tunnel_max_lifetime)
        })
}

/// Counts a tunnel as active from its 200 until it ends, whichever way it ends.
struct Active(prometheus::IntGauge);

impl Active {
    fn new(gauge: &prometheus::IntGauge) -> Active {
        gauge.inc();
        Active(gauge.clone())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// When a tunnel ends: after `idle` without a byte either way (a bumped tunnel: without a
/// request), or at `end` (lifetime or `exp`).
pub(crate) struct Bounds {
    /// The profile's `tunnel_idle_timeout`.
    pub(crate) idle: Duration,
    /// The profile's `tunnel_max_lifetime`, or the token's `exp` if sooner.
    pub(crate) end: Instant,
}

async fn splice<C>(
    client: &mut C,
    upstream: &mut TcpStream,
    early: BytesMut,
    Bounds { idle, end }: Bounds,
    allowed: &Allowed,
    rec: &mut Record,
    closing: &mut Closing,
) where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let edge = rec.edge().clone();
    let mut policy = edge.policy_generation.subscribe();
    if upstream.write_all(&early).await.is_err() {
        return;
    }
    rec.bytes_up += early.len() as u64;
    let mut up = vec![0u8; BUF];
    let mut down = vec![0u8; BUF];
    let mut idle_at = Instant::now() + idle;
    let (mut client_open, mut upstream_open) = (true, true);
    while client_open || upstream_open {
        let deadline = idle_at.min(end);
        tokio::select! {
            r = client.read(&mut up), if client_open => match r {
                Ok(0) | Err(_) => {
                    client_open = false;
                    let _ = upstream.shutdown().await;
                }
                Ok(n) => {
                    if upstream.write_all(up.get(..n).unwrap_or_default()).await.is_err() {
                        return;
                    }
                    rec.bytes_up += n as u64;
                    edge.metrics.bytes_up.inc_by(n as u64);
                    if let Trip::Crossed { deny } = allowed.state.count(None, n as u64) {
                        crate::tripwire::report(&edge, &allowed.session, rec);
                        if deny {
                            rec.deny(DenyReason::Tripwire);
                            return;
                        }
                    }
                    idle_at = Instant::now() + idle;
                }
            },
            r = upstream.read(&mut down), if upstream_open => match r {
                Ok(0) | Err(_) => {
                    upstream_open = false;
                    let _ = client.shutdown().await;
                }
                Ok(n) => {
                    let chunk = down.get(..n).unwrap_or_default();
                    if client.write_all(chunk).await.is_err() || client.flush().await.is_err() {
                        return;
                    }
                    rec.bytes_down += n as u64;
                    edge.metrics.bytes_down.inc_by(n as u64);
                    idle_at = Instant::now() + idle;
                }
            },
            Ok(()) = policy.changed() => {
                if !crate::decide::still_allowed(&edge, allowed) {
                    tracing::info!(request_id = %rec.request_id, "tunnel closed: the reloaded policy no longer allows its destination");
                    return;
                }
            }
            () = closing.wait() => {
                tracing::info!(request_id = %rec.request_id, "tunnel closed: its session was revoked or deny-all is on");
                return;
            }
            () = tokio::time::sleep_until(deadline) => {
                tracing::debug!(request_id = %rec.request_id, "tunnel ended by its idle or lifetime bound");
                return;
            }
        }
    }
}
