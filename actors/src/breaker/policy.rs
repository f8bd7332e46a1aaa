//! The circuit breaker's state machine as one pure function.
//!
//! Keeping every transition in [`transition`] makes the breaker's behaviour a table that
//! unit tests can read row by row; the actor around it only supplies the clock.

use std::time::Duration;

use tokio::time::Instant;

use crate::upstream::FailureClass;

/// The longest an open breaker waits before a probe, whatever the configuration says: a day
/// is past any sensible setting and far from where `Instant` arithmetic could overflow.
pub const MAX_OPEN_FOR: Duration = Duration::from_secs(86_400);

/// When the breaker trips and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive endpoint-health failures that open the breaker.
    pub failure_threshold: u32,
    /// How long an open breaker rejects calls before admitting one probe.
    pub open_for: Duration,
    /// What a caller rejected while the probe is still running is told to wait.
    pub probe_wait: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self { failure_threshold: 5, open_for: Duration::from_secs(10), probe_wait: Duration::from_secs(1) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow; counts tripping failures in a row.
    Closed { consecutive_failures: u32 },
    /// Calls are rejected until `until`.
    Open { until: Instant },
    /// One probe decides whether to close again; everyone else waits.
    HalfOpen { probe_in_flight: bool },
}

impl BreakerState {
    pub const CLOSED: Self = Self::Closed { consecutive_failures: 0 };

    pub fn name(&self) -> &'static str {
        match self {
            Self::Closed { .. } => "closed",
            Self::Open { .. } => "open",
            Self::HalfOpen { .. } => "half-open",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerEvent {
    /// A worker asks whether it may call the endpoint.
    Admit,
    /// A call admitted earlier finished.
    Outcome { probe: bool, outcome: Result<(), FailureClass> },
}

/// The answer to [`BreakerEvent::Admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Admit { probe: bool },
    Reject { retry_in: Duration },
}

/// Applies one event. Returns the next state and, for `Admit`, the decision.
pub fn transition(
    state: &BreakerState,
    event: BreakerEvent,
    now: Instant,
    config: &BreakerConfig,
) -> (BreakerState, Option<Decision>) {
    match event {
        BreakerEvent::Admit => {
            let (next, decision) = admit(state, now, config);
            (next, Some(decision))
        }
        BreakerEvent::Outcome { probe, outcome } => (record(state, probe, outcome, now, config), None),
    }
}

fn admit(state: &BreakerState, now: Instant, config: &BreakerConfig) -> (BreakerState, Decision) {
    match *state {
        BreakerState::Closed { .. } => (*state, Decision::Admit { probe: false }),
        BreakerState::Open { until } if now >= until => {
            (BreakerState::HalfOpen { probe_in_flight: true }, Decision::Admit { probe: true })
        }
        BreakerState::Open { until } => {
            (*state, Decision::Reject { retry_in: until.saturating_duration_since(now) })
        }
        BreakerState::HalfOpen { probe_in_flight: false } => {
            (BreakerState::HalfOpen { probe_in_flight: true }, Decision::Admit { probe: true })
        }
        BreakerState::HalfOpen { probe_in_flight: true } => {
            (*state, Decision::Reject { retry_in: config.probe_wait })
        }
    }
}

/// When a breaker opened at `now` probes again: never later than [`MAX_OPEN_FOR`], and never
/// a panic, whatever `open_for` says.
fn open_until(now: Instant, open_for: Duration) -> Instant {
    let open_for = open_for.min(MAX_OPEN_FOR);
    now.checked_add(open_for).unwrap_or(now)
}

fn record(
    state: &BreakerState,
    probe: bool,
    outcome: Result<(), FailureClass>,
    now: Instant,
    config: &BreakerConfig,
) -> BreakerState {
    let trips = matches!(outcome, Err(class) if class.trips_breaker());
    let open = BreakerState::Open { until: open_until(now, config.open_for) };
    match (*state, probe) {
        (BreakerState::Closed { consecutive_failures }, _) => match outcome {
            Ok(()) => BreakerState::CLOSED,
            Err(_) if trips => {
                let failures = consecutive_failures.saturating_add(1);
                if failures >= config.failure_threshold.max(1) {
                    open
                } else {
                    BreakerState::Closed { consecutive_failures: failures }
                }
            }
            // Bad NRQL, bad arguments, auth and cancellation say nothing about the endpoint.
            Err(_) => *state,
        },
        (BreakerState::HalfOpen { .. }, true) => match outcome {
            Ok(()) => BreakerState::CLOSED,
            Err(_) if trips => open,
            // The probe proved nothing either way: let the next caller probe.
            Err(_) => BreakerState::HalfOpen { probe_in_flight: false },
        },
        // Late answers from calls admitted before the breaker opened do not move it.
        (BreakerState::HalfOpen { .. }, false) | (BreakerState::Open { .. }, _) => *state,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn config() -> BreakerConfig {
        BreakerConfig { failure_threshold: 3, open_for: Duration::from_secs(10), probe_wait: SECOND }
    }

    fn failed(probe: bool, class: FailureClass) -> BreakerEvent {
        BreakerEvent::Outcome { probe, outcome: Err(class) }
    }

    fn succeeded(probe: bool) -> BreakerEvent {
        BreakerEvent::Outcome { probe, outcome: Ok(()) }
    }

    /// (name, state, event, time of the event, expected state, expected decision)
    type Row = (&'static str, BreakerState, BreakerEvent, Instant, BreakerState, Option<Decision>);

    #[test]
    fn transitions_follow_the_table() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(11);
        let open_from_t0 = BreakerState::Open { until: t0 + Duration::from_secs(10) };
        let closed = |n| BreakerState::Closed { consecutive_failures: n };
        let half_open = |busy| BreakerState::HalfOpen { probe_in_flight: busy };
        use FailureClass::*;
        #[rustfmt::skip]
        let table: Vec<Row> = vec![
            ("closed admits", closed(2), BreakerEvent::Admit, t0, closed(2), Some(Decision::Admit { probe: false })),
            ("success resets the count", closed(2), succeeded(false), t0, closed(0), None),
            ("transient failure counts", closed(0), failed(false, Transient), t0, closed(1), None),
            ("rate limit counts", closed(1), failed(false, RateLimited), t0, closed(2), None),
            ("threshold opens", closed(2), failed(false, Unreachable), t0, open_from_t0, None),
            ("nrdb timeout counts", closed(2), failed(false, UpstreamTimeout), t0, open_from_t0, None),
            ("bad request never trips", closed(2), failed(false, BadRequest), t0, closed(2), None),
            ("auth never trips", closed(2), failed(false, Auth), t0, closed(2), None),
            ("cancel never trips", closed(2), failed(false, Cancelled), t0, closed(2), None),
            ("payload error never trips", closed(2), failed(false, Payload), t0, closed(2), None),
            ("own deadline never trips", closed(2), failed(false, DeadlineExceeded), t0, closed(2), None),
            ("open rejects with time left", open_from_t0, BreakerEvent::Admit, t0 + Duration::from_secs(4),
                open_from_t0, Some(Decision::Reject { retry_in: Duration::from_secs(6) })),
            ("open admits one probe after the wait", open_from_t0, BreakerEvent::Admit, later,
                half_open(true), Some(Decision::Admit { probe: true })),
            ("second caller waits for the probe", half_open(true), BreakerEvent::Admit, later,
                half_open(true), Some(Decision::Reject { retry_in: SECOND })),
            ("probe success closes", half_open(true), succeeded(true), later, closed(0), None),
            ("probe failure reopens", half_open(true), failed(true, Transient), later,
                BreakerState::Open { until: later + Duration::from_secs(10) }, None),
            ("inconclusive probe frees the slot", half_open(true), failed(true, Cancelled), later, half_open(false), None),
            ("free slot admits the next probe", half_open(false), BreakerEvent::Admit, later,
                half_open(true), Some(Decision::Admit { probe: true })),
            ("stale success while open is ignored", open_from_t0, succeeded(false), t0, open_from_t0, None),
            ("stale failure while half-open is ignored", half_open(true), failed(false, Transient), later, half_open(true), None),
        ];
        for (name, state, event, now, expected_state, expected_decision) in table {
            let (next, decision) = transition(&state, event, now, &config());
            assert_eq!(next, expected_state, "{name}: state");
            assert_eq!(decision, expected_decision, "{name}: decision");
        }
    }

    #[test]
    fn exactly_one_probe_is_admitted_in_half_open() {
        let now = Instant::now();
        let mut state = BreakerState::Open { until: now };
        let mut probes = 0;
        for _ in 0..100 {
            let (next, decision) = transition(&state, BreakerEvent::Admit, now, &config());
            state = next;
            if decision == Some(Decision::Admit { probe: true }) {
                probes += 1;
            }
        }
        assert_eq!(probes, 1);
    }

    #[test]
    fn zero_threshold_behaves_like_one() {
        let config = BreakerConfig { failure_threshold: 0, ..config() };
        let now = Instant::now();
        let (next, _) =
            transition(&BreakerState::CLOSED, failed(false, FailureClass::Transient), now, &config);
        assert!(matches!(next, BreakerState::Open { .. }));
    }

    #[test]
    fn any_open_duration_trips_without_overflow_and_stays_open_a_long_time() {
        let now = Instant::now();
        for open_for in [Duration::MAX, Duration::from_secs(u64::MAX), Duration::from_secs(u64::MAX / 2)] {
            let config = BreakerConfig { failure_threshold: 1, open_for, probe_wait: SECOND };
            for (state, probe) in
                [(BreakerState::CLOSED, false), (BreakerState::HalfOpen { probe_in_flight: true }, true)]
            {
                let (next, _) = transition(&state, failed(probe, FailureClass::Transient), now, &config);
                let BreakerState::Open { until } = next else { panic!("{open_for:?}: {next:?}") };
                assert!(until >= now + MAX_OPEN_FOR, "{open_for:?}: opened for too short a time");
                let (still, decision) = transition(&next, BreakerEvent::Admit, now, &config);
                assert_eq!(still, next);
                assert!(matches!(decision, Some(Decision::Reject { retry_in }) if retry_in >= MAX_OPEN_FOR));
            }
        }
    }
}
