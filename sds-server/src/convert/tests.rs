use super::*;

fn roundtrip(value: SecretValue) -> (String, SecretValue) {
    let encoded = encode_secret("name-1", &value);
    let mut any = to_any(&encoded);
    assert_eq!(
        any.type_url,
        "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
    );
    let out = decode_secret(&mut any).unwrap();
    assert!(
        any.value.iter().all(|b| *b == 0),
        "the Any's bytes are wiped"
    );
    out
}

#[test]
fn every_kind_survives_encode_and_decode() {
    let values = [
        SecretValue::Generic(Zeroizing::new(b"Bearer abc".to_vec())),
        SecretValue::TlsCertificate {
            chain_pem: Zeroizing::new(b"chain".to_vec()),
            key_pem: Zeroizing::new(b"key".to_vec()),
        },
        SecretValue::ValidationContext(Zeroizing::new(b"ca".to_vec())),
    ];
    for value in values {
        let (name, back) = roundtrip(value.clone());
        assert_eq!(name, "name-1");
        assert_eq!(back, value);
    }
}

#[test]
fn the_generic_secret_is_inline_bytes_as_envoy_expects() {
    let encoded = encode_secret("k", &SecretValue::Generic(Zeroizing::new(b"v1".to_vec())));
    let secret = Secret::decode(encoded.as_slice()).unwrap();
    match secret.r#type {
        Some(Type::GenericSecret(g)) => assert_eq!(
            g.secret.unwrap().specifier,
            Some(Specifier::InlineBytes(b"v1".to_vec()))
        ),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_wrong_type_url_is_refused() {
    let mut any = Any {
        type_url: "type.googleapis.com/envoy.config.cluster.v3.Cluster".to_owned(),
        value: Vec::new(),
    };
    assert_eq!(
        decode_secret(&mut any).unwrap_err(),
        "unexpected resource type \"type.googleapis.com/envoy.config.cluster.v3.Cluster\""
    );
}
