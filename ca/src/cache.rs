//! A bounded, thread-safe cache of minted leaves by host, and the rustls resolver over it.

use crate::authority::Authority;
use crate::defaults::REMINT_DIVISOR;
use crate::error::CaError;
use crate::name::LeafName;
use lru::LruCache;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

/// Where the cache reads the time; tests substitute a manual clock.
type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Counters of a [`LeafCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Leaves minted (misses, and re-mints of leaves near expiry).
    pub mints: u64,
    /// Leaves pushed out because the cache was full.
    pub evictions: u64,
    /// Leaves held now.
    pub len: usize,
}

/// Leaves by host, bounded (least recently used goes first), re-minted once less than a quarter
/// of the leaf validity remains. The lock is held for lookups only; minting happens outside it,
/// so two first requests for one host may both mint (the second result is kept).
pub struct LeafCache {
    inner: Mutex<Inner>,
    leaf_validity: Duration,
    clock: Clock,
}

struct Inner {
    authority: Arc<Authority>,
    /// Bumped by [`LeafCache::set_authority`]; a leaf minted under an older one is not kept.
    generation: u64,
    entries: LruCache<String, Entry>,
    stats: CacheStats,
}

struct Entry {
    certified: Arc<CertifiedKey>,
    not_after: SystemTime,
}

impl fmt::Debug for LeafCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        f.debug_struct("LeafCache")
            .field("capacity", &inner.entries.cap())
            .field("leaf_validity", &self.leaf_validity)
            .field("stats", &inner.stats)
            .finish()
    }
}

impl LeafCache {
    /// A cache holding at most `capacity` leaves (at least one) minted by `authority`, each valid
    /// for `leaf_validity`.
    pub fn new(authority: Arc<Authority>, capacity: usize, leaf_validity: Duration) -> LeafCache {
        Self::with_clock(
            authority,
            capacity,
            leaf_validity,
            Arc::new(SystemTime::now),
        )
    }

    pub(crate) fn with_clock(
        authority: Arc<Authority>,
        capacity: usize,
        leaf_validity: Duration,
        clock: Clock,
    ) -> LeafCache {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        LeafCache {
            inner: Mutex::new(Inner {
                authority,
                generation: 0,
                entries: LruCache::new(capacity),
                stats: CacheStats::default(),
            }),
            leaf_validity,
            clock,
        }
    }

    /// The leaf for `host`: cached, or minted now when absent or near expiry.
    ///
    /// # Errors
    /// [`CaError::InvalidName`] for a name that is never minted (wildcards, invalid names);
    /// [`CaError::Expired`] or [`CaError::Generate`] when minting fails.
    pub fn get(&self, host: &str) -> Result<Arc<CertifiedKey>, CaError> {
        let name = LeafName::parse(host)?;
        let key = name.to_string();
        let now = (self.clock)();
        let (authority, generation) = {
            let mut inner = self.lock();
            let fresh = inner
                .entries
                .get(&key)
                .filter(|e| self.is_fresh(e, now))
                .map(|e| Arc::clone(&e.certified));
            if let Some(certified) = fresh {
                inner.stats.hits += 1;
                return Ok(certified);
            }
            (Arc::clone(&inner.authority), inner.generation)
        };
        let leaf = authority.mint_at(&name, self.leaf_validity, now)?;
        let mut inner = self.lock();
        inner.stats.mints += 1;
        if inner.generation == generation {
            let entry = Entry {
                certified: Arc::clone(&leaf.certified),
                not_after: leaf.not_after,
            };
            if let Some((old_key, _)) = inner.entries.push(key.clone(), entry)
                && old_key != key
            {
                inner.stats.evictions += 1;
            }
        }
        Ok(leaf.certified)
    }

    /// Switches to another CA (rotated or replaced) and drops every cached leaf.
    pub fn set_authority(&self, authority: Arc<Authority>) {
        let mut inner = self.lock();
        inner.authority = authority;
        inner.generation = inner.generation.wrapping_add(1);
        inner.entries.clear();
    }

    /// The CA leaves are minted from now.
    pub fn authority(&self) -> Arc<Authority> {
        Arc::clone(&self.lock().authority)
    }

    /// Hit, mint and eviction counts, and the current size.
    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            len: inner.entries.len(),
            ..inner.stats
        }
    }

    fn is_fresh(&self, entry: &Entry, now: SystemTime) -> bool {
        entry
            .not_after
            .duration_since(now)
            .is_ok_and(|left| left > self.leaf_validity / REMINT_DIVISOR)
    }

    /// The lock; a panic elsewhere cannot leave the cache inconsistent, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ResolvesServerCert for LeafCache {
    /// The leaf for the client's SNI; no certificate (the handshake fails) without SNI or when
    /// the name cannot be minted. Clients never send an IP literal as SNI: for those, call
    /// [`LeafCache::get`] with the CONNECT host and use a fixed resolver.
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = client_hello.server_name()?;
        match self.get(sni) {
            Ok(certified) => Some(certified),
            Err(e) => {
                tracing::debug!(error = %e, "no leaf for the client's server name");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
