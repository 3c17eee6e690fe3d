//! CONNECT tunnels: SNI must equal the CONNECT host before any byte goes upstream; non-TLS bytes,
//! missing SNI and the edge's own listeners are refused; idle tunnels and expired tokens end.

use crate::{Fixture, connect, get};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use testkit::raw;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

fn client_config(ca_pem: &str, sni: bool) -> Arc<tokio_rustls::rustls::ClientConfig> {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    let ders =
        rustls_pki_types::pem::PemObject::pem_slice_iter(ca_pem.as_bytes()).map(|c| c.unwrap());
    roots.add_parsable_certificates(ders);
    let mut cfg = tokio_rustls::rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.enable_sni = sni;
    Arc::new(cfg)
}

/// Opens a tunnel and returns the stream after the 200.
async fn open(f: &Fixture, authority: &str, token: &str) -> TcpStream {
    let mut s = TcpStream::connect(f.addr()).await.unwrap();
    s.write_all(&connect(authority, token)).await.unwrap();
    let r = raw::read_reply(&mut s).await.unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    s
}

#[tokio::test]
async fn sni_must_equal_the_connect_host() {
    let f = Fixture::start("").await;
    let t = f.edge.token("web", "s-sni");
    let authority = format!("tls.test:{}", f.tls.port());

    let s = open(&f, &authority, &t).await;
    let wrong = TlsConnector::from(client_config(&f.cert.ca_pem, true))
        .connect(ServerName::try_from("other.test").unwrap(), s)
        .await;
    assert!(wrong.is_err(), "the edge closed instead of forwarding");

    let s = open(&f, &authority, &t).await;
    let no_sni = TlsConnector::from(client_config(&f.cert.ca_pem, false))
        .connect(ServerName::try_from("tls.test").unwrap(), s)
        .await;
    assert!(no_sni.is_err());

    assert_eq!(f.tls.connections(), 0, "no byte went upstream");
    assert_eq!(f.audited("sni_mismatch").await.len(), 2);

    let s = open(&f, &authority, &t).await;
    let good = TlsConnector::from(client_config(&f.cert.ca_pem, true))
        .connect(ServerName::try_from("tls.test").unwrap(), s)
        .await;
    assert!(good.is_ok(), "matching SNI is spliced through");
}

#[tokio::test]
async fn non_tls_bytes_in_a_tunnel_are_refused() {
    let f = Fixture::start("").await;
    let t = f.edge.token("web", "s-nontls");
    let mut s = open(&f, &format!("tls.test:{}", f.tls.port()), &t).await;
    s.write_all(b"GET / HTTP/1.1\r\nHost: tls.test\r\n\r\n")
        .await
        .unwrap();
    assert!(raw::closed_within(&mut s, Duration::from_secs(10)).await);
    assert_eq!(f.tls.connections(), 0);
    assert_eq!(f.audited("protocol_not_allowed").await.len(), 1);
}

#[tokio::test]
async fn the_edges_own_listeners_are_unreachable_even_with_a_loopback_address_rule() {
    let (proxy_port, admin_port) = (testkit::edge::free_port(), testkit::edge::free_port());
    let policy = format!(
        "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {{name: self}}\nspec:\n  destinations:\n    - host: self.test\n      ports: [{proxy_port}, {admin_port}]\n      addresses: [127.0.0.1]\n      rung: pass-through\n    - host: 127.0.0.1\n      ports: [{proxy_port}, {admin_port}]\n      rung: pass-through\n"
    );
    let edge = testkit::edge()
        .policy("self.yaml", &policy)
        .static_host("self.test", "127.0.0.1")
        .listen(proxy_port, admin_port)
        .start()
        .await;
    let t = edge.token("self", "s-self");
    let addr = edge.handle().proxy_addr();
    for req in [
        connect(&format!("self.test:{proxy_port}"), &t),
        connect(&format!("self.test:{admin_port}"), &t),
        connect(&format!("127.0.0.1:{admin_port}"), &t),
        get(&format!("http://self.test:{admin_port}/metrics"), &t),
        get(&format!("http://127.0.0.1:{proxy_port}/"), &t),
    ] {
        let r = raw::send(addr, &req).await.unwrap();
        assert_eq!(
            (r.status, r.deny_reason()),
            (403, Some("resolved_address_denied")),
            "{}",
            String::from_utf8_lossy(&req)
        );
    }
}

#[tokio::test]
async fn an_idle_tunnel_is_closed() {
    let f = Fixture::start("  limits: {tunnel_idle_timeout: 1s}").await;
    let t = f.edge.token("web", "s-idle");
    let s = open(&f, &format!("tls.test:{}", f.tls.port()), &t).await;
    let mut tls = TlsConnector::from(client_config(&f.cert.ca_pem, true))
        .connect(ServerName::try_from("tls.test").unwrap(), s)
        .await
        .unwrap();
    let opened = Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(15), tls.read(&mut buf))
        .await
        .expect("closed before the test deadline");
    assert!(matches!(read, Ok(0) | Err(_)), "the tunnel ended");
    assert!(
        opened.elapsed() >= Duration::from_millis(900),
        "not before the idle bound"
    );
    let audit = f.edge.audit().await;
    let tunnel = audit
        .iter()
        .find(|e| e["session_id"] == "s-idle" && e["class_uid"] == 4001)
        .unwrap();
    assert!(tunnel["bytes_up"].as_u64().unwrap() > 0 && tunnel["bytes_down"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn a_tunnel_ends_when_its_token_expires() {
    let f = Fixture::start("").await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = trust_core::token::SessionClaims {
        sid: "s-expiring".into(),
        tenant: "t".into(),
        profile: "web".into(),
        jti: "j".into(),
        iss: "trust-edge".into(),
        aud: "trust-edge-egress".into(),
        iat: now,
        exp: now + 2,
        nbf: None,
    };
    let t = f.edge.key.sign(&claims).unwrap();
    let s = open(&f, &format!("tls.test:{}", f.tls.port()), &t).await;
    let mut tls = TlsConnector::from(client_config(&f.cert.ca_pem, true))
        .connect(ServerName::try_from("tls.test").unwrap(), s)
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(15), tls.read(&mut buf))
        .await
        .expect("closed before the test deadline");
    assert!(matches!(read, Ok(0) | Err(_)));
}
