use serde_json::json;

use super::*;

/// RFC 8037 appendix A.3: the JWK thumbprint of the appendix A.2 Ed25519 public key.
#[test]
fn thumbprint_matches_rfc_8037_vector() {
    let raw = URL_SAFE_NO_PAD
        .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
        .unwrap();
    assert_eq!(
        PublicKey::thumbprint(KeyAlgorithm::EdDSA, &raw),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
}

#[test]
fn generated_keys_use_their_thumbprint_as_kid() {
    for alg in KeyAlgorithm::ALL {
        let key = SigningKey::generate(alg).unwrap();
        assert_eq!(key.kid(), PublicKey::thumbprint(alg, &key.public_key().raw));
        assert_eq!(key.kid().len(), 43);
    }
}

#[test]
fn round_trips_and_skips_foreign_keys() {
    let ed = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let ec = SigningKey::generate(KeyAlgorithm::Es256).unwrap();
    let mut doc = Jwks::from_signing_keys([&ed, &ec]).to_value();
    let keys = doc["keys"].as_array_mut().unwrap();
    keys.push(json!({"kty": "RSA", "kid": "rsa-1", "n": "AQAB", "e": "AQAB"}));
    keys.push(json!({"kty": "oct", "kid": "hmac-1", "k": "c2VjcmV0"}));
    keys.push(json!({"kty": "EC", "crv": "P-384", "kid": "p384-1", "x": "AA", "y": "AA"}));
    let mut enc = ed.public_jwk();
    enc["use"] = json!("enc");
    enc["kid"] = json!("enc-1");
    keys.push(enc);

    let jwks = Jwks::parse(&doc).unwrap();

    assert_eq!(jwks.kids().collect::<Vec<_>>(), vec![ed.kid(), ec.kid()]);
    assert_eq!(jwks.algorithm(ec.kid()), Some(KeyAlgorithm::Es256));
    assert_eq!(jwks.algorithm("hmac-1"), None);
    assert_eq!(Jwks::parse(&jwks.to_value()).unwrap(), jwks);
    assert_eq!(
        Jwks::from_slice(jwks.to_value().to_string().as_bytes()).unwrap(),
        jwks
    );
}

#[test]
fn rejects_unusable_supported_keys() {
    let ed = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let ec = SigningKey::generate(KeyAlgorithm::Es256).unwrap();
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut jwk = ed.public_jwk();
        edit(&mut jwk);
        json!({ "keys": [jwk] })
    };
    let mut off_curve = ec.public_jwk();
    off_curve["y"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));

    let bad = [
        json!({"keys": "nope"}),
        json!([]),
        with(&|jwk| {
            jwk.as_object_mut().unwrap().remove("kid");
        }),
        with(&|jwk| jwk["kid"] = json!("")),
        with(&|jwk| jwk["d"] = json!("c2VjcmV0")),
        with(&|jwk| jwk["alg"] = json!("ES256")),
        with(&|jwk| jwk["x"] = json!(URL_SAFE_NO_PAD.encode([1u8; 31]))),
        with(&|jwk| jwk["x"] = json!("not base64!")),
        with(&|jwk| jwk["x"] = json!(42)),
        json!({ "keys": [off_curve] }),
        json!({ "keys": [ed.public_jwk(), ed.public_jwk()] }),
        json!({ "keys": vec![ed.public_jwk(); defaults::MAX_JWKS_KEYS + 1] }),
    ];
    for doc in bad {
        assert!(
            matches!(Jwks::parse(&doc), Err(TokenError::Jwks(_))),
            "{doc}"
        );
    }
    assert!(Jwks::from_slice(b"{not json").is_err());
}
