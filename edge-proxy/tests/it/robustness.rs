//! Hostile bytes at the listener always end in a structured error or a clean close — never a
//! crash — and a good request still works afterwards.

use crate::{Fixture, get};
use std::time::Duration;
use testkit::raw;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

async fn throw(addr: std::net::SocketAddr, bytes: &[u8]) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(bytes).await;
    let _ = s.shutdown().await;
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut out)).await;
    assert!(
        read.is_ok(),
        "the edge neither answered nor closed: {:?}",
        String::from_utf8_lossy(bytes)
    );
    if !out.is_empty() {
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.starts_with("HTTP/1.1 4") || text.starts_with("HTTP/1.1 5"),
            "{text}"
        );
        assert!(text.contains("x-deny-reason: "), "{text}");
    }
}

#[tokio::test]
async fn random_and_malformed_input_never_breaks_the_edge() {
    let f = Fixture::start_with("", |b| b.toml("[proxy]\nheader_read_timeout = \"1s\"")).await;
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    let t = f.edge.token("web", "s-fuzz");
    let mut cases: Vec<Vec<u8>> = (0..60).map(|i| rng.bytes(1 + (i * 37) % 3000)).collect();
    for line in [
        "GET\r\n\r\n",
        "GET  http://a/ HTTP/1.1\r\n\r\n",
        "GET http://a/ HTTP/9.9\r\n\r\n",
        "\r\n\r\n",
        "CONNECT\r\n\r\n",
        "CONNECT a:b:c HTTP/1.1\r\n\r\n",
        "GET http://a/ HTTP/1.1\r\n: empty\r\n\r\n",
        "GET http://a/ HTTP/1.1\r\nX\u{1}Y: z\r\n\r\n",
        "GET http://a/ HTTP/1.1\r\nHost: \u{7f}\r\n\r\n",
        "GET http://%00/ HTTP/1.1\r\n\r\n",
        "GET http://a/\u{0}x HTTP/1.1\r\n\r\n",
    ] {
        cases.push(line.as_bytes().to_vec());
    }
    cases.push(
        [
            b"GET http://a/ HTTP/1.1\r\nX: ".as_slice(),
            &vec![b'a'; 20_000],
            b"\r\n\r\n",
        ]
        .concat(),
    );
    let mut long_token = get("http://a/", &"A".repeat(12_000));
    long_token.truncate(15_000);
    cases.push(long_token);
    for case in &cases {
        throw(f.addr(), case).await;
    }
    let good = raw::send(
        f.addr(),
        &get(&format!("http://origin.test:{}/after", f.origin.port()), &t),
    )
    .await
    .unwrap();
    assert_eq!(good.status, 200, "a good request still works");
}
