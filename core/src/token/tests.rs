//! Signing, verification and the attacks a verifier must refuse. Shared helpers are
//! `pub(crate)` for the verifier's own tests.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::Digest;

use super::*;
use crate::DenyReason;

pub(crate) fn now() -> u64 {
    unix_now()
}

pub(crate) fn claims_until(exp: u64) -> SessionClaims {
    SessionClaims {
        sid: "sess-1".to_owned(),
        tenant: "tenant-a".to_owned(),
        profile: "sandbox-default".to_owned(),
        jti: "jti-1".to_owned(),
        iss: defaults::ISSUER.to_owned(),
        aud: defaults::AUDIENCE.to_owned(),
        iat: now(),
        exp,
        nbf: None,
    }
}

pub(crate) fn valid_claims() -> SessionClaims {
    claims_until(now() + 3600)
}

pub(crate) fn claims_json() -> Value {
    serde_json::to_value(valid_claims()).unwrap()
}

pub(crate) fn jwks_of(keys: &[&SigningKey]) -> Value {
    Jwks::from_signing_keys(keys.iter().copied()).to_value()
}

pub(crate) async fn static_verifier(keys: &[&SigningKey]) -> Verifier {
    Verifier::new(VerifierConfig::new(KeySource::Static(jwks_of(keys))))
        .await
        .unwrap()
}

/// Signs an arbitrary header/payload with jsonwebtoken's own encoder, independent of ours.
pub(crate) fn sign_raw(key: &SigningKey, header: Header, payload: &Value) -> String {
    let pem = key.to_pkcs8_pem();
    let encoding = match key.alg() {
        KeyAlgorithm::EdDSA => EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
        KeyAlgorithm::Es256 => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
    };
    jsonwebtoken::encode(&header, payload, &encoding).unwrap()
}

pub(crate) fn header(alg: Algorithm, kid: &str) -> Header {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    header
}

/// The token with one character in the middle of its signature changed.
pub(crate) fn tamper_signature(token: &str) -> String {
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let mut chars: Vec<char> = signature.chars().collect();
    chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
    format!("{signed}.{}", chars.into_iter().collect::<String>())
}

pub(crate) fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test]
async fn signs_and_verifies_both_algorithms() {
    for alg in KeyAlgorithm::ALL {
        let key = SigningKey::generate(alg).unwrap();
        let verifier = static_verifier(&[&key]).await;
        let claims = valid_claims();
        let token = key.sign(&claims).unwrap();

        let session = verifier.verify(&token).await.unwrap();

        assert_eq!(session.claims, claims, "{alg}");
        let expected_hash: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        assert_eq!(session.token_hash, expected_hash);
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(key.kid()));
        assert_eq!(header.alg, alg.jwt());
        assert_eq!(verifier.stats().signature_checks, 1);
    }
}

#[tokio::test]
async fn second_verify_is_a_cache_hit() {
    let key = SigningKey::generate(KeyAlgorithm::Es256).unwrap();
    let verifier = static_verifier(&[&key]).await;
    let token = key.sign(&valid_claims()).unwrap();

    let first = verifier.verify(&token).await.unwrap();
    let second = verifier.verify(&token).await.unwrap();

    assert!(Arc::ptr_eq(&first, &second));
    let stats = verifier.stats();
    assert_eq!(
        (stats.cache_hits, stats.cache_misses, stats.signature_checks),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn past_exp_is_expired_but_leeway_is_honoured() {
    let key = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let verifier = static_verifier(&[&key]).await;

    let expired = key.sign(&claims_until(now() - 3600)).unwrap();
    let rejection = verifier.verify(&expired).await.unwrap_err();
    assert_eq!(rejection, TokenRejection::Expired);
    assert_eq!(rejection.deny_reason(), DenyReason::SessionExpired);

    // 5 s past exp is inside the 30 s leeway.
    let just_past = key.sign(&claims_until(now() - 5)).unwrap();
    assert!(verifier.verify(&just_past).await.is_ok());
}

#[tokio::test]
async fn cached_token_still_expires() {
    let key = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let verifier = static_verifier(&[&key]).await;
    let token = key.sign(&claims_until(now() + 60)).unwrap();
    verifier.verify(&token).await.unwrap();

    verifier.advance_clock(60 + 30 + 1);

    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        TokenRejection::Expired
    );
    assert_eq!(
        verifier.stats().signature_checks,
        1,
        "answered from the cache, not re-verified"
    );
    assert_eq!(verifier.stats().cache_hits, 0);
    // Remembered as expired: the next attempt is a negative hit, still Expired.
    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        TokenRejection::Expired
    );
    assert_eq!(verifier.stats().negative_hits, 1);
    assert_eq!(verifier.stats().signature_checks, 1);
}

#[tokio::test]
async fn future_nbf_is_invalid_until_it_passes() {
    let key = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let verifier = static_verifier(&[&key]).await;
    let mut claims = claims_until(now() + 7200);
    claims.nbf = Some(now() + 600);
    let token = key.sign(&claims).unwrap();

    let rejection = verifier.verify(&token).await.unwrap_err();
    assert_eq!(rejection, TokenRejection::Invalid);
    assert_eq!(rejection.deny_reason(), DenyReason::InvalidSessionToken);

    // Not remembered as invalid: once nbf passes, the same token is accepted.
    verifier.advance_clock(600);
    assert!(verifier.verify(&token).await.is_ok());
}

#[tokio::test]
async fn wrong_issuer_or_audience_is_invalid() {
    let key = SigningKey::generate(KeyAlgorithm::Es256).unwrap();
    let verifier = static_verifier(&[&key]).await;
    let mut wrong_iss = valid_claims();
    wrong_iss.iss = "someone-else".to_owned();
    let mut wrong_aud = valid_claims();
    wrong_aud.aud = "trust-edge-admin".to_owned();

    for claims in [wrong_iss, wrong_aud] {
        let token = key.sign(&claims).unwrap();
        assert_eq!(
            verifier.verify(&token).await.unwrap_err(),
            TokenRejection::Invalid
        );
    }
}

#[tokio::test]
async fn audience_may_be_a_one_element_array_only() {
    let key = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let verifier = static_verifier(&[&key]).await;
    let mut payload = claims_json();

    payload["aud"] = json!([defaults::AUDIENCE]);
    let token = sign_raw(&key, header(Algorithm::EdDSA, key.kid()), &payload);
    assert_eq!(
        verifier.verify(&token).await.unwrap().claims.aud,
        defaults::AUDIENCE
    );

    payload["aud"] = json!([defaults::AUDIENCE, "other"]);
    let token = sign_raw(&key, header(Algorithm::EdDSA, key.kid()), &payload);
    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        TokenRejection::Invalid
    );
}

#[tokio::test]
async fn alg_none_is_refused() {
    let key = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let verifier = static_verifier(&[&key]).await;
    let head = b64_json(&json!({"alg": "none", "kid": key.kid(), "typ": "JWT"}));
    let body = b64_json(&claims_json());

    for token in [format!("{head}.{body}."), format!("{head}.{body}.AAAA")] {
        assert_eq!(
            verifier.verify(&token).await.unwrap_err(),
            TokenRejection::Invalid
        );
    }
    assert_eq!(verifier.stats().signature_checks, 0);
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let key = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let verifier = static_verifier(&[&key]).await;
    let jwk = key.public_jwk();
    let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
    let jwk_text = jwk.to_string();

    for secret in [x.as_slice(), jwk_text.as_bytes()] {
        let token = jsonwebtoken::encode(
            &header(Algorithm::HS256, key.kid()),
            &claims_json(),
            &EncodingKey::from_secret(secret),
        )
        .unwrap();
        assert_eq!(
            verifier.verify(&token).await.unwrap_err(),
            TokenRejection::Invalid
        );
    }
    assert_eq!(verifier.stats().signature_checks, 0);
}

#[tokio::test]
async fn header_alg_must_match_the_key_type() {
    let ed = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let ec = SigningKey::generate(KeyAlgorithm::Es256).unwrap();
    let verifier = static_verifier(&[&ed, &ec]).await;

    // ES256 header, signed by an ES256 key, but naming the Ed25519 key's kid; and vice versa.
    let es_on_okp = sign_raw(&ec, header(Algorithm::ES256, ed.kid()), &claims_json());
    let ed_on_ec = sign_raw(&ed, header(Algorithm::EdDSA, ec.kid()), &claims_json());

    assert_eq!(
        verifier.verify(&es_on_okp).await.unwrap_err(),
        TokenRejection::Invalid
    );
    assert_eq!(
        verifier.verify(&ed_on_ec).await.unwrap_err(),
        TokenRejection::Invalid
    );
    assert_eq!(verifier.stats().signature_checks, 0);
}

#[tokio::test]
async fn algorithms_outside_the_config_are_refused() {
    let ec = SigningKey::generate(KeyAlgorithm::Es256).unwrap();
    let mut config = VerifierConfig::new(KeySource::Static(jwks_of(&[&ec])));
    config.algorithms = vec![KeyAlgorithm::EdDSA];
    let verifier = Verifier::new(config).await.unwrap();

    let token = ec.sign(&valid_claims()).unwrap();
    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        TokenRejection::Invalid
    );

    for alg in [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES384,
        Algorithm::HS512,
    ] {
        let head = b64_json(&json!({"alg": format!("{alg:?}"), "kid": ec.kid()}));
        let token = format!("{head}.{}.c2lnbmF0dXJl", b64_json(&claims_json()));
        assert_eq!(
            verifier.verify(&token).await.unwrap_err(),
            TokenRejection::Invalid,
            "{alg:?}"
        );
    }
    assert_eq!(verifier.stats().signature_checks, 0);
}

#[tokio::test]
async fn missing_kid_crit_and_bad_signatures_are_invalid() {
    let key = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let impostor = SigningKey::from_pkcs8_pem(
        &SigningKey::generate(KeyAlgorithm::EdDSA)
            .unwrap()
            .to_pkcs8_pem(),
        key.kid(),
        KeyAlgorithm::EdDSA,
    )
    .unwrap();
    let verifier = static_verifier(&[&key]).await;

    let no_kid = sign_raw(&key, Header::new(Algorithm::EdDSA), &claims_json());
    let mut crit = header(Algorithm::EdDSA, key.kid());
    crit.crit = Some(vec!["exp".to_owned()]);
    let crit = sign_raw(&key, crit, &claims_json());
    let wrong_key = impostor.sign(&valid_claims()).unwrap();
    let good = key.sign(&valid_claims()).unwrap();
    let (signed, _) = good.rsplit_once('.').unwrap();
    let other = key.sign(&claims_until(now() + 10)).unwrap();
    let (_, other_signature) = other.rsplit_once('.').unwrap();
    let spliced = format!("{signed}.{other_signature}");

    for token in [no_kid, crit, wrong_key, spliced] {
        assert_eq!(
            verifier.verify(&token).await.unwrap_err(),
            TokenRejection::Invalid
        );
    }
    assert!(verifier.verify(&good).await.is_ok());
}

#[tokio::test]
async fn missing_or_empty_required_claims_are_invalid() {
    let key = SigningKey::generate(KeyAlgorithm::Es256).unwrap();
    let verifier = static_verifier(&[&key]).await;
    let mut cases = Vec::new();
    for claim in ["sid", "profile", "tenant", "jti", "exp", "iss", "aud"] {
        let mut payload = claims_json();
        payload.as_object_mut().unwrap().remove(claim);
        cases.push(payload);
    }
    for claim in ["sid", "profile"] {
        let mut payload = claims_json();
        payload[claim] = json!("");
        cases.push(payload);
    }
    let mut float_exp = claims_json();
    float_exp["exp"] = json!(1e12);
    cases.push(float_exp);

    for payload in cases {
        let token = sign_raw(&key, header(Algorithm::ES256, key.kid()), &payload);
        assert_eq!(
            verifier.verify(&token).await.unwrap_err(),
            TokenRejection::Invalid,
            "{payload}"
        );
    }
}

#[tokio::test]
async fn oversized_and_non_ascii_tokens_are_invalid_without_work() {
    let key = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let verifier = static_verifier(&[&key]).await;
    let good = key.sign(&valid_claims()).unwrap();
    let padding = "A".repeat(defaults::MAX_TOKEN_LEN);
    let oversized = format!("{good}{padding}");
    let non_ascii = good.replacen('A', "Ä", 1);

    for token in [
        oversized.as_str(),
        non_ascii.as_str(),
        "",
        "a.b",
        "a..c",
        "a.b.c.d",
        " a.b.c",
    ] {
        assert_eq!(
            verifier.verify(token).await.unwrap_err(),
            TokenRejection::Invalid,
            "{token:.20}"
        );
    }
    let stats = verifier.stats();
    assert_eq!((stats.cache_misses, stats.signature_checks), (0, 0));
}

#[tokio::test]
async fn repeated_bad_token_hits_the_negative_cache() {
    let key = SigningKey::generate(KeyAlgorithm::Es256).unwrap();
    let verifier = static_verifier(&[&key]).await;
    let good = key.sign(&valid_claims()).unwrap();
    let bad = tamper_signature(&good);

    for _ in 0..3 {
        assert_eq!(
            verifier.verify(&bad).await.unwrap_err(),
            TokenRejection::Invalid
        );
    }

    let stats = verifier.stats();
    assert_eq!(stats.signature_checks, 1);
    assert_eq!(stats.negative_hits, 2);
    assert_eq!(stats.cache_misses, 1);
}

#[tokio::test]
async fn issue_mints_fresh_tokens() {
    let key = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let verifier = static_verifier(&[&key]).await;
    let ttl = Duration::from_secs(8 * 3600);

    let first = issue(
        &key,
        defaults::ISSUER,
        defaults::AUDIENCE,
        "s1",
        "t1",
        "p1",
        ttl,
    )
    .unwrap();
    let second = issue(
        &key,
        defaults::ISSUER,
        defaults::AUDIENCE,
        "s1",
        "t1",
        "p1",
        ttl,
    )
    .unwrap();

    let a = verifier.verify(&first).await.unwrap();
    let b = verifier.verify(&second).await.unwrap();
    assert_eq!(
        (
            a.claims.sid.as_str(),
            a.claims.tenant.as_str(),
            a.claims.profile.as_str()
        ),
        ("s1", "t1", "p1")
    );
    assert_eq!(a.claims.exp - a.claims.iat, ttl.as_secs());
    assert!(a.claims.iat.abs_diff(now()) <= 1);
    assert_ne!(a.claims.jti, b.claims.jti);
    assert_eq!(
        uuid::Uuid::parse_str(&a.claims.jti)
            .unwrap()
            .get_version_num(),
        7
    );

    let zero = issue(
        &key,
        defaults::ISSUER,
        defaults::AUDIENCE,
        "s1",
        "t1",
        "p1",
        Duration::ZERO,
    );
    assert!(matches!(zero, Err(TokenError::InvalidClaims(_))));
    let empty = issue(
        &key,
        defaults::ISSUER,
        defaults::AUDIENCE,
        "",
        "t1",
        "p1",
        ttl,
    );
    assert!(matches!(empty, Err(TokenError::InvalidClaims(_))));
}

#[test]
fn rejections_map_to_deny_reasons() {
    assert_eq!(
        TokenRejection::Invalid.deny_reason(),
        DenyReason::InvalidSessionToken
    );
    assert_eq!(
        TokenRejection::Expired.deny_reason(),
        DenyReason::SessionExpired
    );
}
