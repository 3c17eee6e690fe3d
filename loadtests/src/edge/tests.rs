use super::*;
use trust_core::token::{KeySource, Verifier, VerifierConfig};

const METRICS: &str = "\
# HELP trust_edge_proxy_token_cache_hits_total Token verifications served from cache
# TYPE trust_edge_proxy_token_cache_hits_total counter
trust_edge_proxy_token_cache_hits_total 299984
trust_edge_proxy_token_cache_misses_total 16
trust_edge_proxy_requests_total{decision=\"allow\",reason=\"none\"} 300000
trust_edge_proxy_requests_total{decision=\"deny\",reason=\"rate_limited\"} 7
trust_edge_proxy_audit_events_total 3.00007e5
trust_edge_proxy_audit_dropped_total 0
";

#[test]
fn metric_values_sum_label_sets_and_skip_comments_and_prefixes() {
    assert_eq!(
        metric_value(METRICS, metric::TOKEN_CACHE_HITS),
        Some(299_984)
    );
    assert_eq!(metric_value(METRICS, metric::TOKEN_CACHE_MISSES), Some(16));
    assert_eq!(
        metric_value(METRICS, "trust_edge_proxy_requests_total"),
        Some(300_007)
    );
    assert_eq!(metric_value(METRICS, metric::AUDIT_EVENTS), Some(300_007));
    assert_eq!(metric_value(METRICS, metric::AUDIT_DROPPED), Some(0));
    assert_eq!(metric_value(METRICS, "trust_edge_proxy_requests"), None);
    assert_eq!(metric_value(METRICS, "absent_total"), None);
}

#[test]
fn audit_lines_count_the_current_and_rotated_files_only() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(audit_lines(dir.path()), None);
    std::fs::write(dir.path().join("audit.log"), "a\nb\nc\n").unwrap();
    std::fs::write(
        dir.path().join("audit.log.1"),
        "{\"class_uid\":0,\"activity\":\"audit_rotate\"}\nd\ne\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("audit.log.2"), "f\n").unwrap();
    std::fs::write(dir.path().join("audit.head"), "x\ny\n").unwrap();
    std::fs::write(dir.path().join("audit.log.tmp"), "z\n").unwrap();
    assert_eq!(audit_lines(dir.path()), Some(6));
}

#[test]
fn the_config_holds_every_key_the_edge_reads() {
    let dir = Path::new("/run/lt");
    let proxy = SocketAddr::from(([127, 0, 0, 1], 3128));
    let admin = SocketAddr::from(([127, 0, 0, 1], 9901));
    let value: toml::Value = toml::from_str(&config_toml(dir, proxy, admin)).unwrap();
    let get = |path: &[&str]| {
        path.iter()
            .try_fold(&value, |v, key| v.get(key))
            .cloned()
            .unwrap_or_else(|| panic!("missing {path:?}"))
    };
    assert_eq!(get(&["data_dir"]).as_str(), Some("/run/lt/data"));
    assert_eq!(get(&["policy_dir"]).as_str(), Some("/run/lt/policies"));
    assert_eq!(get(&["proxy", "listen"]).as_str(), Some("127.0.0.1:3128"));
    assert_eq!(get(&["admin", "listen"]).as_str(), Some("127.0.0.1:9901"));
    assert_eq!(
        get(&["tokens", "jwks_file"]).as_str(),
        Some("/run/lt/jwks.json")
    );
    assert_eq!(
        get(&["resolver", "use_system_config"]).as_bool(),
        Some(false)
    );
    assert_eq!(
        get(&["resolver", "static_hosts", "upstream.test"]),
        toml::Value::Array(vec!["127.0.0.1".into()])
    );
    assert_eq!(get(&["audit", "stdout"]).as_bool(), Some(false));
}

#[tokio::test]
async fn prepare_writes_a_policy_the_edge_accepts_and_tokens_its_jwks_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let setup = prepare(dir.path(), 3, 18080).unwrap();
    assert_eq!(setup.tokens.len(), 3);
    assert_ne!(setup.proxy, setup.admin);

    let policies = policies::PolicySet::load_dir(&dir.path().join("policies")).unwrap();
    let profile = policies.profile(PROFILE).unwrap();
    let upstream = policies::Destination::Name(UPSTREAM_HOST.into());
    assert!(profile.decide(&upstream, 18080).is_ok());
    assert!(profile.decide(&upstream, 18081).is_err());

    let verifier = Verifier::new(VerifierConfig::new(KeySource::File(
        dir.path().join("jwks.json"),
    )))
    .await
    .unwrap();
    for (i, token) in setup.tokens.iter().enumerate() {
        let session = verifier.verify(token).await.unwrap();
        assert_eq!(session.claims.sid, format!("load-{i}"));
        assert_eq!(session.claims.profile, PROFILE);
    }
}

#[test]
fn the_shared_config_lists_every_static_host_then_the_extra_sections() {
    let dir = Path::new("/run/lt");
    let proxy = SocketAddr::from(([127, 0, 0, 1], 3128));
    let admin = SocketAddr::from(([127, 0, 0, 1], 9901));
    let text = config_toml_with(
        dir,
        proxy,
        admin,
        &["a.test", "b.test"],
        "\n[bump]\nx = 1\n",
    );
    let value: toml::Value = toml::from_str(&text).unwrap();
    let hosts = value
        .get("resolver")
        .and_then(|r| r.get("static_hosts"))
        .and_then(toml::Value::as_table)
        .unwrap();
    let names: Vec<&str> = hosts.keys().map(String::as_str).collect();
    assert_eq!(names, ["a.test", "b.test"]);
    assert_eq!(
        value.get("bump").and_then(|b| b.get("x")),
        Some(&toml::Value::Integer(1))
    );
    assert!(text.ends_with("\n[audit]\nstdout = false\n\n[bump]\nx = 1\n"));
}

#[test]
fn the_load_policy_pins_the_upstream_host_to_loopback() {
    assert_eq!(
        policy_yaml(8080),
        "apiVersion: trust-edge/v1\n\
         kind: EgressProfile\n\
         metadata: {name: load}\n\
         spec:\n\
         \x20 limits: {requests_per_second: 1000000, burst: 1000000, max_connections: 4096}\n\
         \x20 destinations:\n\
         \x20   - host: upstream.test\n\
         \x20     ports: [8080]\n\
         \x20     addresses: [127.0.0.1]\n\
         \x20     rung: pass-through\n"
    );
}
