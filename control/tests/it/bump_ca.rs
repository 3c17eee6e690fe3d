//! `ca_certificate` in the session answer: present only when `bump_ca_bundle` is configured,
//! read per request (so a rotated bundle is handed out at once), and never anything but
//! certificates.

use reqwest::Method;
use serde_json::json;

use crate::common::*;

/// A self-signed CA certificate in PEM, standing in for the deployment CA bundle.
fn ca_pem(name: &str) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.self_signed(&key).unwrap().pem()
}

async fn create(api: &Api) -> Reply {
    api.orch(
        Method::POST,
        "/v1/sessions",
        Some(json!({"tenant": "acme", "profile": PROFILE})),
    )
    .await
}

async fn session_count(api: &Api) -> usize {
    let list = api.orch(Method::GET, "/v1/sessions", None).await;
    assert_eq!(list.status, 200);
    list.body["sessions"].as_array().unwrap().len()
}

#[tokio::test]
async fn session_answer_carries_the_current_bundle_and_follows_rotation() {
    let dirs = Dirs::new();
    let bundle = dirs.root.path().join("bundle.pem");
    let first = ca_pem("first");
    std::fs::write(&bundle, &first).unwrap();
    let mut config = dirs.config();
    config.bump_ca_bundle = Some(bundle.clone());
    let control = start(config).await;
    let api = Api::new(&control);

    let reply = create(&api).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_eq!(reply.body["ca_certificate"], first.as_str());
    assert!(reply.body["token"].is_string());

    // A rotation rewrites the bundle (old and new certificate): the next session gets both.
    let rotated = format!("{}{first}", ca_pem("second"));
    std::fs::write(&bundle, &rotated).unwrap();
    let reply = create(&api).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_eq!(reply.body["ca_certificate"], rotated.as_str());

    // Reading a session never repeats it (nor the token).
    let id = reply.body["session_id"].as_str().unwrap();
    let got = api
        .orch(Method::GET, &format!("/v1/sessions/{id}"), None)
        .await;
    assert!(got.body.get("ca_certificate").is_none());
}

#[tokio::test]
async fn no_bundle_configured_means_no_field() {
    let dirs = Dirs::new();
    let control = start(dirs.config()).await;
    let api = Api::new(&control);
    let reply = create(&api).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    assert!(reply.body.get("ca_certificate").is_none(), "{reply:?}");
}

#[tokio::test]
async fn an_unusable_bundle_refuses_the_session_and_stores_nothing() {
    let dirs = Dirs::new();
    let bundle = dirs.root.path().join("bundle.pem");
    let mut config = dirs.config();
    config.bump_ca_bundle = Some(bundle.clone());
    let control = start(config).await;
    let api = Api::new(&control);

    // Missing.
    create(&api).await.assert_refused(503, "unavailable");
    // A key where the bundle should be (e.g. pointed at ca.key by mistake): never handed out.
    let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
    std::fs::write(&bundle, format!("{}{key}", ca_pem("ca"))).unwrap();
    let refused = create(&api).await;
    refused.assert_refused(503, "unavailable");
    assert!(!refused.body.to_string().contains("PRIVATE"));
    // Not PEM at all.
    std::fs::write(&bundle, "hello").unwrap();
    create(&api).await.assert_refused(503, "unavailable");
    // Larger than any bundle.
    let huge = format!("{}{}", ca_pem("ca"), "#".repeat(300 * 1024));
    std::fs::write(&bundle, huge).unwrap();
    create(&api).await.assert_refused(503, "unavailable");
    assert_eq!(session_count(&api).await, 0);

    // Fixed in place: sessions are created again, with no restart.
    let good = ca_pem("ca");
    std::fs::write(&bundle, &good).unwrap();
    let reply = create(&api).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_eq!(reply.body["ca_certificate"], good.as_str());
    assert_eq!(session_count(&api).await, 1);
}
