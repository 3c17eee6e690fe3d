use super::*;

fn key(shard_byte: u8, id: u8) -> TokenHash {
    let mut key = [id; 32];
    key[0] = shard_byte;
    key
}

#[test]
fn never_holds_more_than_its_capacity() {
    let cache = ShardedCache::new(64);
    for i in 0..=255u8 {
        for j in 0..4u8 {
            cache.insert_if(key(i, j), (), || true, |_| false);
        }
        assert!(cache.len() <= 64, "len {} after {i}", cache.len());
    }
    // The newest insert is always kept.
    assert_eq!(cache.lookup(&key(255, 3), |_| 1), Some(1));
}

#[test]
fn drops_dead_entries_before_live_ones() {
    // 32 entries over 16 shards: 2 per shard. These keys all land in shard 0.
    let cache = ShardedCache::new(32);
    cache.insert_if(key(0, 1), "dead", || true, |_| false);
    cache.insert_if(key(0, 2), "live", || true, |_| false);

    cache.insert_if(key(0, 3), "new", || true, |v| *v == "dead");

    assert_eq!(cache.lookup(&key(0, 1), |v| *v), None);
    assert_eq!(cache.lookup(&key(0, 2), |v| *v), Some("live"));
    assert_eq!(cache.lookup(&key(0, 3), |v| *v), Some("new"));
}

#[test]
fn full_shard_evicts_down_to_its_low_water_mark() {
    // 16 shards of 16: low water is 14, so a full shard loses 2 (1/8) at once.
    let cache = ShardedCache::new(256);
    for id in 0..16 {
        cache.insert_if(key(0, id), id, || true, |_| false);
    }
    assert_eq!(cache.len(), 16);
    cache.insert_if(key(0, 100), 100, || true, |_| false);
    assert_eq!(cache.len(), 15);
    assert_eq!(cache.lookup(&key(0, 100), |v| *v), Some(100));
    // The next inserts need no eviction until the shard is full again.
    cache.insert_if(key(0, 101), 101, || true, |_| false);
    assert_eq!(cache.len(), 16);
}

#[test]
fn guarded_insert_remove_retain_and_clear() {
    let cache = ShardedCache::new(16);
    cache.insert_if(key(1, 1), 1, || false, |_| false);
    assert_eq!(cache.lookup(&key(1, 1), |v| *v), None);

    cache.insert_if(key(1, 1), 1, || true, |_| false);
    cache.insert_if(key(2, 2), 2, || true, |_| false);
    cache.insert_if(key(3, 3), 3, || true, |_| false);
    cache.remove(&key(1, 1));
    assert_eq!(cache.lookup(&key(1, 1), |v| *v), None);
    cache.retain(|v| *v == 3);
    assert_eq!(
        (
            cache.lookup(&key(2, 2), |v| *v),
            cache.lookup(&key(3, 3), |v| *v)
        ),
        (None, Some(3))
    );
    cache.clear();
    assert_eq!(cache.len(), 0);
}

#[test]
fn zero_capacity_disables_the_cache() {
    let cache = ShardedCache::new(0);
    cache.insert_if(key(0, 0), (), || true, |_| false);
    assert_eq!(cache.lookup(&key(0, 0), |_| ()), None);
    assert_eq!(cache.len(), 0);
}
