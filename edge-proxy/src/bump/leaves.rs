//! Where bumped tunnels get their certificates: the deployment CA (from its directory, or a
//! `tls_certificate` secret on the SDS server) and the bounded cache of leaves minted from it.
//! The CA is re-read when it changes (a rotation reaches the edge without a restart) and its
//! approaching expiry is logged and exported as a metric.

use crate::config::{BumpConfig, CaSource};
use arc_swap::ArcSwapOption;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use trust_ca::{Authority, LeafCache};

/// The leaf cache of the current CA; empty until a CA is loaded.
#[derive(Debug, Default)]
pub(crate) struct Leaves {
    cache: ArcSwapOption<LeafCache>,
    /// The current CA's `notAfter`, in unix seconds (0: none loaded).
    not_after: AtomicU64,
}

impl Leaves {
    /// The leaf for `host`, minted now if the cache has none; `None` without a CA or when
    /// minting failed (logged).
    pub(crate) fn get(&self, host: &str) -> Option<Arc<CertifiedKey>> {
        let cache = self.cache.load_full()?;
        match cache.get(host) {
            Ok(leaf) => Some(leaf),
            Err(e) => {
                tracing::error!(error = %e, "cannot mint a leaf certificate");
                None
            }
        }
    }

    /// Installs `authority` (first load, rotation or a new SDS version); the old leaves go.
    pub(crate) fn install(&self, authority: Authority, config: &BumpConfig) {
        let not_after = authority
            .not_after()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.not_after.store(not_after, Ordering::Relaxed);
        let authority = Arc::new(authority);
        match self.cache.load_full() {
            Some(cache) => cache.set_authority(authority),
            None => self.cache.store(Some(Arc::new(LeafCache::new(
                authority,
                config.leaf_cache_size,
                config.leaf_validity,
            )))),
        }
    }

    /// Seconds until the current CA expires (negative once expired); `None` without a CA.
    pub(crate) fn expires_in(&self) -> Option<f64> {
        let not_after = self.not_after.load(Ordering::Relaxed);
        if not_after == 0 {
            return None;
        }
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Some(not_after as f64 - now)
    }

    /// The cache's counters, when a CA is loaded.
    pub(crate) fn stats(&self) -> Option<trust_ca::CacheStats> {
        self.cache.load().as_ref().map(|c| c.stats())
    }
}

/// rustls asks this for the certificate of each handshake: the (already minted) leaf for the SNI.
#[derive(Debug)]
pub(crate) struct LeafResolver(pub(crate) Arc<Leaves>);

impl ResolvesServerCert for LeafResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.get(hello.server_name()?)
    }
}

/// Loads the CA from its directory, if that is the configured source.
pub(crate) fn load_dir(config: &BumpConfig) -> Result<Option<(Authority, SystemTime)>, String> {
    let CaSource::Dir(dir) = &config.ca else {
        return Ok(None);
    };
    let modified = ca_modified(dir);
    Authority::load(dir)
        .map(|a| Some((a, modified)))
        .map_err(|e| e.to_string())
}

/// When the CA's certificate last changed (rotation rewrites it).
pub(crate) fn ca_modified(dir: &Path) -> SystemTime {
    std::fs::metadata(dir.join("ca.pem"))
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Seconds until `authority` expires (negative once expired), for the metric and the warning.
pub(crate) fn expires_in(authority: &Authority) -> f64 {
    match authority.not_after().duration_since(SystemTime::now()) {
        Ok(left) => left.as_secs_f64(),
        Err(past) => -past.duration().as_secs_f64(),
    }
}

/// Logs a warning when `authority` expires within `window`.
pub(crate) fn warn_if_expiring(authority: &Authority, window: Duration) {
    if authority.expires_within(window) {
        tracing::warn!(
            expires_in_days = expires_in(authority) / 86_400.0,
            "the deployment CA expires soon: rotate it with `trust-edge ca rotate` and give sandboxes the new bundle"
        );
    }
}
