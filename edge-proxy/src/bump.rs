//! The bump rung: after a CONNECT to a `bump` destination is answered and its ClientHello's SNI
//! checked, the edge terminates the sandbox's TLS with a leaf minted for exactly that name (minted
//! before the handshake, from the deployment CA), then reads every request inside as its own
//! decision ([`request::decide`]) and forwards the allowed ones through pingora over TLS the edge
//! opens and validates itself — attaching the rule's credentials and scrubbing them from the
//! response (see [`crate::service`]).
//!
//! The tunnel ends on idle, on its lifetime, when the token expires, when the session is revoked
//! or deny-all goes on (also in the middle of a forward or a long response), and after any
//! refusal.

pub(crate) mod conn;
pub(crate) mod leaves;
pub(crate) mod request;
pub(crate) mod tls;

use crate::client_conn::ClientConn;
use crate::decide::{Allowed, Denied};
use crate::deny::Refusal;
use crate::handoff;
use crate::head::{self, HeadError};
use crate::record::Record;
use crate::service::{Forward, Upstream};
use crate::sessions::Closing;
use crate::tunnel::{Bounds, Ends};
use bytes::BytesMut;
use conn::BumpedConn;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use trust_core::DenyReason;

/// The bump rung's shared state.
pub(crate) struct Bump {
    /// Leaves minted from the deployment CA.
    pub(crate) leaves: Arc<leaves::Leaves>,
    /// TLS towards sandboxes.
    pub(crate) acceptor: tokio_rustls::TlsAcceptor,
}

/// Terminates TLS on `client` (whose ClientHello is in `early`) and serves the requests inside.
pub(crate) async fn run(
    mut client: ClientConn,
    early: BytesMut,
    allowed: Allowed,
    tunnel_rec: &mut Record,
    closing: &mut Closing,
    ends: Ends<'_>,
    bounds: Bounds,
) {
    let Ends { proxy, shutdown } = ends;
    let edge = tunnel_rec.edge().clone();
    let (Some(bump), Some(sni)) = (&edge.bump, allowed.sni.as_deref()) else {
        tunnel_rec.deny(DenyReason::ProtocolNotAllowed);
        return;
    };
    // Minted (or found) before the handshake, so the handshake never waits on key generation.
    if bump.leaves.get(sni).is_none() {
        edge.metrics
            .bump_handshakes
            .with_label_values(&["no_certificate"])
            .inc();
        tunnel_rec.deny(DenyReason::UpstreamTlsFailed);
        return;
    }
    client.rewind(&early);
    let accepted = tokio::select! {
        r = tokio::time::timeout(edge.config.client_hello_timeout, bump.acceptor.accept(client)) => r,
        () = closing.wait() => return,
    };
    let tls = match accepted {
        Ok(Ok(tls)) => tls,
        _ => {
            edge.metrics
                .bump_handshakes
                .with_label_values(&["failed"])
                .inc();
            tunnel_rec.deny(DenyReason::ProtocolNotAllowed);
            return;
        }
    };
    edge.metrics
        .bump_handshakes
        .with_label_values(&["ok"])
        .inc();
    let Bounds { idle, end } = bounds;
    let mut conn = BumpedConn::new(tls);
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        let idle_at = Instant::now() + idle;
        let read = head::read_head(
            &mut conn,
            &mut buf,
            edge.config.max_head_bytes,
            idle_at.min(end),
            edge.config.header_read_timeout,
        );
        let head = match tokio::select! {
            read = read => read,
            () = closing.wait() => return,
        } {
            Ok(head) => head,
            Err(HeadError::Closed | HeadError::Io(_) | HeadError::Timeout) => return,
            Err(HeadError::TooLarge(_) | HeadError::Malformed(_)) => {
                let rec = Record::new(edge.clone(), false);
                refuse(&mut conn, rec, DenyReason::MalformedRequest.into()).await;
                return;
            }
        };
        let mut rec = Record::new(edge.clone(), false);
        rec.session = Some(allowed.session.clone());
        rec.dst_host = Some(sni.to_owned());
        rec.dst_port = Some(allowed.target.port);
        rec.dst_addr = Some(allowed.addr.ip());
        rec.method = Some(head.method.clone());
        rec.user_agent = head.user_agent.clone();
        let inner = match request::decide(&edge, &head, &allowed, &mut rec).await {
            Ok(inner) => inner,
            Err(denied) => return refuse(&mut conn, rec, denied).await,
        };
        let forward = Forward {
            path: inner.path,
            host: host_header(sni, allowed.target.port),
            upgrade: inner.upgrade,
            allowed: allowed.clone(),
            record: rec,
            upstream: Upstream::Tls {
                sni: sni.to_owned(),
                injections: inner.injections,
                patterns: inner.patterns,
            },
            redactor: None,
        };
        conn.rewind(&buf);
        buf.clear();
        let request_id = &tunnel_rec.request_id;
        let stop = async {
            tokio::select! {
                () = closing.wait() => tracing::info!(%request_id, "bumped tunnel closed: its session was revoked or deny-all is on"),
                () = tokio::time::sleep_until(end) => tracing::info!(%request_id, "bumped tunnel closed: token expiry or lifetime reached"),
            }
        };
        let keepalive = edge.config.keepalive_idle_timeout;
        match handoff::forward(proxy, conn, forward, keepalive, shutdown, stop).await {
            Some(c) => conn = c,
            None => return,
        }
    }
}

/// `Host` for the upstream: the CONNECT host, with the port when it is not 443.
fn host_header(host: &str, port: u16) -> String {
    if port == 443 {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    }
}

/// Writes the structured refusal inside the tunnel, records it and closes the tunnel.
async fn refuse(conn: &mut BumpedConn, mut rec: Record, denied: Denied) {
    rec.deny(denied.reason);
    let refusal = Refusal {
        reason: denied.reason,
        request_id: rec.request_id.clone(),
        retry_after: denied.retry_after,
    };
    let _ = conn.write_all(&refusal.to_http1()).await;
    let _ = conn.flush().await;
    let _ = conn.shutdown().await;
}

/// Sets up the bump rung: loads a CA from its directory now (an SDS-provided CA arrives later
/// through [`follow_ca`]) and builds the TLS acceptor.
pub(crate) fn setup(config: &crate::config::BumpConfig) -> Result<Bump, crate::EdgeError> {
    let leaves = Arc::new(leaves::Leaves::default());
    if let Some((authority, _)) = leaves::load_dir(config).map_err(crate::EdgeError::Bump)? {
        leaves::warn_if_expiring(&authority, config.ca_expiry_warning);
        leaves.install(authority, config);
    }
    let acceptor = tls::acceptor(leaves.clone(), config.tls12)
        .map_err(|e| crate::EdgeError::Bump(e.to_string()))?;
    Ok(Bump { leaves, acceptor })
}

/// Keeps the CA current: re-reads the CA directory when `ca.pem` changes (a rotation), or
/// installs each new version of the SDS `tls_certificate`; refreshes the expiry metric and warns
/// when expiry is near. A CA that fails to load leaves the previous one in force.
pub(crate) async fn follow_ca(edge: Arc<crate::edge::Edge>) {
    let (Some(bump), Some(config)) = (&edge.bump, &edge.config.bump) else {
        return;
    };
    let mut seen_modified = match &config.ca {
        crate::config::CaSource::Dir(dir) => Some(leaves::ca_modified(dir)),
        crate::config::CaSource::Secret(_) => None,
    };
    let mut seen_version: Option<String> = None;
    let mut tick = tokio::time::interval(crate::defaults::CA_CHECK_INTERVAL);
    // An SDS-provided CA is installed as soon as a new version arrives, not at the next tick.
    let mut sds_changes = edge
        .secrets
        .as_ref()
        .map(crate::secrets::SecretStore::changes);
    loop {
        match sds_changes.as_mut() {
            Some(changes) => {
                tokio::select! {
                    _ = tick.tick() => {}
                    r = changes.changed() => if r.is_err() { sds_changes = None; },
                }
            }
            None => {
                tick.tick().await;
            }
        }
        let loaded = match &config.ca {
            crate::config::CaSource::Dir(dir) => {
                let modified = leaves::ca_modified(dir);
                if Some(modified) == seen_modified {
                    None
                } else {
                    seen_modified = Some(modified);
                    Some(trust_ca::Authority::load(dir).map_err(|e| e.to_string()))
                }
            }
            crate::config::CaSource::Secret(name) => {
                match edge.secrets.as_ref().and_then(|s| s.tls_pair(name)) {
                    Some((chain, key, version)) if seen_version.as_deref() != Some(&version) => {
                        seen_version = Some(version);
                        Some(trust_ca::Authority::from_pem(&chain, &key).map_err(|e| e.to_string()))
                    }
                    _ => None,
                }
            }
        };
        match loaded {
            Some(Ok(authority)) => {
                leaves::warn_if_expiring(&authority, config.ca_expiry_warning);
                edge.metrics
                    .ca_expiry_seconds
                    .set(leaves::expires_in(&authority));
                bump.leaves.install(authority, config);
                tracing::info!("deployment CA loaded");
            }
            Some(Err(e)) => {
                tracing::error!(error = %e, "the deployment CA did not load; the previous one stays in force");
            }
            None => {}
        }
        if let Some(left) = bump.leaves.expires_in() {
            edge.metrics.ca_expiry_seconds.set(left);
        }
    }
}

/// Writes the roots the edge trusts for upstreams: the system's plus `[bump] upstream_ca_file`,
/// as one PEM file pingora loads (its connector takes a single CA file). `None`: system roots.
pub(crate) fn upstream_roots(
    config: &crate::config::Config,
) -> Result<Option<std::path::PathBuf>, crate::EdgeError> {
    let Some(extra) = config
        .bump
        .as_ref()
        .and_then(|b| b.upstream_ca_file.as_ref())
    else {
        return Ok(None);
    };
    let fail =
        |what: &str, e: &dyn std::fmt::Display| crate::EdgeError::Bump(format!("{what}: {e}"));
    let mut pem = String::new();
    for cert in rustls_native_certs::load_native_certs().certs {
        pem.push_str(&pem_block("CERTIFICATE", cert.as_ref()));
    }
    let extra_text = std::fs::read_to_string(extra)
        .map_err(|e| fail(&format!("reading {}", extra.display()), &e))?;
    if !extra_text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(crate::EdgeError::Bump(format!(
            "{} holds no PEM certificate",
            extra.display()
        )));
    }
    pem.push_str(&extra_text);
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| fail(&format!("creating {}", config.data_dir.display()), &e))?;
    let path = config.data_dir.join("upstream-roots.pem");
    std::fs::write(&path, pem).map_err(|e| fail(&format!("writing {}", path.display()), &e))?;
    Ok(Some(path))
}

fn pem_block(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
