//! Deterministic fault decisions: the same seed and request number always give the same
//! plan.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::FaultConfig;

/// A fault that replaces or corrupts the normal answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection without a response.
    DropConnection,
    /// Never answer while the client waits.
    Hang,
    /// Answer with this 5xx status.
    ServerError(u16),
    /// Answer 429 with `Retry-After`.
    RateLimited,
    /// Answer 200 with a GraphQL `TIMEOUT` error.
    GraphqlTimeout,
    /// Answer 200 with a truncated body.
    MalformedBody,
    /// Answer 200 with valid JSON whose `data` has the wrong shape.
    WrongShape,
}

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultPlan {
    /// Delay before answering.
    pub latency: Duration,
    /// The fault, if any.
    pub fault: Option<Fault>,
}

const SERVER_ERRORS: [u16; 4] = [500, 502, 503, 504];

fn rate(value: f64) -> f64 {
    if value.is_nan() { 0.0 } else { value.clamp(0.0, 1.0) }
}

/// The plan for request number `sequence` (0-based) under `faults` and `seed`.
pub fn plan(faults: &FaultConfig, seed: u64, sequence: u64) -> FaultPlan {
    let mut rng = StdRng::seed_from_u64(seed ^ sequence.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17));
    let jitter = if faults.latency_jitter.is_zero() {
        Duration::ZERO
    } else {
        faults.latency_jitter.mul_f64(rng.random::<f64>())
    };
    let draw: f64 = rng.random();
    let status_pick: usize = rng.random_range(0..SERVER_ERRORS.len());
    let candidates = [
        (faults.drop_connection_rate, Fault::DropConnection),
        (faults.hang_rate, Fault::Hang),
        (faults.error_5xx_rate, Fault::ServerError(SERVER_ERRORS[status_pick])),
        (faults.rate_429_rate, Fault::RateLimited),
        (faults.graphql_timeout_rate, Fault::GraphqlTimeout),
        (faults.malformed_body_rate, Fault::MalformedBody),
        (faults.wrong_shape_rate, Fault::WrongShape),
    ];
    let mut threshold = 0.0;
    let mut fault = None;
    for (probability, candidate) in candidates {
        threshold += rate(probability);
        if draw < threshold {
            fault = Some(candidate);
            break;
        }
    }
    FaultPlan { latency: faults.latency + jitter, fault }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Wanted = fn(Option<Fault>) -> bool;

    fn count(faults: &FaultConfig, wanted: Wanted) -> usize {
        (0..10_000).filter(|n| wanted(plan(faults, 7, *n).fault)).count()
    }

    #[test]
    fn no_faults_by_default() {
        let faults = FaultConfig::default();
        for n in 0..1000 {
            assert_eq!(plan(&faults, 1, n), FaultPlan { latency: Duration::ZERO, fault: None });
        }
    }

    #[test]
    fn plans_are_deterministic_per_seed_and_sequence() {
        let faults = FaultConfig { error_5xx_rate: 0.3, hang_rate: 0.1, ..FaultConfig::default() };
        let first: Vec<FaultPlan> = (0..200).map(|n| plan(&faults, 42, n)).collect();
        let second: Vec<FaultPlan> = (0..200).map(|n| plan(&faults, 42, n)).collect();
        let other_seed: Vec<FaultPlan> = (0..200).map(|n| plan(&faults, 43, n)).collect();
        assert_eq!(first, second);
        assert_ne!(first, other_seed);
    }

    #[test]
    fn rates_are_honoured_roughly_and_extremes_exactly() {
        let cases: [(FaultConfig, Wanted, std::ops::RangeInclusive<usize>); 4] = [
            (
                FaultConfig { rate_429_rate: 1.0, ..FaultConfig::default() },
                |f| f == Some(Fault::RateLimited),
                10_000..=10_000,
            ),
            (
                FaultConfig { rate_429_rate: 0.25, ..FaultConfig::default() },
                |f| f == Some(Fault::RateLimited),
                2_300..=2_700,
            ),
            (
                FaultConfig { error_5xx_rate: 0.5, malformed_body_rate: 0.5, ..FaultConfig::default() },
                |f| f.is_none(),
                0..=0,
            ),
            (
                FaultConfig { hang_rate: f64::NAN, drop_connection_rate: -1.0, ..FaultConfig::default() },
                |f| f.is_none(),
                10_000..=10_000,
            ),
        ];
        for (faults, wanted, expected) in cases {
            let seen = count(&faults, wanted);
            assert!(expected.contains(&seen), "{faults:?}: {seen}");
        }
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let faults = FaultConfig {
            latency: Duration::from_millis(100),
            latency_jitter: Duration::from_millis(50),
            ..FaultConfig::default()
        };
        for n in 0..1000 {
            let latency = plan(&faults, 3, n).latency;
            assert!(latency >= Duration::from_millis(100) && latency <= Duration::from_millis(150));
        }
    }
}
