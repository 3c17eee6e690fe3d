use super::*;
use crate::client_check::{roots, verify};
use crate::options::CaOptions;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn authority() -> (tempfile::TempDir, Arc<Authority>) {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::load_or_create(dir.path(), &CaOptions::default()).unwrap();
    (dir, Arc::new(ca))
}

/// A clock the test moves by hand (whole seconds since the epoch).
fn manual_clock(start: u64) -> (Arc<AtomicU64>, Clock) {
    let secs = Arc::new(AtomicU64::new(start));
    let read = Arc::clone(&secs);
    let clock: Clock =
        Arc::new(move || UNIX_EPOCH + Duration::from_secs(read.load(Ordering::SeqCst)));
    (secs, clock)
}

fn stats(hits: u64, mints: u64, evictions: u64, len: usize) -> CacheStats {
    CacheStats {
        hits,
        mints,
        evictions,
        len,
    }
}

#[test]
fn a_hit_returns_the_same_leaf() {
    let (_dir, ca) = authority();
    let cache = LeafCache::new(Arc::clone(&ca), 8, DAY);
    let first = cache.get("api.example.com").unwrap();
    let second = cache.get("api.example.com").unwrap();
    let shouted = cache.get("API.EXAMPLE.COM").unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    assert!(Arc::ptr_eq(&first, &shouted));
    assert_eq!(cache.stats(), stats(2, 1, 0, 1));
    assert_eq!(verify(&ca.bundle_pem(), &first, "api.example.com"), Ok(()));
    let other = cache.get("other.example.com").unwrap();
    assert!(!Arc::ptr_eq(&first, &other));
    assert_eq!(
        verify(&ca.bundle_pem(), &other, "other.example.com"),
        Ok(())
    );
    assert!(verify(&ca.bundle_pem(), &other, "api.example.com").is_err());
}

#[test]
fn capacity_bounds_the_cache_and_evicts_the_least_recently_used() {
    let (_dir, ca) = authority();
    let cache = LeafCache::new(ca, 2, DAY);
    let a = cache.get("a.example").unwrap();
    cache.get("b.example").unwrap();
    // `a` is used again, so `b` is the least recently used when `c` arrives.
    assert!(Arc::ptr_eq(&a, &cache.get("a.example").unwrap()));
    cache.get("c.example").unwrap();
    assert_eq!(cache.stats(), stats(1, 3, 1, 2));
    assert!(Arc::ptr_eq(&a, &cache.get("a.example").unwrap()));
    cache.get("b.example").unwrap();
    assert_eq!(cache.stats(), stats(2, 4, 2, 2));
}

#[test]
fn zero_capacity_still_holds_one_leaf() {
    let (_dir, ca) = authority();
    let cache = LeafCache::new(ca, 0, DAY);
    let a = cache.get("a.example").unwrap();
    assert!(Arc::ptr_eq(&a, &cache.get("a.example").unwrap()));
    assert_eq!(cache.stats(), stats(1, 1, 0, 1));
}

#[test]
fn re_mints_in_the_last_quarter_of_a_leaf_life() {
    let (_dir, ca) = authority();
    let start = crate::validity::secs(SystemTime::now());
    let (clock, read) = manual_clock(start);
    let validity = Duration::from_secs(100);
    let cache = LeafCache::with_clock(ca, 8, validity, read);
    let first = cache.get("api.example.com").unwrap();
    // 26 s left of 100: still more than a quarter.
    clock.store(start + 74, Ordering::SeqCst);
    assert!(Arc::ptr_eq(&first, &cache.get("api.example.com").unwrap()));
    // 25 s left: no longer more than a quarter.
    clock.store(start + 75, Ordering::SeqCst);
    let second = cache.get("api.example.com").unwrap();
    assert!(!Arc::ptr_eq(&first, &second));
    assert_eq!(cache.stats(), stats(1, 2, 0, 1));
    // The re-minted leaf replaced the old one.
    clock.store(start + 76, Ordering::SeqCst);
    assert!(Arc::ptr_eq(&second, &cache.get("api.example.com").unwrap()));
    // An expired leaf is never served.
    clock.store(start + 1000, Ordering::SeqCst);
    assert!(!Arc::ptr_eq(
        &second,
        &cache.get("api.example.com").unwrap()
    ));
    assert_eq!(cache.stats(), stats(2, 3, 0, 1));
}

#[test]
fn set_authority_clears_and_mints_from_the_new_ca() {
    let (_dir, old) = authority();
    let (_dir2, new) = authority();
    let cache = LeafCache::new(Arc::clone(&old), 8, DAY);
    let before = cache.get("api.example.com").unwrap();
    cache.set_authority(Arc::clone(&new));
    assert_eq!(cache.stats().len, 0);
    assert!(Arc::ptr_eq(&cache.authority(), &new));
    let after = cache.get("api.example.com").unwrap();
    assert!(!Arc::ptr_eq(&before, &after));
    assert_eq!(verify(&new.bundle_pem(), &after, "api.example.com"), Ok(()));
    assert!(verify(&old.bundle_pem(), &after, "api.example.com").is_err());
}

#[test]
fn names_that_are_never_minted_are_refused_and_not_cached() {
    let (_dir, ca) = authority();
    let cache = LeafCache::new(ca, 8, DAY);
    for host in ["*.example.com", "", "example.com.", "a b"] {
        assert!(
            matches!(cache.get(host), Err(CaError::InvalidName { .. })),
            "{host:?}"
        );
    }
    assert_eq!(cache.stats(), stats(0, 0, 0, 0));
}

#[test]
fn concurrent_lookups_share_one_cache() {
    let (_dir, ca) = authority();
    let cache = LeafCache::new(Arc::clone(&ca), 64, DAY);
    std::thread::scope(|s| {
        for t in 0..4 {
            let cache = &cache;
            s.spawn(move || {
                for i in 0..8 {
                    cache.get(&format!("h{}.example", (t + i) % 8)).unwrap();
                }
            });
        }
    });
    let stats = cache.stats();
    assert_eq!(stats.len, 8);
    assert_eq!(stats.hits + stats.mints, 32);
    assert!(stats.mints >= 8);
}

fn server_config(cache: LeafCache) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(cache)),
    )
}

fn client_config(bundle_pem: &str) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots(bundle_pem))
            .with_no_client_auth(),
    )
}

/// Runs one handshake over an in-memory pipe and echoes a few bytes; returns the client's view.
async fn handshake(
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
    name: &str,
) -> std::io::Result<Vec<u8>> {
    let (client_io, server_io) = tokio::io::duplex(16 * 1024);
    let acceptor = tokio_rustls::TlsAcceptor::from(server);
    let server_task = tokio::spawn(async move {
        let mut tls = acceptor.accept(server_io).await?;
        let mut buf = [0u8; 5];
        tls.read_exact(&mut buf).await?;
        tls.write_all(&buf).await?;
        tls.shutdown().await
    });
    let connector = tokio_rustls::TlsConnector::from(client);
    let server_name = rustls_pki_types::ServerName::try_from(name.to_owned()).unwrap();
    let result = async {
        let mut tls = connector.connect(server_name, client_io).await?;
        tls.write_all(b"hello").await?;
        let mut buf = Vec::new();
        tls.read_to_end(&mut buf).await?;
        Ok(buf)
    }
    .await;
    let _ = server_task.await.unwrap();
    result
}

#[tokio::test]
async fn rustls_handshake_succeeds_with_the_cache_as_resolver() {
    let (_dir, ca) = authority();
    let bundle = ca.bundle_pem();
    let server = server_config(LeafCache::new(ca, 8, DAY));
    let echoed = handshake(server, client_config(&bundle), "api.example.com")
        .await
        .unwrap();
    assert_eq!(echoed, b"hello");
}

#[tokio::test]
async fn a_client_trusting_another_ca_refuses_the_leaf() {
    let (_dir, ca) = authority();
    let (_dir2, stranger) = authority();
    let server = server_config(LeafCache::new(ca, 8, DAY));
    let err = handshake(
        server,
        client_config(&stranger.bundle_pem()),
        "api.example.com",
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.get_ref().unwrap().downcast_ref::<rustls::Error>(),
        Some(&rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer
        ))
    );
}

#[tokio::test]
async fn a_handshake_without_sni_gets_no_certificate() {
    let (_dir, ca) = authority();
    let bundle = ca.bundle_pem();
    let cache = LeafCache::new(ca, 8, DAY);
    let server = server_config(cache);
    // An IP server name makes rustls send no SNI.
    let err = handshake(server, client_config(&bundle), "127.0.0.1")
        .await
        .unwrap_err();
    assert_eq!(
        err.get_ref().unwrap().downcast_ref::<rustls::Error>(),
        Some(&rustls::Error::AlertReceived(
            rustls::AlertDescription::AccessDenied
        ))
    );
}

#[tokio::test]
async fn after_rotation_a_client_with_the_new_bundle_accepts_old_and_new_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let old = Arc::new(Authority::load_or_create(dir.path(), &CaOptions::default()).unwrap());
    let old_server = server_config(LeafCache::new(Arc::clone(&old), 8, DAY));
    let new = Arc::new(Authority::rotate(dir.path(), &CaOptions::default()).unwrap());
    let new_server = server_config(LeafCache::new(Arc::clone(&new), 8, DAY));
    let client = client_config(&new.bundle_pem());
    for server in [old_server, new_server] {
        let echoed = handshake(server, Arc::clone(&client), "api.example.com")
            .await
            .unwrap();
        assert_eq!(echoed, b"hello");
    }
}
