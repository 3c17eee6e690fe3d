use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::token::{KeySource, Verifier, VerifierConfig};

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn creates_a_private_key_once_and_reloads_it() {
    let dir = tempfile::tempdir().unwrap();

    let first = load_or_create_dev_key(dir.path()).unwrap();

    let key_file = key_path(dir.path());
    assert_eq!(key_file, dir.path().join("keys/edge-dev.pem"));
    assert_eq!(mode(&key_file), 0o600);
    assert_eq!(mode(&dir.path().join("keys")), 0o700);
    assert_eq!(first.alg(), KeyAlgorithm::EdDSA);
    let pem = fs::read_to_string(&key_file).unwrap();

    let second = load_or_create_dev_key(dir.path()).unwrap();

    assert_eq!(second.kid(), first.kid());
    assert_eq!(second.public_jwk(), first.public_jwk());
    assert_eq!(fs::read_to_string(&key_file).unwrap(), pem);
    assert_eq!(
        fs::read_dir(dir.path().join("keys")).unwrap().count(),
        1,
        "no temp files left"
    );

    // The written JWKS verifies the key's tokens.
    let jwks = Jwks::from_slice(&fs::read(jwks_path(dir.path())).unwrap()).unwrap();
    assert_eq!(jwks.kids().collect::<Vec<_>>(), vec![first.kid()]);
    let verifier = Verifier::new(VerifierConfig::new(KeySource::File(jwks_path(dir.path()))))
        .await
        .unwrap();
    let token = crate::token::tests::valid_claims();
    assert!(verifier.verify(&second.sign(&token).unwrap()).await.is_ok());
}

#[test]
fn tightens_loose_permissions_and_refuses_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let key = load_or_create_dev_key(dir.path()).unwrap();
    fs::set_permissions(key_path(dir.path()), fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(dir.path().join("keys"), fs::Permissions::from_mode(0o755)).unwrap();

    assert_eq!(load_or_create_dev_key(dir.path()).unwrap().kid(), key.kid());
    assert_eq!(mode(&key_path(dir.path())), 0o600);
    assert_eq!(mode(&dir.path().join("keys")), 0o700);

    fs::write(
        key_path(dir.path()),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    assert!(matches!(
        load_or_create_dev_key(dir.path()),
        Err(TokenError::InvalidKey { .. })
    ));
}

#[test]
fn an_existing_es256_key_is_loaded_too() {
    let dir = tempfile::tempdir().unwrap();
    let ec = SigningKey::generate(KeyAlgorithm::Es256).unwrap();
    create_private_dir(&dir.path().join("keys")).unwrap();
    write_private(&key_path(dir.path()), ec.to_pkcs8_pem().as_bytes()).unwrap();

    let loaded = load_or_create_dev_key(dir.path()).unwrap();

    assert_eq!(
        (loaded.alg(), loaded.kid()),
        (KeyAlgorithm::Es256, ec.kid())
    );
}
