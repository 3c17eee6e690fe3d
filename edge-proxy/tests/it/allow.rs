//! The happy paths with real clients: curl and Python requests, plain HTTP and CONNECT to a local
//! TLS upstream, Bearer and Basic-in-URL credentials.

use crate::Fixture;
use testkit::{curl, run_python};

#[tokio::test]
async fn curl_plain_http_with_bearer_reaches_the_origin_with_host_rewritten() {
    let f = Fixture::start("").await;
    let token = f.edge.token("web", "s-bearer");
    let url = format!("http://origin.test:{}/hello?x=1", f.origin.port());
    let header = format!("Proxy-Authorization: Bearer {token}");
    let r = curl(&["-x", &f.edge.proxy_url(), "--proxy-header", &header, &url]).await;
    assert_eq!(r.status, 200, "{r:?}");
    let echo = r.json();
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["target"], "/hello?x=1", "origin-form upstream");
    assert_eq!(
        echo["headers"]["host"],
        format!("origin.test:{}", f.origin.port())
    );
    assert!(
        echo["headers"].get("proxy-authorization").is_none(),
        "Proxy-* never goes upstream"
    );
    assert!(echo["headers"].get("proxy-connection").is_none());
    assert!(r.header("x-request-id").is_some());
    let audit = f.edge.audit().await;
    let allow = audit
        .iter()
        .find(|e| e["session_id"] == "s-bearer")
        .expect("audited");
    assert_eq!(allow["action"], "allow");
    assert_eq!(allow["dst_host"], "origin.test");
    assert_eq!(allow["dst_addr"], "127.0.0.1");
    assert_eq!(allow["exception"], "address_rule");
    assert!(
        !serde_json::to_string(&audit).unwrap().contains(&token),
        "no token in audit"
    );
}

#[tokio::test]
async fn curl_basic_in_url_plain_and_connect_to_tls_upstream() {
    let f = Fixture::start("").await;
    let token = f.edge.token("web", "s-basic");
    let proxy = f.proxy_with(&token);
    let plain = curl(&[
        "-x",
        &proxy,
        &format!("http://origin.test:{}/p", f.origin.port()),
    ])
    .await;
    assert_eq!(plain.status, 200, "{plain:?}");
    let ca = f.cert.write_ca(f.edge.dir.path());
    let tls = curl(&[
        "-x",
        &proxy,
        "--cacert",
        ca.to_str().unwrap(),
        &format!("https://tls.test:{}/secure", f.tls.port()),
    ])
    .await;
    assert_eq!(tls.status, 200, "{tls:?}");
    assert_eq!(tls.json()["target"], "/secure");
    assert_eq!(f.tls.requests(), 1);
}

#[tokio::test]
async fn python_requests_plain_and_https_through_the_proxy() {
    let f = Fixture::start("").await;
    let token = f.edge.token("web", "s-python");
    let ca = f.cert.write_ca(f.edge.dir.path());
    let script = format!(
        r#"
import requests, sys
proxy = "{proxy}"
proxies = {{"http": proxy, "https": proxy}}
a = requests.get("http://origin.test:{op}/py", proxies=proxies, timeout=20)
b = requests.get("https://tls.test:{tp}/pys", proxies=proxies, verify="{ca}", timeout=20)
print(a.status_code, a.json()["target"], b.status_code, b.json()["target"])
"#,
        proxy = f.proxy_with(&token),
        op = f.origin.port(),
        tp = f.tls.port(),
        ca = ca.display()
    );
    let (ok, out, err) = run_python(&script, &[]).await;
    assert!(ok, "python failed: {err}");
    assert_eq!(out.trim(), "200 /py 200 /pys");
}

#[tokio::test]
async fn every_request_on_a_kept_alive_connection_is_decided_on_its_own() {
    let f = Fixture::start("").await;
    let good = f.edge.token("web", "s-keepalive");
    let mut s = tokio::net::TcpStream::connect(f.addr()).await.unwrap();
    use tokio::io::AsyncWriteExt;
    let url = format!("http://origin.test:{}/one", f.origin.port());
    s.write_all(&crate::get(&url, &good)).await.unwrap();
    let first = testkit::raw::read_reply(&mut s).await.unwrap();
    assert_eq!(first.status, 200);
    // Same connection, now without a token: refused on its own merits.
    s.write_all(format!("GET {url} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let second = testkit::raw::read_reply(&mut s).await.unwrap();
    assert_eq!(second.status, 407);
    assert_eq!(second.deny_reason(), Some("missing_session_token"));
}
