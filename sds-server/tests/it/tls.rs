//! The TCP listener: TLS with a required client certificate, grants keyed on its SAN, and the
//! explicit plain-loopback mode.

use crate::support::certs::{Ca, Leaf};
use crate::support::grpc::{self, Sotw, generic_values};
use crate::support::{Server, Setup, generic_manifest};
use sds_server::access::{Grant, Pattern, PeerMatch};
use sds_server::config::{TcpConfig, TlsConfig};
use tonic::Code;

struct Pki {
    ca: Ca,
    edge1: Leaf,
    edge2: Leaf,
}

async fn tls_server() -> (Server, Pki) {
    let setup = Setup::new();
    let ca = Ca::new("sds test CA");
    let server_leaf = ca.leaf("sds", &["localhost"]);
    let dir = setup.dir.path().to_path_buf();
    std::fs::write(dir.join("server.pem"), &server_leaf.chain_pem).unwrap();
    std::fs::write(dir.join("server-key.pem"), &server_leaf.key_pem).unwrap();
    std::fs::write(dir.join("clients.pem"), &ca.pem).unwrap();
    let mut setup = setup.grants(vec![Grant {
        name: "edge-1".to_owned(),
        peer: PeerMatch::San("spiffe://trust-edge/edge-1".to_owned()),
        secrets: vec![Pattern::new("edge-1-*")],
        nodes: Some(vec![Pattern::new("edge-1")]),
    }]);
    setup.config.unix_socket = None;
    setup.config.tcp = Some(TcpConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: Some(TlsConfig {
            cert: dir.join("server.pem"),
            key: dir.join("server-key.pem"),
            client_ca: dir.join("clients.pem"),
        }),
    });
    setup.write("k.txt", "edge-1 key");
    setup.manifest(&generic_manifest(&[("edge-1-key", "k.txt")]));
    let server = setup.start().await;
    let pki = Pki {
        edge1: ca.client_uri("spiffe://trust-edge/edge-1"),
        edge2: ca.client_uri("spiffe://trust-edge/edge-2"),
        ca,
    };
    (server, pki)
}

#[tokio::test]
async fn a_client_certificate_san_is_the_identity_grants_use() {
    let (server, pki) = tls_server().await;
    let addr = server.handle().tcp_addr().unwrap();
    let mut client = grpc::tls(addr, grpc::tls_config(&pki.ca.pem, Some(&pki.edge1)))
        .await
        .unwrap();
    let mut stream = Sotw::open(&mut client, "edge-1", &["edge-1-key"])
        .await
        .unwrap();
    let r = stream.next().await.unwrap();
    assert_eq!(
        generic_values(&r.resources),
        vec![("edge-1-key".to_owned(), "edge-1 key".to_owned())]
    );
    let peer = server.debug()["streams"][0]["peer"].clone();
    assert_eq!(peer, "cert san=spiffe://trust-edge/edge-1");
}

#[tokio::test]
async fn another_peer_claiming_the_node_id_is_refused() {
    let (server, pki) = tls_server().await;
    let addr = server.handle().tcp_addr().unwrap();
    let mut client = grpc::tls(addr, grpc::tls_config(&pki.ca.pem, Some(&pki.edge2)))
        .await
        .unwrap();
    let mut stream = Sotw::open(&mut client, "edge-1", &["edge-1-key"])
        .await
        .unwrap();
    assert_eq!(
        stream.next().await.unwrap_err().code(),
        Code::PermissionDenied
    );
}

#[tokio::test]
async fn a_tcp_client_without_a_certificate_is_refused() {
    let (server, pki) = tls_server().await;
    let addr = server.handle().tcp_addr().unwrap();
    let attempt = async {
        let mut client = grpc::tls(addr, grpc::tls_config(&pki.ca.pem, None)).await?;
        Sotw::open(&mut client, "edge-1", &["edge-1-key"])
            .await
            .map_err(|s| s.to_string())?
            .next()
            .await
            .map_err(|s| s.to_string())
    };
    assert!(
        attempt.await.is_err(),
        "a client without a certificate got an answer"
    );
    crate::support::eventually(
        "the handshake failure metric",
        std::time::Duration::from_secs(5),
        || (server.metric("trust_edge_sds_tls_handshake_failures_total") == 1.0).then_some(()),
    )
    .await;
    assert_eq!(server.handle().open_streams(), 0);
}

#[tokio::test]
async fn plain_loopback_tcp_works_only_with_its_own_grant() {
    let mut setup = Setup::new().grants(vec![Grant {
        name: "loadtest".to_owned(),
        peer: PeerMatch::InsecureLoopback,
        secrets: vec![Pattern::new("lt-*")],
        nodes: None,
    }]);
    setup.config.tcp = Some(TcpConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
    });
    setup.write("k.txt", "v");
    setup.manifest(&generic_manifest(&[
        ("lt-key", "k.txt"),
        ("other", "k.txt"),
    ]));
    let server = setup.start().await;
    let addr = server.handle().tcp_addr().unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = grpc::Client::new(channel);
    let mut ok = Sotw::open(&mut client, "lt", &["lt-key"]).await.unwrap();
    assert_eq!(generic_values(&ok.next().await.unwrap().resources).len(), 1);
    let mut other = Sotw::open(&mut client, "lt", &["other"]).await.unwrap();
    assert_eq!(
        other.next().await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let mut unix = grpc::unix(&server.socket()).await;
    let mut by_unix = Sotw::open(&mut unix, "lt", &["lt-key"]).await.unwrap();
    assert_eq!(
        by_unix.next().await.unwrap_err().code(),
        Code::PermissionDenied,
        "the unix peer has no grant"
    );
}
