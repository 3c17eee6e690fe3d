//! Limits before and after authentication: rate (429 + Retry-After), per-session connections,
//! unauthenticated connections, the slow-head deadline, and the exfiltration tripwire.

use crate::{Fixture, connect, get};
use std::time::{Duration, Instant};
use testkit::raw;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn the_request_rate_is_limited_with_retry_after() {
    let f = Fixture::start("  limits: {requests_per_second: 1, burst: 2}").await;
    let t = f.edge.token("web", "s-rate");
    let url = format!("http://origin.test:{}/", f.origin.port());
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..4 {
        let r = raw::send(f.addr(), &get(&url, &t)).await.unwrap();
        statuses.push(r.status);
        if r.status == 429 {
            limited = Some(r);
        }
    }
    assert_eq!(&statuses[..2], &[200, 200], "{statuses:?}");
    let r = limited.expect("a request was limited");
    assert_eq!(r.deny_reason(), Some("rate_limited"));
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    // Another session has its own budget.
    let other = raw::send(f.addr(), &get(&url, &f.edge.token("web", "s-rate-2")))
        .await
        .unwrap();
    assert_eq!(other.status, 200);
}

#[tokio::test]
async fn a_session_has_a_bounded_number_of_connections() {
    let f =
        Fixture::start("  limits: {max_connections: 1, requests_per_second: 1000, burst: 1000}")
            .await;
    let t = f.edge.token("web", "s-conns");
    let mut first = TcpStream::connect(f.addr()).await.unwrap();
    first
        .write_all(&connect(&format!("tls.test:{}", f.tls.port()), &t))
        .await
        .unwrap();
    assert_eq!(raw::read_reply(&mut first).await.unwrap().status, 200);
    let second = raw::send(
        f.addr(),
        &connect(&format!("tls.test:{}", f.tls.port()), &t),
    )
    .await
    .unwrap();
    assert_eq!(
        (second.status, second.deny_reason()),
        (429, Some("connection_limit"))
    );
    drop(first);
    // The slot is released once the first connection ends (poll with a deadline).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = raw::send(
            f.addr(),
            &get(&format!("http://origin.test:{}/", f.origin.port()), &t),
        )
        .await
        .unwrap();
        if r.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "slot never released: {r:?}");
        tokio::time::sleep(Duration::from_millis(20)).await; // poll interval, not synchronisation
    }
}

#[tokio::test]
async fn unauthenticated_connections_are_capped() {
    let f = Fixture::start_with("", |b| {
        b.toml("[proxy]\nmax_unauthenticated_connections = 2")
    })
    .await;
    let _a = TcpStream::connect(f.addr()).await.unwrap();
    let _b = TcpStream::connect(f.addr()).await.unwrap();
    // The first two hold their slots while silent; poll until the third is turned away.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = TcpStream::connect(f.addr()).await.unwrap();
        if let Some(r) = raw::read_reply(&mut c).await {
            assert_eq!((r.status, r.deny_reason()), (429, Some("connection_limit")));
            break;
        }
        assert!(Instant::now() < deadline);
    }
}

#[tokio::test]
async fn a_slow_head_is_cut_off_at_the_deadline() {
    let f = Fixture::start_with("", |b| b.toml("[proxy]\nheader_read_timeout = \"500ms\"")).await;
    let mut s = TcpStream::connect(f.addr()).await.unwrap();
    let started = Instant::now();
    s.write_all(b"GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nX-Slow: ")
        .await
        .unwrap();
    assert!(
        raw::closed_within(&mut s, Duration::from_secs(10)).await,
        "slow client was not cut off"
    );
    assert!(started.elapsed() >= Duration::from_millis(450));
    assert!(
        f.edge
            .handle()
            .metrics_text()
            .contains("trust_edge_proxy_head_timeouts_total 1")
    );
}

#[tokio::test]
async fn crossing_the_tripwire_alerts_and_with_deny_refuses_the_session() {
    let spec =
        "  tripwire: {distinct_destinations: 1, upload_bytes: 1MiB, window: 10m, action: deny}";
    let f = Fixture::start(spec).await;
    let t = f.edge.token("web", "s-trip");
    let first = raw::send(
        f.addr(),
        &get(&format!("http://origin.test:{}/", f.origin.port()), &t),
    )
    .await
    .unwrap();
    assert_eq!(first.status, 200);
    let second = raw::send(
        f.addr(),
        &connect(&format!("tls.test:{}", f.tls.port()), &t),
    )
    .await
    .unwrap();
    assert_eq!(
        (second.status, second.deny_reason()),
        (403, Some("tripwire"))
    );
    let third = raw::send(
        f.addr(),
        &get(&format!("http://origin.test:{}/", f.origin.port()), &t),
    )
    .await
    .unwrap();
    assert_eq!(
        (third.status, third.deny_reason()),
        (403, Some("tripwire")),
        "the session stays refused"
    );
    let audit = f.edge.audit().await;
    assert_eq!(
        audit
            .iter()
            .filter(|e| e["action"] == "alert" && e["session_id"] == "s-trip")
            .count(),
        1
    );
}

#[tokio::test]
async fn an_upload_tripwire_with_alert_only_reports() {
    let spec = "  tripwire: {upload_bytes: 1000, action: alert}";
    let f = Fixture::start(spec).await;
    let t = f.edge.token("web", "s-upload");
    let body = "x".repeat(5000);
    let req = format!(
        "POST http://origin.test:{0}/up HTTP/1.1\r\nHost: origin.test:{0}\r\nProxy-Authorization: Bearer {t}\r\nContent-Length: {1}\r\n\r\n{body}",
        f.origin.port(),
        body.len()
    );
    let r = raw::send(f.addr(), req.as_bytes()).await.unwrap();
    assert_eq!(r.status, 200, "alert does not refuse");
    let audit = f.edge.audit().await;
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "alert" && e["session_id"] == "s-upload")
    );
}
