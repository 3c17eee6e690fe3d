use super::*;
use crate::access::{Pattern, PeerMatch};

const FULL: &str = r#"
data_dir = "/var/lib/te"
admin_listen = "127.0.0.1:0"

[tcp]
listen = "0.0.0.0:8443"
cert = "server.pem"
key = "server-key.pem"
client_ca = "/etc/te/clients.pem"

[files]
dir = "/etc/te/secrets"
debounce = "50ms"

[vault]
address = "https://vault.internal:8200"
approle = { role_id = "role-1", secret_id_file = "/run/vault-secret-id" }
poll_interval = "15s"

[aws]
region = "eu-west-1"
endpoint = "http://127.0.0.1:5000"

[[grants]]
name = "envoy"
uid = 1000
secrets = ["envoy-*"]
nodes = ["envoy-*"]

[[secrets]]
name = "anthropic-api-key"
kind = "generic_secret"
max_age = "1h"
vault = { mount = "secret", path = "llm/anthropic", field = "api_key" }

[[secrets]]
name = "upstream-ca"
kind = "validation_context"
aws = { secret_id = "prod/upstream-ca" }
"#;

#[test]
fn a_full_file_validates_to_parsed_types() {
    let c = Config::from_toml(FULL).unwrap();
    assert_eq!(c.data_dir, PathBuf::from("/var/lib/te"));
    assert_eq!(c.unix_socket, Some(PathBuf::from("/var/lib/te/sds.sock")));
    assert_eq!(c.admin_listen, "127.0.0.1:0".parse().unwrap());
    assert_eq!(
        c.tcp,
        Some(TcpConfig {
            listen: "0.0.0.0:8443".parse().unwrap(),
            tls: Some(TlsConfig {
                cert: PathBuf::from("/var/lib/te/server.pem"),
                key: PathBuf::from("/var/lib/te/server-key.pem"),
                client_ca: PathBuf::from("/etc/te/clients.pem"),
            }),
        })
    );
    let files = c.files.unwrap();
    assert_eq!(
        files.manifest,
        PathBuf::from("/etc/te/secrets/manifest.yaml")
    );
    assert_eq!(files.debounce, Duration::from_millis(50));
    assert_eq!(files.rescan_interval, defaults::RESCAN_INTERVAL);
    let vault = c.vault.unwrap();
    assert_eq!(
        vault.auth,
        VaultAuth::AppRole {
            mount: "approle".to_owned(),
            role_id: "role-1".to_owned(),
            secret_id_file: PathBuf::from("/run/vault-secret-id"),
        }
    );
    assert_eq!(vault.poll_interval, Duration::from_secs(15));
    assert_eq!(c.aws.unwrap().credentials, AwsCredentials::DefaultChain);
    assert_eq!(c.grants.len(), 1);
    assert_eq!(c.grants[0].peer, PeerMatch::Uid(1000));
    assert_eq!(c.grants[0].nodes, Some(vec![Pattern::new("envoy-*")]));
    assert_eq!(
        c.secrets,
        vec![
            SecretSpec {
                name: "anthropic-api-key".to_owned(),
                kind: SecretKind::GenericSecret,
                max_age: Some(Duration::from_secs(3600)),
                source: RemoteSource::Vault {
                    mount: "secret".to_owned(),
                    path: "llm/anthropic".to_owned(),
                    field: Some("api_key".to_owned()),
                },
            },
            SecretSpec {
                name: "upstream-ca".to_owned(),
                kind: SecretKind::ValidationContext,
                max_age: None,
                source: RemoteSource::Aws {
                    secret_id: "prod/upstream-ca".to_owned(),
                    field: None,
                },
            },
        ]
    );
    assert!(!c.skip_content_checks);
}

#[test]
fn an_empty_file_gives_the_defaults() {
    let c = Config::from_toml("").unwrap();
    assert_eq!(c.data_dir, PathBuf::from(defaults::DATA_DIR));
    assert_eq!(c.unix_socket, Some(PathBuf::from(".trust-edge/sds.sock")));
    assert_eq!(c.admin_listen, defaults::ADMIN_LISTEN);
    assert!(c.tcp.is_none() && c.files.is_none() && c.grants.is_empty());
}

fn issues(text: &str) -> Vec<String> {
    Config::from_toml(text)
        .unwrap_err()
        .into_iter()
        .map(|i| i.to_string())
        .collect()
}

#[test]
fn plain_tcp_is_refused_off_loopback_and_tls_needs_a_client_ca() {
    assert_eq!(
        issues("[tcp]\nlisten = \"0.0.0.0:1\"\ninsecure_loopback = true\n"),
        vec!["tcp.insecure_loopback: plain TCP is only allowed on a loopback address"]
    );
    assert_eq!(
        issues("[tcp]\nlisten = \"127.0.0.1:1\"\ncert = \"c\"\nkey = \"k\"\n"),
        vec![
            "tcp: cert, key and client_ca are required: TCP peers must present a client certificate"
        ]
    );
    let c =
        Config::from_toml("[tcp]\nlisten = \"127.0.0.1:0\"\ninsecure_loopback = true\n").unwrap();
    assert_eq!(c.tcp.unwrap().tls, None);
}

#[test]
fn every_semantic_issue_is_reported_sorted_by_path() {
    let text = r#"
admin_listen = "nope"
[[grants]]
name = "g"
uid = 1
gid = 2
secrets = ["x"]
[[secrets]]
name = "a*"
kind = "generic_secret"
vault = { mount = "m", path = "p" }
"#;
    assert_eq!(
        issues(text),
        vec![
            "admin_listen: invalid socket address \"nope\"",
            "grants[0]: exactly one of uid, gid, san and insecure_loopback is required",
            "secrets[0].name: must be non-empty and contain no '*'",
            "secrets[0].vault: a [vault] section is required",
        ]
    );
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let err = Config::from_toml("data_dir = \"x\"\nbogus = 1\n").unwrap_err();
    assert_eq!(err.len(), 1);
    assert_eq!(err[0].line, Some(2));
    assert_eq!(err[0].column, Some(1));
    assert!(
        err[0].message.contains("unknown field"),
        "{}",
        err[0].message
    );
}

#[test]
fn the_embedded_config_watches_data_dir_secrets_and_prepare_creates_it() {
    let dir = tempfile::tempdir().unwrap();
    let c = Config::embedded(dir.path());
    let files = c.files.clone().unwrap();
    assert_eq!(files.dir, dir.path().join("secrets"));
    assert_eq!(c.unix_socket, Some(dir.path().join("sds.sock")));
    files.prepare().unwrap();
    let text = std::fs::read_to_string(&files.manifest).unwrap();
    assert!(text.ends_with("secrets: []\n"), "{text}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&files.dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    std::fs::write(&files.manifest, "secrets: [x]").unwrap();
    files.prepare().unwrap();
    assert_eq!(
        std::fs::read_to_string(&files.manifest).unwrap(),
        "secrets: [x]"
    );
}

#[test]
fn minted_leaves_are_configured_in_toml() {
    let config = Config::from_toml(
        "[minted_leaves]\nca_dir = \"/etc/trust-edge/ca\"\nhosts = [\"api.example.com\"]\nleaf_validity = \"12h\"\n",
    )
    .unwrap();
    let leaves = config.minted_leaves.unwrap();
    assert_eq!(
        leaves.ca_dir,
        std::path::PathBuf::from("/etc/trust-edge/ca")
    );
    assert_eq!(leaves.hosts, ["api.example.com"]);
    assert_eq!(leaves.prefix, "bump-leaf/");
    assert_eq!(leaves.leaf_validity, Duration::from_secs(12 * 3600));
    assert_eq!(
        issues("[minted_leaves]\nca_dir = \"/ca\"\nhosts = []\ncheck_interval = \"soon\"\n"),
        [
            "minted_leaves.check_interval: invalid duration \"soon\": expected number at 0",
            "minted_leaves.hosts: name at least one host"
        ]
    );
}
