//! The sync protocol end to end: snapshot, live changes in order, resume, refusals on both
//! sides of the TLS handshake, the Unix socket, several clients.

use std::sync::Arc;
use std::time::Duration;

use control_client::{ControlEvent, Endpoint, SyncClient, SyncConfig, TlsSettings};
use reqwest::Method;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn snapshot_then_every_change_in_order() {
    let dirs = Dirs::new();
    let control = start(dirs.config()).await;
    let api = Api::new(&control);
    let (already, _) = api.create_session(None).await;
    assert_eq!(api.revoke(&already).await.status, 200);
    let client = sync_client(&control, "edge-a");
    let mut events = client.subscribe();
    let ready = client.wait_ready(DEADLINE).await.unwrap();
    assert!(
        ready.revoked.contains(&already),
        "the snapshot holds earlier revocations"
    );
    assert_eq!(ready.store_id, control.store_id());
    let api_jwks = api
        .send(Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .body;
    assert_eq!(ready.jwks, api_jwks);
    let start = ready.sequence;
    // Drain the snapshot's events.
    while let Ok(event) = events.try_recv() {
        drop(event);
    }

    let (live, _) = api.create_session(None).await;
    assert_eq!(api.revoke(&live).await.status, 200);
    assert_eq!(
        api.op(
            Method::POST,
            "/v1/killswitch",
            Some(json!({"reason": "drill"}))
        )
        .await
        .status,
        200
    );
    assert_eq!(
        api.op(Method::DELETE, "/v1/killswitch", None).await.status,
        200
    );
    assert_eq!(
        api.op(Method::POST, "/v1/keys/rotate", None).await.status,
        200
    );
    let state = wait_state(&client, "four changes", |s| s.sequence == start + 4).await;
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let event = tokio::time::timeout(DEADLINE, events.recv())
            .await
            .unwrap()
            .unwrap();
        seen.push(event);
    }
    assert_eq!(
        seen,
        vec![
            ControlEvent::Revoked {
                session_id: live.clone(),
                reason: "revoked: test".into()
            },
            ControlEvent::DenyAll { on: true },
            ControlEvent::DenyAll { on: false },
            ControlEvent::JwksChanged,
        ]
    );
    assert!(state.revoked.contains(&live) && !state.deny_all);
    assert_eq!(kids(&state.jwks).len(), 2, "old and new key published");
    // Heartbeats keep the state fresh.
    let before = client.current().last_heartbeat;
    wait_state(&client, "a heartbeat", |s| s.last_heartbeat > before).await;
    client.stop().await;
    control.stop().await;
}

#[tokio::test]
async fn a_revocation_reaches_three_clients() {
    let dirs = Dirs::new();
    let control = start(dirs.config()).await;
    let api = Api::new(&control);
    let clients: Vec<SyncClient> = ["edge-1", "edge-2", "edge-3"]
        .into_iter()
        .map(|edge| sync_client(&control, edge))
        .collect();
    for client in &clients {
        client.wait_ready(DEADLINE).await.unwrap();
    }
    let (id, _) = api.create_session(None).await;
    assert_eq!(api.revoke(&id).await.status, 200);
    for client in &clients {
        let state = wait_state(client, "the revocation", |s| s.revoked.contains(&id)).await;
        assert_eq!(
            state.deny_reason(&id, Duration::from_secs(300)),
            Some(trust_core::DenyReason::SessionRevoked)
        );
    }
    let edges = api.op(Method::GET, "/v1/edges", None).await;
    assert_eq!(edges.status, 200);
    let listed: Vec<&str> = edges.body["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["edge_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["edge-1", "edge-2", "edge-3"]);
    assert_eq!(edges.body["edges"][0]["peer"], "cert:edge-1");
    for client in clients {
        client.stop().await;
    }
    control.stop().await;
}

#[tokio::test]
async fn edges_report_their_policy_hash_and_acknowledged_sequence() {
    let dirs = Dirs::new();
    let control = start(dirs.config()).await;
    let api = Api::new(&control);
    let client = sync_client(&control, "edge-a");
    let ready = client.wait_ready(DEADLINE).await.unwrap();
    client.report_policy_hash("hash-one");
    let api_ref = &api;
    let sequence = ready.sequence;
    eventually("the edge's report", || async move {
        let edges = api_ref.op(Method::GET, "/v1/edges", None).await.body;
        edges["edges"][0]["policy_hash"] == "hash-one"
            && edges["edges"][0]["last_sequence"] == sequence
            && edges["policy_hashes_agree"] == true
    })
    .await;
    let other = sync_client(&control, "edge-b");
    other.report_policy_hash("hash-two");
    other.wait_ready(DEADLINE).await.unwrap();
    eventually("the disagreement", || async move {
        api_ref.op(Method::GET, "/v1/edges", None).await.body["policy_hashes_agree"] == false
    })
    .await;
    other.stop().await;
    client.stop().await;
    eventually("the edges to leave", || async move {
        api_ref.op(Method::GET, "/v1/edges", None).await.body["edges"] == json!([])
    })
    .await;
    control.stop().await;
}

#[tokio::test]
async fn resume_after_disconnect_sends_only_what_was_missed() {
    let dirs = Dirs::new();
    let control = start(dirs.config()).await;
    let api = Api::new(&control);
    let mut relay = Relay::start(control.sync_addr()).await;
    let client = sync_client_at(&control, "edge-a", &relay.url());
    client.wait_ready(DEADLINE).await.unwrap();
    let snapshots = metric(
        &api,
        "trust_edge_control_sync_starts_total{kind=\"snapshot\"}",
    )
    .await;
    assert_eq!(snapshots, 1.0);
    let (id, _) = api.create_session(None).await;
    relay.cut().await;
    wait_state(&client, "the disconnect", |s| !s.connected).await;
    assert_eq!(api.revoke(&id).await.status, 200);
    assert_eq!(
        api.op(Method::POST, "/v1/killswitch", Some(json!({"reason": "r"})))
            .await
            .status,
        200
    );
    assert!(client.current().ready, "still ready on its last snapshot");
    assert!(!client.current().revoked.contains(&id));
    relay.restore().await;
    let state = wait_state(&client, "the missed changes", |s| {
        s.revoked.contains(&id) && s.deny_all
    })
    .await;
    assert!(state.connected);
    assert_eq!(
        metric(
            &api,
            "trust_edge_control_sync_starts_total{kind=\"resume\"}"
        )
        .await,
        1.0
    );
    assert_eq!(
        metric(
            &api,
            "trust_edge_control_sync_starts_total{kind=\"snapshot\"}"
        )
        .await,
        1.0
    );
    client.stop().await;
    control.stop().await;
}

#[tokio::test]
async fn a_sequence_older_than_the_change_log_gets_a_snapshot() {
    let dirs = Dirs::new();
    let mut config = dirs.config();
    config.change_retention = 1;
    config.maintenance_interval = Duration::from_millis(50);
    let control = start(config).await;
    let api = Api::new(&control);
    let mut relay = Relay::start(control.sync_addr()).await;
    let client = sync_client_at(&control, "edge-a", &relay.url());
    client.wait_ready(DEADLINE).await.unwrap();
    let (a, _) = api.create_session(None).await;
    let (b, _) = api.create_session(None).await;
    relay.cut().await;
    wait_state(&client, "the disconnect", |s| !s.connected).await;
    assert_eq!(api.revoke(&a).await.status, 200);
    assert_eq!(api.revoke(&b).await.status, 200);
    assert_eq!(
        api.op(Method::POST, "/v1/killswitch", Some(json!({"reason": "r"})))
            .await
            .status,
        200
    );
    // Wait for maintenance to prune the log down to the last change.
    let latest = client.current().sequence + 3;
    let api_ref = &api;
    eventually("pruning", || async move {
        metric(api_ref, "trust_edge_control_oldest_change_sequence").await == latest as f64
    })
    .await;
    relay.restore().await;
    let state = wait_state(&client, "the snapshot", |s| {
        s.revoked.contains(&a) && s.revoked.contains(&b) && s.deny_all
    })
    .await;
    assert!(state.ready);
    assert_eq!(
        metric(
            &api,
            "trust_edge_control_sync_starts_total{kind=\"snapshot\"}"
        )
        .await,
        2.0
    );
    client.stop().await;
    control.stop().await;
}

#[tokio::test]
async fn a_control_with_another_ca_is_refused() {
    let (dirs_a, dirs_b) = (Dirs::new(), Dirs::new());
    let control_a = start(dirs_a.config()).await;
    let control_b = start(dirs_b.config()).await;
    // The client pins A's CA but dials B.
    let client = sync_client_at(&control_a, "edge-a", &control_b.sync_url());
    let state = wait_state(&client, "a refusal", |s| s.last_error.is_some()).await;
    let error = state.last_error.clone().unwrap();
    assert!(
        error.contains("invalid peer certificate: UnknownIssuer"),
        "{error}"
    );
    assert!(!state.ready);
    assert_eq!(
        state.deny_reason("any", Duration::from_secs(300)),
        Some(trust_core::DenyReason::EdgeNotReady)
    );
    assert!(client.wait_ready(Duration::from_millis(500)).await.is_err());
    client.stop().await;
    control_a.stop().await;
    control_b.stop().await;
}

#[tokio::test]
async fn clients_without_a_certificate_from_controls_ca_are_refused() {
    let (dirs_a, dirs_b) = (Dirs::new(), Dirs::new());
    let control_a = start(dirs_a.config()).await;
    let control_b = start(dirs_b.config()).await;
    let api = Api::new(&control_a);
    // A's CA pinned (so the client trusts A) but a certificate from B's CA.
    let from_a = control_a.edge_tls("edge-a").unwrap();
    let from_b = control_b.edge_tls("edge-a").unwrap();
    let mixed = TlsSettings::from_pem(from_a.ca_pem.clone(), from_b.cert_pem, from_b.key_pem);
    let endpoint = Endpoint::parse(&control_a.sync_url(), Some(mixed)).unwrap();
    let client = SyncClient::start(fast(SyncConfig::new("edge-a", endpoint))).unwrap();
    let state = wait_state(&client, "a refusal", |s| s.last_error.is_some()).await;
    assert!(!state.ready, "{state:?}");
    client.stop().await;
    // No certificate at all.
    let mut roots = rustls::RootCertStore::empty();
    for ca in rustls_pemfile_certs(&from_a.ca_pem) {
        roots.add(ca).unwrap();
    }
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(control_a.sync_addr())
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("trust-edge-control").unwrap();
    let outcome = async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tls = connector.connect(name, tcp).await?;
        tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await?;
        let mut buf = [0u8; 64];
        tls.read(&mut buf).await
    }
    .await;
    let error = outcome.expect_err("the server must refuse a client without a certificate");
    assert!(error.to_string().contains("CertificateRequired"), "{error}");
    let api_ref = &api;
    eventually("both handshakes counted", || async move {
        metric(api_ref, "trust_edge_control_sync_handshake_failures_total").await >= 2.0
    })
    .await;
    control_a.stop().await;
    control_b.stop().await;
}

fn rustls_pemfile_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn the_unix_socket_serves_sync_without_tls() {
    let dirs = Dirs::new();
    let mut config = dirs.config();
    let socket = dirs.root.path().join("run/control.sock");
    config.sync_socket = Some(socket.clone());
    let control = start(config).await;
    let api = Api::new(&control);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let endpoint = Endpoint::parse(&format!("unix:{}", socket.display()), None).unwrap();
    let client = SyncClient::start(fast(SyncConfig::new("local-edge", endpoint))).unwrap();
    client.wait_ready(DEADLINE).await.unwrap();
    let (id, _) = api.create_session(None).await;
    assert_eq!(api.revoke(&id).await.status, 200);
    wait_state(&client, "the revocation", |s| s.revoked.contains(&id)).await;
    let edges = api.op(Method::GET, "/v1/edges", None).await;
    assert_eq!(edges.body["edges"][0]["peer"], "unix");
    client.stop().await;
    control.stop().await;
    assert!(!socket.exists(), "stop removes the socket");
}
