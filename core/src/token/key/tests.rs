use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::Value;

use super::*;
use crate::token::defaults;
use crate::token::tests::valid_claims;

#[test]
fn signing_key_pem_round_trips_and_never_prints_secrets() {
    for alg in KeyAlgorithm::ALL {
        let key = SigningKey::generate(alg).unwrap();
        let pem = key.to_pkcs8_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(pem.lines().all(|line| line.len() <= 64));

        let again = SigningKey::from_pkcs8_pem(&pem, "rotated-1", alg).unwrap();
        assert_eq!(again.kid(), "rotated-1");
        assert_eq!(again.public_jwk()["x"], key.public_jwk()["x"]);
        assert_eq!(again.public_jwk()["y"], key.public_jwk()["y"]);
        let other = match alg {
            KeyAlgorithm::EdDSA => KeyAlgorithm::Es256,
            KeyAlgorithm::Es256 => KeyAlgorithm::EdDSA,
        };
        assert!(SigningKey::from_pkcs8_pem(&pem, "k", other).is_err());
        assert!(SigningKey::from_pkcs8_pem(&pem, "", alg).is_err());

        let debug = format!("{key:?}");
        assert_eq!(
            debug,
            format!("SigningKey {{ kid: {:?}, alg: {alg:?}, .. }}", key.kid())
        );
        let body = pem.lines().nth(1).unwrap();
        assert!(!debug.contains(body));
    }
}

#[test]
fn public_jwk_has_the_rfc_shape() {
    let ed = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let jwk = ed.public_jwk();
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    assert_eq!(
        (jwk["alg"].as_str(), jwk["use"].as_str()),
        (Some("EdDSA"), Some("sig"))
    );
    assert_eq!(jwk["kid"].as_str(), Some(ed.kid()));
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(jwk["x"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    assert!(jwk.get("d").is_none());

    let ec = SigningKey::generate(KeyAlgorithm::Es256).unwrap();
    let jwk = ec.public_jwk();
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    assert_eq!(
        (jwk["alg"].as_str(), jwk["use"].as_str()),
        (Some("ES256"), Some("sig"))
    );
    for coordinate in ["x", "y"] {
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(jwk[coordinate].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
    }
    // jsonwebtoken reads our JWK and verifies our signature with it.
    let parsed: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk).unwrap();
    let decoding = jsonwebtoken::DecodingKey::from_jwk(&parsed).unwrap();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
    validation.set_audience(&[defaults::AUDIENCE]);
    let token = ec.sign(&valid_claims()).unwrap();
    assert!(jsonwebtoken::decode::<Value>(&token, &decoding, &validation).is_ok());
}
