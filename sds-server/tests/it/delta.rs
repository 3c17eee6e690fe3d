//! The delta protocol with a tonic client: subscribe, unsubscribe, removals, resumption, and
//! withdrawal after `max_age`.

use crate::support::grpc::{self, Delta, generic_values, node, type_url};
use crate::support::{Server, Setup, eventually, generic_manifest};
use envoy_types::pb::envoy::service::discovery::v3::{DeltaDiscoveryRequest, DiscoveryRequest};
use std::collections::HashMap;
use std::time::Duration;
use tonic::Code;

const SECOND: Duration = Duration::from_secs(1);

async fn two_secrets(setup: Setup) -> Server {
    setup.write("a.txt", "a1\n");
    setup.write("b.txt", "b1\n");
    setup.manifest(&generic_manifest(&[("a", "a.txt"), ("b", "b.txt")]));
    setup.start().await
}

fn pair(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

fn delta_values(
    resp: &envoy_types::pb::envoy::service::discovery::v3::DeltaDiscoveryResponse,
) -> Vec<(String, String)> {
    let anys: Vec<_> = resp
        .resources
        .iter()
        .map(|r| r.resource.clone().unwrap())
        .collect();
    generic_values(&anys)
}

fn delta_ack(nonce: &str) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        type_url: type_url(),
        response_nonce: nonce.to_owned(),
        ..Default::default()
    }
}

#[tokio::test]
async fn delta_subscribes_unsubscribes_and_sends_removals() {
    let setup = Setup::new();
    setup.write("a.txt", "a1");
    setup.write("b.txt", "b1");
    setup.write("c.txt", "c1");
    setup.manifest(&generic_manifest(&[
        ("a", "a.txt"),
        ("b", "b.txt"),
        ("c", "c.txt"),
    ]));
    let server = setup.start().await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut stream = Delta::open(
        &mut client,
        DeltaDiscoveryRequest {
            node: node("d"),
            type_url: type_url(),
            resource_names_subscribe: vec!["a".to_owned()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let r1 = stream.next().await.unwrap();
    assert_eq!(delta_values(&r1), vec![pair("a", "a1")]);
    assert_eq!(r1.resources[0].name, "a");
    assert!(r1.removed_resources.is_empty());
    let mut sub = delta_ack(&r1.nonce);
    sub.resource_names_subscribe = vec!["b".to_owned(), "c".to_owned()];
    stream.send(sub).await;
    let r2 = stream.next().await.unwrap();
    assert_eq!(
        delta_values(&r2),
        vec![pair("b", "b1"), pair("c", "c1")],
        "only the new names"
    );
    let mut unsub = delta_ack(&r2.nonce);
    unsub.resource_names_unsubscribe = vec!["a".to_owned()];
    stream.send(unsub).await;
    server.write("a.txt", "a2");
    server.write("b.txt", "b2");
    let r3 = stream.next().await.unwrap();
    assert_eq!(
        delta_values(&r3),
        vec![pair("b", "b2")],
        "a was unsubscribed; c did not change"
    );
    stream.send(delta_ack(&r3.nonce)).await;
    server.write(
        "manifest.yaml",
        &generic_manifest(&[("a", "a.txt"), ("b", "b.txt")]),
    );
    let r4 = stream.next().await.unwrap();
    assert!(r4.resources.is_empty());
    assert_eq!(r4.removed_resources, vec!["c".to_owned()]);
    stream.send(delta_ack(&r4.nonce)).await;
    eventually("the delta ACKs", 5 * SECOND, || {
        (server.metric("trust_edge_sds_acks_total{api=\"delta\"}") == 4.0).then_some(())
    })
    .await;
    let view = server.debug()["streams"][0].clone();
    assert_eq!(view["names"], serde_json::json!(["b", "c"]));
    assert_eq!(view["acked"]["b"], r3.resources[0].version.as_str());
    assert!(view["acked"].get("c").is_none());
}

#[tokio::test]
async fn delta_resumes_without_resending_what_the_client_holds() {
    let server = two_secrets(Setup::new()).await;
    let mut client = grpc::unix(&server.socket()).await;
    let fetched = client
        .fetch_secrets(DiscoveryRequest {
            resource_names: vec!["a".to_owned()],
            type_url: type_url(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut stream = Delta::open(
        &mut client,
        DeltaDiscoveryRequest {
            type_url: type_url(),
            resource_names_subscribe: vec!["a".to_owned(), "b".to_owned()],
            initial_resource_versions: HashMap::from([("a".to_owned(), fetched.version_info)]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let r1 = stream.next().await.unwrap();
    assert_eq!(delta_values(&r1), vec![pair("b", "b1")]);
}

#[tokio::test]
async fn a_secret_is_withdrawn_after_max_age_without_confirmation() {
    let setup = Setup::new();
    setup.write("a.txt", "a1");
    setup.manifest("secrets:\n  - {name: a, kind: generic_secret, file: a.txt, max_age: 400ms}\n");
    let server = setup.start().await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut stream = Delta::open(
        &mut client,
        DeltaDiscoveryRequest {
            type_url: type_url(),
            resource_names_subscribe: vec!["a".to_owned()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let r1 = stream.next().await.unwrap();
    assert_eq!(delta_values(&r1), vec![pair("a", "a1")]);
    stream.send(delta_ack(&r1.nonce)).await;
    // The source keeps failing: the last good value stays until max_age, then is withdrawn.
    std::fs::remove_file(server.secrets.join("a.txt")).unwrap();
    let r2 = stream.next().await.unwrap();
    assert_eq!(r2.removed_resources, vec!["a".to_owned()]);
    assert!(r2.resources.is_empty());
    assert_eq!(server.debug()["secrets"][0]["state"], "withdrawn");
    assert_eq!(
        server.metric("trust_edge_sds_withdrawals_total{source=\"files\"}"),
        1.0
    );
    let fetch = client
        .fetch_secrets(DiscoveryRequest {
            resource_names: vec!["a".to_owned()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fetch.code(), Code::NotFound);
    stream.send(delta_ack(&r2.nonce)).await;
    server.write("a.txt", "a1");
    let r3 = stream.next().await.unwrap();
    assert_eq!(
        delta_values(&r3),
        vec![pair("a", "a1")],
        "served again once confirmed"
    );
    let lines = server.audit_lines().await;
    assert!(
        lines.iter().any(|l| l["activity"] == "secret_withdrawn"
            && l["status_detail"] == "credential_unavailable")
    );
    assert!(
        lines
            .iter()
            .any(|l| l["activity"] == "secret_source_unreachable" && l["rule"] == "secret/files/a")
    );
}
