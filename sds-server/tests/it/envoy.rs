//! A real Envoy against our SDS over the Unix socket: listener certificates that rotate
//! without a restart, bad pairs stopped before Envoy, Envoy's own NACK handled without a loop,
//! the credential injector following a rotated API key, and a restarted Envoy resubscribing.

use crate::support::certs::{Ca, Leaf};
use crate::support::envoy::{Envoy, bootstrap, sds_config};
use crate::support::{Server, Setup, eventually, http_request};
use rustls::pki_types::{CertificateDer, ServerName};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const TLS_MANIFEST: &str = "secrets:\n  - {name: server-cert, kind: tls_certificate, certificate: tls.crt, private_key: tls.key}\n  - {name: other, kind: generic_secret, file: other.txt}\n";

fn tls_listener(api: &str) -> String {
    format!(
        r#"  - name: tls
    address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          common_tls_context:
            tls_certificate_sds_secret_configs:
            - name: server-cert
              {sds}
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: tls
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{{match: {{prefix: "/"}}, direct_response: {{status: 200, body: {{inline_string: ok}}}}}}]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
"#,
        sds = sds_config(api, 14)
    )
}

/// The leaf certificate Envoy presents on a fresh TLS handshake to `port`.
async fn presented(port: u16, ca_pem: &str) -> CertificateDer<'static> {
    let config = crate::support::grpc::tls_config(ca_pem, None);
    let mut config = (*config).clone();
    config.alpn_protocols.clear();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = crate::support::connect(([127, 0, 0, 1], port).into()).await;
    let tls = tokio::time::timeout(
        Duration::from_secs(10),
        connector.connect(ServerName::try_from("localhost").unwrap(), tcp),
    )
    .await
    .unwrap()
    .unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned()
}

/// Polls fresh handshakes until Envoy presents `want`.
async fn until_presented(port: u16, ca: &Ca, want: &Leaf) {
    let end = tokio::time::Instant::now() + WAIT;
    while presented(port, &ca.pem).await != want.der() {
        assert!(
            tokio::time::Instant::now() < end,
            "envoy never presented the expected certificate"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn cert_setup(first: &Leaf, skip_checks: bool) -> (Server, Envoy) {
    let mut setup = Setup::new();
    setup.config.skip_content_checks = skip_checks;
    setup.write("tls.crt", &first.chain_pem);
    setup.write("tls.key", &first.key_pem);
    setup.write("other.txt", "o1");
    setup.manifest(TLS_MANIFEST);
    let server = setup.start().await;
    let yaml = bootstrap("envoy-tls", &server.socket(), &tls_listener("GRPC"), "");
    let envoy = Envoy::start(server.dir.path(), "envoy", &yaml).await;
    (server, envoy)
}

#[tokio::test]
async fn envoy_serves_our_certificate_and_a_rotated_file_on_the_next_handshake() {
    let ca = Ca::new("ca");
    let (v1, v2) = (ca.leaf("v1", &["localhost"]), ca.leaf("v2", &["localhost"]));
    let (server, mut envoy) = cert_setup(&v1, false).await;
    let port = envoy.listener_port("tls").await;
    assert_eq!(presented(port, &ca.pem).await, v1.der());
    server.write("tls.key", &v2.key_pem);
    server.write("tls.crt", &v2.chain_pem);
    until_presented(port, &ca, &v2).await;
    assert_eq!(
        envoy.listener_port("tls").await,
        port,
        "same listener, no restart"
    );
    envoy.wait_stat("sds.server-cert.update_success", 2).await;
    assert_eq!(envoy.stat("sds.server-cert.update_rejected").await, 0);
    eventually("envoy's ACK of v2", WAIT, || {
        let debug = server.debug();
        let acked = debug["streams"]
            .as_array()?
            .iter()
            .find(|s| s["names"] == serde_json::json!(["server-cert"]))?["acked_version"]
            .clone();
        (acked == debug["secrets"][1]["version"]).then_some(())
    })
    .await;
    let node = server.debug()["streams"][0]["node"].clone();
    assert_eq!(node, "envoy-tls");
}

#[tokio::test]
async fn a_bad_pair_is_stopped_before_envoy_which_keeps_the_old_certificate() {
    let ca = Ca::new("ca");
    let (v1, v2, stray) = (
        ca.leaf("v1", &["localhost"]),
        ca.leaf("v2", &["localhost"]),
        ca.leaf("stray", &["localhost"]),
    );
    let (server, mut envoy) = cert_setup(&v1, false).await;
    let port = envoy.listener_port("tls").await;
    envoy.wait_stat("sds.server-cert.update_success", 1).await;
    let pushes = server.metric("trust_edge_sds_pushes_total{api=\"sotw\"}");
    server.write("tls.crt", &v2.chain_pem);
    server.write("tls.key", &stray.key_pem);
    eventually("our refusal", WAIT, || {
        (server.debug()["secrets"][1]["last_error"]
            == "invalid content: the private key does not match the leaf certificate")
            .then_some(())
    })
    .await;
    assert_eq!(
        server.metric("trust_edge_sds_pushes_total{api=\"sotw\"}"),
        pushes,
        "nothing reached envoy"
    );
    assert_eq!(presented(port, &ca.pem).await, v1.der());
    assert_eq!(envoy.stat("sds.server-cert.update_rejected").await, 0);
    assert!(
        server.metric("trust_edge_sds_source_errors_total{class=\"invalid\",source=\"files\"}")
            >= 1.0
    );
}

/// Captures log lines (every span field and event field) written on this thread.
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

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).to_string()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn content_envoy_rejects_is_nacked_logged_not_looped_and_fixing_recovers() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(capture.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let ca = Ca::new("ca");
    let (v1, v2) = (ca.leaf("v1", &["localhost"]), ca.leaf("v2", &["localhost"]));
    // Our checks are off (test-only switch), so a mismatched pair reaches Envoy.
    let (server, mut envoy) = cert_setup(&v1, true).await;
    let port = envoy.listener_port("tls").await;
    envoy.wait_stat("sds.server-cert.update_success", 1).await;
    server.write("tls.crt", &v2.chain_pem);
    envoy.wait_stat("sds.server-cert.update_rejected", 1).await;
    eventually("our NACK count", WAIT, || {
        (server.metric("trust_edge_sds_nacks_total{api=\"sotw\"}") == 1.0).then_some(())
    })
    .await;
    let stream = server.debug()["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["names"] == serde_json::json!(["server-cert"]))
        .unwrap()
        .clone();
    let detail = stream["last_nack"].as_str().unwrap().to_owned();
    assert!(!detail.is_empty());
    let logs = capture.text();
    assert!(
        logs.contains("client rejected a secret update (NACK)"),
        "{logs}"
    );
    assert!(logs.contains(&detail), "the error_detail is logged");
    assert_eq!(
        presented(port, &ca.pem).await,
        v1.der(),
        "envoy keeps the old certificate"
    );
    // Another secret rotates: every stream wakes; the rejected pair must not be pushed again.
    let pushes = server.metric("trust_edge_sds_pushes_total{api=\"sotw\"}");
    let before = server.debug()["secrets"][0]["version"].clone();
    server.write("other.txt", "o2");
    eventually("the unrelated rotation", WAIT, || {
        (server.debug()["secrets"][0]["version"] != before).then_some(())
    })
    .await;
    assert_eq!(
        server.metric("trust_edge_sds_pushes_total{api=\"sotw\"}"),
        pushes
    );
    assert_eq!(envoy.stat("sds.server-cert.update_rejected").await, 1);
    // Fixing the source recovers.
    server.write("tls.key", &v2.key_pem);
    until_presented(port, &ca, &v2).await;
    eventually("envoy's ACK of the fixed pair", WAIT, || {
        let debug = server.debug();
        let view = debug["streams"]
            .as_array()?
            .iter()
            .find(|s| s["names"] == serde_json::json!(["server-cert"]))?
            .clone();
        (view["acked_version"] == debug["secrets"][1]["version"]).then_some(())
    })
    .await;
    let logs = capture.text();
    for secret in [&v1.key_pem, &v2.key_pem] {
        let body: String = secret.lines().nth(1).unwrap().to_owned();
        assert!(!logs.contains(&body), "a private key reached the logs");
    }
}

#[tokio::test]
async fn the_credential_injector_sends_the_rotated_api_key_upstream() {
    let echo = crate::support::echo::start().await;
    let setup = Setup::new();
    setup.write("api-key", "sk-v1\n");
    setup.manifest("secrets:\n  - {name: api-key, kind: generic_secret, file: api-key}\n");
    let server = setup.start().await;
    let listener = format!(
        r#"  - name: http
    address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: http
          route_config:
            virtual_hosts: [{{name: all, domains: ["*"], routes: [{{match: {{prefix: "/"}}, route: {{cluster: echo}}}}]}}]
          http_filters:
          - name: envoy.filters.http.credential_injector
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.credential_injector.v3.CredentialInjector
              overwrite: true
              credential:
                name: envoy.http.injected_credentials.generic
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.http.injected_credentials.generic.v3.Generic
                  header: Authorization
                  header_value_prefix: "Bearer "
                  credential:
                    name: api-key
                    {sds}
          - name: envoy.filters.http.router
            typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
"#,
        sds = sds_config("DELTA_GRPC", 20)
    );
    let cluster = format!(
        "  - name: echo\n    type: STATIC\n    connect_timeout: 1s\n    load_assignment: {{cluster_name: echo, endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {}}}}}}}}}]}}]}}\n",
        echo.port()
    );
    let yaml = bootstrap("envoy-inject", &server.socket(), &listener, &cluster);
    let mut envoy = Envoy::start(server.dir.path(), "envoy", &yaml).await;
    let port = envoy.listener_port("http").await;
    let seen = |port: u16| async move {
        let (status, body) = http_request(
            ([127, 0, 0, 1], port).into(),
            "GET /x HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer sandbox-forged\r\nConnection: close\r\n\r\n",
        )
        .await;
        (status, body)
    };
    let end = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = seen(port).await;
        if status == 200 && body == "Bearer sk-v1" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "upstream saw {status} {body:?}:\n{}",
            envoy.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.write("api-key", "sk-v2\n");
    let end = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, body) = seen(port).await;
        if body == "Bearer sk-v2" {
            break;
        }
        assert_eq!(body, "Bearer sk-v1", "only v1 or v2 may be injected");
        assert!(
            tokio::time::Instant::now() < end,
            "the rotation never reached the upstream"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let debug = server.debug();
    assert_eq!(debug["streams"][0]["api"], "delta");
    assert_eq!(debug["streams"][0]["node"], "envoy-inject");
    assert!(echo.requests() >= 2);
}

#[tokio::test]
async fn a_restarted_envoy_resubscribes_and_gets_the_current_version() {
    let ca = Ca::new("ca");
    let (v1, v2) = (ca.leaf("v1", &["localhost"]), ca.leaf("v2", &["localhost"]));
    let (server, mut envoy) = cert_setup(&v1, false).await;
    let port = envoy.listener_port("tls").await;
    assert_eq!(presented(port, &ca.pem).await, v1.der());
    let first_version = server.debug()["secrets"][1]["version"].clone();
    envoy.kill();
    eventually("the stream to close", WAIT, || {
        (server.handle().open_streams() == 0).then_some(())
    })
    .await;
    server.write("tls.key", &v2.key_pem);
    server.write("tls.crt", &v2.chain_pem);
    eventually("v2 loaded", WAIT, || {
        let s = server.debug()["secrets"][1].clone();
        (s["last_error"].is_null() && s["version"] != first_version).then_some(())
    })
    .await;
    envoy.restart().await;
    let port = envoy.listener_port("tls").await;
    until_presented(port, &ca, &v2).await;
    assert_eq!(
        envoy.stat("sds.server-cert.update_success").await,
        1,
        "the fresh envoy got v2 first"
    );
}

#[tokio::test]
async fn envoy_keeps_its_certificate_when_ours_is_withdrawn_after_max_age() {
    let ca = Ca::new("ca");
    let v1 = ca.leaf("v1", &["localhost"]);
    let setup = Setup::new();
    setup.write("tls.crt", &v1.chain_pem);
    setup.write("tls.key", &v1.key_pem);
    setup.manifest(
        "secrets:\n  - {name: server-cert, kind: tls_certificate, certificate: tls.crt, private_key: tls.key, max_age: 500ms}\n",
    );
    let server = setup.start().await;
    let yaml = bootstrap(
        "envoy-withdraw",
        &server.socket(),
        &tls_listener("GRPC"),
        "",
    );
    let mut envoy = Envoy::start(server.dir.path(), "envoy", &yaml).await;
    let port = envoy.listener_port("tls").await;
    envoy.wait_stat("sds.server-cert.update_success", 1).await;
    std::fs::remove_file(server.secrets.join("tls.crt")).unwrap();
    eventually("the withdrawal", WAIT, || {
        (server.debug()["secrets"][0]["state"] == "withdrawn").then_some(())
    })
    .await;
    // Envoy takes the response without the secret (ACK) but has no way to drop a listener
    // certificate: it keeps serving the last one it had.
    envoy.wait_stat("sds.server-cert.update_attempt", 2).await;
    eventually("envoy's ACK of the withdrawal", WAIT, || {
        (server.metric("trust_edge_sds_acks_total{api=\"sotw\"}") == 2.0).then_some(())
    })
    .await;
    assert_eq!(
        server.metric("trust_edge_sds_nacks_total{api=\"sotw\"}"),
        0.0
    );
    assert_eq!(envoy.stat("sds.server-cert.update_success").await, 1);
    assert_eq!(envoy.stat("sds.server-cert.update_rejected").await, 0);
    assert_eq!(presented(port, &ca.pem).await, v1.der());
}
