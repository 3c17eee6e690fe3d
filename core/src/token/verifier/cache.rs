//! A bounded, sharded map keyed by a token's SHA-256: the verifier's positive and negative
//! caches.
//!
//! Each shard is a `std::sync::Mutex<HashMap>`; the shard is chosen by the first byte of the
//! hash, which is uniformly distributed. A lookup is one lock and one probe. When a shard is
//! full, an insert first drops entries the caller says are dead (expired) and then, if still
//! above its low-water mark, drops arbitrary entries down to it, so the O(shard) scan runs at
//! most once per `capacity / 8` inserts: O(1) amortised.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The SHA-256 of a whole token.
pub(crate) type TokenHash = [u8; 32];

/// At most this many shards; fewer for tiny capacities so the total bound stays exact.
const MAX_SHARDS: usize = 16;

pub(crate) struct ShardedCache<V> {
    shards: Vec<Mutex<HashMap<TokenHash, V>>>,
    shard_capacity: usize,
}

impl<V> ShardedCache<V> {
    /// A cache holding at most `capacity` entries; 0 disables it.
    pub(crate) fn new(capacity: usize) -> Self {
        let count = capacity.min(MAX_SHARDS);
        let shard_capacity = capacity.checked_div(count).unwrap_or(0);
        let shards = (0..count).map(|_| Mutex::new(HashMap::new())).collect();
        ShardedCache {
            shards,
            shard_capacity,
        }
    }

    fn shard(&self, key: &TokenHash) -> Option<MutexGuard<'_, HashMap<TokenHash, V>>> {
        let [first, ..] = *key;
        let index = usize::from(first).checked_rem(self.shards.len())?;
        let shard = self.shards.get(index)?;
        // A panic while holding a shard cannot leave a half-written entry: recover the map.
        Some(shard.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Applies `read` to the entry for `key`, if any.
    pub(crate) fn lookup<R>(&self, key: &TokenHash, read: impl FnOnce(&V) -> R) -> Option<R> {
        self.shard(key)?.get(key).map(read)
    }

    /// Inserts `value` if `still_current()` holds while the shard is locked. When the shard is
    /// full, entries for which `is_dead` holds go first, then arbitrary ones.
    pub(crate) fn insert_if(
        &self,
        key: TokenHash,
        value: V,
        still_current: impl FnOnce() -> bool,
        is_dead: impl Fn(&V) -> bool,
    ) {
        let capacity = self.shard_capacity;
        let Some(mut map) = self.shard(&key) else {
            return;
        };
        if !still_current() {
            return;
        }
        if map.len() >= capacity && !map.contains_key(&key) {
            map.retain(|_, v| !is_dead(v));
            let low_water = capacity.saturating_sub((capacity / 8).max(1));
            let mut excess = map.len().saturating_sub(low_water);
            if excess > 0 {
                // HashMap order follows a per-process random hash: an arbitrary victim set.
                map.retain(|_, _| {
                    let keep = excess == 0;
                    excess = excess.saturating_sub(1);
                    keep
                });
            }
        }
        map.insert(key, value);
    }

    /// Removes the entry for `key`.
    pub(crate) fn remove(&self, key: &TokenHash) {
        if let Some(mut map) = self.shard(key) {
            map.remove(key);
        }
    }

    /// Keeps only the entries for which `keep` holds.
    pub(crate) fn retain(&self, mut keep: impl FnMut(&V) -> bool) {
        for shard in &self.shards {
            shard
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|_, v| keep(v));
        }
    }

    /// Drops every entry.
    pub(crate) fn clear(&self) {
        self.retain(|_| false);
    }

    /// The number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

#[cfg(test)]
mod tests;
