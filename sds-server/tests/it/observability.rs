//! What operators see — logs, `/metrics`, `/debug/sds`, the audit log — never holds a secret
//! value, checked by grepping everything captured during a run with rotations and failures.

use crate::support::certs::Ca;
use crate::support::grpc::{self, Sotw};
use crate::support::{Setup, eventually, http_get};
use sds_server::client::{ClientConfig, SdsClient};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn no_secret_value_reaches_logs_metrics_debug_or_audit() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(capture.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let ca = Ca::new("ca");
    let (good, other) = (
        ca.leaf("good", &["localhost"]),
        ca.leaf("other", &["localhost"]),
    );
    let setup = Setup::new();
    setup.write("api", "sk-live-FIRST-9f8e7d6c5b4a");
    setup.write("tls.crt", &good.chain_pem);
    setup.write("tls.key", &good.key_pem);
    setup.manifest(
        "secrets:\n  - {name: api, kind: generic_secret, file: api, max_age: 1h}\n  - {name: cert, kind: tls_certificate, certificate: tls.crt, private_key: tls.key}\n",
    );
    let server = setup.start().await;
    let client = SdsClient::start(ClientConfig::unix(server.socket(), "edge", ["api", "cert"]));
    client
        .wait_for("cert", Duration::from_secs(10))
        .await
        .unwrap();
    let mut grpc_client = grpc::unix(&server.socket()).await;
    let mut stream = Sotw::open(&mut grpc_client, "envoy", &["api"])
        .await
        .unwrap();
    let r1 = stream.next().await.unwrap();
    stream.ack(&r1, &["api"]).await;
    server.write("api", "sk-live-SECOND-1a2b3c4d5e6f");
    client
        .wait_until(Duration::from_secs(10), |c| {
            c.get("api")
                .filter(|s| s.value().generic() == Some(&b"sk-live-SECOND-1a2b3c4d5e6f"[..]))
        })
        .await
        .unwrap();
    server.write("tls.key", &other.key_pem);
    eventually("the refused key", Duration::from_secs(10), || {
        server.debug()["secrets"][1]["last_error"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    let r2 = stream.next().await.unwrap();
    stream.ack(&r2, &["api"]).await;

    let admin = server.handle().admin_addr();
    let (status, metrics) = http_get(admin, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("trust_edge_sds_secret_version_age_seconds{secret=\"api\"}"),
        "{metrics}"
    );
    assert_eq!(
        crate::support::metric(&metrics, "trust_edge_sds_secret_served{secret=\"cert\"}"),
        1.0
    );
    let (status, debug) = http_get(admin, "/debug/sds").await;
    assert_eq!(status, 200);
    assert!(debug.contains("\"node\": \"envoy\""), "{debug}");
    assert_eq!(http_get(admin, "/healthz").await.0, 200);
    assert_eq!(http_get(admin, "/nope").await.0, 404);
    let audit: String = server
        .audit_lines()
        .await
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let debug_repr = format!(
        "{client:?} {:?} {:?}",
        client.get("api"),
        client.get("cert")
    );
    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).to_string();
    assert!(
        logs.contains("secret version now served"),
        "logs were captured"
    );

    let mut needles = vec!["sk-live-FIRST".to_owned(), "sk-live-SECOND".to_owned()];
    for pem in [&good.key_pem, &other.key_pem] {
        needles.extend(
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::to_owned),
        );
    }
    for (what, text) in [
        ("logs", &logs),
        ("metrics", &metrics),
        ("debug", &debug),
        ("audit", &audit),
        ("Debug", &debug_repr),
    ] {
        for needle in &needles {
            assert!(
                !text.contains(needle.as_str()),
                "{what} contains secret material {needle:?}"
            );
        }
    }
    client.stop().await;
}
