//! Destination refusals: names and ports the profile does not allow, and IP literals in every
//! spelling (sent as exact bytes: curl would normalise them).

use crate::{Fixture, connect, get};
use testkit::raw;

#[tokio::test]
async fn refuses_names_and_ports_the_profile_does_not_name() {
    let f = Fixture::start("").await;
    let t = f.edge.token("web", "s-dest");
    let cases = [
        (get("http://elsewhere.test/", &t), "destination_not_allowed"),
        (get("http://wild.test/", &t), "destination_not_allowed"), // apex of a wildcard
        (
            get(&format!("http://origin.test:{}/", f.origin.port() ^ 1), &t),
            "port_not_allowed",
        ),
        (connect("origin.test:443", &t), "port_not_allowed"),
        (connect("elsewhere.test:443", &t), "destination_not_allowed"),
    ];
    for (req, reason) in cases {
        let r = raw::send(f.addr(), &req).await.unwrap();
        assert_eq!(
            (r.status, r.deny_reason()),
            (403, Some(reason)),
            "{}",
            String::from_utf8_lossy(&req)
        );
    }
    assert_eq!(f.origin.connections(), 0);
}

#[tokio::test]
async fn refuses_ip_literals_in_every_spelling() {
    let f = Fixture::start("").await;
    let t = f.edge.token("web", "s-literal");
    let forward = [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://0x7f.1/",
        "http://0x7f000001/",
        "http://127.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::127.0.0.1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::1]/",
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
        "http://[::1]/",
        "http://[fe80::1%25eth0]/",
        "http://93.184.216.34/",
    ];
    for target in forward {
        let r = raw::send(f.addr(), &get(target, &t)).await.unwrap();
        assert_eq!(
            (r.status, r.deny_reason()),
            (403, Some("ip_literal_not_allowed")),
            "{target}"
        );
    }
    for authority in [
        "2130706433:443",
        "[::1]:443",
        "0x7f.1:443",
        "[::ffff:a00:1]:443",
    ] {
        let r = raw::send(f.addr(), &connect(authority, &t)).await.unwrap();
        assert_eq!(
            (r.status, r.deny_reason()),
            (403, Some("ip_literal_not_allowed")),
            "{authority}"
        );
    }
    assert_eq!(f.origin.connections(), 0);
}

#[tokio::test]
async fn an_ip_literal_rule_allows_exactly_its_address_and_port() {
    let origin = testkit::Origin::start().await;
    let policy = format!(
        "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {{name: lit}}\nspec:\n  destinations:\n    - host: 127.0.0.1\n      ports: [{}]\n      rung: pass-through\n",
        origin.port()
    );
    let edge = testkit::edge()
        .policy("lit.yaml", &policy)
        .static_host("unused.test", "127.0.0.1")
        .start()
        .await;
    let t = edge.token("lit", "s-lit");
    let ok = raw::send(
        edge.handle().proxy_addr(),
        &get(&format!("http://127.0.0.1:{}/ok", origin.port()), &t),
    )
    .await
    .unwrap();
    assert_eq!(ok.status, 200, "{ok:?}");
    let other_spelling = raw::send(
        edge.handle().proxy_addr(),
        &get(&format!("http://[::ffff:127.0.0.1]:{}/", origin.port()), &t),
    )
    .await
    .unwrap();
    assert_eq!(other_spelling.deny_reason(), Some("ip_literal_not_allowed"));
    let other_port = raw::send(
        edge.handle().proxy_addr(),
        &get(&format!("http://127.0.0.1:{}/", origin.port() ^ 1), &t),
    )
    .await
    .unwrap();
    assert_eq!(other_port.deny_reason(), Some("port_not_allowed"));
    let audit = edge.audit().await;
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "allow" && e["exception"] == "address_rule")
    );
}

#[tokio::test]
async fn malformed_authorities_and_ports_are_bad_requests() {
    let f = Fixture::start("").await;
    let t = f.edge.token("web", "s-malformed");
    for target in [
        "http://origin.test:0/",
        "http://origin.test:65536/",
        "http://origin.test:+80/",
        "http://origin.test:-1/",
        "http://origin.test:http/",
        "http://origin.test:/",
        "http://user@origin.test/",
        "http:///",
        "/relative",
    ] {
        let r = raw::send(f.addr(), &get(target, &t)).await.unwrap();
        assert_eq!(
            (r.status, r.deny_reason()),
            (400, Some("malformed_request")),
            "{target}"
        );
    }
    for authority in ["origin.test", "origin.test:0", "origin.test:99999", ":443"] {
        let r = raw::send(f.addr(), &connect(authority, &t)).await.unwrap();
        assert_eq!(
            (r.status, r.deny_reason()),
            (400, Some("malformed_request")),
            "{authority}"
        );
    }
}

#[tokio::test]
async fn a_host_header_that_differs_from_the_absolute_target_is_refused() {
    let f = Fixture::start("").await;
    let t = f.edge.token("web", "s-host");
    let target = format!("http://origin.test:{}/", f.origin.port());
    for host in ["internal.corp.example", "origin.test", "ORIGIN.test:1"] {
        let req = format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nProxy-Authorization: Bearer {t}\r\n\r\n"
        );
        let r = raw::send(f.addr(), req.as_bytes()).await.unwrap();
        assert_eq!(
            (r.status, r.deny_reason()),
            (403, Some("host_mismatch")),
            "{host}"
        );
    }
    assert_eq!(f.origin.requests(), 0);
    // Without a Host header the target's authority is used.
    let bare = format!("GET {target} HTTP/1.1\r\nProxy-Authorization: Bearer {t}\r\n\r\n");
    let r = raw::send(f.addr(), bare.as_bytes()).await.unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["headers"]["host"],
        format!("origin.test:{}", f.origin.port())
    );
}

#[tokio::test]
async fn an_upstream_that_refuses_connections_is_upstream_unreachable() {
    let dead = testkit::edge::free_port();
    let policy = format!(
        "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {{name: dead}}\nspec:\n  destinations:\n    - host: dead.test\n      ports: [{dead}]\n      addresses: [127.0.0.1]\n      rung: pass-through\n"
    );
    let edge = testkit::edge()
        .policy("dead.yaml", &policy)
        .static_host("dead.test", "127.0.0.1")
        .start()
        .await;
    let t = edge.token("dead", "s-dead");
    let addr = edge.handle().proxy_addr();
    let plain = raw::send(addr, &get(&format!("http://dead.test:{dead}/"), &t))
        .await
        .unwrap();
    assert_eq!(
        (plain.status, plain.deny_reason()),
        (502, Some("upstream_unreachable"))
    );
    let body: serde_json::Value = serde_json::from_str(&plain.body).unwrap();
    assert_eq!(body["reason"], "upstream_unreachable");

    // A tunnel is answered before the upstream is dialled (the SNI must be checked first), so
    // its dial failure closes the tunnel and is recorded in the audit event.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut s, &connect(&format!("dead.test:{dead}"), &t))
        .await
        .unwrap();
    assert_eq!(raw::read_reply(&mut s).await.unwrap().status, 200);
    let cfg = crate::tunnel_client_config(&testkit::TestCert::new(&["dead.test"]).ca_pem);
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("dead.test").unwrap();
    assert!(
        tokio_rustls::TlsConnector::from(cfg)
            .connect(name, s)
            .await
            .is_err()
    );
    let audit = edge.audit().await;
    let reasons: Vec<_> = audit
        .iter()
        .filter_map(|e| e["status_detail"].as_str())
        .collect();
    assert_eq!(
        reasons,
        ["upstream_unreachable", "upstream_unreachable"],
        "{audit:?}"
    );
}
