//! The range every numeric setting must fall in, and the check that refuses a value outside it.
//!
//! A value out of range is refused at start, naming the setting, where the value came from and
//! the range, rather than clamped: a silently changed setting is a surprise found in production.
//! The ranges keep memory, start-up time and time arithmetic sane whatever an operator types.

use std::fmt;

/// Where a value came from, named as the operator wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag, such as `--cache-shards`.
    Flag(&'static str),
    /// An environment variable.
    Env(&'static str),
    /// The configuration file.
    File,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag(flag) => write!(f, "flag {flag}"),
            Self::Env(name) => write!(f, "environment variable {name}"),
            Self::File => f.write_str("the configuration file"),
        }
    }
}

/// A numeric setting, named by its `[section] key` in the configuration file, and its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub name: &'static str,
    pub min: u64,
    pub max: u64,
}

/// A value outside its setting's range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is {value} (from {origin}); it must be from {} to {}", bound.name, bound.min, bound.max)]
pub struct OutOfRange {
    pub bound: Bound,
    pub value: String,
    pub origin: Source,
}

impl Bound {
    /// `value` when it lies within the range.
    pub fn check<T>(&self, value: T, origin: Source) -> Result<u64, OutOfRange>
    where
        T: TryInto<u64> + fmt::Display + Copy,
    {
        match value.try_into() {
            Ok(number) if (self.min..=self.max).contains(&number) => Ok(number),
            _ => Err(OutOfRange { bound: *self, value: value.to_string(), origin }),
        }
    }

    /// The checked value given, or `default` when none was.
    pub fn resolve<T>(&self, given: Option<(T, Source)>, default: u64) -> Result<u64, OutOfRange>
    where
        T: TryInto<u64> + fmt::Display + Copy,
    {
        match given {
            Some((value, origin)) => self.check(value, origin),
            None => Ok(default),
        }
    }
}

/// The flag's value when given, else the file's, each with where it came from.
pub fn flag_or_file<T>(flag: Option<T>, flag_name: &'static str, file: Option<T>) -> Option<(T, Source)> {
    flag.map(|value| (value, Source::Flag(flag_name))).or_else(|| file.map(|value| (value, Source::File)))
}

/// Spread across cores for parallel cache hits; each shard is an actor with its own map, so
/// a million of them took gigabytes and most of a minute to start.
pub const CACHE_SHARDS: Bound = Bound { name: "runtime.cache_shards", min: 1, max: 1024 };
/// Up to 64 GiB; the product of MiB and bytes must not overflow.
pub const CACHE_CAPACITY_MB: Bound = Bound { name: "runtime.cache_capacity_mb", min: 1, max: 65_536 };
/// New Relic allows 25 concurrent requests per user key; a few hundred idle workers is plenty.
pub const EXECUTOR_WORKERS: Bound = Bound { name: "runtime.executor_workers", min: 1, max: 256 };
pub const EXECUTOR_QUEUE: Bound = Bound { name: "runtime.executor_queue", min: 1, max: 65_536 };
pub const DEFAULT_TIMEOUT_SECONDS: Bound =
    Bound { name: "runtime.default_timeout_seconds", min: 1, max: 300 };
pub const NRQL_PER_MINUTE: Bound = Bound { name: "runtime.nrql_per_minute", min: 1, max: 100_000 };
pub const UPSTREAM_ATTEMPTS: Bound = Bound { name: "runtime.upstream_attempts", min: 1, max: 10 };
pub const BREAKER_FAILURE_THRESHOLD: Bound =
    Bound { name: "runtime.breaker_failure_threshold", min: 1, max: 1_000 };
/// One hour: longer than any outage worth waiting out without a probe.
pub const BREAKER_OPEN_SECONDS: Bound = Bound { name: "runtime.breaker_open_seconds", min: 1, max: 3_600 };
/// Ten years, past any New Relic data retention.
pub const NRQL_MAX_WINDOW_DAYS: Bound = Bound { name: "nrql.max_window_days", min: 1, max: 3_650 };
/// New Relic's own LIMIT MAX.
pub const NRQL_MAX_LIMIT: Bound =
    Bound { name: "nrql.max_limit", min: 1, max: newrelic_mcp_nrql::policy::NEW_RELIC_MAX_LIMIT as u64 };
pub const SANDBOX_LATENCY_MS: Bound = Bound { name: "sandbox.latency_ms", min: 0, max: 60_000 };
pub const SANDBOX_ASYNC_POLLS: Bound = Bound { name: "sandbox.async_polls", min: 0, max: 100 };
pub const SANDBOX_ASYNC_RETRY_AFTER_SECONDS: Bound =
    Bound { name: "sandbox.async_retry_after_seconds", min: 0, max: 60 };

/// Every bounded setting, for tests and documentation.
pub const ALL: [Bound; 14] = [
    CACHE_SHARDS,
    CACHE_CAPACITY_MB,
    EXECUTOR_WORKERS,
    EXECUTOR_QUEUE,
    DEFAULT_TIMEOUT_SECONDS,
    NRQL_PER_MINUTE,
    UPSTREAM_ATTEMPTS,
    BREAKER_FAILURE_THRESHOLD,
    BREAKER_OPEN_SECONDS,
    NRQL_MAX_WINDOW_DAYS,
    NRQL_MAX_LIMIT,
    SANDBOX_LATENCY_MS,
    SANDBOX_ASYNC_POLLS,
    SANDBOX_ASYNC_RETRY_AFTER_SECONDS,
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_value_is_checked_against_its_range_whatever_its_type() {
        let bound = Bound { name: "runtime.x", min: 1, max: 10 };
        let origin = Source::Flag("--x");
        assert_eq!(bound.check(1u32, origin), Ok(1));
        assert_eq!(bound.check(10usize, origin), Ok(10));
        for refused in [0u64, 11, u64::MAX] {
            let error = bound.check(refused, origin).unwrap_err().to_string();
            assert_eq!(error, format!("runtime.x is {refused} (from flag --x); it must be from 1 to 10"));
        }
        assert_eq!(bound.resolve::<u64>(None, 7), Ok(7));
        assert!(bound.resolve(Some((-1i64, Source::File)), 7).unwrap_err().to_string().contains("-1"));
    }

    #[test]
    fn the_flag_wins_over_the_file() {
        assert_eq!(flag_or_file(Some(1), "--x", Some(2)), Some((1, Source::Flag("--x"))));
        assert_eq!(flag_or_file(None, "--x", Some(2)), Some((2, Source::File)));
        assert_eq!(flag_or_file::<u8>(None, "--x", None), None);
    }

    #[test]
    fn every_range_is_well_formed_and_named_by_section_and_key() {
        for bound in ALL {
            assert!(bound.min <= bound.max, "{bound:?}");
            assert_eq!(bound.name.split('.').count(), 2, "{bound:?}");
        }
    }
}
