//! `sds_server::client`: subscribes, follows rotations and removals, reconnects after the
//! server restarts and resubscribes.

use crate::support::{Setup, eventually, generic_manifest};
use sds_server::client::{ClientConfig, SdsClient};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn value(client: &SdsClient, name: &str) -> Option<String> {
    client
        .get(name)
        .map(|s| String::from_utf8(s.value().generic().unwrap().to_vec()).unwrap())
}

fn config(socket: std::path::PathBuf, names: &[&str]) -> ClientConfig {
    let mut c = ClientConfig::unix(socket, "edge-test", names.iter().copied());
    c.backoff_initial = Duration::from_millis(20);
    c.backoff_max = Duration::from_millis(200);
    c
}

#[tokio::test]
async fn the_client_follows_rotations_subscriptions_and_a_server_restart() {
    let setup = Setup::new();
    setup.write("a.txt", "a1");
    setup.write("b.txt", "b1");
    setup.manifest(&generic_manifest(&[("a", "a.txt"), ("b", "b.txt")]));
    let mut server = setup.start().await;
    let client = SdsClient::start(config(server.socket(), &["a"]));
    let a = client.wait_for("a", WAIT).await.unwrap();
    assert_eq!(a.value().generic(), Some(&b"a1"[..]));
    assert!(format!("{a:?}").contains("***"), "Debug hides the value");
    assert!(client.get("b").is_none());
    server.write("a.txt", "a2");
    client
        .wait_until(WAIT, |c| {
            (value(c, "a").as_deref() == Some("a2")).then_some(())
        })
        .await
        .unwrap();
    client.subscribe(["b"]);
    client.wait_for("b", WAIT).await.unwrap();
    client.unsubscribe(["a"]);
    client
        .wait_until(WAIT, |c| c.get("a").is_none().then_some(()))
        .await
        .unwrap();
    assert_eq!(client.connections(), 1);

    server.stop().await;
    client
        .wait_until(WAIT, |c| (!c.is_connected()).then_some(()))
        .await
        .unwrap();
    assert_eq!(
        value(&client, "b").as_deref(),
        Some("b1"),
        "values are kept while reconnecting"
    );
    server.write("b.txt", "b2");
    server.restart().await;
    client
        .wait_until(WAIT, |c| {
            (value(c, "b").as_deref() == Some("b2")).then_some(())
        })
        .await
        .unwrap();
    assert_eq!(client.connections(), 2);
    assert!(
        client.get("a").is_none(),
        "the resubscription keeps the unsubscription"
    );
    client.stop().await;
}

#[tokio::test]
async fn a_refused_subscription_is_reported_and_a_withdrawal_removes_the_value() {
    let setup = Setup::new();
    setup.write("a.txt", "a1");
    setup.manifest("secrets:\n  - {name: a, kind: generic_secret, file: a.txt, max_age: 300ms}\n");
    let mut setup = setup;
    setup.config.grants = vec![sds_server::access::Grant {
        name: "only-a".to_owned(),
        peer: sds_server::access::PeerMatch::Uid(std::os::unix::fs::MetadataExt::uid(
            &std::fs::metadata(setup.dir.path()).unwrap(),
        )),
        secrets: vec![sds_server::access::Pattern::new("a")],
        nodes: None,
    }];
    let server = setup.start().await;
    let refused = SdsClient::start(config(server.socket(), &["forbidden"]));
    let error = eventually("the refusal", WAIT, || refused.last_error()).await;
    assert!(error.starts_with("PermissionDenied"), "{error}");
    let client = SdsClient::start(config(server.socket(), &["a"]));
    client.wait_for("a", WAIT).await.unwrap();
    std::fs::remove_file(server.secrets.join("a.txt")).unwrap();
    client
        .wait_until(WAIT, |c| c.get("a").is_none().then_some(()))
        .await
        .unwrap();
    assert!(client.is_connected());
}

#[tokio::test]
async fn values_are_dropped_once_the_server_is_gone_past_stale_after() {
    let setup = Setup::new();
    setup.write("a.txt", "a1");
    setup.manifest(&generic_manifest(&[("a", "a.txt")]));
    let mut server = setup.start().await;
    let mut cfg = config(server.socket(), &["a"]);
    cfg.stale_after = Some(Duration::from_millis(300));
    let client = SdsClient::start(cfg);
    client.wait_for("a", WAIT).await.unwrap();
    server.stop().await;
    client
        .wait_until(WAIT, |c| c.get("a").is_none().then_some(()))
        .await
        .unwrap();
    let error = client.last_error().unwrap_or_default();
    assert!(!error.contains("a1"));
}
