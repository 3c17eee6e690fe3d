//! Signing keys: rotation on demand and on schedule, retirement once the last token expired,
//! immediate revocation, ES256. Time moves through a ManualClock.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use control::{Clock, ManualClock, Overrides};
use reqwest::Method;
use trust_core::token::{KeyAlgorithm, KeySource, TokenRejection, Verifier, VerifierConfig};

use crate::common::*;

async fn verify(jwks: &serde_json::Value, token: &str) -> Result<String, TokenRejection> {
    let verifier = Verifier::new(VerifierConfig::new(KeySource::Static(jwks.clone())))
        .await
        .unwrap();
    verifier.verify(token).await.map(|v| v.claims.sid.clone())
}

async fn api_jwks(api: &Api) -> serde_json::Value {
    api.send(Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .body
}

#[tokio::test]
async fn rotation_keeps_old_tokens_valid_until_their_key_expires() {
    let dirs = Dirs::new();
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let mut config = dirs.config();
    config.maintenance_interval = Duration::from_millis(50);
    let overrides = Overrides {
        clock: Some(clock.clone() as Arc<dyn Clock>),
        ..Overrides::default()
    };
    let control = start_with(config, overrides).await;
    let api = Api::new(&control);
    let client = sync_client(&control, "edge-a");
    client.wait_ready(DEADLINE).await.unwrap();
    let (old_session, old_token) = api.create_session(Some(600)).await;
    let old_kid = jwt_header(&old_token)["kid"].as_str().unwrap().to_owned();

    let rotated = api.op(Method::POST, "/v1/keys/rotate", None).await;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    let new_kid = rotated.body["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(rotated.body["retired"], old_kid.as_str());
    assert_eq!(
        kids(&api_jwks(&api).await),
        [new_kid.clone(), old_kid.clone()]
    );
    let state = wait_state(&client, "the new jwks", |s| kids(&s.jwks).len() == 2).await;
    assert_eq!(
        verify(&state.jwks, &old_token).await,
        Ok(old_session.clone()),
        "old tokens stay valid"
    );
    let (new_session, new_token) = api.create_session(Some(60)).await;
    assert_eq!(jwt_header(&new_token)["kid"], new_kid.as_str());
    assert_eq!(verify(&state.jwks, &new_token).await, Ok(new_session));
    let keys_dir = dirs.data().join("keys");
    assert!(
        !keys_dir.join(format!("control-{old_kid}.pem")).exists(),
        "a retired key's private half is deleted"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(keys_dir.join(format!("control-{new_kid}.pem")))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Not yet: the old key's last token expires in 600 s, plus 30 s leeway.
    clock.advance(Duration::from_secs(600));
    let runs = metric(&api, "trust_edge_control_maintenance_runs_total").await;
    let api_ref = &api;
    eventually("two maintenance passes", || async move {
        metric(api_ref, "trust_edge_control_maintenance_runs_total").await >= runs + 2.0
    })
    .await;
    assert_eq!(kids(&api_jwks(&api).await).len(), 2);
    clock.advance(Duration::from_secs(31));
    let state = wait_state(&client, "the old key to leave", |s| {
        kids(&s.jwks) == [new_kid.clone()]
    })
    .await;
    assert_eq!(kids(&api_jwks(&api).await), vec![new_kid.clone()]);
    assert_eq!(
        verify(&state.jwks, &old_token).await,
        Err(TokenRejection::Invalid)
    );
    let listed = api.op(Method::GET, "/v1/keys", None).await;
    let states: Vec<(String, String)> = listed.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().to_owned(),
                k["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            (new_kid, "active".to_owned()),
            (old_kid, "expired".to_owned())
        ]
    );
    client.stop().await;
    control.stop().await;
}

#[tokio::test]
async fn revoking_a_key_removes_it_at_once() {
    let dirs = Dirs::new();
    let control = start(dirs.config()).await;
    let api = Api::new(&control);
    let client = sync_client(&control, "edge-a");
    client.wait_ready(DEADLINE).await.unwrap();
    let (_, first_token) = api.create_session(None).await;
    let first = jwt_header(&first_token)["kid"].as_str().unwrap().to_owned();
    let second = api.op(Method::POST, "/v1/keys/rotate", None).await.body["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    // Revoking a retired key.
    let reply = api
        .op(Method::POST, &format!("/v1/keys/{first}/revoke"), None)
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["jwks_kids"], serde_json::json!([second.clone()]));
    let state = wait_state(&client, "the key to go", |s| {
        kids(&s.jwks) == [second.clone()]
    })
    .await;
    assert_eq!(
        verify(&state.jwks, &first_token).await,
        Err(TokenRejection::Invalid)
    );
    api.op(Method::POST, &format!("/v1/keys/{first}/revoke"), None)
        .await
        .assert_refused(409, "conflict");
    // Revoking the active key rotates first.
    let (_, second_token) = api.create_session(None).await;
    let reply = api
        .op(Method::POST, &format!("/v1/keys/{second}/revoke"), None)
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let third = reply.body["active"].as_str().unwrap().to_owned();
    assert_ne!(third, second);
    let state = wait_state(&client, "the active key to go", |s| {
        kids(&s.jwks) == [third.clone()]
    })
    .await;
    assert_eq!(
        verify(&state.jwks, &second_token).await,
        Err(TokenRejection::Invalid)
    );
    let (_, third_token) = api.create_session(None).await;
    assert_eq!(jwt_header(&third_token)["kid"], third.as_str());
    client.stop().await;
    control.stop().await;
}

#[tokio::test]
async fn keys_rotate_on_schedule() {
    let dirs = Dirs::new();
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let mut config = dirs.config();
    config.maintenance_interval = Duration::from_millis(50);
    config.key_rotation_interval = Duration::from_secs(3600);
    let overrides = Overrides {
        clock: Some(clock.clone() as Arc<dyn Clock>),
        ..Overrides::default()
    };
    let control = start_with(config, overrides).await;
    let api = Api::new(&control);
    let first = kids(&api_jwks(&api).await);
    assert_eq!(first.len(), 1);
    clock.advance(Duration::from_secs(3600));
    let (api_ref, first_ref) = (&api, &first);
    // The old key signed nothing, so it may leave the JWKS at the very next pass.
    eventually("a scheduled rotation", || async move {
        !kids(&api_jwks(api_ref).await).contains(&first_ref[0])
    })
    .await;
    let (_, token) = api.create_session(None).await;
    assert_ne!(jwt_header(&token)["kid"].as_str().unwrap(), first[0]);
    let audit = api.op(Method::GET, "/v1/audit", None).await;
    let scheduled = audit.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["activity"] == "key_rotate")
        .unwrap();
    assert_eq!(scheduled["actor"], "control");
    assert_eq!(scheduled["detail"], "scheduled");
    control.stop().await;
}

#[tokio::test]
async fn es256_keys_on_request() {
    let dirs = Dirs::new();
    let mut config = dirs.config();
    config.key_algorithm = KeyAlgorithm::Es256;
    let control = start(config).await;
    let api = Api::new(&control);
    let (id, token) = api.create_session(None).await;
    assert_eq!(jwt_header(&token)["alg"], "ES256");
    assert_eq!(verify(&api_jwks(&api).await, &token).await, Ok(id));
    control.stop().await;
}
