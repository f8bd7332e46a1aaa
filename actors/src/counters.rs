//! Counters the components bump as they work, read by `stats()` without asking any actor.
//!
//! Plain atomics: they are never locks, so sharing them keeps the request path lock-free.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Restart latencies kept for percentiles; older ones are overwritten.
pub(crate) const RESTART_LATENCY_SAMPLES: usize = 256;

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
    /// NRQL queries refused because their account's budget was spent.
    pub rejected_rate_limited: AtomicU64,
    pub restarts: AtomicU64,
    pub restart_latency_last_micros: AtomicU64,
    pub restart_latency_max_micros: AtomicU64,
    /// The last [`RESTART_LATENCY_SAMPLES`] restart latencies, in microseconds (a ring).
    pub restart_latency_ring: Box<[AtomicU64]>,
    /// Latencies ever written to the ring; the next goes to this index modulo its length.
    pub restart_latency_samples: AtomicU64,
    pub tool_table_generation: AtomicU64,
    /// Restarts within the restart window of the busiest component, as of its last failure.
    pub recent_restarts: AtomicU64,
    /// When the last failure happened, in microseconds since [`Counters::since_start`]'s epoch.
    pub last_failure_micros: AtomicU64,
    /// The supervisor's restart window, in microseconds: failures older than it are forgotten.
    pub restart_window_micros: AtomicU64,
    /// Entries and bytes held by each cache shard, written by that shard only.
    pub shard_entries: Box<[AtomicU64]>,
    pub shard_bytes: Box<[AtomicU64]>,
}

impl Counters {
    pub fn new(shards: usize) -> Self {
        Self {
            shard_entries: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            shard_bytes: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            restart_latency_ring: (0..RESTART_LATENCY_SAMPLES).map(|_| AtomicU64::new(0)).collect(),
            ..Self::default()
        }
    }

    /// Microseconds since the first call in this process: a clock the atomics can hold.
    pub fn since_start() -> u64 {
        static EPOCH: std::sync::LazyLock<std::time::Instant> =
            std::sync::LazyLock::new(std::time::Instant::now);
        u64::try_from(EPOCH.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Records a component failure and how many restarts it has had within the window (only
    /// the supervisor writes these, from its own handler).
    pub fn failed(&self, recent_restarts: u64, window: Duration) {
        // Within the window the busiest component is kept, so a quiet one failing once does
        // not hide another restarting in a loop.
        if self.recent_restarts() == 0 {
            self.recent_restarts.store(recent_restarts, Ordering::Relaxed);
        } else {
            self.recent_restarts.fetch_max(recent_restarts, Ordering::Relaxed);
        }
        self.last_failure_micros.store(Self::since_start(), Ordering::Relaxed);
        let window = u64::try_from(window.as_micros()).unwrap_or(u64::MAX);
        self.restart_window_micros.store(window, Ordering::Relaxed);
    }

    /// Restarts of the last failed component within the window, or 0 once the window has
    /// passed since its last failure.
    pub fn recent_restarts(&self) -> u64 {
        let since_failure = Self::since_start().saturating_sub(Self::read(&self.last_failure_micros));
        if since_failure < Self::read(&self.restart_window_micros) {
            Self::read(&self.recent_restarts)
        } else {
            0
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
        let ring = self.restart_latency_ring.len() as u64;
        if ring > 0 {
            let slot = self.restart_latency_samples.fetch_add(1, Ordering::Relaxed) % ring;
            if let Some(cell) = self.restart_latency_ring.get(slot as usize) {
                cell.store(micros, Ordering::Relaxed);
            }
        }
    }

    /// The `quantile` (0 to 1) of the recent restart latencies, in microseconds; 0 with none.
    pub fn restart_latency_quantile(&self, quantile: f64) -> u64 {
        let written = Self::read(&self.restart_latency_samples);
        let held = usize::try_from(written).unwrap_or(usize::MAX).min(self.restart_latency_ring.len());
        let mut samples: Vec<u64> = self.restart_latency_ring[..held].iter().map(Self::read).collect();
        samples.sort_unstable();
        nearest_rank(&samples, quantile)
    }

    pub fn set_shard_usage(&self, shard: usize, entries: u64, bytes: u64) {
        if let (Some(e), Some(b)) = (self.shard_entries.get(shard), self.shard_bytes.get(shard)) {
            e.store(entries, Ordering::Relaxed);
            b.store(bytes, Ordering::Relaxed);
        }
    }
}

/// The nearest-rank `quantile` of `sorted` (0 with no samples).
fn nearest_rank(sorted: &[u64], quantile: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (quantile.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
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

    #[test]
    fn nearest_rank_quantiles() {
        let hundred: Vec<u64> = (1..=100).collect();
        let cases: [(&[u64], f64, u64); 7] = [
            (&[], 0.99, 0),
            (&[7], 0.0, 7),
            (&[7], 0.99, 7),
            (&hundred, 0.5, 50),
            (&hundred, 0.99, 99),
            (&hundred, 1.0, 100),
            (&hundred, 0.0, 1),
        ];
        for (samples, quantile, expected) in cases {
            assert_eq!(nearest_rank(samples, quantile), expected, "q{quantile} of {} samples", samples.len());
        }
    }

    #[test]
    fn restart_latency_ring_keeps_only_the_latest_samples() {
        let counters = Counters::new(1);
        assert_eq!(counters.restart_latency_quantile(0.99), 0, "no restarts yet");
        // One slow restart long ago, then a full ring of fast ones: the slow one is forgotten.
        counters.restarted(Duration::from_secs(5));
        for _ in 0..RESTART_LATENCY_SAMPLES {
            counters.restarted(Duration::from_micros(300));
        }
        assert_eq!(counters.restart_latency_quantile(0.99), 300);
        assert_eq!(Counters::read(&counters.restart_latency_max_micros), 5_000_000, "the max stays");
        counters.restarted(Duration::from_micros(900));
        assert_eq!(counters.restart_latency_quantile(1.0), 900);
        assert_eq!(counters.restart_latency_quantile(0.5), 300);
    }
}
