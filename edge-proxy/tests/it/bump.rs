//! The bump rung end to end: real curl and Python clients trusting the deployment CA call a local
//! HTTPS upstream through the edge, which terminates TLS with a minted leaf, decides every request
//! inside the tunnel, injects the credential from a real SDS server and scrubs every reflected
//! form of it from the response. Every refusal inside the tunnel is asserted by status and
//! `x-deny-reason`; the edge's logs, audit file and metrics are searched for the secret.

use crate::eventually;
use base64::Engine;
use std::path::PathBuf;
use std::time::Duration;
use testkit::{Reflector, SecretServer, TestCert, TestEdge, curl, raw, run_python};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

/// The credential: slashes, plus, equals and tilde exercise every encoding.
pub(crate) const SECRET: &str = "sk-test-7Yq2/Lm+9=Zx_0~k.PwR4sTuVb8Nc";
/// Its rotated value.
const SECRET_V2: &str = "sk-test-ROTATED-Hh3jKk4lLm5nNo6pPq7rR";
/// What a sandbox may try to send in the injected header itself.
const SANDBOX_VALUE: &str = "sandbox-chosen-value";

/// Every form of `secret` a test checks for independently of the scrubber's own patterns.
fn forms(secret: &str) -> Vec<String> {
    let b = secret.as_bytes();
    let std64 = base64::engine::general_purpose::STANDARD;
    let url64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let pct: String = b
        .iter()
        .map(|x| {
            if x.is_ascii_alphanumeric() {
                (*x as char).to_string()
            } else {
                format!("%{x:02X}")
            }
        })
        .collect();
    vec![
        secret.to_owned(),
        std64.encode(b).trim_end_matches('=').to_owned(),
        url64.encode(b),
        hex.clone(),
        hex.to_uppercase(),
        pct.clone(),
        pct.to_lowercase(),
        serde_json::Value::String(secret.to_owned())
            .to_string()
            .trim_matches('"')
            .replace('/', "\\/"),
    ]
}

/// Panics if `text` holds any form of `secret` (raw, encodings, or a base64 fragment).
pub(crate) fn assert_clean(text: &str, secret: &str, what: &str) {
    for form in forms(secret) {
        assert!(
            !text.contains(&form),
            "{what} carries the secret as `{form}`"
        );
    }
    let patterns = scrub::Patterns::new(&[secret]);
    assert!(
        !patterns.found_in(text.as_bytes()),
        "{what} carries an encoded form of the secret"
    );
}

pub(crate) struct Rig {
    pub(crate) edge: TestEdge,
    pub(crate) secrets: SecretServer,
    pub(crate) api: Reflector,
    pub(crate) other: Reflector,
    pub(crate) untrusted: Reflector,
    pub(crate) bundle: PathBuf,
    pub(crate) _ca: tempfile::TempDir,
    pub(crate) upstream_cert: TestCert,
}

pub(crate) fn policy(api: u16, other: u16, untrusted: u16, extra_agent_rules: &str) -> String {
    format!(
        r#"apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {{name: agent}}
spec:
  destinations:
    - host: api.test
      ports: [{api}]
      addresses: [127.0.0.1]
      rung: bump
      http:
        methods: [GET, POST]
        paths: ["/v1/", "/gzip", "/trailers", "/compress", "/reason", "/bomb"]
      inject:
        - {{secret: api-key, header: x-api-key}}
        - {{secret: api-key, header: authorization, format: "Bearer {{secret}}"}}
    - host: other.test
      ports: [{other}]
      addresses: [127.0.0.1]
      rung: bump
      upgrades: [websocket]
    - host: passthru.test
      ports: [{other}]
      addresses: [127.0.0.1]
      rung: pass-through
    - host: missing.test
      ports: [{api}]
      addresses: [127.0.0.1]
      rung: bump
      inject: [{{secret: never-defined, header: x-api-key}}]
    - host: untrusted.test
      ports: [{untrusted}]
      addresses: [127.0.0.1]
      rung: bump
      inject: [{{secret: api-key, header: x-api-key}}]
{extra_agent_rules}---
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {{name: trial}}
spec:
  mode: report
  destinations:
    - host: api.test
      ports: [{api}]
      addresses: [127.0.0.1]
      rung: bump
      http: {{methods: [GET], paths: ["/v1/"]}}
      inject: [{{secret: api-key, header: x-api-key}}]
---
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {{name: capped}}
spec:
  tripwire: {{upload_bytes: 4096, distinct_destinations: 100, window: 10m, action: deny}}
  destinations:
    - host: api.test
      ports: [{api}]
      addresses: [127.0.0.1]
      rung: bump
      inject: [{{secret: api-key, header: x-api-key}}]
---
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {{name: brief}}
spec:
  limits: {{tunnel_idle_timeout: 1s}}
  destinations:
    - host: api.test
      ports: [{api}]
      addresses: [127.0.0.1]
      rung: bump
---
apiVersion: trust-edge/v1
kind: EgressProfile
metadata: {{name: unbound}}
spec:
  destinations:
    - host: api.test
      ports: [{api}]
      addresses: [127.0.0.1]
      rung: bump
"#
    )
}

impl Rig {
    pub(crate) async fn start() -> Rig {
        Self::start_with(|b| b, true).await
    }

    /// Starts the rig with `adjust` applied to the edge; with `warm`, waits until a request with
    /// an edge-minted token gets its secret (an edge following control trusts only control's keys).
    pub(crate) async fn start_with(
        adjust: impl FnOnce(testkit::edge::EdgeBuilder) -> testkit::edge::EdgeBuilder,
        warm: bool,
    ) -> Rig {
        // The real upstreams present certificates from their own CA, which the edge trusts via
        // `upstream_ca_file`; `untrusted.test` is served a certificate from a CA nobody trusts.
        let upstream_cert = TestCert::new(&["api.test", "other.test", "passthru.test"]);
        let api = Reflector::start(&upstream_cert).await;
        let other = Reflector::start(&upstream_cert).await;
        let untrusted = Reflector::start(&TestCert::new(&["untrusted.test"])).await;
        let ca = tempfile::tempdir().unwrap();
        let ca_dir = ca.path().join("ca");
        trust_ca::Authority::load_or_create(&ca_dir, &trust_ca::CaOptions::default()).unwrap();
        let upstream_ca = upstream_cert.write_ca(ca.path());
        let secrets = SecretServer::start(&[("api-key", SECRET)]).await;
        let extra = format!(
            "[bump]\nca_dir = {ca_dir:?}\nupstream_ca_file = {upstream_ca:?}\n[secrets]\nsds = \"unix:{}\"\n",
            secrets.socket().display()
        );
        let builder = testkit::edge()
            .policy(
                "agent.yaml",
                &policy(api.port(), other.port(), untrusted.port(), ""),
            )
            .static_host("api.test", "127.0.0.1")
            .static_host("other.test", "127.0.0.1")
            .static_host("passthru.test", "127.0.0.1")
            .static_host("missing.test", "127.0.0.1")
            .static_host("untrusted.test", "127.0.0.1")
            .toml(&extra);
        let edge = adjust(builder).start().await;
        let rig = Rig {
            edge,
            secrets,
            api,
            other,
            untrusted,
            bundle: ca_dir.join("bundle.pem"),
            _ca: ca,
            upstream_cert,
        };
        if warm {
            let t = rig.edge.token("agent", "s-warmup");
            rig.wait_warm(&t).await;
        }
        rig
    }

    /// Waits until the SDS stream is up and the secret arrived (a request with `token` succeeds).
    pub(crate) async fn wait_warm(&self, token: &str) {
        eventually(20, "the secret arrived over SDS", || async {
            self.curl(token, "api.test", self.api.port(), "/v1/warm", &[])
                .await
                .status
                == 200
        })
        .await;
    }

    pub(crate) fn proxy(&self, token: &str) -> String {
        format!("http://session:{token}@{}", self.edge.handle().proxy_addr())
    }

    pub(crate) async fn curl(
        &self,
        token: &str,
        host: &str,
        port: u16,
        path: &str,
        extra: &[&str],
    ) -> testkit::Reply {
        let proxy = self.proxy(token);
        let bundle = self.bundle.display().to_string();
        let url = format!("https://{host}:{port}{path}");
        let mut args = vec!["-x", &proxy, "--cacert", &bundle];
        args.extend_from_slice(extra);
        args.push(&url);
        curl(&args).await
    }

    /// A CONNECT + TLS handshake (SNI `sni`) through the edge, trusting the deployment CA.
    pub(crate) async fn tunnel(
        &self,
        token: &str,
        authority: &str,
        sni: &str,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let pem = std::fs::read_to_string(&self.bundle).unwrap();
        self.tunnel_trusting(token, authority, sni, &pem).await
    }

    /// As [`Rig::tunnel`], trusting only the certificates in `pem`.
    pub(crate) async fn tunnel_trusting(
        &self,
        token: &str,
        authority: &str,
        sni: &str,
        pem: &str,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let mut s = TcpStream::connect(self.edge.handle().proxy_addr()).await?;
        s.write_all(&crate::connect(authority, token)).await?;
        let reply = raw::read_reply(&mut s).await;
        assert_eq!(reply.map(|r| r.status), Some(200), "CONNECT {authority}");
        TlsConnector::from(crate::tunnel_client_config(pem))
            .connect(ServerName::try_from(sni.to_owned()).unwrap(), s)
            .await
    }

    /// Sends `request` inside a fresh bumped tunnel to api.test and reads the answer.
    pub(crate) async fn inside(&self, token: &str, request: &str) -> raw::RawReply {
        let authority = format!("api.test:{}", self.api.port());
        let mut t = self.tunnel(token, &authority, "api.test").await.unwrap();
        t.write_all(request.as_bytes()).await.unwrap();
        raw::read_reply(&mut t)
            .await
            .expect("a reply inside the tunnel")
    }

    pub(crate) async fn audit_text(&self) -> String {
        self.edge
            .audit()
            .await
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Asserts the client got the structured refusal `status` / `reason`.
fn refused(r: &testkit::Reply, status: u16, reason: &str) {
    assert_eq!((r.status, r.deny_reason()), (status, Some(reason)), "{r:?}");
}

/// As [`refused`], for a reply read off a raw socket or tunnel.
fn refused_raw(r: &raw::RawReply, status: u16, reason: &str) {
    assert_eq!((r.status, r.deny_reason()), (status, Some(reason)), "{r:?}");
}

fn whole(r: &testkit::Reply) -> String {
    let headers: Vec<String> = r.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
    format!("{}\n{}\n{}", headers.join("\n"), r.body, r.stderr)
}

#[tokio::test]
async fn curl_gets_the_injected_call_and_no_trace_of_the_secret() {
    let rig = Rig::start().await;
    let t = rig.edge.token("agent", "s-curl");
    let header = format!("x-api-key: {SANDBOX_VALUE}");
    for path in ["/v1/messages", "/gzip/v1", "/trailers/v1"] {
        let r = rig
            .curl(
                &t,
                "api.test",
                rig.api.port(),
                path,
                &["-H", &header, "--compressed"],
            )
            .await;
        assert_eq!(r.status, 200, "{path}: {r:?}");
        // The upstream saw the injected value, not the sandbox's.
        assert_eq!(rig.api.last_header("x-api-key").as_deref(), Some(SECRET));
        assert_eq!(
            rig.api.last_header("authorization"),
            Some(format!("Bearer {SECRET}"))
        );
        assert_eq!(
            rig.api.last_header("accept-encoding").as_deref(),
            Some("identity")
        );
        assert!(
            rig.api.last_header("proxy-authorization").is_none(),
            "the session token never goes upstream"
        );
        assert_clean(&whole(&r), SECRET, path);
        assert!(
            !whole(&r).contains(&t),
            "{path}: the session token came back"
        );
        assert!(
            r.body.contains(std::str::from_utf8(scrub::MARKER).unwrap()),
            "{path}: the reflected value was replaced by the marker"
        );
        assert_eq!(r.header("x-innocent"), Some("stays"), "{path}");
        assert!(
            r.header("set-cookie").is_none() || !r.header("set-cookie").unwrap().contains("sk-")
        );
        assert!(
            r.header("content-encoding").is_none(),
            "{path}: decoded for scanning"
        );
    }
    let audit = rig.edge.audit().await;
    let injected: Vec<_> = audit
        .iter()
        .filter(|e| e["injected"].as_array().is_some_and(|a| !a.is_empty()))
        .collect();
    assert!(injected.len() >= 3);
    assert!(
        injected
            .iter()
            .all(|e| e["injected"][0] == "api-key" && e["rung"] == "bump")
    );
    assert!(
        injected
            .iter()
            .all(|e| e["redacted"].as_u64().unwrap_or(0) > 0)
    );
    assert_clean(&rig.audit_text().await, SECRET, "the audit log");
    let metrics = rig.edge.handle().metrics_text();
    assert_clean(&metrics, SECRET, "the metrics");
    assert!(metrics.contains("trust_edge_proxy_injections_total"));
}

#[tokio::test]
async fn python_requests_with_the_ca_bundle_gets_the_injected_call() {
    let rig = Rig::start().await;
    let t = rig.edge.token("agent", "s-python");
    let url = format!("https://api.test:{}/v1/models", rig.api.port());
    let script = format!(
        "import requests\nr = requests.get({url:?}, headers={{'x-api-key': '{SANDBOX_VALUE}'}})\nprint(r.status_code)\nprint(dict(r.headers))\nprint(r.text)\n"
    );
    let proxy = rig.proxy(&t);
    let bundle = rig.bundle.display().to_string();
    let (ok, out, err) = run_python(
        &script,
        &[("HTTPS_PROXY", &proxy), ("REQUESTS_CA_BUNDLE", &bundle)],
    )
    .await;
    assert!(ok, "python failed: {err}");
    assert!(out.starts_with("200"), "{out}");
    assert_eq!(rig.api.last_header("x-api-key").as_deref(), Some(SECRET));
    assert_clean(&out, SECRET, "python's view of the response");
    assert_clean(&err, SECRET, "python's stderr");
}

#[tokio::test]
async fn no_injection_without_a_binding_on_pass_through_or_for_another_host() {
    let rig = Rig::start().await;
    // A profile that reaches the same host but binds no secret.
    let t = rig.edge.token("unbound", "s-unbound");
    let r = rig.curl(&t, "api.test", rig.api.port(), "/v1/x", &[]).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(rig.api.last_header("x-api-key").is_none());
    assert!(rig.api.last_header("authorization").is_none());

    // A second bumped host of the same policy never gets the first host's secret.
    let t = rig.edge.token("agent", "s-other");
    let r = rig
        .curl(&t, "other.test", rig.other.port(), "/any", &[])
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(rig.other.last_header("x-api-key").is_none());
    assert!(rig.other.last_header("authorization").is_none());

    // Pass-through: the edge only splices; the client speaks TLS to the upstream itself.
    let proxy = rig.proxy(&t);
    let dir = tempfile::tempdir().unwrap();
    let upstream_ca = rig.upstream_cert.write_ca(dir.path());
    let url = format!("https://passthru.test:{}/v1/x", rig.other.port());
    let r = curl(&[
        "-x",
        &proxy,
        "--cacert",
        &upstream_ca.display().to_string(),
        &url,
    ])
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(rig.other.last_header("x-api-key").is_none());
    let reqs = rig.other.requests();
    assert!(reqs.iter().flatten().all(|(_, v)| !v.contains(SECRET)));
}

#[tokio::test]
async fn refusals_inside_the_tunnel_are_structured() {
    let rig = Rig::start().await;
    let t = rig.edge.token("agent", "s-deny");
    let other_session = rig.edge.token("agent", "s-someone-else");
    let host = format!("api.test:{}", rig.api.port());
    let cases: Vec<(String, u16, &str)> = vec![
        (
            format!(
                "GET /v1/x HTTP/1.1\r\nHost: other.test:{}\r\n\r\n",
                rig.api.port()
            ),
            403,
            "host_mismatch",
        ),
        (
            "GET /v1/x HTTP/1.1\r\nHost: api.test\r\n\r\n".to_owned(),
            403,
            "host_mismatch",
        ),
        (
            "GET /v1/x HTTP/1.1\r\n\r\n".to_owned(),
            403,
            "host_mismatch",
        ),
        (
            format!(
                "GET https://other.test:{0}/v1/x HTTP/1.1\r\nHost: {host}\r\n\r\n",
                rig.api.port()
            ),
            403,
            "host_mismatch",
        ),
        (
            format!("CONNECT other.test:443 HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            403,
            "method_not_allowed",
        ),
        (
            format!(
                "GET /v1/x HTTP/1.1\r\nHost: {host}\r\nProxy-Authorization: Bearer {other_session}\r\n\r\n"
            ),
            407,
            "invalid_session_token",
        ),
        (
            format!("DELETE /v1/x HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            403,
            "method_not_allowed",
        ),
        (
            format!("get /v1/x HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            403,
            "method_not_allowed",
        ),
        (
            format!("TRACE /v1/x HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            403,
            "method_not_allowed",
        ),
        (
            format!("GET /admin HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            403,
            "path_not_allowed",
        ),
        (
            format!("GET /v1/../admin HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            403,
            "path_not_allowed",
        ),
        (
            format!("GET /v1/%2Fadmin HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            403,
            "path_not_allowed",
        ),
        (
            format!("GET /v1/%2fadmin HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            403,
            "path_not_allowed",
        ),
        (
            format!("GET /v1\\admin HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            403,
            "path_not_allowed",
        ),
        (
            format!(
                "GET /v1/x HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            ),
            403,
            "protocol_not_allowed",
        ),
    ];
    let before = rig.api.requests().len();
    for (request, status, reason) in &cases {
        let r = rig.inside(&t, request).await;
        assert_eq!(
            (r.status, r.deny_reason()),
            (*status, Some(*reason)),
            "{request:?}: {r:?}"
        );
        assert!(r.header("x-request-id").is_some());
    }
    assert_eq!(
        rig.api.requests().len(),
        before,
        "no refused request went upstream"
    );

    // An upstream whose certificate does not validate: 502, and nothing is sent.
    let r = rig
        .curl(&t, "untrusted.test", rig.untrusted.port(), "/v1/x", &[])
        .await;
    refused(&r, 502, "upstream_tls_failed");
    assert!(
        rig.untrusted.requests().is_empty(),
        "nothing was sent to it"
    );

    // A secret no source defines: 503, never forwarded bare.
    let r = rig
        .curl(&t, "missing.test", rig.api.port(), "/v1/x", &[])
        .await;
    refused(&r, 503, "credential_unavailable");
    assert_eq!(rig.api.requests().len(), before);

    // A body the edge cannot decode cannot be scanned: refused.
    let r = rig
        .curl(&t, "api.test", rig.api.port(), "/compress", &[])
        .await;
    refused(&r, 502, "response_not_inspectable");
    assert_clean(&whole(&r), SECRET, "the refused response");
}

#[tokio::test]
async fn sni_must_equal_the_connect_host_before_a_leaf_is_served() {
    let rig = Rig::start().await;
    let t = rig.edge.token("agent", "s-sni");
    let authority = format!("api.test:{}", rig.api.port());
    let wrong = rig.tunnel(&t, &authority, "other.test").await;
    assert!(wrong.is_err(), "no certificate is served for another name");
    eventually(5, "sni_mismatch audited", || async {
        rig.edge
            .audit()
            .await
            .iter()
            .any(|e| e["status_detail"] == "sni_mismatch")
    })
    .await;
}

#[tokio::test]
async fn a_rotated_secret_is_used_from_the_next_request() {
    let mut rig = Rig::start().await;
    let t = rig.edge.token("agent", "s-rotate");
    let r = rig.curl(&t, "api.test", rig.api.port(), "/v1/a", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(rig.api.last_header("x-api-key").as_deref(), Some(SECRET));
    rig.secrets.set("api-key", SECRET_V2);
    eventually(10, "the upstream sees the rotated value", || async {
        rig.curl(&t, "api.test", rig.api.port(), "/v1/b", &[]).await;
        rig.api.last_header("x-api-key").as_deref() == Some(SECRET_V2)
    })
    .await;
    let r = rig.curl(&t, "api.test", rig.api.port(), "/v1/c", &[]).await;
    assert_eq!(r.status, 200);
    assert_clean(&whole(&r), SECRET_V2, "the response after rotation");
}

#[tokio::test]
async fn an_expiring_token_ends_its_bumped_tunnel() {
    let rig = Rig::start().await;
    let token = trust_core::token::issue(
        &rig.edge.key,
        "trust-edge",
        "trust-edge-egress",
        "s-expiring",
        "tenant-a",
        "agent",
        Duration::from_secs(3),
    )
    .unwrap();
    let authority = format!("api.test:{}", rig.api.port());
    let mut tunnel = rig.tunnel(&token, &authority, "api.test").await.unwrap();
    let req = format!("GET /v1/x HTTP/1.1\r\nHost: {authority}\r\n\r\n");
    tunnel.write_all(req.as_bytes()).await.unwrap();
    assert_eq!(
        raw::read_reply(&mut tunnel).await.map(|r| r.status),
        Some(200)
    );
    assert!(
        raw::closed_within(&mut tunnel, Duration::from_secs(10)).await,
        "the tunnel ended when the token expired"
    );
}

#[tokio::test]
async fn revoking_the_session_closes_its_open_bumped_tunnel() {
    let dir = tempfile::tempdir().unwrap();
    let policy_dir = dir.path().join("control-policies");
    std::fs::create_dir_all(&policy_dir).unwrap();
    let p = crate::control::plane(dir.path(), &policy_dir).await;
    let extra = p.edge_toml("bump-edge", dir.path(), "5m");
    let rig = Rig::start_with(|b| b.toml(&extra), false).await;
    // Control checks profiles against its own copy of the policies.
    std::fs::copy(
        rig.edge.dir.path().join("policies/agent.yaml"),
        policy_dir.join("agent.yaml"),
    )
    .unwrap();
    // Control reloads its copy at most once a second when asked for an unknown profile.
    let body = "{\"tenant\":\"t\",\"profile\":\"agent\"}";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let created = loop {
        let r = p
            .api("POST", "/v1/sessions", &p.orchestrator, Some(body))
            .await;
        if r.status == 201 || r.status == 200 {
            break r.json();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "control never knew profile agent: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await; // poll interval
    };
    let sid = created["session_id"].as_str().unwrap().to_owned();
    let token = created["token"].as_str().unwrap().to_owned();
    rig.wait_warm(&token).await;
    let authority = format!("api.test:{}", rig.api.port());
    let mut tunnel = rig.tunnel(&token, &authority, "api.test").await.unwrap();
    let req = format!("GET /v1/x HTTP/1.1\r\nHost: {authority}\r\n\r\n");
    tunnel.write_all(req.as_bytes()).await.unwrap();
    assert_eq!(
        raw::read_reply(&mut tunnel).await.map(|r| r.status),
        Some(200)
    );
    p.revoke(&sid, "test").await;
    assert!(
        raw::closed_within(&mut tunnel, Duration::from_secs(5)).await,
        "the revoked session's bumped tunnel was closed"
    );
    let r = rig
        .curl(&token, "api.test", rig.api.port(), "/v1/y", &[])
        .await;
    refused(&r, 403, "session_revoked");
}

/// A `tracing` writer appending to a shared buffer.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every flow that handles the secret runs with TRACE logging captured (tracing and pingora's
/// `log` records): injection, gzip, trailers, an uninspectable body, refusals, a rotation. The
/// current-thread runtime keeps every edge and SDS task on this thread, under this subscriber.
#[test]
fn the_edge_never_logs_the_secret() {
    let _ = tracing_log::LogTracer::init();
    let logs = Captured::default();
    let writer = logs.clone();
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    // The binary's filter: everything at TRACE but pingora's own dumps.
    let ceiling = tracing_subscriber::filter::filter_fn(|meta| {
        edge_proxy::log_ceiling::log_allowed(meta.target(), meta.level())
    });
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .with_filter(tracing_subscriber::filter::LevelFilter::TRACE)
            .with_filter(ceiling),
    );
    let audit = tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut rig = Rig::start().await;
            let t = rig.edge.token("agent", "s-logs");
            for path in ["/v1/a", "/gzip/v1", "/trailers/v1", "/compress", "/admin"] {
                rig.curl(
                    &t,
                    "api.test",
                    rig.api.port(),
                    path,
                    &["-H", "x-api-key: x"],
                )
                .await;
            }
            rig.curl(&t, "untrusted.test", rig.untrusted.port(), "/v1/x", &[])
                .await;
            rig.secrets.set("api-key", SECRET_V2);
            eventually(10, "rotation seen", || async {
                rig.curl(&t, "api.test", rig.api.port(), "/v1/b", &[]).await;
                rig.api.last_header("x-api-key").as_deref() == Some(SECRET_V2)
            })
            .await;
            let audit = rig.audit_text().await;
            rig.edge.stop().await;
            audit
        })
    });
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        text.contains("edge proxy listening") && text.contains("TRACE"),
        "the capture works: {} bytes",
        text.len()
    );
    assert_clean(&text, SECRET, "the edge's logs");
    assert_clean(&text, SECRET_V2, "the edge's logs");
    assert_clean(&audit, SECRET, "the audit log");
    assert_clean(&audit, SECRET_V2, "the audit log");
}

#[tokio::test]
async fn a_bump_rule_without_a_deployment_ca_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(policies.join("agent.yaml"), policy(8443, 8444, 8445, "")).unwrap();
    let text = format!(
        "data_dir = {:?}\npolicy_dir = {policies:?}\n[proxy]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[resolver]\nuse_system_config = false\n[resolver.static_hosts]\n\"api.test\" = [\"127.0.0.1\"]\n",
        dir.path().join("data")
    );
    let config = edge_proxy::Config::from_toml(&text).unwrap();
    let err = match edge_proxy::run(config).await {
        Ok(_) => panic!("an edge without a CA must refuse bump rules"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("agent.yaml:"), "{err}");
    assert!(err.to_lowercase().contains("ca"), "{err}");
}

#[tokio::test]
async fn report_mode_relaxes_method_and_path_but_never_injects_on_them() {
    let rig = Rig::start().await;
    let t = rig.edge.token("trial", "s-trial");
    // Allowed for real: injected.
    let r = rig
        .curl(&t, "api.test", rig.api.port(), "/v1/ok", &[])
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(rig.api.last_header("x-api-key").as_deref(), Some(SECRET));
    // Would be denied (path, then method): let through, audited, and sent bare.
    let r = rig
        .curl(&t, "api.test", rig.api.port(), "/admin", &[])
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        rig.api.last_header("x-api-key").is_none(),
        "no injection on a would-deny"
    );
    let r = rig
        .curl(&t, "api.test", rig.api.port(), "/v1/x", &["-X", "DELETE"])
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(rig.api.last_header("x-api-key").is_none());
    let audit = rig.edge.audit().await;
    let would: Vec<_> = audit
        .iter()
        .filter(|e| e["enforce_would_deny"] == true && e["session_id"] == "s-trial")
        .map(|e| e["status_detail"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(would, ["path_not_allowed", "method_not_allowed"]);
    // Binding refusals are not relaxed by report mode.
    let r = rig
        .inside(
            &t,
            &format!(
                "GET /v1/x HTTP/1.1\r\nHost: other.test:{}\r\n\r\n",
                rig.api.port()
            ),
        )
        .await;
    refused_raw(&r, 403, "host_mismatch");
}

#[tokio::test]
async fn a_rotated_ca_is_picked_up_and_the_old_one_stays_trusted_for_the_overlap() {
    let rig = Rig::start().await;
    let t = rig.edge.token("agent", "s-ca");
    let authority = format!("api.test:{}", rig.api.port());
    let metrics = rig.edge.handle().metrics_text();
    let left: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("trust_edge_proxy_ca_expiry_seconds "))
        .and_then(|v| v.parse().ok())
        .expect("the CA expiry is exported");
    assert!(
        left > 300.0 * 86_400.0,
        "a fresh CA has about a year left: {left}"
    );

    let ca_dir = rig.bundle.parent().unwrap().to_owned();
    let old_pem = std::fs::read_to_string(ca_dir.join("ca.pem")).unwrap();
    let rotated = trust_ca::Authority::rotate(&ca_dir, &trust_ca::CaOptions::default()).unwrap();
    let new_pem = rotated.cert_pem().to_owned();
    assert_ne!(old_pem, new_pem);
    // The edge notices the new ca.pem and mints from it: a client trusting only the new CA
    // succeeds, one trusting only the old CA no longer does.
    eventually(15, "leaves come from the rotated CA", || async {
        rig.tunnel_trusting(&t, &authority, "api.test", &new_pem)
            .await
            .is_ok()
    })
    .await;
    assert!(
        rig.tunnel_trusting(&t, &authority, "api.test", &old_pem)
            .await
            .is_err()
    );
    // Sandboxes holding the bundle trust both during the overlap.
    let bundle = std::fs::read_to_string(&rig.bundle).unwrap();
    assert!(bundle.contains(old_pem.trim()) && bundle.contains(new_pem.trim()));
    let r = rig
        .curl(&t, "api.test", rig.api.port(), "/v1/after", &[])
        .await;
    assert_eq!(r.status, 200, "{r:?}");
}

#[tokio::test]
async fn a_plain_request_to_a_bump_destination_obeys_its_method_and_path_rules() {
    let origin = testkit::Origin::start().await;
    let extra = format!(
        "    - host: plain-api.test\n      ports: [{}]\n      addresses: [127.0.0.1]\n      rung: bump\n      http: {{methods: [GET], paths: [\"/v1/\"]}}\n",
        origin.port()
    );
    let rig = Rig::start_with(
        |b| {
            b.policy("agent.yaml", &policy(1, 2, 3, &extra))
                .static_host("plain-api.test", "127.0.0.1")
        },
        false,
    )
    .await;
    let t = rig.edge.token("agent", "s-plain");
    let base = format!("http://plain-api.test:{}", origin.port());
    let ok = raw::send(
        rig.edge.handle().proxy_addr(),
        &crate::get(&format!("{base}/v1/x"), &t),
    )
    .await
    .unwrap();
    assert_eq!(ok.status, 200, "{ok:?}");
    let echoed: serde_json::Value = serde_json::from_str(&ok.body).unwrap();
    let headers = &echoed["headers"];
    assert!(
        headers.get("x-api-key").is_none(),
        "never injected over plain HTTP"
    );
    for (request, reason) in [
        (crate::get(&format!("{base}/admin"), &t), "path_not_allowed"),
        (
            format!(
                "POST {base}/v1/x HTTP/1.1\r\nHost: plain-api.test:{}\r\nProxy-Authorization: Bearer {t}\r\nContent-Length: 0\r\n\r\n",
                origin.port()
            )
            .into_bytes(),
            "method_not_allowed",
        ),
    ] {
        let r = raw::send(rig.edge.handle().proxy_addr(), &request).await.unwrap();
        refused_raw(&r, 403, reason);
    }
}

#[tokio::test]
async fn the_deployment_ca_can_come_from_the_sds_server() {
    let upstream_cert = TestCert::new(&["api.test"]);
    let api = Reflector::start(&upstream_cert).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    trust_ca::Authority::load_or_create(&ca_dir, &trust_ca::CaOptions::default()).unwrap();
    let ca_pem = std::fs::read_to_string(ca_dir.join("ca.pem")).unwrap();
    let key_pem = std::fs::read_to_string(ca_dir.join("ca.key")).unwrap();
    let mut secrets = SecretServer::start(&[("api-key", SECRET)]).await;
    secrets.set_tls("bump-ca", &ca_pem, &key_pem);
    let extra = format!(
        "[bump]\nca_secret = \"bump-ca\"\nupstream_ca_file = {:?}\n[secrets]\nsds = \"unix:{}\"\n",
        upstream_cert.write_ca(dir.path()),
        secrets.socket().display()
    );
    let edge = testkit::edge()
        .policy("agent.yaml", &policy(api.port(), 1, 2, ""))
        .static_host("api.test", "127.0.0.1")
        .toml(&extra)
        .start()
        .await;
    let t = edge.token("agent", "s-sds-ca");
    let proxy = format!("http://session:{t}@{}", edge.handle().proxy_addr());
    let ca_file = ca_dir.join("ca.pem").display().to_string();
    let url = format!("https://api.test:{}/v1/x", api.port());
    eventually(20, "a bumped call with the CA from SDS", || async {
        curl(&["-x", &proxy, "--cacert", &ca_file, &url])
            .await
            .status
            == 200
    })
    .await;
    assert_eq!(api.last_header("x-api-key").as_deref(), Some(SECRET));
}

#[tokio::test]
async fn a_reason_phrase_never_carries_the_secret_back() {
    let rig = Rig::start().await;
    let t = rig.edge.token("agent", "s-reason");
    let r = rig
        .curl(
            &t,
            "api.test",
            rig.api.port(),
            "/reason",
            &["-H", "x-api-key: x"],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(rig.api.last_header("x-api-key").as_deref(), Some(SECRET));
    assert_clean(&whole(&r), SECRET, "the status line");
}

#[tokio::test]
async fn a_decompression_bomb_is_cut_off_not_buffered() {
    let rig = Rig::start().await;
    let t = rig.edge.token("agent", "s-bomb");
    let r = rig.curl(&t, "api.test", rig.api.port(), "/bomb", &[]).await;
    // Refused before the response head left the edge, or (once it has) the body cut short.
    if r.status == 502 {
        refused(&r, 502, "response_not_inspectable");
    } else {
        assert!(r.body.len() < 64 * 1024 * 1024, "{} bytes", r.body.len());
        assert!(!r.stderr.is_empty(), "curl saw the transfer cut: {r:?}");
    }
    eventually(5, "the refusal is audited", || async {
        rig.edge.audit().await.iter().any(|e| {
            e["session_id"] == "s-bomb" && e["status_detail"] == "response_not_inspectable"
        })
    })
    .await;
}

#[tokio::test]
async fn a_tripwire_crossed_in_one_tunnel_stops_the_sessions_other_tunnels() {
    let rig = Rig::start().await;
    let t = rig.edge.token("capped", "s-trip");
    let authority = format!("api.test:{}", rig.api.port());
    let get = format!("GET /v1/x HTTP/1.1\r\nHost: {authority}\r\n\r\n");
    let mut other = rig.tunnel(&t, &authority, "api.test").await.unwrap();
    other.write_all(get.as_bytes()).await.unwrap();
    assert_eq!(
        raw::read_reply(&mut other).await.map(|r| r.status),
        Some(200)
    );
    // 8 KiB up in a second tunnel crosses the 4 KiB upload tripwire (action: deny).
    let body = "x".repeat(8192);
    let post = format!(
        "POST /v1/upload HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let r = rig.inside(&t, &post).await;
    assert_eq!(r.status, 403, "{r:?}");
    // The first tunnel's next request is refused too.
    other.write_all(get.as_bytes()).await.unwrap();
    let r = raw::read_reply(&mut other).await.expect("a refusal");
    refused_raw(&r, 403, "tripwire");
}

#[tokio::test]
async fn an_idle_bumped_tunnel_ends_after_the_profiles_idle_timeout() {
    let rig = Rig::start().await;
    let t = rig.edge.token("brief", "s-brief");
    let authority = format!("api.test:{}", rig.api.port());
    let mut tunnel = rig.tunnel(&t, &authority, "api.test").await.unwrap();
    let get = format!("GET /v1/x HTTP/1.1\r\nHost: {authority}\r\n\r\n");
    tunnel.write_all(get.as_bytes()).await.unwrap();
    assert_eq!(
        raw::read_reply(&mut tunnel).await.map(|r| r.status),
        Some(200)
    );
    // tunnel_idle_timeout is 1s (the edge's keep-alive idle bound is a minute).
    assert!(raw::closed_within(&mut tunnel, Duration::from_secs(10)).await);
}
