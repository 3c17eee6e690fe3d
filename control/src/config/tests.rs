use super::*;

#[test]
fn empty_file_gives_every_default() {
    let config = validate(FileConfig::default()).unwrap();
    assert_eq!(config.api_listen, "127.0.0.1:7070".parse().unwrap());
    assert_eq!(config.sync_listen, "127.0.0.1:7071".parse().unwrap());
    assert_eq!(config.data_dir, PathBuf::from(".trust-edge"));
    assert_eq!(config.policy_dir, PathBuf::from("policies/default"));
    assert_eq!(config.default_session_ttl, Duration::from_secs(8 * 3600));
    assert_eq!(config.max_session_ttl, Duration::from_secs(24 * 3600));
    assert_eq!(
        config.key_rotation_interval,
        Duration::from_secs(30 * 24 * 3600)
    );
    assert_eq!(config.heartbeat_interval, Duration::from_secs(1));
    assert_eq!(config.key_algorithm, KeyAlgorithm::EdDSA);
    assert_eq!(config.sync_socket, None);
    assert_eq!(config.issuer, "trust-edge");
    assert_eq!(config.audience, "trust-edge-egress");
    assert!(config.bootstrap_api_tokens);
}

#[test]
fn parses_a_full_file() {
    let text = r#"
data_dir = "/var/lib/te"
policy_dir = "/etc/te/policies"
proxy_url = "http://edge:3128"
[api]
listen = "0.0.0.0:8080"
[sync]
listen = "0.0.0.0:8081"
unix_socket = "/run/te/control.sock"
heartbeat_interval = "500ms"
change_retention = 10
[sessions]
default_ttl = "1h"
max_ttl = "2h"
[keys]
algorithm = "ES256"
rotation_interval = "7days"
maintenance_interval = "10s"
"#;
    let file: FileConfig = toml::from_str(text).unwrap();
    let config = validate(file).unwrap();
    assert_eq!(config.api_listen, "0.0.0.0:8080".parse().unwrap());
    assert_eq!(
        config.sync_socket,
        Some(PathBuf::from("/run/te/control.sock"))
    );
    assert_eq!(config.heartbeat_interval, Duration::from_millis(500));
    assert_eq!(config.change_retention, 10);
    assert_eq!(config.default_session_ttl, Duration::from_secs(3600));
    assert_eq!(config.max_session_ttl, Duration::from_secs(7200));
    assert_eq!(config.key_algorithm, KeyAlgorithm::Es256);
    assert_eq!(
        config.key_rotation_interval,
        Duration::from_secs(7 * 24 * 3600)
    );
    assert_eq!(config.proxy_url, "http://edge:3128");
}

#[test]
fn unknown_keys_are_refused() {
    let result: Result<FileConfig, _> = toml::from_str("[sessions]\nmax_tll = \"1h\"\n");
    let message = result.unwrap_err().to_string();
    assert!(message.contains("unknown field `max_tll`"), "{message}");
}

#[test]
fn every_issue_is_reported_sorted_by_path() {
    let text = r#"
proxy_url = "edge:3128"
[api]
listen = "nowhere"
[sync]
unix_socket = "relative.sock"
heartbeat_interval = "0s"
[sessions]
default_ttl = "30h"
max_ttl = "48h"
[keys]
algorithm = "RS256"
"#;
    let issues = validate(toml::from_str(text).unwrap()).unwrap_err();
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "api.listen",
            "keys.algorithm",
            "proxy_url",
            "sessions.max_ttl",
            "sync.heartbeat_interval",
            "sync.unix_socket",
        ]
    );
    assert_eq!(issues[1].message, "\"RS256\" is not EdDSA or ES256");
    assert_eq!(issues[3].message, "2days exceeds the 24h ceiling");
}

#[test]
fn default_ttl_above_max_is_an_issue() {
    let text = "[sessions]\ndefault_ttl = \"3h\"\nmax_ttl = \"2h\"\n";
    let issues = validate(toml::from_str(text).unwrap()).unwrap_err();
    assert_eq!(
        issues,
        vec![ConfigIssue {
            path: "sessions.default_ttl".into(),
            message: "3h exceeds sessions.max_ttl".into()
        }]
    );
}

#[test]
fn ephemeral_binds_port_zero() {
    let config = Config::ephemeral("/tmp/x", "/tmp/p");
    assert_eq!(config.api_listen.port(), 0);
    assert_eq!(config.sync_listen.port(), 0);
    assert!(config.api_listen.ip().is_loopback());
}

#[test]
fn bump_ca_bundle_is_optional_and_must_name_a_file() {
    assert_eq!(
        validate(FileConfig::default()).unwrap().bump_ca_bundle,
        None
    );
    let file: FileConfig =
        toml::from_str(r#"bump_ca_bundle = "/var/lib/te/ca/bundle.pem""#).unwrap();
    assert_eq!(
        validate(file).unwrap().bump_ca_bundle,
        Some(PathBuf::from("/var/lib/te/ca/bundle.pem"))
    );
    let empty: FileConfig = toml::from_str(r#"bump_ca_bundle = """#).unwrap();
    assert_eq!(
        validate(empty).unwrap_err(),
        vec![ConfigIssue {
            path: "bump_ca_bundle".to_owned(),
            message: "must name a file".to_owned(),
        }]
    );
}
