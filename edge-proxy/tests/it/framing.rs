//! Ambiguous framing is refused as `malformed_request` before anything else is decided.

use crate::Fixture;
use testkit::raw;

#[tokio::test]
async fn every_ambiguous_framing_is_malformed() {
    let f = Fixture::start("").await;
    let t = f.edge.token("web", "s-framing");
    let url = format!("http://origin.test:{}/", f.origin.port());
    let auth = format!("Proxy-Authorization: Bearer {t}\r\n");
    let cases = [
        (
            "CL+TE",
            format!(
                "POST {url} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            ),
        ),
        (
            "double CL",
            format!(
                "POST {url} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 4\r\nContent-Length: 4\r\n\r\nabcd"
            ),
        ),
        (
            "obs-fold",
            format!("GET {url} HTTP/1.1\r\nHost: x\r\n{auth}X-Long: a\r\n  folded\r\n\r\n"),
        ),
        (
            "bare LF",
            format!("GET {url} HTTP/1.1\nHost: x\n{}\n\n", auth.trim_end()),
        ),
        (
            "duplicate Host",
            format!("GET {url} HTTP/1.1\r\nHost: x\r\nHost: y\r\n{auth}\r\n"),
        ),
        (
            "duplicate Proxy-Authorization",
            format!("GET {url} HTTP/1.1\r\nHost: x\r\n{auth}{auth}\r\n"),
        ),
        (
            "unknown coding",
            format!("POST {url} HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: gzip\r\n\r\n"),
        ),
        (
            "HTTP/2 preface",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_owned(),
        ),
    ];
    for (name, req) in cases {
        let r = raw::send(f.addr(), req.as_bytes())
            .await
            .unwrap_or_else(|| panic!("{name}: no response"));
        assert_eq!(
            (r.status, r.deny_reason()),
            (400, Some("malformed_request")),
            "{name}"
        );
    }
    assert_eq!(f.origin.requests(), 0);
}

#[tokio::test]
async fn upgrades_need_a_rule_that_allows_them() {
    let f = Fixture::start("").await;
    let t = f.edge.token("web", "s-upgrade");
    let req = format!(
        "GET http://origin.test:{0}/ws HTTP/1.1\r\nHost: origin.test:{0}\r\nProxy-Authorization: Bearer {t}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        f.origin.port()
    );
    let r = raw::send(f.addr(), req.as_bytes()).await.unwrap();
    assert_eq!(
        (r.status, r.deny_reason()),
        (403, Some("protocol_not_allowed"))
    );
    let h2c = format!(
        "GET http://origin.test:{0}/ HTTP/1.1\r\nHost: origin.test:{0}\r\nProxy-Authorization: Bearer {t}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
        f.origin.port()
    );
    let r = raw::send(f.addr(), h2c.as_bytes()).await.unwrap();
    assert_eq!(
        (r.status, r.deny_reason()),
        (403, Some("protocol_not_allowed"))
    );
}
