//! Request and fault counters, readable while the sandbox runs.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::faults::Fault;

/// A snapshot of what the sandbox has seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxStats {
    /// Requests received on `/graphql`.
    pub requests: u64,
    /// Requests being handled now.
    pub in_flight: u64,
    /// The most requests ever handled at once.
    pub in_flight_high_water: u64,
    /// Validated requests by operation (its name, or its type and root fields).
    pub by_operation: BTreeMap<String, u64>,
    /// Faults injected, by kind.
    pub faults: FaultCounts,
    /// Requests whose client went away before the answer.
    pub cancelled: u64,
    /// Requests refused for a missing or wrong API key.
    pub unauthorized: u64,
    /// Requests whose document failed validation.
    pub invalid_documents: u64,
}

/// Faults injected, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Requests delayed by configured latency.
    pub delayed: u64,
    /// 5xx answers.
    pub server_errors: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// GraphQL `TIMEOUT` errors.
    pub graphql_timeouts: u64,
    /// Truncated bodies.
    pub malformed_bodies: u64,
    /// Answers of the wrong shape.
    pub wrong_shapes: u64,
    /// Connections closed without a response.
    pub dropped_connections: u64,
    /// Requests left unanswered.
    pub hangs: u64,
}

impl FaultCounts {
    /// All faults except plain latency.
    pub fn total(&self) -> u64 {
        self.server_errors
            + self.rate_limited
            + self.graphql_timeouts
            + self.malformed_bodies
            + self.wrong_shapes
            + self.dropped_connections
            + self.hangs
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    in_flight: AtomicU64,
    high_water: AtomicU64,
    cancelled: AtomicU64,
    unauthorized: AtomicU64,
    invalid: AtomicU64,
    delayed: AtomicU64,
    server_errors: AtomicU64,
    rate_limited: AtomicU64,
    timeouts: AtomicU64,
    malformed: AtomicU64,
    wrong_shapes: AtomicU64,
    dropped: AtomicU64,
    hangs: AtomicU64,
    by_operation: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    pub(crate) fn begin(&self) -> RequestGuard<'_> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.high_water.fetch_max(now, Ordering::Relaxed);
        RequestGuard { counters: self, answered: false }
    }

    pub(crate) fn fault(&self, fault: Fault) {
        let counter = match fault {
            Fault::DropConnection => &self.dropped,
            Fault::Hang => &self.hangs,
            Fault::ServerError(_) => &self.server_errors,
            Fault::RateLimited => &self.rate_limited,
            Fault::GraphqlTimeout => &self.timeouts,
            Fault::MalformedBody => &self.malformed,
            Fault::WrongShape => &self.wrong_shapes,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn delayed(&self) {
        self.delayed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn unauthorized(&self) {
        self.unauthorized.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn invalid(&self) {
        self.invalid.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn operation(&self, label: String) {
        let mut map = self.by_operation.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *map.entry(label).or_default() += 1;
    }

    pub(crate) fn snapshot(&self) -> SandboxStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        SandboxStats {
            requests: load(&self.requests),
            in_flight: load(&self.in_flight),
            in_flight_high_water: load(&self.high_water),
            by_operation: self.by_operation.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone(),
            faults: FaultCounts {
                delayed: load(&self.delayed),
                server_errors: load(&self.server_errors),
                rate_limited: load(&self.rate_limited),
                graphql_timeouts: load(&self.timeouts),
                malformed_bodies: load(&self.malformed),
                wrong_shapes: load(&self.wrong_shapes),
                dropped_connections: load(&self.dropped),
                hangs: load(&self.hangs),
            },
            cancelled: load(&self.cancelled),
            unauthorized: load(&self.unauthorized),
            invalid_documents: load(&self.invalid),
        }
    }
}

/// Tracks one request: in flight until dropped; dropped before [`RequestGuard::answered`]
/// means the client went away first.
pub(crate) struct RequestGuard<'a> {
    counters: &'a Counters,
    answered: bool,
}

impl RequestGuard<'_> {
    pub(crate) fn answered(mut self) {
        self.answered = true;
    }
}

impl Drop for RequestGuard<'_> {
    fn drop(&mut self) {
        self.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        if !self.answered {
            self.counters.cancelled.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_track_in_flight_and_cancellation() {
        let counters = Counters::default();
        let first = counters.begin();
        let second = counters.begin();
        assert_eq!(counters.snapshot().in_flight, 2);
        first.answered();
        drop(second);
        let stats = counters.snapshot();
        assert_eq!(
            (stats.requests, stats.in_flight, stats.in_flight_high_water, stats.cancelled),
            (2, 0, 2, 1)
        );
    }
}
