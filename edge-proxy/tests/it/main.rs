//! End-to-end tests of the edge proxy: real sockets on loopback, real curl and Python clients,
//! real TLS, a real DNS server. Every deny path asserts its status and `x-deny-reason`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod allow;
mod auth;
mod bump;
mod control;
mod destination;
mod forward;
mod framing;
mod limits;
mod observability;
mod pool;
mod reload;
mod resolve;
mod robustness;
mod tunnel;

use testkit::{Origin, TestCert, TestEdge};

/// A profile `web` reaching a local plain origin (`origin.test`) and TLS origin (`tls.test`)
/// through exact-address rules, plus names that exist only to be refused.
pub(crate) fn web_policy(origin_port: u16, tls_port: u16, extra_spec: &str) -> String {
    format!(
        r#"apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {{name: web}}
spec:
{extra_spec}
  destinations:
    - host: origin.test
      ports: [{origin_port}]
      addresses: [127.0.0.1]
      rung: pass-through
    - host: tls.test
      ports: [{tls_port}]
      addresses: [127.0.0.1]
      rung: pass-through
    - host: "*.wild.test"
      ports: [443, 80]
      rung: pass-through
    - host: resolves.test
      ports: [443, 80]
      rung: pass-through
"#
    )
}

/// A started edge with a plain and a TLS origin behind it.
pub(crate) struct Fixture {
    pub(crate) edge: TestEdge,
    pub(crate) origin: Origin,
    pub(crate) tls: Origin,
    pub(crate) cert: TestCert,
}

impl Fixture {
    /// Starts origins and an edge using [`web_policy`] with `extra_spec` lines under `spec:`.
    pub(crate) async fn start(extra_spec: &str) -> Fixture {
        Self::start_with(extra_spec, |b| b).await
    }

    /// As [`Fixture::start`], letting the caller adjust the edge builder.
    pub(crate) async fn start_with(
        extra_spec: &str,
        adjust: impl FnOnce(testkit::edge::EdgeBuilder) -> testkit::edge::EdgeBuilder,
    ) -> Fixture {
        let cert = TestCert::new(&["tls.test"]);
        let origin = Origin::start().await;
        let tls = Origin::start_tls(&cert).await;
        let builder = testkit::edge()
            .policy(
                "web.yaml",
                &web_policy(origin.port(), tls.port(), extra_spec),
            )
            .static_host("origin.test", "127.0.0.1")
            .static_host("tls.test", "127.0.0.1");
        let edge = adjust(builder).start().await;
        Fixture {
            edge,
            origin,
            tls,
            cert,
        }
    }

    /// `-x` URL with the token as the Basic password.
    pub(crate) fn proxy_with(&self, token: &str) -> String {
        format!("http://session:{token}@{}", self.edge.handle().proxy_addr())
    }

    /// The proxy address.
    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        self.edge.handle().proxy_addr()
    }

    /// Audit events whose `status_detail` is `reason`.
    pub(crate) async fn audited(&self, reason: &str) -> Vec<serde_json::Value> {
        audited(&self.edge, reason).await
    }
}

/// `edge`'s audit events whose `status_detail` is `reason`.
pub(crate) async fn audited(edge: &TestEdge, reason: &str) -> Vec<serde_json::Value> {
    edge.audit()
        .await
        .into_iter()
        .filter(|e| e["status_detail"] == reason)
        .collect()
}

/// A raw absolute-form GET with a Bearer token and the Host a real client sends.
pub(crate) fn get(target: &str, token: &str) -> Vec<u8> {
    format!(
        "GET {target} HTTP/1.1\r\nHost: {}\r\nProxy-Authorization: Bearer {token}\r\n\r\n",
        host_of(target)
    )
    .into_bytes()
}

/// The authority of an absolute URI (what `Host` must be).
pub(crate) fn host_of(target: &str) -> &str {
    let rest = target.split_once("://").map_or(target, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

/// A raw CONNECT with a Bearer token.
pub(crate) fn connect(authority: &str, token: &str) -> Vec<u8> {
    format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nProxy-Authorization: Bearer {token}\r\n\r\n").into_bytes()
}

/// A rustls client config trusting `ca_pem` (for TLS through tunnels).
pub(crate) fn tunnel_client_config(
    ca_pem: &str,
) -> std::sync::Arc<tokio_rustls::rustls::ClientConfig> {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    let ders =
        rustls_pki_types::pem::PemObject::pem_slice_iter(ca_pem.as_bytes()).map(|c| c.unwrap());
    roots.add_parsable_certificates(ders);
    std::sync::Arc::new(
        tokio_rustls::rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Polls `f` until it returns true, failing after `secs` (a poll with a deadline, never a sleep
/// standing in for synchronisation).
pub(crate) async fn eventually<F: std::future::Future<Output = bool>>(
    secs: u64,
    what: &str,
    mut f: impl FnMut() -> F,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !f().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await; // poll interval
    }
}
