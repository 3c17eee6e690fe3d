use super::*;
use crate::error::ContentError;
use rcgen::{CertificateParams, KeyPair};

/// A self-signed pair; `expired` puts its validity in 2000.
fn pair_at(expired: bool) -> (Vec<u8>, Vec<u8>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    if expired {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    let cert = params.self_signed(&key).unwrap();
    (cert.pem().into_bytes(), key.serialize_pem().into_bytes())
}

fn pair(days: i64) -> (Vec<u8>, Vec<u8>) {
    pair_at(days < 0)
}

fn tls(chain: &[u8], key: &[u8]) -> SecretValue {
    SecretValue::TlsCertificate {
        chain_pem: Zeroizing::new(chain.to_vec()),
        key_pem: Zeroizing::new(key.to_vec()),
    }
}

#[test]
fn accepts_a_matching_pair() {
    let (cert, key) = pair(30);
    assert_eq!(check(&tls(&cert, &key)), Ok(()));
}

#[test]
fn refuses_a_key_that_does_not_match_the_leaf() {
    let (cert, _) = pair(30);
    let (_, other_key) = pair(30);
    assert_eq!(
        check(&tls(&cert, &other_key)),
        Err(ContentError::KeyMismatch)
    );
}

#[test]
fn refuses_a_half_written_certificate() {
    let (cert, key) = pair(30);
    let half = &cert[..cert.len() / 2];
    assert_eq!(
        check(&tls(half, &key)),
        Err(ContentError::BadPem("certificate chain"))
    );
}

#[test]
fn refuses_a_chain_without_certificates() {
    let (_, key) = pair(30);
    assert_eq!(
        check(&tls(b"not pem at all\n", &key)),
        Err(ContentError::NoCertificate("certificate chain"))
    );
}

#[test]
fn refuses_a_missing_key() {
    let (cert, _) = pair(30);
    assert_eq!(
        check(&tls(&cert, b"")),
        Err(ContentError::BadKey("no PEM private key found".to_owned()))
    );
}

#[test]
fn refuses_an_expired_leaf() {
    let (cert, key) = pair(-1);
    assert_eq!(check(&tls(&cert, &key)), Err(ContentError::Expired));
}

#[test]
fn refuses_a_certificate_that_is_not_x509() {
    let garbage = b"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
    assert_eq!(
        check(&SecretValue::ValidationContext(Zeroizing::new(
            garbage.to_vec()
        ))),
        Err(ContentError::BadCertificate {
            what: "trusted CA bundle",
            index: 0
        })
    );
}

#[test]
fn accepts_a_ca_bundle_and_refuses_an_empty_generic_secret() {
    let (cert, _) = pair(30);
    assert_eq!(
        check(&SecretValue::ValidationContext(Zeroizing::new(cert))),
        Ok(())
    );
    assert_eq!(
        check(&SecretValue::Generic(Zeroizing::new(Vec::new()))),
        Err(ContentError::Empty)
    );
    assert_eq!(
        check(&SecretValue::Generic(Zeroizing::new(b"k".to_vec()))),
        Ok(())
    );
}

#[test]
fn debug_never_shows_the_value() {
    let (cert, key) = pair(30);
    let generic = SecretValue::Generic(Zeroizing::new(b"sk-very-secret".to_vec()));
    assert_eq!(format!("{generic:?}"), "Generic(*** 14 bytes)");
    let pair = format!("{:?}", tls(&cert, &key));
    assert!(!pair.contains("PRIVATE"), "{pair}");
    assert!(pair.starts_with("TlsCertificate(chain "), "{pair}");
}

#[test]
fn kinds_have_stable_labels() {
    assert_eq!(SecretKind::GenericSecret.as_str(), "generic_secret");
    assert_eq!(SecretKind::TlsCertificate.as_str(), "tls_certificate");
    assert_eq!(SecretKind::ValidationContext.as_str(), "validation_context");
}
