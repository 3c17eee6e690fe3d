//! Policy hot reload under traffic, and report mode.

use crate::{Fixture, connect, eventually, get};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use testkit::raw;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn reloads_apply_under_traffic_and_a_broken_set_changes_nothing() {
    let f = Fixture::start("  limits: {requests_per_second: 100000, burst: 100000}").await;
    let t = f.edge.token("web", "s-reload");
    let policy_file = f.edge.dir.path().join("policies/web.yaml");
    let original = std::fs::read_to_string(&policy_file).unwrap();
    let addr = f.addr();
    let url = format!("http://origin.test:{}/", f.origin.port());

    // Continuous traffic to a destination every version allows.
    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let traffic = {
        let (stop, served, failed, url, t) = (
            stop.clone(),
            served.clone(),
            failed.clone(),
            url.clone(),
            t.clone(),
        );
        tokio::spawn(async move {
            for _ in 0..100_000 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                match raw::send(addr, &get(&url, &t)).await {
                    Some(r) if r.status == 200 => served.fetch_add(1, Ordering::SeqCst),
                    _ => failed.fetch_add(1, Ordering::SeqCst),
                };
            }
        })
    };
    let before = f.edge.handle().policy_hash();
    let refused = raw::send(addr, &connect("new.test:443", &t)).await.unwrap();
    assert_eq!(refused.deny_reason(), Some("destination_not_allowed"));

    let added = original.replace(
        "  destinations:\n",
        "  destinations:\n    - host: new.test\n      rung: pass-through\n",
    );
    std::fs::write(&policy_file, &added).unwrap();
    eventually(15, "the new set applied", || async {
        f.edge.handle().policy_hash() != before
    })
    .await;
    let now = raw::send(addr, &connect("new.test:443", &t)).await.unwrap();
    assert_eq!(
        now.deny_reason(),
        Some("resolution_failed"),
        "allowed by the new set (then no such name)"
    );
    let good_hash = f.edge.handle().policy_hash();
    assert!(f.edge.handle().metrics_text().contains(&format!(
        "trust_edge_proxy_policy_info{{hash=\"{good_hash}\"}} 1"
    )));

    std::fs::write(
        &policy_file,
        "apiVersion: trust-edge/v1\nkind: EgressProfile\nspec: [broken\n",
    )
    .unwrap();
    eventually(15, "the broken set reported", || async {
        f.edge
            .handle()
            .metrics_text()
            .contains("trust_edge_proxy_policy_reloads_total{result=\"error\"} 1")
    })
    .await;
    assert_eq!(
        f.edge.handle().policy_hash(),
        good_hash,
        "the last good set stays"
    );
    assert_eq!(
        raw::send(addr, &connect("new.test:443", &t))
            .await
            .unwrap()
            .deny_reason(),
        Some("resolution_failed")
    );

    std::fs::write(&policy_file, &original).unwrap();
    eventually(15, "the fixed set applied", || async {
        f.edge.handle().policy_hash() == before
    })
    .await;
    assert_eq!(
        raw::send(addr, &connect("new.test:443", &t))
            .await
            .unwrap()
            .deny_reason(),
        Some("destination_not_allowed")
    );

    stop.store(true, Ordering::SeqCst);
    traffic.await.unwrap();
    assert!(served.load(Ordering::SeqCst) > 0);
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "no request failed across the reloads"
    );
    let audit = f.edge.audit().await;
    let reloads: Vec<_> = audit
        .iter()
        .filter(|e| e["activity"] == "policy_reload")
        .collect();
    assert_eq!(
        reloads.iter().filter(|e| e["outcome"] == "success").count(),
        2
    );
    assert_eq!(
        reloads
            .iter()
            .filter(|e| e["status_detail"] == "policy_invalid")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_reload_closes_tunnels_to_destinations_no_longer_allowed() {
    let f = Fixture::start("").await;
    let t = f.edge.token("web", "s-reload-tunnel");
    let mut tunnel = TcpStream::connect(f.addr()).await.unwrap();
    tunnel
        .write_all(&connect(&format!("tls.test:{}", f.tls.port()), &t))
        .await
        .unwrap();
    assert_eq!(raw::read_reply(&mut tunnel).await.unwrap().status, 200);
    let connector = tokio_rustls::TlsConnector::from(crate::tunnel_client_config(&f.cert.ca_pem));
    let mut tls = connector
        .connect(
            tokio_rustls::rustls::pki_types::ServerName::try_from("tls.test").unwrap(),
            tunnel,
        )
        .await
        .unwrap();
    let policy_file = f.edge.dir.path().join("policies/web.yaml");
    let without_tls = std::fs::read_to_string(&policy_file)
        .unwrap()
        .replace("    - host: tls.test\n", "    - host: tls-gone.test\n");
    let before = f.edge.handle().policy_hash();
    std::fs::write(&policy_file, without_tls).unwrap();
    eventually(15, "the new set applied", || async {
        f.edge.handle().policy_hash() != before
    })
    .await;
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read(&mut tls, &mut buf),
    )
    .await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "the tunnel was closed: {read:?}"
    );
}

#[tokio::test]
async fn report_mode_lets_would_be_denied_requests_through_and_relaxes_nothing_else() {
    let host = testkit::netns::NetnsHost::start();
    let ip = host.addr().ip().to_string();
    let policy = "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {name: trial}\nspec:\n  mode: report\n  destinations:\n    - host: allowed.test\n      rung: pass-through\n";
    let dir = tempfile::tempdir().unwrap();
    let policy_dir = dir.path().join("policies");
    std::fs::create_dir_all(&policy_dir).unwrap();
    std::fs::write(policy_dir.join("trial.yaml"), policy).unwrap();
    let p = crate::control::plane(dir.path(), &policy_dir).await;
    let edge = testkit::edge()
        .policy("trial.yaml", policy)
        .static_host("trial.test", &ip)
        .static_host("loop.test", "127.0.0.1")
        .toml(&p.edge_toml("report", dir.path(), "5m"))
        .start()
        .await;
    let (sid, t) = p.session("trial").await;
    let addr = edge.handle().proxy_addr();
    eventually(20, "edge ready", || async {
        raw::send(addr, &get("http://trial.test:8080/", &t))
            .await
            .is_some_and(|r| r.status == 200)
    })
    .await;
    let through = raw::send(addr, &get("http://trial.test:8080/", &t))
        .await
        .unwrap();
    assert_eq!(
        through.status, 200,
        "report mode let it through: {through:?}"
    );
    let audit = edge.audit().await;
    let e = audit
        .iter()
        .find(|e| e["dst_host"] == "trial.test")
        .unwrap();
    assert_eq!(
        (e["action"].as_str(), e["enforce_would_deny"].as_bool()),
        (Some("allow"), Some(true))
    );
    assert_eq!(e["status_detail"], "destination_not_allowed");
    assert!(
        e.get("injected")
            .is_none_or(|v| v.as_array().is_some_and(Vec::is_empty))
    );

    let deny_set = raw::send(addr, &get("http://loop.test:8080/", &t))
        .await
        .unwrap();
    assert_eq!(
        (deny_set.status, deny_set.deny_reason()),
        (403, Some("resolved_address_denied"))
    );
    let literal = raw::send(addr, &get(&format!("http://{ip}:8080/"), &t))
        .await
        .unwrap();
    assert_eq!(
        (literal.status, literal.deny_reason()),
        (403, Some("ip_literal_not_allowed"))
    );
    p.revoke(&sid, "report drill").await;
    eventually(10, "a revoked token is refused in report mode", || async {
        raw::send(addr, &get("http://trial.test:8080/", &t))
            .await
            .and_then(|r| r.deny_reason().map(str::to_owned))
            .as_deref()
            == Some("session_revoked")
    })
    .await;
    edge.stop().await;
    p.control.stop().await;
    drop(host);
}
