//! One shard's store: a size-weighted quick_cache with a deadline per entry.
//!
//! quick_cache evicts by weight (the bytes an entry holds, see [`super::weight`]), not by
//! age; expiry is checked on read, and an expired entry is removed and reported as a miss.

use std::sync::Arc;
use std::time::Duration;

use quick_cache::Weighter;
use quick_cache::unsync::Cache;
use tokio::time::Instant;

use super::weight::{ENTRY_OVERHEAD_BYTES, output_bytes};
use crate::tool::{CacheKey, ToolOutput};

/// Average entry size used to size the cache's index up front.
const TYPICAL_ENTRY_BYTES: u64 = 4 * 1024;

#[derive(Debug, Clone)]
pub struct Entry {
    pub output: Arc<ToolOutput>,
    pub weight: u64,
    pub expires_at: Instant,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct EntryWeighter;

impl Weighter<CacheKey, Entry> for EntryWeighter {
    fn weight(&self, _key: &CacheKey, entry: &Entry) -> u64 {
        entry.weight
    }
}

pub struct TtlStore {
    cache: Cache<CacheKey, Entry, EntryWeighter>,
}

impl TtlStore {
    pub fn new(capacity_bytes: u64) -> Self {
        let capacity_bytes = capacity_bytes.max(1);
        let estimated_items = usize::try_from((capacity_bytes / TYPICAL_ENTRY_BYTES).max(16)).unwrap_or(16);
        Self { cache: Cache::with_weighter(estimated_items, capacity_bytes, EntryWeighter) }
    }

    /// The live entry for `key`; an expired one is dropped on the way.
    pub fn get(&mut self, key: &CacheKey, now: Instant) -> Option<Arc<ToolOutput>> {
        let expired = match self.cache.get(key) {
            Some(entry) if entry.expires_at > now => return Some(entry.output.clone()),
            Some(_) => true,
            None => false,
        };
        if expired {
            self.cache.remove(key);
        }
        None
    }

    /// Stores `output` until `now + ttl`. A zero TTL stores nothing, and neither does one so
    /// long that the expiry cannot be represented (a panic would be worse than a miss).
    pub fn insert(&mut self, key: CacheKey, output: Arc<ToolOutput>, ttl: Duration, now: Instant) {
        let Some(expires_at) = now.checked_add(ttl).filter(|_| !ttl.is_zero()) else {
            return;
        };
        let weight = output_bytes(&output).saturating_add(ENTRY_OVERHEAD_BYTES);
        self.cache.insert(key, Entry { output, weight, expires_at });
    }

    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// Approximate bytes held.
    pub fn weight(&self) -> u64 {
        self.cache.weight()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use serde_json::json;

    use super::*;

    fn key(n: u8) -> CacheKey {
        CacheKey([n; 32])
    }

    fn output(text: &str) -> Arc<ToolOutput> {
        Arc::new(ToolOutput { structured: json!({"text": text}), text: text.to_string() })
    }

    #[test]
    fn entries_live_until_their_ttl() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        let cases = [
            (Duration::ZERO, true),
            (Duration::from_secs(59), true),
            (Duration::from_secs(60), false),
            (Duration::from_secs(61), false),
        ];
        for (elapsed, present) in cases {
            let mut store = TtlStore::new(1 << 20);
            store.insert(key(1), output("a"), ttl, t0);
            assert_eq!(store.get(&key(1), t0 + elapsed).is_some(), present, "after {elapsed:?}");
            assert_eq!(store.len(), usize::from(present), "expired entries are removed on read");
        }
    }

    #[test]
    fn zero_and_unrepresentable_ttls_are_not_stored() {
        for ttl in [Duration::ZERO, Duration::MAX, Duration::from_secs(u64::MAX)] {
            let mut store = TtlStore::new(1 << 20);
            store.insert(key(1), output("a"), ttl, Instant::now());
            assert!(store.is_empty(), "{ttl:?}");
        }
    }

    #[test]
    fn weight_is_bounded_by_capacity() {
        let big = "x".repeat(1_000);
        let mut store = TtlStore::new(10_000);
        let now = Instant::now();
        for n in 0..100 {
            store.insert(key(n), output(&big), Duration::from_secs(60), now);
        }
        assert!(store.weight() <= 10_000, "weight {}", store.weight());
        assert!(store.len() < 100);
        assert!(!store.is_empty());
    }

    #[test]
    fn reads_hand_out_the_same_arc() {
        let mut store = TtlStore::new(1 << 20);
        let now = Instant::now();
        let stored = output("shared");
        store.insert(key(3), stored.clone(), Duration::from_secs(5), now);
        assert!(Arc::ptr_eq(&store.get(&key(3), now).unwrap(), &stored));
    }
}
