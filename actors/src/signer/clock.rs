//! Wall-clock time as the signer sees it: whole seconds since the Unix epoch.
//!
//! Signed requests carry Unix timestamps and confirmation tokens carry an expiry, so the
//! signer reasons in wall-clock seconds rather than `Instant`s. The clock is injected so
//! tests can move time by hand instead of sleeping.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time, in whole seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixTime(u64);

impl UnixTime {
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// The current system time; a clock set before 1970 reads as the epoch itself.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    pub fn from_system_time(time: SystemTime) -> Self {
        Self(time.duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0))
    }

    /// `self + duration`, saturating at the end of representable time.
    pub fn saturating_add(self, duration: Duration) -> Self {
        Self(self.0.saturating_add(duration.as_secs()))
    }

    /// Whole seconds from `earlier` to `self`, zero when `earlier` is later.
    pub fn saturating_secs_since(self, earlier: UnixTime) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where the signer actor reads the time from.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    fn now(&self) -> UnixTime;
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        UnixTime::now()
    }
}

/// A clock that only moves when told to: deterministic expiry and skew in tests and
/// load-test scenarios.
#[derive(Debug, Default)]
pub struct ManualClock {
    secs: AtomicU64,
}

impl ManualClock {
    pub fn new(start: UnixTime) -> Self {
        Self { secs: AtomicU64::new(start.as_secs()) }
    }

    pub fn set(&self, time: UnixTime) {
        self.secs.store(time.as_secs(), Ordering::SeqCst);
    }

    pub fn advance(&self, by: Duration) {
        let step = by.as_secs();
        // fetch_update never fails here: the closure always returns Some.
        let _ = self
            .secs
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |secs| Some(secs.saturating_add(step)));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime::from_secs(self.secs.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_overflowing() {
        let cases = [
            (UnixTime::from_secs(10), Duration::from_secs(5), UnixTime::from_secs(15)),
            (UnixTime::from_secs(u64::MAX - 1), Duration::from_secs(5), UnixTime::from_secs(u64::MAX)),
            (UnixTime::from_secs(7), Duration::from_millis(999), UnixTime::from_secs(7)),
        ];
        for (start, step, expected) in cases {
            assert_eq!(start.saturating_add(step), expected, "{start} + {step:?}");
        }
        assert_eq!(UnixTime::from_secs(3).saturating_secs_since(UnixTime::from_secs(10)), 0);
        assert_eq!(UnixTime::from_secs(10).saturating_secs_since(UnixTime::from_secs(3)), 7);
    }

    #[test]
    fn time_before_the_epoch_reads_as_the_epoch() {
        let before = UNIX_EPOCH - Duration::from_secs(60);
        assert_eq!(UnixTime::from_system_time(before), UnixTime::from_secs(0));
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(UnixTime::from_secs(1_000));
        assert_eq!(clock.now(), UnixTime::from_secs(1_000));
        clock.advance(Duration::from_secs(30));
        assert_eq!(clock.now(), UnixTime::from_secs(1_030));
        clock.set(UnixTime::from_secs(5));
        assert_eq!(clock.now(), UnixTime::from_secs(5));
    }
}
