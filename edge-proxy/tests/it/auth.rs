//! Session-token refusals: each answers 407 with `Proxy-Authenticate`, or 403 for an unknown
//! profile, with its exact reason.

use crate::{Fixture, get};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use testkit::raw;
use trust_core::token::{self, KeyAlgorithm, SessionClaims, SigningKey};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(profile: &str) -> SessionClaims {
    SessionClaims {
        sid: "s-auth".into(),
        tenant: "t".into(),
        profile: profile.into(),
        jti: "j-1".into(),
        iss: "trust-edge".into(),
        aud: "trust-edge-egress".into(),
        iat: now(),
        exp: now() + 600,
        nbf: None,
    }
}

async fn expect(f: &Fixture, token: &str, status: u16, reason: &str) {
    let url = format!("http://origin.test:{}/", f.origin.port());
    let r = raw::send(f.addr(), &get(&url, token))
        .await
        .expect("a response");
    assert_eq!(
        (r.status, r.deny_reason()),
        (status, Some(reason)),
        "token {token:.20}…: {r:?}"
    );
    if status == 407 {
        assert!(
            r.header("proxy-authenticate").unwrap().contains("Bearer"),
            "{r:?}"
        );
    }
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["reason"], reason);
    assert_eq!(body["request_id"].as_str(), r.header("x-request-id"));
    assert_eq!(f.origin.requests(), 0, "nothing reached the origin");
}

#[tokio::test]
async fn refuses_every_bad_token_with_its_reason() {
    let f = Fixture::start("").await;
    let url = format!("http://origin.test:{}/", f.origin.port());

    let none = raw::send(
        f.addr(),
        format!("GET {url} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(
        (none.status, none.deny_reason()),
        (407, Some("missing_session_token"))
    );
    assert!(none.header("proxy-authenticate").is_some());

    let stranger = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let forged = token::issue(
        &stranger,
        "trust-edge",
        "trust-edge-egress",
        "s",
        "t",
        "web",
        Duration::from_secs(60),
    )
    .unwrap();
    expect(&f, &forged, 407, "invalid_session_token").await;

    let mut c = claims("web");
    c.iat = now() - 3600;
    c.exp = now() - 120;
    expect(&f, &f.edge.key.sign(&c).unwrap(), 407, "session_expired").await;

    let mut c = claims("web");
    c.iss = "someone-else".into();
    expect(
        &f,
        &f.edge.key.sign(&c).unwrap(),
        407,
        "invalid_session_token",
    )
    .await;

    let mut c = claims("web");
    c.aud = "another-service".into();
    expect(
        &f,
        &f.edge.key.sign(&c).unwrap(),
        407,
        "invalid_session_token",
    )
    .await;

    let header = B64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = B64.encode(serde_json::to_vec(&claims("web")).unwrap());
    expect(
        &f,
        &format!("{header}.{payload}."),
        407,
        "invalid_session_token",
    )
    .await;

    let garbage = "not.a.jwt";
    expect(&f, garbage, 407, "invalid_session_token").await;

    expect(
        &f,
        &f.edge.token("no-such-profile", "s-unknown"),
        403,
        "unknown_profile",
    )
    .await;
}

#[tokio::test]
async fn basic_credentials_with_a_bad_token_are_refused() {
    let f = Fixture::start("").await;
    let url = format!("http://origin.test:{}/", f.origin.port());
    let creds = base64::engine::general_purpose::STANDARD.encode("session:not-a-token");
    let req =
        format!("GET {url} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {creds}\r\n\r\n");
    let r = raw::send(f.addr(), req.as_bytes()).await.unwrap();
    assert_eq!(
        (r.status, r.deny_reason()),
        (407, Some("invalid_session_token"))
    );
    let audit = f.audited("invalid_session_token").await;
    assert_eq!(audit.len(), 1);
    assert!(
        !serde_json::to_string(&audit)
            .unwrap()
            .contains("not-a-token")
    );
}
