use super::edges::Closures;
use super::probe::{self, Answer, Expect, Holder};
use super::*;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

#[test]
fn stats_use_nearest_rank() {
    let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
    let stats = Stats::of(&samples);
    assert_eq!(stats.samples, 100);
    assert_eq!(stats.p50_ms, 50.0);
    assert_eq!(stats.p99_ms, 99.0);
    assert_eq!(stats.max_ms, 100.0);
    assert_eq!(stats.mean_ms, 50.5);
    assert_eq!(Stats::of(&[]), Stats::default());
    let one = Stats::of(&[Duration::from_micros(1500)]);
    assert_eq!((one.p50_ms, one.p99_ms, one.max_ms), (1.5, 1.5, 1.5));
}

#[test]
fn a_small_sync_client_run_reaches_every_edge() {
    let report = run(&Options {
        edges: 3,
        sessions: 4,
        deny_all_rounds: 2,
        timeout: Duration::from_secs(10),
        target: Target::SyncClients,
    })
    .unwrap();
    assert_eq!(report.edges_are, "sync-client");
    assert_eq!(report.revocation.samples, 12);
    assert_eq!(report.revocation_from_request.samples, 12);
    assert!(report.revocation_from_request.max_ms >= report.revocation.max_ms);
    assert_eq!(report.deny_all_on.samples, 6);
    assert_eq!(report.deny_all_off.samples, 6);
    assert_eq!(report.revoke_api.samples, 4);
    assert_eq!(report.revocation_per_edge.len(), 3);
    assert!(
        report
            .revocation_per_edge
            .iter()
            .all(|(_, s)| s.samples == 4)
    );
    assert_eq!(report.revocation_tunnel_closed, None);
    assert_eq!(report.checks.len(), 1);
    let table = render_table(&report);
    assert!(
        table.contains("revoke: API answer -> edge state"),
        "{table}"
    );
    assert!(!table.contains("tunnel closed"), "{table}");
}

#[test]
fn zero_edges_is_a_config_error_and_a_missing_binary_is_named() {
    let mut options = Options {
        edges: 0,
        sessions: 1,
        deny_all_rounds: 0,
        timeout: Duration::from_secs(1),
        target: Target::SyncClients,
    };
    assert!(matches!(run(&options), Err(Error::Config(_))));
    options.edges = 1;
    options.target = Target::Edges {
        bin: PathBuf::from("/nonexistent/trust-edge"),
        poll_interval: Duration::from_millis(1),
    };
    assert!(
        matches!(run(&options), Err(Error::MissingBinary(p)) if p == Path::new("/nonexistent/trust-edge"))
    );
}

fn stats(p99_ms: f64, samples: usize) -> Stats {
    Stats {
        samples,
        p99_ms,
        ..Stats::default()
    }
}

#[test]
fn checks_pass_only_below_the_bound_with_samples_and_no_early_close() {
    let passed = |c: &[Check]| c.iter().map(|c| c.passed).collect::<Vec<_>>();
    assert_eq!(passed(&checks(20, &stats(12.0, 4000), None, "x")), [true]);
    assert_eq!(passed(&checks(20, &stats(250.0, 4000), None, "x")), [false]);
    assert_eq!(passed(&checks(20, &stats(0.0, 0), None, "x")), [false]);
    let c = checks(
        20,
        &stats(3.0, 4000),
        Some((&stats(249.9, 4000), 0)),
        "edge-proxy",
    );
    assert_eq!(passed(&c), [true, true, true]);
    assert!(
        c[0].claim.contains("20 watching edges (edge-proxy)"),
        "{c:?}"
    );
    assert!(c[0].claim.ends_with("from API answer to refusal"), "{c:?}");
    let sync = checks(20, &stats(3.0, 4000), None, "sync-client");
    assert!(
        sync[0].claim.ends_with("to the client's state showing it"),
        "{sync:?}"
    );
    let c = checks(20, &stats(3.0, 4000), Some((&stats(300.0, 4000), 2)), "e");
    assert_eq!(passed(&c), [true, false, false]);
    assert_eq!(c[2].detail, "2 tunnels closed early");
}

#[test]
fn the_table_shows_tunnel_rows_and_the_verdict_for_edges() {
    let report = RevocationReport {
        scenario: "revocation".into(),
        edges_are: "edge-proxy".into(),
        settings: serde_json::Value::Null,
        revocation: stats(3.5, 10),
        revocation_from_request: stats(9.0, 10),
        revocation_per_edge: vec![
            ("edge-00".into(), stats(1.0, 5)),
            ("edge-01".into(), stats(3.5, 5)),
        ],
        revocation_tunnel_closed: Some(stats(4.25, 10)),
        deny_all_on: stats(2.0, 4),
        deny_all_on_tunnel_closed: Some(stats(2.5, 4)),
        deny_all_off: stats(1.0, 4),
        revoke_api: stats(5.0, 5),
        checks: checks(
            2,
            &stats(3.5, 10),
            Some((&stats(4.25, 10), 0)),
            "edge-proxy",
        ),
        notes: vec![],
    };
    let table = render_table(&report);
    for row in [
        "revoke: API answer -> refused",
        "revoke: API answer -> tunnel closed",
        "deny-all on: API answer -> tunnel closed",
        "deny-all off: API answer -> served again",
        "worst edge (edge-01), revoke",
    ] {
        assert!(table.contains(row), "{row} missing from\n{table}");
    }
    assert_eq!(table.matches("PASS").count(), 3, "{table}");
    assert!(table.contains("4.250"), "{table}");
}

#[test]
fn answers_are_parsed_and_matched() {
    let refused = probe::parse_answer(
        b"HTTP/1.1 403 Forbidden\r\nX-Deny-Reason: session_revoked\r\ncontent-length: 2\r\n\r\n{}",
    )
    .unwrap();
    assert_eq!(
        refused,
        Answer {
            status: 403,
            reason: Some("session_revoked".into())
        }
    );
    let ok = probe::parse_answer(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
    assert_eq!(probe::parse_answer(b"HTTP/1.1 200 OK\r\n"), None);
    assert!(Expect::Refused("session_revoked").met_by(&refused));
    assert!(!Expect::Refused("deny_all").met_by(&refused));
    assert!(!Expect::Served.met_by(&refused));
    assert!(Expect::Served.met_by(&ok));
    assert!(!Expect::Refused("session_revoked").met_by(&ok));
    let not_ready = Answer {
        status: 503,
        reason: Some("edge_not_ready".into()),
    };
    assert!(!Expect::Served.met_by(&not_ready));
    assert_eq!(not_ready.to_string(), "503 edge_not_ready");
}

#[test]
fn requests_name_the_authority_and_carry_the_token() {
    assert_eq!(
        probe::get_request("upstream.test:81", "t0k"),
        b"GET http://upstream.test:81/ HTTP/1.1\r\nHost: upstream.test:81\r\nProxy-Authorization: Bearer t0k\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(
        probe::connect_request("upstream.test:82", "t0k"),
        b"CONNECT upstream.test:82 HTTP/1.1\r\nHost: upstream.test:82\r\nProxy-Authorization: Bearer t0k\r\n\r\n"
    );
}

#[test]
fn the_client_hello_is_one_tls_handshake_record_naming_the_sni() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let hello = probe::client_hello("upstream.test").unwrap();
    // content type handshake, legacy version 3.x, then a ClientHello message.
    assert_eq!(hello.get(..2), Some(&[22u8, 3][..]));
    let len = usize::from(u16::from_be_bytes([hello[3], hello[4]]));
    assert_eq!(hello.len(), 5 + len);
    assert_eq!(hello[5], 1);
    assert!(hello.windows(13).any(|w| w == b"upstream.test"));
}

#[test]
fn the_policy_allows_only_the_two_ports_on_the_pinned_address() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("load.yaml"),
        fleet::policy_yaml(&[18080, 18081]),
    )
    .unwrap();
    let set = policies::PolicySet::load_dir(dir.path()).unwrap();
    let profile = set.profile(fleet::PROFILE).unwrap();
    let upstream = policies::Destination::Name(crate::edge::UPSTREAM_HOST.into());
    assert!(profile.decide(&upstream, 18080).is_ok());
    assert!(profile.decide(&upstream, 18081).is_ok());
    assert!(profile.decide(&upstream, 18082).is_err());
    assert_eq!(
        profile.limits.tunnel_idle_timeout,
        Duration::from_secs(3600)
    );
}

#[test]
fn the_edge_config_follows_control_and_pins_the_upstream_name() {
    let link = fleet::ControlLink {
        url: "https://127.0.0.1:7443",
        tls_dir: Path::new("/d/edge-03/tls"),
        edge_id: "edge-03",
    };
    let proxy: SocketAddr = "127.0.0.1:3128".parse().unwrap();
    let admin: SocketAddr = "127.0.0.1:9901".parse().unwrap();
    let text = fleet::config_toml(
        Path::new("/d/edge-03"),
        Path::new("/d/pol"),
        proxy,
        admin,
        &link,
    );
    let value: toml::Value = toml::from_str(&text).unwrap();
    let get = |path: &[&str]| {
        path.iter()
            .try_fold(&value, |v, k| v.get(k))
            .cloned()
            .unwrap()
    };
    assert_eq!(
        get(&["control", "url"]).as_str(),
        Some("https://127.0.0.1:7443")
    );
    assert_eq!(
        get(&["control", "tls_dir"]).as_str(),
        Some("/d/edge-03/tls")
    );
    assert_eq!(get(&["control", "edge_id"]).as_str(), Some("edge-03"));
    assert_eq!(get(&["data_dir"]).as_str(), Some("/d/edge-03/data"));
    assert_eq!(get(&["policy_dir"]).as_str(), Some("/d/pol"));
    assert_eq!(get(&["proxy", "listen"]).as_str(), Some("127.0.0.1:3128"));
    assert_eq!(
        get(&["resolver", "static_hosts", crate::edge::UPSTREAM_HOST]),
        toml::Value::Array(vec!["127.0.0.1".into()])
    );
    assert!(
        value.get("tokens").is_none(),
        "control's JWKS is the only key source"
    );
}

#[tokio::test]
async fn closures_are_grouped_by_session_and_unarmed_ones_count_as_early() {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut closures = Closures::new(rx);
    let t0 = Instant::now();
    tx.send(((1, 0), t0)).unwrap();
    closures.arm(0);
    tx.send(((0, 1), t0)).unwrap();
    tx.send(((0, 0), t0)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    assert_eq!(closures.wait(0, 2, deadline).await.unwrap().len(), 2);
    assert_eq!(closures.early, 1, "session 1 closed before it was armed");
    closures.arm(1);
    let short = Instant::now() + Duration::from_millis(50);
    let err = closures.wait(1, 2, short).await.unwrap_err();
    assert!(
        err.to_string().contains("session 1: 1 of 2 tunnels"),
        "{err}"
    );
}

/// A fake edge: answers `200` to the first `allow` connections, then `403 session_revoked`.
async fn fake_edge(allow: usize) -> (SocketAddr, tokio::task::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        for served in 0..100 {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = s.read(&mut buf).await.unwrap();
            let answer: &[u8] = if served < allow {
                b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
            } else {
                b"HTTP/1.1 403 Forbidden\r\nx-deny-reason: session_revoked\r\n\r\n"
            };
            s.write_all(answer).await.unwrap();
            if served >= allow {
                return served + 1;
            }
        }
        100
    });
    (addr, task)
}

#[tokio::test]
async fn a_poll_stops_at_the_first_refusal_and_gives_up_at_its_deadline() {
    let (addr, edge) = fake_edge(3).await;
    let request = probe::get_request("upstream.test:1", "t");
    let deadline = Instant::now() + Duration::from_secs(5);
    let expect = Expect::Refused("session_revoked");
    let started = Instant::now();
    let polled = probe::poll_until(addr, &request, expect, Duration::from_millis(1), deadline)
        .await
        .unwrap();
    assert!(polled.at >= started);
    assert_eq!(polled.requests, 4);
    assert_eq!(edge.await.unwrap(), 4, "three served, the fourth refused");

    let (addr, _edge) = fake_edge(100).await;
    let deadline = Instant::now() + Duration::from_millis(30);
    let err = probe::poll_until(addr, &request, expect, Duration::from_millis(1), deadline)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("last: 200"), "{err}");
}

#[tokio::test]
async fn a_tunnel_is_opened_and_its_close_is_reported() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    let hello = b"\x16\x03\x01hello".to_vec();
    let expected = hello.clone();
    let fake = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"CONNECT upstream.test:9 HTTP/1.1\r\n"));
        s.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
            .unwrap();
        let mut got = vec![0u8; expected.len()];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(got, expected);
        // Dropping `s` closes the tunnel, as the edge does on revocation.
    });
    let connect = probe::connect_request("upstream.test:9", "t");
    let stream = probe::open_tunnel(proxy, &connect, &hello).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(probe::watch_close(stream, (7, 2), tx));
    fake.await.unwrap();
    let (key, _) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key, (7, 2));
}

#[tokio::test]
async fn the_holder_counts_what_it_accepts() {
    let holder = Holder::start().await.unwrap();
    let short = Instant::now() + Duration::from_millis(20);
    assert!(holder.wait_accepted(1, short).await.is_err());
    let _a = tokio::net::TcpStream::connect(holder.addr()).await.unwrap();
    let _b = tokio::net::TcpStream::connect(holder.addr()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    holder.wait_accepted(2, deadline).await.unwrap();
}
