//! Control restarted on the same data directory: sessions, revocations, deny-all, keys and API
//! tokens survive, and edges resync, including a revocation issued while they were cut off.

use reqwest::Method;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn restart_keeps_sessions_revocations_deny_all_keys_and_tokens() {
    let dirs = Dirs::new();
    let control = start(dirs.config()).await;
    let api = Api::new(&control);
    let (kept, token) = api.create_session(None).await;
    let (revoked, _) = api.create_session(None).await;
    assert_eq!(api.revoke(&revoked).await.status, 200);
    assert_eq!(
        api.op(
            Method::POST,
            "/v1/killswitch",
            Some(json!({"reason": "incident"}))
        )
        .await
        .status,
        200
    );
    let jwks = api
        .send(Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .body;
    let store_id = control.store_id().to_owned();
    control.stop().await;

    let control = start(dirs.config()).await;
    assert!(!control.created_api_tokens(), "tokens are created once");
    assert_eq!(control.store_id(), store_id);
    let again = Api::new(&control);
    assert_eq!(again.operator, api.operator, "the same token files");
    let kept_view = again
        .op(Method::GET, &format!("/v1/sessions/{kept}"), None)
        .await;
    assert_eq!(kept_view.body["state"], "active");
    let revoked_view = again
        .op(Method::GET, &format!("/v1/sessions/{revoked}"), None)
        .await;
    assert_eq!(revoked_view.body["state"], "revoked");
    let switch = again.op(Method::GET, "/v1/killswitch", None).await;
    assert_eq!(switch.body["deny_all"], true);
    assert_eq!(switch.body["reason"], "incident");
    assert_eq!(
        again
            .send(Method::GET, "/.well-known/jwks.json", None, None)
            .await
            .body,
        jwks
    );
    assert_eq!(kids(&jwks), [jwt_header(&token)["kid"].as_str().unwrap()]);
    again
        .orch(
            Method::POST,
            "/v1/sessions",
            Some(json!({"tenant": "a", "profile": PROFILE})),
        )
        .await
        .assert_refused(409, "conflict");
    let client = sync_client(&control, "edge-a");
    let state = client.wait_ready(DEADLINE).await.unwrap();
    assert!(state.revoked.contains(&revoked) && !state.revoked.contains(&kept));
    assert!(state.deny_all);
    assert_eq!(state.deny_all_reason, "incident");
    client.stop().await;
    control.stop().await;
}

#[tokio::test]
async fn edges_resync_after_a_restart_including_a_revocation_issued_while_cut_off() {
    let dirs = Dirs::new();
    let control = start(dirs.config()).await;
    let api = Api::new(&control);
    let mut relay = Relay::start(control.sync_addr()).await;
    let clients: Vec<_> = ["edge-1", "edge-2", "edge-3"]
        .into_iter()
        .map(|edge| sync_client_at(&control, edge, &relay.url()))
        .collect();
    for client in &clients {
        client.wait_ready(DEADLINE).await.unwrap();
    }
    let (id, _) = api.create_session(None).await;
    let (other, _) = api.create_session(None).await;
    relay.cut().await;
    control.stop().await;
    for client in &clients {
        wait_state(client, "the disconnect", |s| !s.connected).await;
    }

    // Control comes back on a new port; the edges are still cut off while it revokes.
    let control = start(dirs.config()).await;
    let api = Api::new(&control);
    assert_eq!(api.revoke(&id).await.status, 200);
    relay.set_target(control.sync_addr());
    relay.restore().await;
    for client in &clients {
        let state = wait_state(client, "the revocation", |s| {
            s.connected && s.revoked.contains(&id)
        })
        .await;
        assert!(!state.revoked.contains(&other));
        assert_eq!(state.store_id, control.store_id());
    }
    assert_eq!(
        metric(
            &api,
            "trust_edge_control_sync_starts_total{kind=\"resume\"}"
        )
        .await,
        3.0
    );
    // Live changes flow again on the resumed streams.
    assert_eq!(api.revoke(&other).await.status, 200);
    for client in &clients {
        wait_state(client, "the live revocation", |s| {
            s.revoked.contains(&other)
        })
        .await;
    }
    for client in clients {
        client.stop().await;
    }
    control.stop().await;
}
