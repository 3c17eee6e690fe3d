//! The AWS Secrets Manager source against moto's server: create, rotate by a new version, see
//! the push.

use crate::support::process::{Proc, free_port, venv_tool, wait_listening};
use crate::support::{Setup, eventually};
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use sds_server::SecretKind;
use sds_server::client::{ClientConfig, SdsClient};
use sds_server::config::{AwsConfig, AwsCredentials, RemoteSource, SecretSpec};
use std::net::SocketAddr;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

async fn moto(dir: &std::path::Path) -> (Proc, SocketAddr) {
    let port = free_port();
    let mut cmd = std::process::Command::new(venv_tool("moto_server"));
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    let mut proc = Proc::spawn(cmd, dir.join("moto.log"));
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_listening(&mut proc, addr, "moto_server").await;
    (proc, addr)
}

fn admin_client(addr: SocketAddr) -> aws_sdk_secretsmanager::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .endpoint_url(format!("http://{addr}"))
        .http_client(http)
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

#[tokio::test]
async fn a_new_awscurrent_version_is_pushed() {
    let mut setup = Setup::new();
    let (mut moto, addr) = moto(setup.dir.path()).await;
    let admin = admin_client(addr);
    let created = admin
        .create_secret()
        .name("prod/anthropic")
        .secret_string(r#"{"api_key":"sk-aws-1"}"#)
        .send()
        .await
        .unwrap();
    let key_file = setup.dir.path().join("aws-secret-key");
    std::fs::write(&key_file, "testing\n").unwrap();
    setup.config.files = None;
    setup.config.aws = Some(AwsConfig {
        region: "us-east-1".to_owned(),
        endpoint: Some(format!("http://{addr}")),
        credentials: AwsCredentials::Static {
            access_key_id: "testing".to_owned(),
            secret_access_key_file: key_file,
        },
        poll_interval: Duration::from_millis(200),
        timeout: Duration::from_secs(5),
    });
    setup.config.secrets = vec![
        SecretSpec {
            name: "anthropic-api-key".to_owned(),
            kind: SecretKind::GenericSecret,
            max_age: None,
            source: RemoteSource::Aws {
                secret_id: "prod/anthropic".to_owned(),
                field: Some("api_key".to_owned()),
            },
        },
        SecretSpec {
            name: "whole".to_owned(),
            kind: SecretKind::GenericSecret,
            max_age: None,
            source: RemoteSource::Aws {
                secret_id: "prod/anthropic".to_owned(),
                field: None,
            },
        },
    ];
    let server = setup.start().await;
    let client = SdsClient::start(ClientConfig::unix(
        server.socket(),
        "edge",
        ["anthropic-api-key", "whole"],
    ));
    let v1 = client.wait_for("anthropic-api-key", WAIT).await.unwrap();
    assert_eq!(v1.value().generic(), Some(&b"sk-aws-1"[..]));
    assert_eq!(Some(v1.version()), created.version_id());
    let whole = client.wait_for("whole", WAIT).await.unwrap();
    assert_eq!(
        whole.value().generic(),
        Some(&br#"{"api_key":"sk-aws-1"}"#[..])
    );
    let put = admin
        .put_secret_value()
        .secret_id("prod/anthropic")
        .secret_string(r#"{"api_key":"sk-aws-2"}"#)
        .send()
        .await
        .unwrap();
    let v2 = client
        .wait_until(WAIT, |c| {
            c.get("anthropic-api-key")
                .filter(|s| s.value().generic() == Some(&b"sk-aws-2"[..]))
        })
        .await
        .unwrap();
    assert_eq!(Some(v2.version()), put.version_id());
    assert_eq!(
        server.metric("trust_edge_sds_source_errors_total{class=\"unreachable\",source=\"aws\"}"),
        0.0
    );
    moto.kill();
    eventually("the unreachable source alarm", WAIT, || {
        (server.metric("trust_edge_sds_source_errors_total{class=\"unreachable\",source=\"aws\"}")
            >= 1.0)
            .then_some(())
    })
    .await;
    assert_eq!(
        client.get("anthropic-api-key").unwrap().value().generic(),
        Some(&b"sk-aws-2"[..])
    );
}
