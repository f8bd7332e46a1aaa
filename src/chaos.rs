//! The chaos switch: crashes a random runtime component every so often, so that supervision,
//! restarts and the transparent retry can be watched under real traffic.
//!
//! Compiled only with the `chaos` cargo feature, so a production build cannot turn it on by
//! accident; with it, `serve --chaos-interval-ms N` starts a [`ChaosMonkey`]. The delay before
//! each crash is drawn uniformly from half to one and a half times the interval, so crashes
//! do not fall into lockstep with periodic work.

use std::time::Duration;

use newrelic_mcp_actors::{ChaosTarget, RuntimeHandle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Cache shard indices drawn from; the runtime maps them onto its shards by modulo.
const SHARD_DRAW: usize = 64;

/// A running crash loop; [`stop`](ChaosMonkey::stop) ends it.
pub struct ChaosMonkey {
    stop: CancellationToken,
    task: JoinHandle<u64>,
}

/// Picks which component to crash: each kind equally likely, any shard.
pub fn pick_target(rng: &mut impl Rng) -> ChaosTarget {
    match rng.random_range(0..5u8) {
        0 => ChaosTarget::CacheShard(rng.random_range(0..SHARD_DRAW)),
        1 => ChaosTarget::ExecutorWorker,
        2 => ChaosTarget::Breaker,
        3 => ChaosTarget::Registry,
        _ => ChaosTarget::FrontDoor,
    }
}

/// The delay before the next crash: uniform in `[interval / 2, interval × 3 / 2]`.
pub fn jittered(interval: Duration, rng: &mut impl Rng) -> Duration {
    interval.mul_f64(rng.random_range(0.5..=1.5))
}

/// Starts crashing a random component of `runtime` about every `interval`; `seed` makes the
/// sequence of targets and delays repeatable.
pub fn start(runtime: RuntimeHandle, interval: Duration, seed: Option<u64>) -> ChaosMonkey {
    let interval = interval.max(Duration::from_millis(1));
    let mut rng = match seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_rng(&mut rand::rng()),
    };
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    let task = tokio::spawn(async move {
        let mut crashes = 0u64;
        loop {
            tokio::select! {
                () = stopped.cancelled() => return crashes,
                () = tokio::time::sleep(jittered(interval, &mut rng)) => {}
            }
            let target = pick_target(&mut rng);
            tracing::warn!(?target, "chaos: crashing a component on purpose");
            runtime.crash(target);
            crashes += 1;
        }
    });
    ChaosMonkey { stop, task }
}

impl ChaosMonkey {
    /// Stops the loop; returns how many crashes it caused.
    pub async fn stop(self) -> u64 {
        self.stop.cancel();
        self.task.await.unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::HashSet;
    use std::mem::discriminant;

    use super::*;

    #[test]
    fn delays_stay_within_half_and_one_and_a_half_intervals() {
        let mut rng = StdRng::seed_from_u64(3);
        let interval = Duration::from_millis(100);
        let delays: Vec<Duration> = (0..1_000).map(|_| jittered(interval, &mut rng)).collect();
        assert!(delays.iter().all(|d| (Duration::from_millis(50)..=Duration::from_millis(150)).contains(d)));
        let below = delays.iter().filter(|d| **d < interval).count();
        assert!((400..=600).contains(&below), "jitter is centred on the interval: {below} of 1000 below");
    }

    #[test]
    fn every_kind_of_component_is_a_target() {
        let mut rng = StdRng::seed_from_u64(5);
        let kinds: HashSet<_> = (0..200).map(|_| discriminant(&pick_target(&mut rng))).collect();
        assert_eq!(kinds.len(), 5);
        let shards: HashSet<usize> = (0..2_000)
            .filter_map(|_| match pick_target(&mut rng) {
                ChaosTarget::CacheShard(index) => Some(index),
                _ => None,
            })
            .collect();
        assert!(shards.iter().all(|index| *index < SHARD_DRAW));
        assert!(shards.len() > SHARD_DRAW / 2, "shards are spread: {}", shards.len());
    }

    #[test]
    fn a_seed_repeats_the_sequence() {
        let draw = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..20)
                .map(|_| (pick_target(&mut rng), jittered(Duration::from_secs(1), &mut rng)))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(9), draw(9));
        assert_ne!(draw(9), draw(10));
    }
}
