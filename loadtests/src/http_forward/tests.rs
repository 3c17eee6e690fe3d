use std::time::Duration;

use super::*;

#[test]
fn targets_parse_from_their_names() {
    let parsed: Vec<Target> = [
        "edge",
        "direct",
        "envoy",
        "squid",
        " tinyproxy",
        "nginx-proxy",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    assert_eq!(
        parsed,
        vec![
            Target::Edge,
            Target::Direct,
            Target::Peer(Peer::Envoy),
            Target::Peer(Peer::Squid),
            Target::Peer(Peer::Tinyproxy),
            Target::Peer(Peer::NginxProxy),
        ]
    );
    assert_eq!(
        parsed.iter().map(|t| t.name()).collect::<Vec<_>>(),
        [
            "edge",
            "direct",
            "envoy",
            "squid",
            "tinyproxy",
            "nginx-proxy"
        ]
    );
    assert!("haproxy".parse::<Target>().is_err());
}

#[test]
fn requests_are_origin_form_direct_and_absolute_form_through_a_proxy() {
    assert_eq!(
        &*direct_request(8080),
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: trust-edge-loadtests\r\nAccept: */*\r\n\r\n"
    );
    assert_eq!(
        &*proxy_request("upstream.test", 8080, Some("tok")),
        b"GET http://upstream.test:8080/ HTTP/1.1\r\nHost: upstream.test:8080\r\n\
          Proxy-Authorization: Bearer tok\r\nUser-Agent: trust-edge-loadtests\r\nAccept: */*\r\n\r\n"
    );
    assert_eq!(
        &*proxy_request("127.0.0.1", 8080, None),
        b"GET http://127.0.0.1:8080/ HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: trust-edge-loadtests\r\n\
          Accept: */*\r\n\r\n"
    );
}

/// Options that find no binary at all: in-process upstream, every peer and the edge skipped.
fn bare_options(dir: &Path, targets: Vec<Target>) -> Options {
    Options {
        load: Load {
            duration: Duration::from_millis(100),
            warmup: Duration::ZERO,
            connections: 4,
            sessions: 2,
            body_bytes: 100,
            max_requests: 1000,
            request_timeout: Duration::from_secs(5),
        },
        rate: Some(1000.0),
        targets,
        edge_bin: dir.join("no-such-trust-edge"),
        pin: false,
        locations: Locations {
            workspace: dir.into(),
            envoy_bin: None,
            path: Some(dir.as_os_str().to_owned()),
            extra_dirs: Vec::new(),
        },
    }
}

#[test]
fn a_run_without_binaries_measures_direct_and_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let targets = vec![Target::Direct, Target::Edge, Target::Peer(Peer::Envoy)];
    let report = run(&bare_options(dir.path(), targets)).unwrap();
    assert_eq!(report.settings.upstream, "in-process");
    let direct = report
        .targets
        .first()
        .and_then(|t| t.measured.clone())
        .unwrap();
    // 1000 req/s for 100 ms: slots 0..100.
    assert_eq!(direct.requests, 100);
    assert_eq!(direct.errors, 0);
    assert_eq!(direct.requests_per_second, 1000.0);
    assert!(direct.proxy.is_none());
    let skips: Vec<(&str, bool)> = report
        .targets
        .iter()
        .skip(1)
        .map(|t| {
            (
                t.target.as_str(),
                t.skipped
                    .as_deref()
                    .is_some_and(|s| s.contains("not found")),
            )
        })
        .collect();
    assert_eq!(skips, vec![("edge", true), ("envoy", true)]);
    assert!(report.ratios.is_empty());
    assert!(report.checks.is_empty());
}

#[test]
fn invalid_options_are_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = bare_options(dir.path(), vec![Target::Direct]);
    options.load.connections = 0;
    assert!(matches!(run(&options), Err(Error::Config(_))));
    let mut options = bare_options(dir.path(), Vec::new());
    options.rate = None;
    assert!(matches!(run(&options), Err(Error::Config(_))));
    let mut options = bare_options(dir.path(), vec![Target::Direct]);
    options.rate = Some(0.0);
    assert!(matches!(run(&options), Err(Error::Config(_))));
}
