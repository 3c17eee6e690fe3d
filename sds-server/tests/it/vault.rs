//! The Vault KV v2 source, against a server speaking Vault's documented HTTP API.

use crate::support::grpc::{self, Sotw, generic_values};
use crate::support::vault::FakeVault;
use crate::support::{Server, Setup, eventually};
use sds_server::SecretKind;
use sds_server::config::{RemoteSource, SecretSpec, VaultAuth, VaultConfig};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn vault_config(vault: &FakeVault, auth: VaultAuth) -> VaultConfig {
    VaultConfig {
        address: vault.url(),
        auth,
        ca_files: Vec::new(),
        namespace: None,
        poll_interval: Duration::from_millis(100),
        timeout: Duration::from_secs(2),
    }
}

fn api_key(max_age: Option<Duration>) -> SecretSpec {
    SecretSpec {
        name: "anthropic-api-key".to_owned(),
        kind: SecretKind::GenericSecret,
        max_age,
        source: RemoteSource::Vault {
            mount: "secret".to_owned(),
            path: "llm/anthropic".to_owned(),
            field: Some("api_key".to_owned()),
        },
    }
}

async fn start(vault: &FakeVault, auth: VaultAuth, specs: Vec<SecretSpec>) -> Server {
    let mut setup = Setup::new();
    setup.config.files = None;
    setup.config.vault = Some(vault_config(vault, auth));
    setup.config.secrets = specs;
    setup.start().await
}

fn token_file(dir: &std::path::Path, token: &str) -> std::path::PathBuf {
    let path = dir.join("vault-token");
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path
}

#[tokio::test]
async fn a_new_kv_version_is_pushed_and_values_are_read_only_on_version_change() {
    let vault = FakeVault::start().await;
    vault.with(|s| s.tokens.insert("hvs.test".to_owned()));
    vault.put(
        "secret/llm/anthropic",
        json!({"api_key": "sk-v1", "other": "x"}),
    );
    let tmp = tempfile::tempdir().unwrap();
    let server = start(
        &vault,
        VaultAuth::TokenFile(token_file(tmp.path(), "hvs.test")),
        vec![api_key(None)],
    )
    .await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut stream = Sotw::open(&mut client, "n", &["anthropic-api-key"])
        .await
        .unwrap();
    let r1 = stream.next().await.unwrap();
    assert_eq!(
        generic_values(&r1.resources),
        vec![("anthropic-api-key".to_owned(), "sk-v1".to_owned())]
    );
    assert_eq!(r1.version_info, "v1");
    stream.ack(&r1, &["anthropic-api-key"]).await;
    eventually("several polls", WAIT, || {
        (vault.with(|s| s.metadata_reads) >= 4).then_some(())
    })
    .await;
    assert_eq!(
        vault.with(|s| s.data_reads),
        1,
        "an unchanged version is not read again"
    );
    vault.put("secret/llm/anthropic", json!({"api_key": "sk-v2"}));
    let r2 = stream.next().await.unwrap();
    assert_eq!(
        generic_values(&r2.resources),
        vec![("anthropic-api-key".to_owned(), "sk-v2".to_owned())]
    );
    assert_eq!(r2.version_info, "v2");
    assert_eq!(
        server.metric("trust_edge_sds_rotations_total{source=\"vault\"}"),
        2.0
    );
}

#[tokio::test]
async fn approle_logs_in_and_logs_in_again_when_the_token_is_revoked() {
    let vault = FakeVault::start().await;
    vault.with(|s| {
        s.approles
            .insert("role-1".to_owned(), "secret-id-1".to_owned())
    });
    vault.put("secret/llm/anthropic", json!({"api_key": "sk-v1"}));
    let tmp = tempfile::tempdir().unwrap();
    let secret_id = tmp.path().join("secret-id");
    std::fs::write(&secret_id, "secret-id-1").unwrap();
    let auth = VaultAuth::AppRole {
        mount: "approle".to_owned(),
        role_id: "role-1".to_owned(),
        secret_id_file: secret_id,
    };
    let server = start(&vault, auth, vec![api_key(None)]).await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut stream = Sotw::open(&mut client, "n", &["anthropic-api-key"])
        .await
        .unwrap();
    let r1 = stream.next().await.unwrap();
    stream.ack(&r1, &["anthropic-api-key"]).await;
    assert_eq!(vault.with(|s| s.logins), 1);
    vault.with(|s| s.tokens.clear());
    vault.put("secret/llm/anthropic", json!({"api_key": "sk-v2"}));
    let r2 = stream.next().await.unwrap();
    assert_eq!(generic_values(&r2.resources)[0].1, "sk-v2");
    assert_eq!(vault.with(|s| s.logins), 2);
}

#[tokio::test]
async fn an_unreachable_vault_keeps_the_last_good_value_alarms_and_withdraws_after_max_age() {
    let vault = FakeVault::start().await;
    vault.with(|s| s.tokens.insert("t".to_owned()));
    vault.put("secret/llm/anthropic", json!({"api_key": "sk-v1"}));
    let tmp = tempfile::tempdir().unwrap();
    let server = start(
        &vault,
        VaultAuth::TokenFile(token_file(tmp.path(), "t")),
        vec![api_key(Some(Duration::from_millis(800)))],
    )
    .await;
    let client = sds_server::client::SdsClient::start(sds_server::client::ClientConfig::unix(
        server.socket(),
        "edge",
        ["anthropic-api-key"],
    ));
    client.wait_for("anthropic-api-key", WAIT).await.unwrap();
    vault.with(|s| s.down = true);
    eventually("the source error", WAIT, || {
        (server
            .metric("trust_edge_sds_source_errors_total{class=\"unreachable\",source=\"vault\"}")
            >= 2.0)
            .then_some(())
    })
    .await;
    assert!(
        client.get("anthropic-api-key").is_some(),
        "the last good value is kept while within max_age"
    );
    assert_eq!(server.debug()["secrets"][0]["state"], "stale");
    client
        .wait_until(WAIT, |c| c.get("anthropic-api-key").is_none().then_some(()))
        .await
        .unwrap();
    let lines = server.audit_lines().await;
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["activity"] == "secret_source_unreachable")
            .count(),
        1
    );
    vault.with(|s| s.down = false);
    client.wait_for("anthropic-api-key", WAIT).await.unwrap();
}

#[tokio::test]
async fn a_tls_certificate_comes_from_its_kv_fields() {
    let ca = crate::support::certs::Ca::new("ca");
    let leaf = ca.leaf("svc", &["localhost"]);
    let vault = FakeVault::start().await;
    vault.with(|s| s.tokens.insert("t".to_owned()));
    vault.put(
        "secret/certs/svc",
        json!({"certificate": leaf.chain_pem, "private_key": "garbage"}),
    );
    let tmp = tempfile::tempdir().unwrap();
    let spec = SecretSpec {
        name: "svc-cert".to_owned(),
        kind: SecretKind::TlsCertificate,
        max_age: None,
        source: RemoteSource::Vault {
            mount: "secret".to_owned(),
            path: "certs/svc".to_owned(),
            field: None,
        },
    };
    let server = start(
        &vault,
        VaultAuth::TokenFile(token_file(tmp.path(), "t")),
        vec![spec],
    )
    .await;
    eventually("the refusal of v1", WAIT, || {
        server.debug()["secrets"][0]["last_error"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    assert_eq!(
        server.debug()["secrets"][0]["state"],
        "pending",
        "bad content is never served"
    );
    vault.put(
        "secret/certs/svc",
        json!({"certificate": leaf.chain_pem, "private_key": leaf.key_pem}),
    );
    let client = sds_server::client::SdsClient::start(sds_server::client::ClientConfig::unix(
        server.socket(),
        "e",
        ["svc-cert"],
    ));
    let got = client.wait_for("svc-cert", WAIT).await.unwrap();
    assert_eq!(got.version(), "v2");
    assert_eq!(
        got.value().tls_certificate().unwrap().0,
        leaf.chain_pem.as_bytes()
    );
}
