//! The `trust-edge` binary end to end: `up` (control + edge), `session create`, traffic through the
//! proxy with curl, and `audit verify` catching an edited, deleted, reordered or truncated log
//! across rotations.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_trust-edge");

struct Up {
    child: Child,
    proxy: String,
    admin: String,
    api: String,
}

/// Starts `trust-edge up` and reads where it listens from its output.
async fn up(data: &Path, policies: &Path, config: Option<&Path>) -> Up {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "up",
        "--data-dir",
        data.to_str().unwrap(),
        "--policy-dir",
        policies.to_str().unwrap(),
    ])
    .args([
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--log",
        "warn",
        "--api-listen",
        "127.0.0.1:0",
        "--sync-listen",
        "127.0.0.1:0",
        "--sds-admin-listen",
        "127.0.0.1:0",
    ])
    .stdout(Stdio::piped())
    .kill_on_drop(true);
    if let Some(c) = config {
        cmd.args(["--config", c.to_str().unwrap()]);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut proxy, mut admin, mut api) = (None, None, None);
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["proxy", url, ..] => proxy = Some(url.trim_start_matches("http://").to_owned()),
                ["admin", url, ..] => {
                    admin = Some(
                        url.trim_start_matches("http://")
                            .trim_end_matches("/metrics")
                            .to_owned(),
                    )
                }
                ["control", url, ..] => api = Some((*url).to_owned()),
                _ => {}
            }
            if line.starts_with("Route a sandbox") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("up printed its addresses");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Up {
        child,
        proxy: proxy.unwrap(),
        admin: admin.unwrap(),
        api: api.unwrap(),
    }
}

async fn stop(mut up: Up) {
    let pid = up.child.id().unwrap().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), up.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "up exits cleanly on SIGTERM: {status:?}");
}

/// A session token from control, through `trust-edge session create`.
async fn token(up: &Up, data: &Path, profile: &str) -> String {
    let out = Command::new(BIN)
        .args([
            "session",
            "create",
            "--api",
            &up.api,
            "--data-dir",
            data.to_str().unwrap(),
            "--profile",
            profile,
            "--ttl",
            "10m",
            "--token-only",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn verify(data: &Path) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["audit", "verify", "--data-dir", data.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn literal_policy(dir: &Path, port: u16) -> PathBuf {
    let policies = dir.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    let yaml = format!(
        "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {{name: lit}}\nspec:\n  limits: {{requests_per_second: 1000, burst: 1000}}\n  destinations:\n    - host: 127.0.0.1\n      ports: [{port}]\n      rung: pass-through\n"
    );
    std::fs::write(policies.join("lit.yaml"), yaml).unwrap();
    policies
}

#[tokio::test]
async fn up_issues_tokens_serves_traffic_and_keeps_a_verifiable_audit_log() {
    let origin = testkit::Origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let policies = literal_policy(dir.path(), origin.port());
    let edge = up(&data, &policies, None).await;
    let socket = std::fs::metadata(data.join("sds.sock")).expect("up runs the SDS server");
    assert!(std::os::unix::fs::FileTypeExt::is_socket(
        &socket.file_type()
    ));
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&socket.permissions()) & 0o777,
        0o600
    );
    for secret in ["api-tokens/orchestrator.token", "api-tokens/operator.token"] {
        let meta = std::fs::metadata(data.join(secret)).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777;
        assert_eq!(mode, 0o600, "{secret}");
    }

    let t = token(&edge, &data, "lit").await;
    let proxy = format!("http://session:{t}@{}", edge.proxy);
    let ok = testkit::curl(&[
        "-x",
        &proxy,
        &format!("http://127.0.0.1:{}/via-up", origin.port()),
    ])
    .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    let denied = testkit::curl(&["-x", &proxy, "http://127.0.0.2:80/"]).await;
    assert_eq!(
        (denied.status, denied.deny_reason()),
        (403, Some("ip_literal_not_allowed"))
    );
    let metrics = testkit::curl(&[&format!("http://{}/metrics", edge.admin)]).await;
    assert!(
        metrics
            .body
            .contains("trust_edge_proxy_requests_total{decision=\"allow\",reason=\"none\"} 1"),
        "{}",
        metrics.body
    );
    assert!(metrics.body.contains(
        "trust_edge_proxy_requests_total{decision=\"deny\",reason=\"ip_literal_not_allowed\"} 1"
    ));
    for path in ["healthz", "readyz"] {
        assert_eq!(
            testkit::curl(&[&format!("http://{}/{path}", edge.admin)])
                .await
                .status,
            200
        );
    }
    stop(edge).await;

    let (ok, report) = verify(&data).await;
    assert!(ok, "{report}");
    let log = std::fs::read_to_string(data.join("audit.log")).unwrap();
    assert!(!log.contains(&t), "no token in the audit log");
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("\"class_uid\":4002"))
            .count(),
        2
    );
}

#[tokio::test]
async fn audit_verify_catches_edits_deletions_reorderings_and_truncation_across_rotation() {
    let origin = testkit::Origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let policies = literal_policy(dir.path(), origin.port());
    let config = dir.path().join("edge.toml");
    std::fs::write(&config, "[audit]\nmax_file_bytes = 4000\nmax_files = 20\n").unwrap();
    let edge = up(&data, &policies, Some(&config)).await;
    let t = token(&edge, &data, "lit").await;
    let addr: std::net::SocketAddr = edge.proxy.parse().unwrap();
    for i in 0..40 {
        let r = testkit::raw::send(addr, format!("GET http://127.0.0.1:{0}/{i} HTTP/1.1\r\nHost: 127.0.0.1:{0}\r\nProxy-Authorization: Bearer {t}\r\n\r\n", origin.port()).as_bytes()).await.unwrap();
        assert_eq!(r.status, 200);
    }
    stop(edge).await;
    assert!(
        data.join("audit.log.1").exists() && data.join("audit.log.2").exists(),
        "the log rotated"
    );
    let (ok, report) = verify(&data).await;
    assert!(ok, "{report}");

    let tamper = |name: &str, f: &dyn Fn(&mut Vec<String>)| {
        let copy = dir.path().join(name);
        copy_dir(&data, &copy);
        let file = copy.join("audit.log.1");
        let mut lines: Vec<String> = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        f(&mut lines);
        std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        copy
    };
    let edited = tamper("edited", &|l| {
        l[3] = l[3].replacen("\"allow\"", "\"deny\"", 1)
    });
    let deleted = tamper("deleted", &|l| {
        l.remove(4);
    });
    let reordered = tamper("reordered", &|l| l.swap(2, 3));
    for (case, dir) in [
        ("edit", edited),
        ("deletion", deleted),
        ("reordering", reordered),
    ] {
        let (ok, report) = verify(&dir).await;
        assert!(!ok, "{case} not caught: {report}");
    }
    let truncated = dir.path().join("truncated");
    copy_dir(&data, &truncated);
    let current = std::fs::read_to_string(truncated.join("audit.log")).unwrap();
    let keep: Vec<&str> = current.lines().collect();
    std::fs::write(
        truncated.join("audit.log"),
        keep[..keep.len() - 2].join("\n") + "\n",
    )
    .unwrap();
    let (ok, report) = verify(&truncated).await;
    assert!(!ok, "truncated tail not caught: {report}");
    assert!(report.contains("tail cut"), "{report}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[tokio::test]
async fn bad_configs_and_policies_are_refused_with_their_position() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(policies.join("bad.yaml"), "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {name: x}\nspec:\n  destinations:\n    - host: \"*.a.example\"\n      ports: [443]\n      rung: bump\n      inject: [{secret: k, header: x-api-key}]\n").unwrap();
    let run = Command::new(BIN)
        .args([
            "up",
            "--data-dir",
            dir.path().join("d").to_str().unwrap(),
            "--policy-dir",
            policies.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--api-listen",
            "127.0.0.1:0",
            "--sync-listen",
            "127.0.0.1:0",
            "--sds-admin-listen",
            "127.0.0.1:0",
        ])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("up refuses a bad policy instead of starting")
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml:9:"), "{err}");
    assert!(err.contains("wildcard"), "{err}");

    let config = dir.path().join("edge.toml");
    std::fs::write(
        &config,
        "[proxy]\nlisten = \"127.0.0.1:0\"\nlisten_port = 1\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["edge-proxy", "--config", config.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listen_port"), "{err}");
}

/// `up` creates the deployment CA, control hands it out with each session, the SDS server it runs
/// feeds the edge the secret from `<data>/secrets`, and a bumped call through the proxy arrives
/// with the credential while the client sees no trace of it.
#[tokio::test]
async fn up_bumps_and_injects_with_its_own_ca_and_secrets() {
    const SECRET: &str = "sk-up-test-Tq83/Hs+Zk2=ab";
    let cert = testkit::TestCert::new(&["api.test"]);
    let upstream = testkit::Reflector::start(&cert).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let secrets = data.join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("api-key"), SECRET).unwrap();
    std::fs::write(
        secrets.join("manifest.yaml"),
        "secrets:\n  - name: api-key\n    kind: generic_secret\n    file: api-key\n",
    )
    .unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(
        policies.join("agent.yaml"),
        format!(
            "apiVersion: trust-edge/v1\nkind: EgressProfile\nmetadata: {{name: agent}}\nspec:\n  destinations:\n    - host: api.test\n      ports: [{}]\n      addresses: [127.0.0.1]\n      rung: bump\n      inject: [{{secret: api-key, header: x-api-key}}]\n",
            upstream.port()
        ),
    )
    .unwrap();
    let config = dir.path().join("edge.toml");
    std::fs::write(
        &config,
        format!(
            "[bump]\nupstream_ca_file = {:?}\n[resolver]\nuse_system_config = false\n[resolver.static_hosts]\n\"api.test\" = [\"127.0.0.1\"]\n",
            cert.write_ca(dir.path())
        ),
    )
    .unwrap();
    let edge = up(&data, &policies, Some(&config)).await;
    let bundle = data.join("ca/bundle.pem");
    let key = std::fs::metadata(data.join("ca/ca.key")).expect("up created the CA");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o777,
        0o600
    );

    // Control's session answer carries the CA bundle sandboxes must trust.
    let orchestrator = std::fs::read_to_string(data.join("api-tokens/orchestrator.token")).unwrap();
    let created = testkit::curl(&[
        "-X",
        "POST",
        "-H",
        &format!("authorization: Bearer {}", orchestrator.trim()),
        "-H",
        "content-type: application/json",
        "--data",
        "{\"tenant\":\"t\",\"profile\":\"agent\"}",
        &format!("{}/v1/sessions", edge.api),
    ])
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    let answer = created.json();
    assert_eq!(
        answer["ca_certificate"].as_str().unwrap(),
        std::fs::read_to_string(&bundle).unwrap()
    );
    let t = answer["token"].as_str().unwrap().to_owned();

    // `ca env` prints what a sandbox needs.
    let env = Command::new(BIN)
        .args(["ca", "env", "--dir", data.join("ca").to_str().unwrap()])
        .output()
        .await
        .unwrap();
    let env = String::from_utf8(env.stdout).unwrap();
    assert!(
        env.contains(&format!("REQUESTS_CA_BUNDLE={}", bundle.display())),
        "{env}"
    );

    let proxy = format!("http://session:{t}@{}", edge.proxy);
    let url = format!("https://api.test:{}/v1/x", upstream.port());
    let bundle_arg = bundle.display().to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let reply = loop {
        let r = testkit::curl(&["-x", &proxy, "--cacert", &bundle_arg, &url]).await;
        if r.status == 200 || std::time::Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await; // poll until the secret arrived
    };
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(upstream.last_header("x-api-key").as_deref(), Some(SECRET));
    let seen = format!("{:?}{}", reply.headers, reply.body);
    assert!(!seen.contains(SECRET), "the client saw the secret");
    assert!(
        !seen.contains("c2stdXAtdGVzdC1UcTgz"),
        "the client saw its base64"
    );
    stop(edge).await;
}
