//! The file source: rotations by atomic rename and by Kubernetes' `..data` swap reach streams
//! within a second; bad content keeps the last good version, with a metric and an audit event.

use crate::support::certs::{Ca, Leaf};
use crate::support::grpc::{self, Sotw};
use crate::support::{Server, Setup, eventually, generic_manifest};
use envoy_types::pb::envoy::config::core::v3::data_source::Specifier;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{Secret, secret::Type};
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryResponse;
use prost::Message;
use std::path::Path;
use std::time::{Duration, Instant};

const TLS_MANIFEST: &str = "secrets:\n  - {name: cert, kind: tls_certificate, certificate: tls.crt, private_key: tls.key}\n";

/// The certificate chain a response carries for its only secret.
fn chain(resp: &DiscoveryResponse) -> String {
    assert_eq!(resp.resources.len(), 1);
    let secret = Secret::decode(resp.resources[0].value.as_slice()).unwrap();
    match secret.r#type {
        Some(Type::TlsCertificate(t)) => match t.certificate_chain.unwrap().specifier {
            Some(Specifier::InlineBytes(b)) => String::from_utf8(b).unwrap(),
            other => panic!("unexpected {other:?}"),
        },
        other => panic!("not a certificate: {other:?}"),
    }
}

async fn cert_server(first: &Leaf) -> Server {
    let setup = Setup::new();
    setup.write("tls.crt", &first.chain_pem);
    setup.write("tls.key", &first.key_pem);
    setup.manifest(TLS_MANIFEST);
    setup.start().await
}

#[tokio::test]
async fn an_atomic_rename_reaches_the_stream_within_a_second() {
    let ca = Ca::new("ca");
    let (v1, v2) = (ca.leaf("v1", &["localhost"]), ca.leaf("v2", &["localhost"]));
    let server = cert_server(&v1).await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut stream = Sotw::open(&mut client, "n", &["cert"]).await.unwrap();
    let r1 = stream.next().await.unwrap();
    assert_eq!(chain(&r1), v1.chain_pem);
    stream.ack(&r1, &["cert"]).await;
    let started = Instant::now();
    server.write("tls.key", &v2.key_pem);
    server.write("tls.crt", &v2.chain_pem);
    let r2 = stream.next().await.unwrap();
    let took = started.elapsed();
    assert_eq!(chain(&r2), v2.chain_pem);
    assert!(took < Duration::from_secs(1), "rotation took {took:?}");
}

/// Lays out `dir` the way the kubelet projects a Secret: files in a timestamped directory,
/// `..data` pointing at it, and top-level symlinks through `..data`.
fn kube_project(dir: &Path, version: &str, files: &[(&str, &str)]) {
    let stamped = dir.join(format!("..{version}"));
    std::fs::create_dir(&stamped).unwrap();
    for (name, contents) in files {
        std::fs::write(stamped.join(name), contents).unwrap();
    }
    let tmp = dir.join("..data_tmp");
    std::os::unix::fs::symlink(format!("..{version}"), &tmp).unwrap();
    let previous = std::fs::read_link(dir.join("..data")).ok();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    for (name, _) in files {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(format!("..data/{name}"), &link).unwrap();
        }
    }
    if let Some(old) = previous {
        std::fs::remove_dir_all(dir.join(old)).unwrap();
    }
}

#[tokio::test]
async fn a_kubernetes_data_symlink_swap_is_seen_whole() {
    let ca = Ca::new("ca");
    let (v1, v2) = (ca.leaf("v1", &["localhost"]), ca.leaf("v2", &["localhost"]));
    let setup = Setup::new();
    let dir = setup.secrets_dir();
    kube_project(
        &dir,
        "2024_01",
        &[("tls.crt", &v1.chain_pem), ("tls.key", &v1.key_pem)],
    );
    setup.manifest(TLS_MANIFEST);
    let server = setup.start().await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut stream = Sotw::open(&mut client, "n", &["cert"]).await.unwrap();
    let r1 = stream.next().await.unwrap();
    assert_eq!(chain(&r1), v1.chain_pem);
    stream.ack(&r1, &["cert"]).await;
    kube_project(
        &dir,
        "2024_02",
        &[("tls.crt", &v2.chain_pem), ("tls.key", &v2.key_pem)],
    );
    let r2 = stream.next().await.unwrap();
    assert_eq!(chain(&r2), v2.chain_pem);
    assert_eq!(
        server.metric("trust_edge_sds_source_errors_total{class=\"invalid\",source=\"files\"}"),
        0.0
    );
}

#[tokio::test]
async fn a_key_that_does_not_match_keeps_the_last_good_pair_with_metric_and_audit() {
    let ca = Ca::new("ca");
    let (v1, v2, other) = (
        ca.leaf("v1", &["localhost"]),
        ca.leaf("v2", &["localhost"]),
        ca.leaf("other", &["localhost"]),
    );
    let server = cert_server(&v1).await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut stream = Sotw::open(&mut client, "n", &["cert"]).await.unwrap();
    let r1 = stream.next().await.unwrap();
    stream.ack(&r1, &["cert"]).await;
    server.write("tls.crt", &v2.chain_pem);
    server.write("tls.key", &other.key_pem);
    let error = eventually("the refusal", Duration::from_secs(5), || {
        server.debug()["secrets"][0]["last_error"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    assert_eq!(
        error,
        "invalid content: the private key does not match the leaf certificate"
    );
    assert_eq!(server.debug()["secrets"][0]["state"], "stale");
    assert_eq!(
        server.debug()["secrets"][0]["version"],
        r1.version_info.as_str()
    );
    assert!(
        server.metric("trust_edge_sds_source_errors_total{class=\"invalid\",source=\"files\"}")
            >= 1.0
    );
    let lines = server.audit_lines().await;
    let rejected: Vec<_> = lines
        .iter()
        .filter(|l| l["activity"] == "secret_rejected")
        .collect();
    assert_eq!(
        rejected.len(),
        1,
        "one audit event per distinct problem, not per rescan"
    );
    assert_eq!(rejected[0]["rule"], "secret/files/cert");
    assert_eq!(rejected[0]["outcome"], "failure");
    // Half-written next: still the last good pair. Then the right key: pushed.
    let pem = &v2.chain_pem;
    server.write("tls.crt", &pem[..pem.len() / 2]);
    eventually("the half-written refusal", Duration::from_secs(5), || {
        (server.debug()["secrets"][0]["last_error"]
            == "invalid content: bad PEM in the certificate chain")
            .then_some(())
    })
    .await;
    server.write("tls.crt", &v2.chain_pem);
    server.write("tls.key", &v2.key_pem);
    let r2 = stream.next().await.unwrap();
    assert_eq!(
        chain(&r2),
        v2.chain_pem,
        "the first push after r1 is the fixed pair"
    );
    assert_eq!(server.debug()["secrets"][0]["state"], "ok");
}

#[tokio::test]
async fn a_broken_manifest_keeps_every_secret_served() {
    let setup = Setup::new();
    setup.write("a.txt", "a1");
    setup.manifest(&generic_manifest(&[("a", "a.txt")]));
    let server = setup.start().await;
    server.write("manifest.yaml", "secrets: [ {name: a, kind: nonsense");
    eventually("the manifest error", Duration::from_secs(5), || {
        (server.metric("trust_edge_sds_source_errors_total{class=\"invalid\",source=\"files\"}")
            >= 1.0)
            .then_some(())
    })
    .await;
    let before = server.debug()["secrets"][0]["version"].clone();
    server.write("a.txt", "a2");
    eventually(
        "a2 read despite the broken manifest",
        Duration::from_secs(5),
        || (server.debug()["secrets"][0]["version"] != before).then_some(()),
    )
    .await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut stream = Sotw::open(&mut client, "n", &["a"]).await.unwrap();
    let r = stream.next().await.unwrap();
    assert_eq!(
        grpc::generic_values(&r.resources),
        vec![("a".to_owned(), "a2".to_owned())]
    );
    let lines = server.audit_lines().await;
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["activity"] == "secret_source_invalid")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_ca_bundle_is_served_as_a_validation_context() {
    let ca = Ca::new("bundle ca");
    let setup = Setup::new();
    setup.write("ca.pem", &ca.pem);
    setup.manifest(
        "secrets:\n  - {name: upstream-ca, kind: validation_context, trusted_ca: ca.pem}\n",
    );
    let server = setup.start().await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut stream = Sotw::open(&mut client, "n", &["upstream-ca"])
        .await
        .unwrap();
    let r = stream.next().await.unwrap();
    let secret = Secret::decode(r.resources[0].value.as_slice()).unwrap();
    match secret.r#type {
        Some(Type::ValidationContext(v)) => assert_eq!(
            v.trusted_ca.unwrap().specifier,
            Some(Specifier::InlineBytes(ca.pem.into_bytes()))
        ),
        other => panic!("not a validation context: {other:?}"),
    }
}
