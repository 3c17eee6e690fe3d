//! The HTTP API: happy paths and every refusal issue 3 lists.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use trust_core::token::{KeySource, Verifier, VerifierConfig};

use crate::common::*;
use control::store::{AuditEntry, AuditQuery, AuditStore, StoredAudit};
use control::{Overrides, StoreError};

async fn verifier(api: &Api) -> Verifier {
    let jwks = api
        .send(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(jwks.status, 200);
    Verifier::new(VerifierConfig::new(KeySource::Static(jwks.body)))
        .await
        .unwrap()
}

#[tokio::test]
async fn session_lifecycle_create_get_refresh_end() {
    let dirs = Dirs::new();
    let control = start(dirs.config()).await;
    let api = Api::new(&control);
    let reply = api
        .orch(
            Method::POST,
            "/v1/sessions",
            Some(json!({"tenant": "acme", "profile": PROFILE, "ttl_seconds": 3600, "labels": {"run": "42"}})),
        )
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_eq!(reply.body["proxy_url"], "http://127.0.0.1:3128");
    let id = reply.body["session_id"].as_str().unwrap().to_owned();
    let token = reply.body["token"].as_str().unwrap().to_owned();
    let header = jwt_header(&token);
    assert_eq!(header["alg"], "EdDSA");
    let jwks = api
        .send(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(kids(&jwks.body), [header["kid"].as_str().unwrap()]);
    let verified = verifier(&api).await.verify(&token).await.unwrap();
    assert_eq!(verified.claims.sid, id);
    assert_eq!(verified.claims.tenant, "acme");
    assert_eq!(verified.claims.profile, PROFILE);
    assert_eq!(verified.claims.exp - verified.claims.iat, 3600);
    assert_eq!(reply.body["expires_at_unix"], verified.claims.exp);

    let got = api
        .orch(Method::GET, &format!("/v1/sessions/{id}"), None)
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["state"], "active");
    assert_eq!(got.body["labels"], json!({"run": "42"}));
    assert!(
        got.body.get("token").is_none(),
        "a session view never holds a token"
    );
    let list = api
        .orch(Method::GET, "/v1/sessions?tenant=acme", None)
        .await;
    assert_eq!(list.body["sessions"].as_array().unwrap().len(), 1);

    let refreshed = api
        .orch(Method::POST, &format!("/v1/sessions/{id}/token"), None)
        .await;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");
    let new_token = refreshed.body["token"].as_str().unwrap();
    let new_claims = verifier(&api)
        .await
        .verify(new_token)
        .await
        .unwrap()
        .claims
        .clone();
    assert_ne!(new_claims.jti, verified.claims.jti);
    assert_eq!(
        new_claims.exp, verified.claims.exp,
        "capped by the session's end"
    );
    let short = api
        .orch(
            Method::POST,
            &format!("/v1/sessions/{id}/token"),
            Some(json!({"ttl_seconds": 60})),
        )
        .await;
    let short_claims = verifier(&api)
        .await
        .verify(short.body["token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(short_claims.claims.exp - short_claims.claims.iat, 60);

    let ended = api
        .orch(Method::DELETE, &format!("/v1/sessions/{id}"), None)
        .await;
    assert_eq!(ended.status, 200, "{ended:?}");
    assert_eq!(ended.body["state"], "ended");
    assert_eq!(ended.body["reason"], "ended");
    api.orch(Method::DELETE, &format!("/v1/sessions/{id}"), None)
        .await
        .assert_refused(409, "conflict");
    api.orch(Method::POST, &format!("/v1/sessions/{id}/token"), None)
        .await
        .assert_refused(409, "conflict");

    let audit = api
        .op(Method::GET, &format!("/v1/audit?session={id}"), None)
        .await;
    assert_eq!(audit.status, 200, "{audit:?}");
    let activities: Vec<&str> = audit.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["activity"].as_str().unwrap())
        .collect();
    assert_eq!(
        activities,
        [
            "session_create",
            "token_refresh",
            "token_refresh",
            "session_end"
        ]
    );
    let first = &audit.body["records"][0];
    assert_eq!(first["actor"], "bootstrap-orchestrator");
    assert_eq!(first["class_uid"], 3002);
    assert!(
        !audit.body.to_string().contains(&token),
        "no token in the audit trail"
    );
    control.stop().await;
}

#[tokio::test]
async fn missing_or_wrong_token_is_unauthorized() {
    let dirs = Dirs::new();
    let control = start(dirs.config()).await;
    let api = Api::new(&control);
    let body = json!({"tenant": "acme", "profile": PROFILE});
    let missing = api
        .send(Method::POST, "/v1/sessions", None, Some(body.clone()))
        .await;
    missing.assert_refused(401, "unauthorized");
    assert_eq!(missing.headers["www-authenticate"], "Bearer");
    api.send(
        Method::POST,
        "/v1/sessions",
        Some("te_not-a-token"),
        Some(body.clone()),
    )
    .await
    .assert_refused(401, "unauthorized");
    // A token in the query string is never read.
    let in_query = format!("/v1/sessions?access_token={}", api.operator);
    api.send(Method::GET, &in_query, None, None)
        .await
        .assert_refused(401, "unauthorized");
    let basic = api
        .http
        .get(api.url("/v1/sessions"))
        .basic_auth("x", Some(&api.operator))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    let listed = api.op(Method::GET, "/v1/sessions", None).await;
    assert_eq!(listed.body["sessions"], json!([]), "nothing was created");
    control.stop().await;
}

#[tokio::test]
async fn orchestrator_cannot_revoke_kill_rotate_or_read_audit() {
    let dirs = Dirs::new();
    let control = start(dirs.config()).await;
    let api = Api::new(&control);
    let (id, _) = api.create_session(None).await;
    let jwks_before = api
        .send(Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .body;
    let kid = kids(&jwks_before)[0].clone();
    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            format!("/v1/sessions/{id}/revoke"),
            Some(json!({"reason": "x"})),
        ),
        (
            Method::POST,
            "/v1/killswitch".into(),
            Some(json!({"reason": "x"})),
        ),
        (Method::DELETE, "/v1/killswitch".into(), None),
        (Method::POST, "/v1/keys/rotate".into(), None),
        (Method::POST, format!("/v1/keys/{kid}/revoke"), None),
        (Method::GET, "/v1/keys".into(), None),
        (Method::GET, "/v1/audit".into(), None),
        (Method::GET, "/v1/edges".into(), None),
    ];
    for (method, path, body) in attempts {
        api.orch(method.clone(), &path, body)
            .await
            .assert_refused(403, "forbidden");
    }
    // A malformed body does not get past the role check either.
    let reply = api
        .http
        .post(api.url(&format!("/v1/sessions/{id}/revoke")))
        .bearer_auth(&api.orchestrator)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 403);
    let session = api
        .op(Method::GET, &format!("/v1/sessions/{id}"), None)
        .await;
    assert_eq!(session.body["state"], "active");
    let switch = api.op(Method::GET, "/v1/killswitch", None).await;
    assert_eq!(switch.body["deny_all"], false);
    let jwks_after = api
        .send(Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .body;
    assert_eq!(jwks_after, jwks_before);
    control.stop().await;
}

#[tokio::test]
async fn bad_bodies_are_invalid_requests() {
    let dirs = Dirs::new();
    let control = start(dirs.config()).await;
    let api = Api::new(&control);
    let raw = |body: &'static str, content_type: &'static str| {
        api.http
            .post(api.url("/v1/sessions"))
            .bearer_auth(&api.orchestrator)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let malformed = raw("{\"tenant\": ", "application/json").await.unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(malformed.headers()["x-deny-reason"], "invalid_request");
    let no_type = raw("{}", "text/plain").await.unwrap();
    assert_eq!(no_type.status(), 400);
    let cases = [
        (
            json!({"tenant": "a", "profile": PROFILE, "color": "red"}),
            "unknown field `color`",
        ),
        (json!({"tenant": "a"}), "missing field `profile`"),
        (
            json!({"tenant": "a", "profile": "no-such-profile"}),
            "profile \"no-such-profile\" is not in the loaded policies",
        ),
        (
            json!({"tenant": "a", "profile": PROFILE, "ttl_seconds": 86_401}),
            "ttl_seconds 86401 exceeds the maximum of 86400",
        ),
        (
            json!({"tenant": "a", "profile": PROFILE, "ttl_seconds": 0}),
            "ttl_seconds must be positive",
        ),
        (
            json!({"tenant": "", "profile": PROFILE}),
            "tenant must be 1-128 printable characters",
        ),
    ];
    for (body, message) in cases {
        let reply = api
            .orch(Method::POST, "/v1/sessions", Some(body.clone()))
            .await;
        reply.assert_refused(422, "invalid_request");
        let text = reply.body["message"].as_str().unwrap();
        assert!(text.contains(message), "{body}: {text}");
    }
    let (id, _) = api.create_session(None).await;
    api.op(
        Method::POST,
        &format!("/v1/sessions/{id}/revoke"),
        Some(json!({"reason": "x", "extra": 1})),
    )
    .await
    .assert_refused(422, "invalid_request");
    api.op(
        Method::POST,
        &format!("/v1/sessions/{id}/revoke"),
        Some(json!({})),
    )
    .await
    .assert_refused(422, "invalid_request");
    api.orch(
        Method::POST,
        &format!("/v1/sessions/{id}/token"),
        Some(json!({"ttl": 5})),
    )
    .await
    .assert_refused(422, "invalid_request");
    api.op(Method::GET, "/v1/audit?limit=zero", None)
        .await
        .assert_refused(400, "invalid_request");
    api.op(Method::GET, "/v1/audit?since=yesterday", None)
        .await
        .assert_refused(400, "invalid_request");
    let listed = api.op(Method::GET, "/v1/sessions", None).await;
    assert_eq!(
        listed.body["sessions"].as_array().unwrap().len(),
        1,
        "only the good one"
    );
    control.stop().await;
}

#[tokio::test]
async fn unknown_session_route_and_method() {
    let dirs = Dirs::new();
    let control = start(dirs.config()).await;
    let api = Api::new(&control);
    let id = "0190aaaa-0000-7000-8000-000000000000";
    api.orch(Method::GET, &format!("/v1/sessions/{id}"), None)
        .await
        .assert_refused(404, "not_found");
    api.orch(Method::POST, &format!("/v1/sessions/{id}/token"), None)
        .await
        .assert_refused(404, "not_found");
    api.orch(Method::DELETE, &format!("/v1/sessions/{id}"), None)
        .await
        .assert_refused(404, "not_found");
    api.revoke(id).await.assert_refused(404, "not_found");
    api.op(Method::POST, "/v1/keys/no-such-kid/revoke", None)
        .await
        .assert_refused(404, "not_found");
    api.op(Method::GET, "/v1/nothing", None)
        .await
        .assert_refused(404, "not_found");
    api.op(Method::PUT, "/v1/sessions", None)
        .await
        .assert_refused(405, "method_not_allowed");
    control.stop().await;
}

#[tokio::test]
async fn revoked_session_cannot_refresh_and_deny_all_blocks_create_and_refresh() {
    let dirs = Dirs::new();
    let control = start(dirs.config()).await;
    let api = Api::new(&control);
    let (revoked, _) = api.create_session(None).await;
    let (other, _) = api.create_session(None).await;
    let reply = api.revoke(&revoked).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["state"], "revoked");
    assert_eq!(reply.body["reason"], "revoked: test");
    api.orch(Method::POST, &format!("/v1/sessions/{revoked}/token"), None)
        .await
        .assert_refused(409, "conflict");
    api.revoke(&revoked).await.assert_refused(409, "conflict");

    let on = api
        .op(
            Method::POST,
            "/v1/killswitch",
            Some(json!({"reason": "incident 7"})),
        )
        .await;
    assert_eq!(on.status, 200, "{on:?}");
    assert_eq!(on.body["deny_all"], true);
    api.op(
        Method::POST,
        "/v1/killswitch",
        Some(json!({"reason": "again"})),
    )
    .await
    .assert_refused(409, "conflict");
    let body = json!({"tenant": "acme", "profile": PROFILE});
    let refused = api
        .orch(Method::POST, "/v1/sessions", Some(body.clone()))
        .await;
    refused.assert_refused(409, "conflict");
    assert_eq!(
        refused.body["message"],
        "deny-all is on: sessions cannot be created"
    );
    api.orch(Method::POST, &format!("/v1/sessions/{other}/token"), None)
        .await
        .assert_refused(409, "conflict");
    let state = api.orch(Method::GET, "/v1/killswitch", None).await;
    assert_eq!(state.body["deny_all"], true);
    assert_eq!(state.body["reason"], "incident 7");

    let off = api.op(Method::DELETE, "/v1/killswitch", None).await;
    assert_eq!(off.status, 200);
    assert_eq!(off.body["deny_all"], false);
    api.op(Method::DELETE, "/v1/killswitch", None)
        .await
        .assert_refused(409, "conflict");
    assert_eq!(
        api.orch(Method::POST, "/v1/sessions", Some(body))
            .await
            .status,
        201
    );
    assert_eq!(
        api.orch(Method::POST, &format!("/v1/sessions/{other}/token"), None)
            .await
            .status,
        200
    );
    control.stop().await;
}

/// An audit trail whose writes fail.
struct BrokenAudit;

impl AuditStore for BrokenAudit {
    fn append_audit(&self, _: &AuditEntry) -> Result<u64, StoreError> {
        Err(StoreError::Unavailable("disk full".into()))
    }

    fn audit(&self, _: &AuditQuery) -> Result<Vec<StoredAudit>, StoreError> {
        Err(StoreError::Unavailable("disk full".into()))
    }
}

#[tokio::test]
async fn failing_audit_refuses_privileged_actions_and_changes_nothing() {
    let dirs = Dirs::new();
    let overrides = Overrides {
        audit: Some(Arc::new(BrokenAudit)),
        ..Overrides::default()
    };
    let control = start_with(dirs.config(), overrides).await;
    let api = Api::new(&control);
    let client = sync_client(&control, "edge-a");
    let ready = client.wait_ready(DEADLINE).await.unwrap();
    // Creating a session is not privileged: it works, and its lost audit record is counted.
    let (id, _) = api.create_session(None).await;
    let jwks_before = api
        .send(Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .body;
    let kid = kids(&jwks_before)[0].clone();
    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            format!("/v1/sessions/{id}/revoke"),
            Some(json!({"reason": "x"})),
        ),
        (Method::DELETE, format!("/v1/sessions/{id}"), None),
        (
            Method::POST,
            "/v1/killswitch".into(),
            Some(json!({"reason": "x"})),
        ),
        (Method::POST, "/v1/keys/rotate".into(), None),
        (Method::POST, format!("/v1/keys/{kid}/revoke"), None),
    ];
    for (method, path, body) in attempts {
        let reply = api.op(method.clone(), &path, body).await;
        reply.assert_refused(503, "unavailable");
        assert!(
            reply.body["message"]
                .as_str()
                .unwrap()
                .contains("nothing changed"),
            "{reply:?}"
        );
    }
    let session = api
        .op(Method::GET, &format!("/v1/sessions/{id}"), None)
        .await;
    assert_eq!(session.body["state"], "active");
    assert_eq!(
        api.op(Method::GET, "/v1/killswitch", None).await.body["deny_all"],
        false
    );
    assert_eq!(
        api.send(Method::GET, "/.well-known/jwks.json", None, None)
            .await
            .body,
        jwks_before
    );
    let now = client.current();
    assert_eq!(now.sequence, ready.sequence, "no change reached the edge");
    assert!(now.revoked.is_empty() && !now.deny_all);
    let metrics = api.send(Method::GET, "/metrics", None, None).await;
    assert_eq!(metrics.status, 200);
    let text = api
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("trust_edge_control_audit_write_failures_total 6"),
        "{text}"
    );
    client.stop().await;
    control.stop().await;
}

#[tokio::test]
async fn public_endpoints_and_token_files() {
    let dirs = Dirs::new();
    let control = start(dirs.config()).await;
    assert!(control.created_api_tokens());
    let api = Api::new(&control);
    for path in ["/healthz", "/readyz", "/metrics", "/.well-known/jwks.json"] {
        let reply = api.send(Method::GET, path, None, None).await;
        assert_eq!(reply.status, 200, "{path}");
        assert!(reply.headers.contains_key("x-request-id"), "{path}");
    }
    let ready = api.send(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.body["status"], "ready");
    use std::os::unix::fs::PermissionsExt;
    for path in [
        &control.api_token_files().operator,
        &control.api_token_files().orchestrator,
    ] {
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }
    assert_ne!(api.operator, api.orchestrator);
    assert!(api.operator.starts_with("te_"));
    // A token made offline works without a restart.
    let extra = control::create_api_token(&dirs.data(), control::Role::Operator, "ci").unwrap();
    let mut accepted = false;
    for _ in 0..50 {
        if api
            .send(Method::GET, "/v1/keys", Some(&extra), None)
            .await
            .status
            == 200
        {
            accepted = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(accepted, "the new token was accepted within 5 s");
    control.stop().await;
}
