//! The SDS protocol with a tonic client over the Unix socket: ACK, NACK, stale nonce,
//! subscription changes, delta, fetch, refusals, withdrawal.

use crate::support::grpc::{self, Sotw, generic_values, type_url};
use crate::support::{Server, Setup, eventually, generic_manifest};
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;
use sds_server::access::{Grant, Pattern, PeerMatch};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;
use tonic::Code;

const SECOND: Duration = Duration::from_secs(1);

async fn two_secrets(setup: Setup) -> Server {
    setup.write("a.txt", "a1\n");
    setup.write("b.txt", "b1\n");
    setup.manifest(&generic_manifest(&[("a", "a.txt"), ("b", "b.txt")]));
    setup.start().await
}

fn my_uid() -> u32 {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::metadata(f.path()).unwrap().uid()
}

fn grant(peer: PeerMatch, secrets: &[&str], nodes: Option<&[&str]>) -> Grant {
    Grant {
        name: "test".to_owned(),
        peer,
        secrets: secrets.iter().map(|s| Pattern::new(*s)).collect(),
        nodes: nodes.map(|n| n.iter().map(|s| Pattern::new(*s)).collect()),
    }
}

fn values(
    resp: &envoy_types::pb::envoy::service::discovery::v3::DiscoveryResponse,
) -> Vec<(String, String)> {
    generic_values(&resp.resources)
}

fn pair(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

#[tokio::test]
async fn the_socket_is_private_to_its_owner() {
    let server = two_secrets(Setup::new()).await;
    let mode = std::fs::metadata(server.socket())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn a_rotation_is_pushed_with_a_new_version_and_nonce_and_acked() {
    let server = two_secrets(Setup::new()).await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut stream = Sotw::open(&mut client, "node-1", &["a"]).await.unwrap();
    let r1 = stream.next().await.unwrap();
    assert_eq!(values(&r1), vec![pair("a", "a1")]);
    assert!(
        r1.version_info.starts_with("sha256:"),
        "{}",
        r1.version_info
    );
    assert_eq!(r1.type_url, type_url());
    stream.ack(&r1, &["a"]).await;
    server.write("a.txt", "a2");
    let r2 = stream.next().await.unwrap();
    assert_eq!(values(&r2), vec![pair("a", "a2")]);
    assert_ne!(r2.version_info, r1.version_info);
    assert_ne!(r2.nonce, r1.nonce);
    stream.ack(&r2, &["a"]).await;
    let acked = r2.version_info.clone();
    eventually("the second ACK", 5 * SECOND, || {
        (server.metric("trust_edge_sds_acks_total{api=\"sotw\"}") == 2.0).then_some(())
    })
    .await;
    let debug = server.debug();
    let view = &debug["streams"][0];
    assert_eq!(view["node"], "node-1");
    assert_eq!(view["names"], serde_json::json!(["a"]));
    assert_eq!(view["acked_version"], acked.as_str());
    assert_eq!(
        server.metric("trust_edge_sds_push_to_ack_seconds_count{api=\"sotw\"}"),
        2.0
    );
    assert_eq!(
        server.metric("trust_edge_sds_streams{api=\"sotw\",node=\"node-1\"}"),
        1.0
    );
}

#[tokio::test]
async fn a_nack_keeps_the_acked_version_and_the_rejected_content_is_not_pushed_again() {
    let server = two_secrets(Setup::new()).await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut stream = Sotw::open(&mut client, "n", &["a"]).await.unwrap();
    let r1 = stream.next().await.unwrap();
    stream.ack(&r1, &["a"]).await;
    server.write("a.txt", "a2");
    let r2 = stream.next().await.unwrap();
    assert_eq!(values(&r2), vec![pair("a", "a2")]);
    stream
        .send(DiscoveryRequest {
            version_info: r1.version_info.clone(),
            resource_names: vec!["a".to_owned()],
            type_url: type_url(),
            response_nonce: r2.nonce.clone(),
            error_detail: Some(envoy_types::pb::google::rpc::Status {
                code: 3,
                message: "test rejects a2".to_owned(),
                details: vec![],
            }),
            ..Default::default()
        })
        .await;
    eventually("the NACK", 5 * SECOND, || {
        (server.metric("trust_edge_sds_nacks_total{api=\"sotw\"}") == 1.0).then_some(())
    })
    .await;
    let view = server.debug()["streams"][0].clone();
    assert_eq!(view["acked_version"], r1.version_info.as_str());
    assert_eq!(view["last_nack"], "test rejects a2");
    // Another secret's rotation wakes every stream; a2 must not be pushed again.
    let b_before = server.debug()["secrets"][1]["version"].clone();
    server.write("b.txt", "b2");
    eventually("b's rotation", 5 * SECOND, || {
        (server.debug()["secrets"][1]["version"] != b_before).then_some(())
    })
    .await;
    server.write("a.txt", "a3");
    let r3 = stream.next().await.unwrap();
    assert_eq!(
        values(&r3),
        vec![pair("a", "a3")],
        "the NACKed content was pushed again"
    );
    assert_eq!(
        server.metric("trust_edge_sds_pushes_total{api=\"sotw\"}"),
        3.0
    );
}

#[tokio::test]
async fn a_request_with_a_stale_nonce_is_ignored() {
    let server = two_secrets(Setup::new()).await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut stream = Sotw::open(&mut client, "n", &["a"]).await.unwrap();
    let r1 = stream.next().await.unwrap();
    stream.ack(&r1, &["a"]).await;
    server.write("a.txt", "a2");
    let r2 = stream.next().await.unwrap();
    // Stale: answers r1 again, NACKs, and asks for b. All of it must be ignored.
    stream
        .send(DiscoveryRequest {
            resource_names: vec!["a".to_owned(), "b".to_owned()],
            type_url: type_url(),
            response_nonce: r1.nonce.clone(),
            error_detail: Some(envoy_types::pb::google::rpc::Status {
                code: 3,
                message: "stale".to_owned(),
                details: vec![],
            }),
            ..Default::default()
        })
        .await;
    stream.ack(&r2, &["a"]).await;
    server.write("a.txt", "a3");
    let r3 = stream.next().await.unwrap();
    assert_eq!(
        values(&r3),
        vec![pair("a", "a3")],
        "the stale request changed the subscription"
    );
    assert_eq!(
        server.metric("trust_edge_sds_stale_nonces_total{api=\"sotw\"}"),
        1.0
    );
    assert_eq!(
        server.metric("trust_edge_sds_nacks_total{api=\"sotw\"}"),
        0.0
    );
}

#[tokio::test]
async fn the_subscription_changes_mid_stream() {
    let server = two_secrets(Setup::new()).await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut stream = Sotw::open(&mut client, "n", &["a"]).await.unwrap();
    let r1 = stream.next().await.unwrap();
    stream.ack(&r1, &["a", "b"]).await;
    let r2 = stream.next().await.unwrap();
    assert_eq!(values(&r2), vec![pair("a", "a1"), pair("b", "b1")]);
    assert!(r2.version_info.starts_with("set:"), "{}", r2.version_info);
    stream.ack(&r2, &["b"]).await;
    let r3 = stream.next().await.unwrap();
    assert_eq!(values(&r3), vec![pair("b", "b1")]);
    stream.ack(&r3, &["b"]).await;
    server.write("a.txt", "a2");
    server.write("b.txt", "b2");
    let r4 = stream.next().await.unwrap();
    assert_eq!(
        values(&r4),
        vec![pair("b", "b2")],
        "a is no longer subscribed"
    );
}

#[tokio::test]
async fn fetch_answers_current_versions_and_refuses_what_it_must() {
    let server = two_secrets(Setup::new().grants(vec![grant(
        PeerMatch::Uid(my_uid()),
        &["a", "b", "ghost"],
        None,
    )]))
    .await;
    let mut client = grpc::unix(&server.socket()).await;
    let req = |names: &[&str]| DiscoveryRequest {
        resource_names: names.iter().map(|n| n.to_string()).collect(),
        type_url: type_url(),
        ..Default::default()
    };
    let both = client
        .fetch_secrets(req(&["b", "a"]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(values(&both), vec![pair("a", "a1"), pair("b", "b1")]);
    let unknown = client.fetch_secrets(req(&["ghost"])).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let refused = client.fetch_secrets(req(&["zzz"])).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(refused.message(), "not permitted to read secret \"zzz\"");
}

#[tokio::test]
async fn an_unauthorised_name_ends_the_stream_with_permission_denied() {
    let server =
        two_secrets(Setup::new().grants(vec![grant(PeerMatch::Uid(my_uid()), &["a"], None)])).await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut ok = Sotw::open(&mut client, "n", &["a"]).await.unwrap();
    let r1 = ok.next().await.unwrap();
    ok.ack(&r1, &["a", "b"]).await;
    let err = ok.next().await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let mut denied = Sotw::open(&mut client, "n", &["b"]).await.unwrap();
    assert_eq!(
        denied.next().await.unwrap_err().code(),
        Code::PermissionDenied
    );
    assert_eq!(
        server.metric("trust_edge_sds_denied_total{reason=\"permission_denied\"}"),
        2.0
    );
    let lines = server.audit_lines().await;
    let refusals: Vec<_> = lines
        .iter()
        .filter(|l| l["activity"] == "secret_access")
        .collect();
    assert_eq!(refusals.len(), 2);
    assert_eq!(refusals[0]["action"], "deny");
    assert_eq!(refusals[0]["status_detail"], "permission_denied");
    assert_eq!(refusals[0]["rule"], "secret/b");
}

#[tokio::test]
async fn an_unknown_name_is_withheld_until_it_exists() {
    let server = two_secrets(Setup::new()).await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut stream = Sotw::open(&mut client, "n", &["later"]).await.unwrap();
    server.write("later.txt", "l1");
    server.write(
        "manifest.yaml",
        &generic_manifest(&[("a", "a.txt"), ("later", "later.txt")]),
    );
    let r1 = stream.next().await.unwrap();
    assert_eq!(values(&r1), vec![pair("later", "l1")]);
    assert_eq!(
        server.metric("trust_edge_sds_pushes_total{api=\"sotw\"}"),
        1.0
    );
}

#[tokio::test]
async fn a_spoofed_node_id_from_an_unentitled_peer_is_refused() {
    let grants = vec![grant(
        PeerMatch::Uid(my_uid().wrapping_add(4242)),
        &["a"],
        Some(&["node-x"]),
    )];
    let server = two_secrets(Setup::new().grants(grants)).await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut stream = Sotw::open(&mut client, "node-x", &["a"]).await.unwrap();
    assert_eq!(
        stream.next().await.unwrap_err().code(),
        Code::PermissionDenied
    );
}

#[tokio::test]
async fn the_node_id_narrows_within_the_peers_grants() {
    let uid = my_uid();
    let grants = vec![
        grant(PeerMatch::Uid(uid), &["a"], Some(&["node-a"])),
        grant(PeerMatch::Uid(uid), &["b"], Some(&["node-b"])),
    ];
    let server = two_secrets(Setup::new().grants(grants)).await;
    let mut client = grpc::unix(&server.socket()).await;
    let mut a = Sotw::open(&mut client, "node-a", &["a"]).await.unwrap();
    assert_eq!(values(&a.next().await.unwrap()), vec![pair("a", "a1")]);
    let mut cross = Sotw::open(&mut client, "node-a", &["b"]).await.unwrap();
    assert_eq!(
        cross.next().await.unwrap_err().code(),
        Code::PermissionDenied
    );
}

#[tokio::test]
async fn hundreds_of_streams_all_receive_a_rotation() {
    let server = two_secrets(Setup::new()).await;
    let mut streams = Vec::new();
    for i in 0..300 {
        let mut client = grpc::unix(&server.socket()).await;
        let mut s = Sotw::open(&mut client, &format!("n{}", i % 7), &["a"])
            .await
            .unwrap();
        let r = s.next().await.unwrap();
        s.ack(&r, &["a"]).await;
        streams.push((client, s));
    }
    server.write("a.txt", "a2");
    for (_, s) in &mut streams {
        assert_eq!(values(&s.next().await.unwrap()), vec![pair("a", "a2")]);
    }
    assert_eq!(server.handle().open_streams(), 300);
}
