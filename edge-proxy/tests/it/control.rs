//! The edge following a real control plane (in-process, mutual TLS): sessions created and
//! revoked over control's HTTP API reach every edge; a revoked session's next request is refused
//! and its open tunnel closed; deny-all likewise and lifting it restores service; an edge refuses
//! traffic until its first snapshot, refuses a control whose certificate is not the pinned one,
//! and refuses everything once control has been silent past the staleness window.

use crate::{Fixture, connect, eventually, get};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;
use testkit::{TestEdge, curl, raw};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

pub(crate) struct Plane {
    pub(crate) control: control::ControlHandle,
    pub(crate) orchestrator: String,
    pub(crate) operator: String,
}

pub(crate) async fn plane(dir: &Path, policy_dir: &Path) -> Plane {
    let config = control::Config::ephemeral(dir.join("control"), policy_dir);
    let control = control::run(config).await.unwrap();
    let files = control.api_token_files().clone();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap().trim().to_owned();
    Plane {
        orchestrator: read(&files.orchestrator),
        operator: read(&files.operator),
        control,
    }
}

impl Plane {
    pub(crate) async fn api(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&str>,
    ) -> testkit::Reply {
        let url = format!("{}{path}", self.control.api_url());
        let auth = format!("authorization: Bearer {token}");
        let mut args = vec![
            "-X",
            method,
            "-H",
            &auth,
            "-H",
            "content-type: application/json",
        ];
        if let Some(b) = body {
            args.extend(["--data", b]);
        }
        args.push(&url);
        curl(&args).await
    }

    pub(crate) async fn session(&self, profile: &str) -> (String, String) {
        let r = self
            .api(
                "POST",
                "/v1/sessions",
                &self.orchestrator,
                Some(&format!("{{\"tenant\":\"t\",\"profile\":\"{profile}\"}}")),
            )
            .await;
        assert!(r.status == 200 || r.status == 201, "{r:?}");
        let j = r.json();
        (
            j["session_id"].as_str().unwrap().to_owned(),
            j["token"].as_str().unwrap().to_owned(),
        )
    }

    /// Revokes session `sid` over the API (as the operator), giving `reason`.
    pub(crate) async fn revoke(&self, sid: &str, reason: &str) {
        let body = format!("{{\"reason\":\"{reason}\"}}");
        let path = format!("/v1/sessions/{sid}/revoke");
        let r = self.api("POST", &path, &self.operator, Some(&body)).await;
        assert!(r.status < 300, "{r:?}");
    }

    /// Turns deny-all on over the API (as the operator).
    pub(crate) async fn deny_all(&self) {
        let body = Some("{\"reason\":\"drill\"}");
        let r = self
            .api("POST", "/v1/killswitch", &self.operator, body)
            .await;
        assert!(r.status < 300, "{r:?}");
    }

    /// `[control]` for an edge named `name`, with its client certificate issued by this control.
    pub(crate) fn edge_toml(&self, name: &str, dir: &Path, staleness: &str) -> String {
        let tls = dir.join(format!("tls-{name}"));
        self.control.issue_edge_cert(name, &tls).unwrap();
        format!(
            "[control]\nurl = \"{}\"\ntls_dir = {:?}\nedge_id = \"{name}\"\nstaleness_window = \"{staleness}\"\n",
            self.control.sync_url(),
            tls
        )
    }
}

/// Status and `x-deny-reason` of one request; `(0, None)` when the edge closed the connection
/// without an answer, as it does to a request still in flight when its session is revoked.
async fn status_reason(edge: &TestEdge, req: &[u8]) -> (u16, Option<String>) {
    match raw::send(edge.handle().proxy_addr(), req).await {
        Some(r) => (r.status, r.deny_reason().map(str::to_owned)),
        None => (0, None),
    }
}

type Tunnel = tokio_rustls::client::TlsStream<TcpStream>;

/// Opens a tunnel to the TLS origin and completes the TLS handshake through it, so the tunnel
/// is spliced (past its ClientHello phase) when the test revokes it.
async fn tunnel(edge: &TestEdge, f: &Fixture, token: &str) -> Tunnel {
    let mut s = TcpStream::connect(edge.handle().proxy_addr())
        .await
        .unwrap();
    s.write_all(&connect(&format!("tls.test:{}", f.tls.port()), token))
        .await
        .unwrap();
    assert_eq!(raw::read_reply(&mut s).await.unwrap().status, 200);
    let connector = tokio_rustls::TlsConnector::from(crate::tunnel_client_config(&f.cert.ca_pem));
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("tls.test").unwrap();
    connector.connect(name, s).await.unwrap()
}

/// Whether the tunnel is closed (EOF or error) within 5 s: well inside the 10 s ClientHello
/// bound, which no longer applies anyway once the handshake is done.
async fn closed(t: &mut Tunnel) -> bool {
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(t, &mut buf),
    )
    .await;
    matches!(read, Ok(Ok(0) | Err(_)))
}

#[tokio::test]
async fn revocation_and_deny_all_reach_three_edges_and_close_their_tunnels() {
    let f = Fixture::start("").await;
    let dir = tempfile::tempdir().unwrap();
    let policy_dir = f.edge.dir.path().join("policies");
    let p = plane(dir.path(), &policy_dir).await;
    let mut edges = Vec::new();
    for i in 0..3 {
        let name = format!("edge-{i}");
        let extra = p.edge_toml(&name, dir.path(), "5m");
        edges.push(
            testkit::edge()
                .policy(
                    "web.yaml",
                    &std::fs::read_to_string(policy_dir.join("web.yaml")).unwrap(),
                )
                .static_host("origin.test", "127.0.0.1")
                .static_host("tls.test", "127.0.0.1")
                .toml(&extra)
                .start()
                .await,
        );
    }
    let (sid, token) = p.session("web").await;
    let url = format!("http://origin.test:{}/", f.origin.port());
    for edge in &edges {
        eventually(20, "edge ready with control's keys", || async {
            status_reason(edge, &get(&url, &token)).await.0 == 200
        })
        .await;
        let ok = curl(&[
            "-x",
            &format!("http://s:{token}@{}", edge.handle().proxy_addr()),
            &url,
        ])
        .await;
        assert_eq!(
            ok.status,
            200,
            "curl through {}",
            edge.handle().proxy_addr()
        );
    }
    let mut tunnels = Vec::new();
    for edge in &edges {
        tunnels.push(tunnel(edge, &f, &token).await);
    }

    p.revoke(&sid, "test").await;
    for (edge, t) in edges.iter().zip(tunnels.iter_mut()) {
        eventually(10, "session_revoked", || async {
            status_reason(edge, &get(&url, &token)).await == (403, Some("session_revoked".into()))
        })
        .await;
        assert!(closed(t).await, "the revoked session's tunnel was closed");
    }

    let (_, token2) = p.session("web").await;
    let mut tunnels = Vec::new();
    for edge in &edges {
        eventually(10, "new session works", || async {
            status_reason(edge, &get(&url, &token2)).await.0 == 200
        })
        .await;
        tunnels.push(tunnel(edge, &f, &token2).await);
    }
    p.deny_all().await;
    for (edge, t) in edges.iter().zip(tunnels.iter_mut()) {
        eventually(10, "deny_all", || async {
            status_reason(edge, &get(&url, &token2)).await == (403, Some("deny_all".into()))
        })
        .await;
        assert!(closed(t).await, "deny-all closed the tunnel");
    }
    let r = p.api("DELETE", "/v1/killswitch", &p.operator, None).await;
    assert!(r.status < 300, "{r:?}");
    for edge in &edges {
        eventually(10, "service restored", || async {
            status_reason(edge, &get(&url, &token2)).await.0 == 200
        })
        .await;
    }
    let audit = edges[0].audit().await;
    assert!(
        audit
            .iter()
            .any(|e| e["status_detail"] == "session_revoked")
    );
    assert!(audit.iter().any(|e| e["status_detail"] == "deny_all"));
    for edge in edges {
        edge.stop().await;
    }
    p.control.stop().await;
}

#[tokio::test]
async fn an_edge_refuses_a_control_that_is_not_the_pinned_one_and_stays_not_ready() {
    let f = Fixture::start("").await;
    let dir = tempfile::tempdir().unwrap();
    let policy_dir = f.edge.dir.path().join("policies");
    let real = plane(&dir.path().join("real"), &policy_dir).await;
    let impostor = plane(&dir.path().join("impostor"), &policy_dir).await;
    // The edge pins the real control's CA but is pointed at the impostor's sync address.
    let extra = real
        .edge_toml("pinned", dir.path(), "5m")
        .replace(&real.control.sync_url(), &impostor.control.sync_url());
    let edge = testkit::edge()
        .policy(
            "web.yaml",
            &std::fs::read_to_string(policy_dir.join("web.yaml")).unwrap(),
        )
        .static_host("origin.test", "127.0.0.1")
        .toml(&extra)
        .start()
        .await;
    let (_, token) = impostor.session("web").await;
    let url = format!("http://origin.test:{}/", f.origin.port());
    for _ in 0..5 {
        assert_eq!(
            status_reason(&edge, &get(&url, &token)).await,
            (503, Some("edge_not_ready".into()))
        );
        tokio::time::sleep(Duration::from_millis(200)).await; // give the impostor every chance
    }
    assert_eq!(f.origin.requests(), 0);
    edge.stop().await;
}

#[tokio::test]
async fn an_edge_cut_off_past_the_staleness_window_refuses_everything() {
    let f = Fixture::start("").await;
    let dir = tempfile::tempdir().unwrap();
    let policy_dir = f.edge.dir.path().join("policies");
    let p = plane(dir.path(), &policy_dir).await;
    let extra = p.edge_toml("short", dir.path(), "2s");
    let edge = testkit::edge()
        .policy(
            "web.yaml",
            &std::fs::read_to_string(policy_dir.join("web.yaml")).unwrap(),
        )
        .static_host("origin.test", "127.0.0.1")
        .toml(&extra)
        .start()
        .await;
    let (_, token) = p.session("web").await;
    let url = format!("http://origin.test:{}/", f.origin.port());
    eventually(20, "ready", || async {
        status_reason(&edge, &get(&url, &token)).await.0 == 200
    })
    .await;
    p.control.stop().await;
    eventually(15, "edge_not_ready after the staleness window", || async {
        status_reason(&edge, &get(&url, &token)).await == (503, Some("edge_not_ready".into()))
    })
    .await;
    edge.stop().await;
}

#[tokio::test]
async fn after_a_control_restart_edges_resync_and_revocations_persist() {
    let f = Fixture::start("").await;
    let dir = tempfile::tempdir().unwrap();
    let policy_dir = f.edge.dir.path().join("policies");
    let mut config = control::Config::ephemeral(dir.path().join("control"), &policy_dir);
    config.sync_listen = format!("127.0.0.1:{}", testkit::edge::free_port())
        .parse()
        .unwrap();
    config.api_listen = format!("127.0.0.1:{}", testkit::edge::free_port())
        .parse()
        .unwrap();
    let start = |config: control::Config| async move {
        let control = control::run(config).await.unwrap();
        let files = control.api_token_files().clone();
        let read = |p: &Path| std::fs::read_to_string(p).unwrap().trim().to_owned();
        Plane {
            orchestrator: read(&files.orchestrator),
            operator: read(&files.operator),
            control,
        }
    };
    let p = start(config.clone()).await;
    let extra = p.edge_toml("restart", dir.path(), "5m");
    let policy = std::fs::read_to_string(policy_dir.join("web.yaml")).unwrap();
    let edge = testkit::edge()
        .policy("web.yaml", &policy)
        .static_host("origin.test", "127.0.0.1")
        .toml(&extra)
        .start()
        .await;
    let url = format!("http://origin.test:{}/", f.origin.port());
    let (sid1, t1) = p.session("web").await;
    let (sid2, t2) = p.session("web").await;
    eventually(20, "ready", || async {
        status_reason(&edge, &get(&url, &t1)).await.0 == 200
    })
    .await;
    p.revoke(&sid1, "before restart").await;
    eventually(10, "revoked before restart", || async {
        status_reason(&edge, &get(&url, &t1)).await.1.as_deref() == Some("session_revoked")
    })
    .await;

    p.control.stop().await;
    let p = start(config).await;
    // Issued while the edge is still reconnecting: it must arrive with the resumed stream.
    p.revoke(&sid2, "after restart").await;
    eventually(20, "revocation issued during reconnect", || async {
        status_reason(&edge, &get(&url, &t2)).await.1.as_deref() == Some("session_revoked")
    })
    .await;
    assert_eq!(
        status_reason(&edge, &get(&url, &t1)).await.1.as_deref(),
        Some("session_revoked"),
        "the earlier revocation persisted"
    );
    let list = p
        .api(
            "GET",
            &format!("/v1/sessions/{sid1}"),
            &p.orchestrator,
            None,
        )
        .await;
    assert_eq!(list.status, 200, "sessions survive a restart: {list:?}");
    let (_, t3) = p.session("web").await;
    eventually(10, "new sessions work after restart", || async {
        status_reason(&edge, &get(&url, &t3)).await.0 == 200
    })
    .await;
    edge.stop().await;
    p.control.stop().await;
}

#[tokio::test]
async fn revocation_and_deny_all_close_idle_upstream_connections_at_once() {
    let ok = ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false);
    let upstream = crate::forward::Scripted::start(&[ok, ok, ok, ok]).await;
    let port = upstream.addr.port();
    let (accepted, ended) = (&upstream.connections, &upstream.ended);
    let dir = tempfile::tempdir().unwrap();
    let policy_dir = dir.path().join("policies");
    std::fs::create_dir_all(&policy_dir).unwrap();
    let policy = format!(
        "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {{name: web}}\nspec:\n  destinations:\n\
         \x20   - host: counted.test\n      ports: [{port}]\n      addresses: [127.0.0.1]\n      rung: pass-through\n"
    );
    std::fs::write(policy_dir.join("web.yaml"), &policy).unwrap();
    let p = plane(dir.path(), &policy_dir).await;
    let edge = testkit::edge()
        .policy("web.yaml", &policy)
        .static_host("counted.test", "127.0.0.1")
        .toml(&p.edge_toml("edge-pool", dir.path(), "5m"))
        .start()
        .await;
    let url = format!("http://counted.test:{port}/");
    let (sid, token) = p.session("web").await;
    let (_, bystander) = p.session("web").await;
    eventually(20, "edge ready with control's keys", || async {
        status_reason(&edge, &get(&url, &token)).await.0 == 200
    })
    .await;
    assert_eq!(status_reason(&edge, &get(&url, &bystander)).await.0, 200);
    // One idle upstream connection pooled for each session, none ended.
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    assert_eq!(ended.load(Ordering::SeqCst), 0);

    p.revoke(&sid, "test").await;
    // Well inside the pool's 60 s idle timeout: closed because of the revocation.
    eventually(
        10,
        "the revoked session's idle upstream connection closed",
        || async { ended.load(Ordering::SeqCst) == 1 },
    )
    .await;
    // The other session keeps its pooled connection.
    assert_eq!(status_reason(&edge, &get(&url, &bystander)).await.0, 200);
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "the bystander's connection was reused"
    );

    p.deny_all().await;
    eventually(
        10,
        "deny-all closed every idle upstream connection",
        || async { ended.load(Ordering::SeqCst) == 2 },
    )
    .await;
    edge.stop().await;
    p.control.stop().await;
}
