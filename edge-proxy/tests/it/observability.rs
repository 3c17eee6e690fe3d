//! What operators see: one audit line per decision (allow and deny) with the policy hash, and
//! metrics for decisions, tunnels, bytes and decision latency.

use crate::{Fixture, connect, get};
use std::time::{Duration, Instant};
use testkit::raw;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| {
            l.starts_with(name)
                && l[name.len()..].starts_with([' ', '{'])
                && l.split_whitespace().next() == Some(name)
        })
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
}

#[tokio::test]
async fn every_decision_is_one_audit_line_and_the_chain_verifies() {
    let f = Fixture::start("").await;
    let t = f.edge.token("web", "s-audit");
    let url = format!("http://origin.test:{}/", f.origin.port());
    for _ in 0..5 {
        assert_eq!(
            raw::send(f.addr(), &get(&url, &t)).await.unwrap().status,
            200
        );
    }
    for _ in 0..3 {
        assert_eq!(
            raw::send(f.addr(), &get("http://elsewhere.test/", &t))
                .await
                .unwrap()
                .status,
            403
        );
    }
    let audit = f.edge.audit().await;
    let mine: Vec<_> = audit
        .iter()
        .filter(|e| e["session_id"] == "s-audit")
        .collect();
    assert_eq!(mine.iter().filter(|e| e["action"] == "allow").count(), 5);
    assert_eq!(
        mine.iter()
            .filter(|e| e["action"] == "deny" && e["status_detail"] == "destination_not_allowed")
            .count(),
        3
    );
    let hash = f.edge.handle().policy_hash();
    assert!(
        mine.iter()
            .all(|e| e["policy_hash"] == hash.as_str() && e["class_uid"] == 4002)
    );
    assert!(
        mine.iter()
            .filter(|e| e["action"] == "allow")
            .all(|e| e["http_status"] == 200
                && e["rule"].as_str().unwrap().starts_with("web.yaml:")
                && e["rung"] == "pass-through")
    );
    let report = trust_core::audit::verify(&f.edge.dir.path().join("data"), "audit.log").unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.records as usize, audit.len());
}

#[tokio::test]
async fn metrics_count_decisions_tunnels_bytes_and_latency() {
    let f = Fixture::start("").await;
    let t = f.edge.token("web", "s-metrics");
    let mut tunnel = TcpStream::connect(f.addr()).await.unwrap();
    tunnel
        .write_all(&connect(&format!("tls.test:{}", f.tls.port()), &t))
        .await
        .unwrap();
    assert_eq!(raw::read_reply(&mut tunnel).await.unwrap().status, 200);
    // The tunnel counts as active while it waits for its ClientHello.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = f.edge.handle().metrics_text();
        if metric(&text, "trust_edge_proxy_active_tunnels") == 1.0 {
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(20)).await; // poll interval
    }
    drop(tunnel);
    let r = raw::send(
        f.addr(),
        &get(&format!("http://origin.test:{}/m", f.origin.port()), &t),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    raw::send(f.addr(), &get("http://elsewhere.test/", &t))
        .await
        .unwrap();
    let text = f.edge.handle().metrics_text();
    assert!(text.contains("trust_edge_proxy_requests_total{decision=\"deny\",reason=\"destination_not_allowed\"} 1"), "{text}");
    assert!(metric(&text, "trust_edge_proxy_bytes_total{direction=\"down\"}") > 0.0);
    assert!(
        text.contains("trust_edge_proxy_decision_seconds_count{kind=\"forward\"} 2"),
        "{text}"
    );
    assert!(metric(&text, "trust_edge_proxy_token_cache_hits_total") >= 1.0);
    assert!(metric(&text, "trust_edge_proxy_token_cache_misses_total") >= 1.0);
}

#[tokio::test]
async fn a_static_host_entry_maps_a_name_but_grants_nothing() {
    // `loopback.wild.test` is allowed by a wildcard rule without `addresses:`; the operator's
    // static entry points it at loopback, and the deny-set still refuses it.
    let f = Fixture::start_with("", |b| b.static_host("loopback.wild.test", "127.0.0.1")).await;
    let t = f.edge.token("web", "s-static");
    let r = raw::send(f.addr(), &connect("loopback.wild.test:443", &t))
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.deny_reason()),
        (403, Some("resolved_address_denied"))
    );
    assert_eq!(
        f.edge.dns.query_count("loopback.wild.test"),
        0,
        "answered from the static entry"
    );
}
