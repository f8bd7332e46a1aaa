//! Counters the components bump as they work, read by `stats()` without asking any actor.
//!
//! Plain atomics: they are never locks, so sharing them keeps the request path lock-free.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub calls: AtomicU64,
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    pub coalesced: AtomicU64,
    pub upstream_calls: AtomicU64,
    pub upstream_in_flight: AtomicU64,
    pub upstream_in_flight_high_water: AtomicU64,
    pub rejected_overloaded: AtomicU64,
    pub restarts: AtomicU64,
    pub restart_latency_last_micros: AtomicU64,
    pub restart_latency_max_micros: AtomicU64,
    pub tool_table_generation: AtomicU64,
    /// Entries and bytes held by each cache shard, written by that shard only.
    pub shard_entries: Box<[AtomicU64]>,
    pub shard_bytes: Box<[AtomicU64]>,
}

impl Counters {
    pub fn new(shards: usize) -> Self {
        Self {
            shard_entries: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            shard_bytes: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            ..Self::default()
        }
    }

    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn read(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Marks one upstream call as started; the guard marks it finished when dropped.
    pub fn upstream_started(&self) -> InFlightGuard<'_> {
        Self::bump(&self.upstream_calls);
        let now = self.upstream_in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.upstream_in_flight_high_water.fetch_max(now, Ordering::Relaxed);
        InFlightGuard { counters: self }
    }

    pub fn restarted(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        Self::bump(&self.restarts);
        self.restart_latency_last_micros.store(micros, Ordering::Relaxed);
        self.restart_latency_max_micros.fetch_max(micros, Ordering::Relaxed);
    }

    pub fn set_shard_usage(&self, shard: usize, entries: u64, bytes: u64) {
        if let (Some(e), Some(b)) = (self.shard_entries.get(shard), self.shard_bytes.get(shard)) {
            e.store(entries, Ordering::Relaxed);
            b.store(bytes, Ordering::Relaxed);
        }
    }
}

pub(crate) struct InFlightGuard<'a> {
    counters: &'a Counters,
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.counters.upstream_in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn in_flight_tracks_the_high_water_mark() {
        let counters = Counters::new(2);
        let first = counters.upstream_started();
        let second = counters.upstream_started();
        drop(first);
        let third = counters.upstream_started();
        assert_eq!(Counters::read(&counters.upstream_in_flight), 2);
        drop((second, third));
        assert_eq!(Counters::read(&counters.upstream_in_flight), 0);
        assert_eq!(Counters::read(&counters.upstream_in_flight_high_water), 2);
        assert_eq!(Counters::read(&counters.upstream_calls), 3);
    }

    #[test]
    fn shard_usage_ignores_unknown_shards() {
        let counters = Counters::new(1);
        counters.set_shard_usage(0, 3, 300);
        counters.set_shard_usage(7, 9, 900);
        assert_eq!(Counters::read(&counters.shard_entries[0]), 3);
        assert_eq!(Counters::read(&counters.shard_bytes[0]), 300);
    }

    #[test]
    fn restart_latency_keeps_last_and_max() {
        let counters = Counters::new(0);
        counters.restarted(Duration::from_micros(50));
        counters.restarted(Duration::from_micros(20));
        assert_eq!(Counters::read(&counters.restarts), 2);
        assert_eq!(Counters::read(&counters.restart_latency_last_micros), 20);
        assert_eq!(Counters::read(&counters.restart_latency_max_micros), 50);
    }
}
