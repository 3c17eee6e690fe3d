//! The verifier's key sources, refresh, key replacement and hostile input.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::token::tests::{b64_json, claims_json, jwks_of, static_verifier, valid_claims};
use crate::token::{SigningKey, defaults};

fn write_jwks(path: &Path, keys: &[&SigningKey]) {
    std::fs::write(path, serde_json::to_vec(&jwks_of(keys)).unwrap()).unwrap();
}

async fn file_verifier(path: &Path, interval: Duration) -> Verifier {
    let mut config = VerifierConfig::new(KeySource::File(path.to_owned()));
    config.unknown_kid_refresh_interval = interval;
    Verifier::new(config).await.unwrap()
}

#[tokio::test]
async fn unknown_kid_refreshes_the_file_and_then_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    let old = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let new = SigningKey::generate(KeyAlgorithm::Es256).unwrap();
    write_jwks(&path, &[&old]);
    let verifier = file_verifier(&path, Duration::ZERO).await;
    let token = new.sign(&valid_claims()).unwrap();

    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        TokenRejection::Invalid
    );
    assert_eq!(verifier.stats().key_refreshes, 1);

    write_jwks(&path, &[&old, &new]);
    let session = verifier.verify(&token).await.unwrap();

    assert_eq!(session.claims, valid_claims_without_iat(&session.claims));
    let stats = verifier.stats();
    assert_eq!((stats.key_refreshes, stats.negative_hits), (2, 0));
    assert_eq!(verifier.key_count(), 2);
    assert!(
        verifier
            .verify(&old.sign(&valid_claims()).unwrap())
            .await
            .is_ok()
    );
}

/// `valid_claims()` with the `iat`/`exp` of `seen` (they move with the clock).
fn valid_claims_without_iat(seen: &SessionClaims) -> SessionClaims {
    SessionClaims {
        iat: seen.iat,
        exp: seen.exp,
        ..valid_claims()
    }
}

#[tokio::test]
async fn unknown_kid_refresh_is_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    let old = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let new = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    write_jwks(&path, &[&old]);
    let verifier = file_verifier(&path, Duration::from_secs(3600)).await;

    for i in 0..5 {
        let mut claims = valid_claims();
        claims.jti = format!("jti-{i}");
        let token = new.sign(&claims).unwrap();
        assert_eq!(
            verifier.verify(&token).await.unwrap_err(),
            TokenRejection::Invalid
        );
        if i == 0 {
            write_jwks(&path, &[&old, &new]);
        }
    }

    let stats = verifier.stats();
    assert_eq!(
        stats.key_refreshes, 1,
        "one refresh per interval, however many unknown kids"
    );
    assert_eq!(stats.signature_checks, 0);
    assert_eq!(verifier.key_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_unknown_kids_share_one_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    let old = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let new = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    write_jwks(&path, &[&old]);
    let verifier = Arc::new(file_verifier(&path, Duration::ZERO).await);
    write_jwks(&path, &[&old, &new]);

    let mut tasks = Vec::new();
    for i in 0..16 {
        let mut claims = valid_claims();
        claims.jti = format!("jti-{i}");
        let token = new.sign(&claims).unwrap();
        let verifier = Arc::clone(&verifier);
        tasks.push(tokio::spawn(async move {
            verifier.verify(&token).await.map(|_| ())
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), Ok(()));
    }

    assert_eq!(verifier.stats().key_refreshes, 1);
}

#[tokio::test]
async fn replaced_keys_evict_tokens_of_removed_keys_only() {
    let a = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let b = SigningKey::generate(KeyAlgorithm::Es256).unwrap();
    let verifier = static_verifier(&[&a]).await;
    let token_a = a.sign(&valid_claims()).unwrap();
    let token_b = b.sign(&valid_claims()).unwrap();
    verifier.verify(&token_a).await.unwrap();
    assert_eq!(
        verifier.verify(&token_b).await.unwrap_err(),
        TokenRejection::Invalid
    );

    // Adding b keeps a's cached token and accepts b's.
    assert_eq!(verifier.replace_keys(&jwks_of(&[&a, &b])).unwrap(), 2);
    verifier.verify(&token_a).await.unwrap();
    assert_eq!(verifier.stats().cache_hits, 1);
    verifier.verify(&token_b).await.unwrap();

    // Removing a refuses its token even though it was cached.
    assert_eq!(verifier.replace_keys(&jwks_of(&[&b])).unwrap(), 1);
    assert_eq!(
        verifier.verify(&token_a).await.unwrap_err(),
        TokenRejection::Invalid
    );
    verifier.verify(&token_b).await.unwrap();

    // A broken or empty push keeps the current keys.
    assert!(verifier.replace_keys(&json!({"keys": []})).is_err());
    assert!(verifier.replace_keys(&json!({"nope": 1})).is_err());
    assert_eq!(verifier.key_count(), 1);
}

#[tokio::test]
async fn config_is_validated() {
    let key = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let base = VerifierConfig::new(KeySource::Static(jwks_of(&[&key])));

    let mut no_algs = base.clone();
    no_algs.algorithms.clear();
    let mut no_issuer = base.clone();
    no_issuer.issuer.clear();
    let ftp = VerifierConfig::new(KeySource::Url("ftp://127.0.0.1/jwks".to_owned()));
    let missing = VerifierConfig::new(KeySource::File("/nonexistent/jwks.json".into()));

    for config in [no_algs, no_issuer, ftp] {
        assert!(matches!(
            Verifier::new(config).await,
            Err(TokenError::Config(_))
        ));
    }
    assert!(matches!(
        Verifier::new(missing).await,
        Err(TokenError::Io { .. })
    ));
}

#[tokio::test]
async fn disabled_caches_still_verify() {
    let key = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let mut config = VerifierConfig::new(KeySource::Static(jwks_of(&[&key])));
    config.cache_capacity = 0;
    config.negative_cache_capacity = 0;
    let verifier = Verifier::new(config).await.unwrap();
    let token = key.sign(&valid_claims()).unwrap();

    verifier.verify(&token).await.unwrap();
    verifier.verify(&token).await.unwrap();

    let stats = verifier.stats();
    assert_eq!(
        (stats.cache_hits, stats.cache_misses, stats.signature_checks),
        (0, 2, 2)
    );
}

/// A one-route HTTP/1.1 server on 127.0.0.1:0 serving `body`; counts requests.
async fn serve_jwks(body: Arc<std::sync::Mutex<String>>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let body = body.lock().unwrap().clone();
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    });
    (url, hits)
}

#[tokio::test]
async fn url_source_is_fetched_and_refetched_for_unknown_kids() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let old = SigningKey::generate(KeyAlgorithm::Es256).unwrap();
    let new = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
    let body = Arc::new(std::sync::Mutex::new(jwks_of(&[&old]).to_string()));
    let (url, hits) = serve_jwks(Arc::clone(&body)).await;
    let mut config = VerifierConfig::new(KeySource::Url(url));
    config.unknown_kid_refresh_interval = Duration::ZERO;
    let verifier = Verifier::new(config).await.unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    verifier
        .verify(&old.sign(&valid_claims()).unwrap())
        .await
        .unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1, "a known kid never fetches");

    *body.lock().unwrap() = jwks_of(&[&old, &new]).to_string();
    verifier
        .verify(&new.sign(&valid_claims()).unwrap())
        .await
        .unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(verifier.stats().key_refreshes, 1);
}

#[tokio::test]
async fn url_source_errors_are_reported_not_panicked() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let body = Arc::new(std::sync::Mutex::new("not json".to_owned()));
    let (url, _) = serve_jwks(body).await;
    let result = Verifier::new(VerifierConfig::new(KeySource::Url(url))).await;
    assert!(matches!(result, Err(TokenError::Jwks(_))), "{result:?}");
}

fn token_like() -> impl Strategy<Value = String> {
    let segment = "[A-Za-z0-9_-]{0,120}";
    prop_oneof![
        any::<String>(),
        (segment, segment, segment).prop_map(|(h, p, s)| format!("{h}.{p}.{s}")),
        (any::<Vec<u8>>(), any::<Vec<u8>>(), any::<Vec<u8>>()).prop_map(|(h, p, s)| {
            let b64 = |bytes: &[u8]| {
                base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
            };
            format!("{}.{}.{}", b64(&h), b64(&p), b64(&s))
        }),
    ]
}

/// Headers naming a real kid, with arbitrary algorithms, payloads and signatures.
fn forged(kid: String) -> impl Strategy<Value = String> {
    let named = prop_oneof![Just("EdDSA"), Just("ES256"), Just("none"), Just("HS256")];
    let alg = prop_oneof![named.prop_map(str::to_owned), "[A-Z0-9]{0,8}"];
    let payload = prop_oneof![
        Just(claims_json()),
        any::<u64>().prop_map(|exp| json!({"exp": exp}))
    ];
    (alg, payload, proptest::collection::vec(any::<u8>(), 0..80)).prop_map(
        move |(alg, payload, sig)| {
            let signature =
                base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig);
            format!(
                "{}.{}.{signature}",
                b64_json(&json!({"alg": alg, "kid": kid})),
                b64_json(&payload)
            )
        },
    )
}

fn forged_for_fixture_keys() -> impl Strategy<Value = String> {
    let (_, _, [ed, ec]) = fixture();
    prop_oneof![forged(ed.clone()), forged(ec.clone())]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_input_is_invalid_and_never_panics(token in token_like()) {
        let (runtime, verifier, _) = fixture();
        let rejection = runtime.block_on(verifier.verify(&token)).unwrap_err();
        prop_assert_eq!(rejection, TokenRejection::Invalid);
    }

    #[test]
    fn forged_tokens_for_real_kids_are_invalid(token in forged_for_fixture_keys()) {
        let (runtime, verifier, _) = fixture();
        let rejection = runtime.block_on(verifier.verify(&token)).unwrap_err();
        prop_assert_eq!(rejection, TokenRejection::Invalid);
    }
}

/// One runtime and verifier (Ed25519 + P-256 keys) shared by every proptest case.
fn fixture() -> (
    &'static tokio::runtime::Runtime,
    &'static Verifier,
    &'static [String; 2],
) {
    static FIXTURE: std::sync::OnceLock<(tokio::runtime::Runtime, Verifier, [String; 2])> =
        std::sync::OnceLock::new();
    let (runtime, verifier, kids) = FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let ed = SigningKey::generate(KeyAlgorithm::EdDSA).unwrap();
        let ec = SigningKey::generate(KeyAlgorithm::Es256).unwrap();
        let verifier = runtime.block_on(static_verifier(&[&ed, &ec]));
        (
            runtime,
            verifier,
            [ed.kid().to_owned(), ec.kid().to_owned()],
        )
    });
    (runtime, verifier, kids)
}

#[test]
fn defaults_are_the_documented_values() {
    assert_eq!(defaults::ISSUER, "trust-edge");
    assert_eq!(defaults::AUDIENCE, "trust-edge-egress");
    assert_eq!(defaults::LEEWAY, Duration::from_secs(30));
    assert_eq!(defaults::CACHE_CAPACITY, 65_536);
    assert_eq!(defaults::NEGATIVE_CACHE_CAPACITY, 16_384);
    assert_eq!(
        defaults::UNKNOWN_KID_REFRESH_INTERVAL,
        Duration::from_secs(10)
    );
    assert_eq!(defaults::MAX_TOKEN_LEN, 8 * 1024);
    let config = VerifierConfig::new(KeySource::Static(Value::Null));
    assert_eq!(
        config.algorithms,
        vec![KeyAlgorithm::EdDSA, KeyAlgorithm::Es256]
    );
}

#[test]
fn verify_future_is_send_and_verifier_is_shareable() {
    fn send<T: Send>(_: T) {}
    fn shareable<T: Send + Sync>() {}
    shareable::<Verifier>();
    let (_, verifier, _) = fixture();
    send(verifier.verify("a.b.c"));
}
