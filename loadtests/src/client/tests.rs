use super::conn::{Conn, Failure, Response};
use super::*;
use crate::upstream::{Behaviour, InProcess};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn spec(addr: SocketAddr, connections: usize, max_requests: u64) -> Spec {
    Spec {
        addr,
        requests: vec![crate::http_forward::direct_request(addr.port())],
        connections,
        rate: None,
        max_requests,
        request_timeout: Duration::from_secs(5),
    }
}

/// Closed loop bounded by the request cap (the 10 s window is only a backstop).
fn run_capped(behaviour: Behaviour, connections: usize, cap: u64) -> Outcome {
    let upstream = InProcess::start(behaviour).unwrap();
    let phases = Phases::starting_now(Duration::ZERO, Duration::from_secs(10));
    run_blocking(&spec(upstream.addr(), connections, cap), phases).unwrap()
}

#[test]
fn closed_loop_counts_every_response_up_to_the_cap() {
    let outcome = run_capped(Behaviour::ok(100), 8, 200);
    assert_eq!(outcome.ok, 200);
    assert_eq!(outcome.errors, Errors::default());
    assert_eq!(outcome.sent_total, 200);
    assert_eq!(outcome.responses_total, 200);
    assert_eq!(outcome.latency.len(), 200);
    assert_eq!(outcome.reconnects, 0);
    assert!(outcome.capped);
}

#[test]
fn non_200_responses_are_errors_by_status() {
    let behaviour = Behaviour {
        status: 503,
        ..Behaviour::ok(10)
    };
    let outcome = run_capped(behaviour, 4, 200);
    assert_eq!(outcome.ok, 0);
    assert_eq!(outcome.errors.status, BTreeMap::from([(503, 200)]));
    assert_eq!(outcome.errors.total(), 200);
    assert_eq!(outcome.responses_total, 200);
    assert!(outcome.latency.is_empty());
}

#[test]
fn a_target_closing_after_each_response_is_reconnected_without_errors() {
    let behaviour = Behaviour {
        close_after_response: true,
        ..Behaviour::ok(100)
    };
    let outcome = run_capped(behaviour, 8, 200);
    assert_eq!(outcome.ok, 200);
    assert_eq!(outcome.errors.total(), 0);
    // Every request but each connection's first needed a fresh connection.
    assert_eq!(outcome.reconnects, 200 - 8);
}

#[test]
fn open_loop_sends_exactly_the_scheduled_requests() {
    let upstream = InProcess::start(Behaviour::ok(100)).unwrap();
    let mut spec = spec(upstream.addr(), 8, 1_000_000);
    spec.rate = Some(2000.0);
    // Slots k·8 + i scheduled at slot / 2000 s; those before 100 ms are slots 0..200.
    let phases = Phases::starting_now(Duration::ZERO, Duration::from_millis(100));
    let outcome = run_blocking(&spec, phases).unwrap();
    assert_eq!(outcome.ok, 200);
    assert_eq!(outcome.sent_total, 200);
    assert_eq!(outcome.errors.total(), 0);
    assert!(!outcome.capped);
}

#[test]
fn warm_up_responses_are_served_but_not_measured() {
    let upstream = InProcess::start(Behaviour::ok(10)).unwrap();
    let mut spec = spec(upstream.addr(), 4, 1_000_000);
    spec.rate = Some(1000.0);
    // 50 ms warm-up then 50 ms measured: slots 0..50 warm up, 50..100 are measured.
    let phases = Phases::starting_now(Duration::from_millis(50), Duration::from_millis(50));
    let outcome = run_blocking(&spec, phases).unwrap();
    assert_eq!(outcome.responses_total, 100);
    assert_eq!(outcome.ok, 50);
}

#[test]
fn a_refused_target_counts_connect_errors_only() {
    let port = crate::process::free_port().unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let phases = Phases::starting_now(Duration::ZERO, Duration::from_millis(100));
    let outcome = run_blocking(&spec(addr, 2, 1000), phases).unwrap();
    assert_eq!(outcome.ok, 0);
    assert!(outcome.errors.connect >= 2, "{:?}", outcome.errors);
    assert_eq!(outcome.errors.total(), outcome.errors.connect);
    assert_eq!(outcome.responses_total, 0);
}

#[test]
fn an_empty_spec_is_refused() {
    let mut spec = spec(SocketAddr::from(([127, 0, 0, 1], 9)), 0, 10);
    let phases = Phases::starting_now(Duration::ZERO, Duration::from_millis(10));
    assert!(run_blocking(&spec, phases).is_err());
    spec.connections = 1;
    spec.requests.clear();
    assert!(run_blocking(&spec, phases).is_err());
}

/// Serves `responses` (raw bytes, one per request read) on one connection, then closes.
async fn canned(responses: Vec<&'static [u8]>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        for response in responses {
            let _ = stream.read(&mut buf).await.unwrap();
            stream.write_all(response).await.unwrap();
        }
    });
    addr
}

async fn exchange_all(addr: SocketAddr, count: usize) -> Vec<Result<Response, Failure>> {
    let mut conn = Conn::connect(addr, Duration::from_secs(5)).await.unwrap();
    let mut out = Vec::new();
    for _ in 0..count {
        out.push(conn.round_trip(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await);
    }
    out
}

#[tokio::test]
async fn reads_chunked_then_length_delimited_responses_on_one_connection() {
    let addr = canned(vec![
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc",
    ])
    .await;
    let results = exchange_all(addr, 2).await;
    assert_eq!(
        results,
        vec![
            Ok(Response {
                status: 200,
                close: false
            }),
            Ok(Response {
                status: 404,
                close: false
            }),
        ]
    );
}

#[tokio::test]
async fn connection_close_and_http10_mark_the_connection_closed() {
    let addr = canned(vec![
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    ])
    .await;
    assert_eq!(
        exchange_all(addr, 1).await,
        vec![Ok(Response {
            status: 200,
            close: true
        })]
    );
    let addr = canned(vec![b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"]).await;
    assert_eq!(
        exchange_all(addr, 1).await,
        vec![Ok(Response {
            status: 200,
            close: true
        })]
    );
}

#[tokio::test]
async fn a_body_without_length_runs_to_the_close() {
    let addr = canned(vec![b"HTTP/1.1 200 OK\r\n\r\nuntil the end"]).await;
    assert_eq!(
        exchange_all(addr, 1).await,
        vec![Ok(Response {
            status: 200,
            close: true
        })]
    );
}

#[tokio::test]
async fn garbage_and_conflicting_lengths_are_parse_errors() {
    let addr = canned(vec![b"SMTP ready\r\n\r\n"]).await;
    assert_eq!(exchange_all(addr, 1).await, vec![Err(Failure::Parse)]);
    let addr = canned(vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
    ])
    .await;
    assert_eq!(exchange_all(addr, 1).await, vec![Err(Failure::Parse)]);
}

#[tokio::test]
async fn a_close_before_any_response_byte_is_stale_and_mid_body_is_io() {
    let addr = canned(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]).await;
    // The second request finds the connection closed without an answer.
    assert_eq!(
        exchange_all(addr, 2).await,
        vec![
            Ok(Response {
                status: 200,
                close: false
            }),
            Err(Failure::Stale)
        ]
    );
    let addr = canned(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"]).await;
    assert_eq!(exchange_all(addr, 1).await, vec![Err(Failure::Io)]);
}

#[tokio::test]
async fn a_conn_speaks_the_same_http_over_any_stream() {
    let (client, mut server) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        let _ = server.read(&mut buf).await.unwrap();
        server
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
            .await
            .unwrap();
    });
    let mut conn = Conn::new(client);
    assert_eq!(
        conn.round_trip(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await,
        Ok(Response {
            status: 200,
            close: false
        })
    );
}

#[test]
fn record_counts_measured_responses_and_failures_only() {
    let mut out = Outcome::empty().unwrap();
    let at = Some(Duration::from_millis(7));
    out.record(Ok(200), None, Duration::from_millis(5));
    out.record(Ok(200), at, Duration::from_micros(5));
    out.record(Ok(200), at, Duration::from_millis(2));
    out.record(Ok(503), at, Duration::from_millis(5));
    out.record(Err(Failure::Stale), at, Duration::ZERO);
    out.record(Err(Failure::Connect), None, Duration::ZERO);
    assert_eq!((out.ok, out.responses_total), (2, 4));
    assert_eq!(out.latency.len(), 2);
    // Only the measured 200 over the bar is kept as slow, with its time.
    assert_eq!(out.slow_at, [Duration::from_millis(7)]);
    assert_eq!(
        out.errors,
        Errors {
            io: 1,
            status: [(503, 1)].into(),
            ..Errors::default()
        }
    );
}
