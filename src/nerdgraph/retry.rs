//! When to try a NerdGraph request again, and after how long.
//!
//! Reads are retried on retryable failure classes with capped exponential backoff and full
//! jitter, honouring `Retry-After` when New Relic sends one, and never past the caller's
//! deadline: when the next try cannot fit, the last error is the answer.
//!
//! Writes are retried only when the request provably never left this process: the
//! connection could not be established (refused, DNS failure, TLS handshake). Once bytes may
//! have reached New Relic a retry could apply a mutation twice, so any other failure of a write
//! is final and the caller decides.

use std::time::Duration;

use newrelic_mcp_actors::upstream::{FailureClass, RequestKind};
use rand::Rng;
use tokio::time::Instant;

/// Whether a failed attempt may have reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// No connection was established, so nothing was sent.
    NotSent,
    /// The request may have been (partly) received and acted on.
    MaybeSent,
}

/// Whether a request of `kind` that failed with `class` may be sent again at all.
pub fn retry_permitted(kind: RequestKind, class: FailureClass, delivery: Delivery) -> bool {
    match kind {
        RequestKind::Read => class.is_retryable(),
        RequestKind::Write => class == FailureClass::Unreachable && delivery == Delivery::NotSent,
    }
}

/// Attempts a failure class may take at most, whatever the policy allows: an answer that was
/// not NerdGraph's shape is tried once more (a proxy or a deploy may have garbled one answer),
/// but a server that keeps answering garbage is reported, not hammered.
fn attempts_allowed(class: FailureClass) -> u32 {
    match class {
        FailureClass::Malformed => 2,
        _ => u32::MAX,
    }
}

/// Backoff parameters. The defaults suit NerdGraph: short first waits (most transient errors
/// clear in well under a second) and a cap that keeps a retry storm from outliving a tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Upper bound of the first backoff window.
    pub base_delay: Duration,
    /// No computed backoff exceeds this (a server's `Retry-After` may).
    pub max_delay: Duration,
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// Time an attempt needs to be worth starting; a retry that would leave less than this
    /// before the deadline is not made.
    pub min_attempt_time: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_attempts: 4,
            min_attempt_time: Duration::from_millis(50),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// How long to wait before the next attempt, or `None` to give up with the last error.
    ///
    /// `attempt` counts the attempts made so far (1 after the first failure). `retry_after` is
    /// the server's explicit request, which replaces the computed backoff.
    pub fn next_delay(
        &self,
        attempt: u32,
        class: FailureClass,
        retry_after: Option<Duration>,
        now: Instant,
        deadline: Instant,
        rng: &mut impl Rng,
    ) -> Option<Duration> {
        if !class.is_retryable() || attempt >= self.max_attempts.min(attempts_allowed(class)) {
            return None;
        }
        let delay = match retry_after {
            Some(requested) => requested,
            None => {
                let window = self.backoff_window(attempt);
                Duration::from_nanos(rng.random_range(0..=saturating_nanos(window)))
            }
        };
        let next_start = now.checked_add(delay)?;
        let needed_until = next_start.checked_add(self.min_attempt_time)?;
        (needed_until <= deadline).then_some(delay)
    }

    /// The full-jitter window after `attempt` failures: `base * 2^(attempt-1)`, capped.
    fn backoff_window(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

fn saturating_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const ALL_CLASSES: [FailureClass; 10] = [
        FailureClass::Auth,
        FailureClass::RateLimited,
        FailureClass::Transient,
        FailureClass::UpstreamTimeout,
        FailureClass::Unreachable,
        FailureClass::Malformed,
        FailureClass::BadRequest,
        FailureClass::Payload,
        FailureClass::DeadlineExceeded,
        FailureClass::Cancelled,
    ];

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    #[test]
    fn which_failures_may_be_retried() {
        use Delivery::*;
        use FailureClass::*;
        use RequestKind::*;
        let table = [
            (Read, RateLimited, MaybeSent, true),
            (Read, Transient, MaybeSent, true),
            (Read, UpstreamTimeout, MaybeSent, true),
            (Read, Unreachable, MaybeSent, true),
            (Read, Unreachable, NotSent, true),
            (Read, Malformed, MaybeSent, true),
            (Read, Auth, MaybeSent, false),
            (Read, BadRequest, MaybeSent, false),
            (Read, Payload, MaybeSent, false),
            (Read, DeadlineExceeded, MaybeSent, false),
            (Read, Cancelled, NotSent, false),
            (Write, Unreachable, NotSent, true),
            (Write, Unreachable, MaybeSent, false),
            (Write, RateLimited, MaybeSent, false),
            (Write, Transient, MaybeSent, false),
            (Write, UpstreamTimeout, MaybeSent, false),
            (Write, Malformed, MaybeSent, false),
            (Write, Payload, MaybeSent, false),
            (Write, Auth, NotSent, false),
        ];
        for (kind, class, delivery, expected) in table {
            assert_eq!(retry_permitted(kind, class, delivery), expected, "{kind:?} {class:?} {delivery:?}");
        }
    }

    #[test]
    fn non_retryable_classes_get_no_delay() {
        let policy = RetryPolicy::default();
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(7);
        for class in ALL_CLASSES {
            let delay = policy.next_delay(1, class, None, now, now + Duration::from_secs(60), &mut rng);
            assert_eq!(delay.is_some(), class.is_retryable(), "{class:?}");
        }
    }

    #[test]
    fn an_answer_of_the_wrong_shape_is_tried_once_more_and_no_further() {
        let policy = RetryPolicy::default();
        let now = Instant::now();
        let deadline = now + Duration::from_secs(60);
        let mut rng = StdRng::seed_from_u64(7);
        let cases = [
            (FailureClass::Malformed, 1, true),
            (FailureClass::Malformed, 2, false),
            (FailureClass::Transient, 2, true),
            (FailureClass::Transient, 3, true),
            (FailureClass::Transient, 4, false),
        ];
        for (class, attempt, retried) in cases {
            let delay = policy.next_delay(attempt, class, None, now, deadline, &mut rng);
            assert_eq!(delay.is_some(), retried, "{class:?} after {attempt}");
        }
    }

    #[test]
    fn backoff_windows_grow_exponentially_up_to_the_cap() {
        let policy = RetryPolicy { max_attempts: 100, ..RetryPolicy::default() };
        let table = [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1600),
            (6, 2000),
            (7, 2000),
            (40, 2000),
            (u32::MAX, 2000),
        ];
        for (attempt, window_ms) in table {
            assert_eq!(policy.backoff_window(attempt), ms(window_ms), "attempt {attempt}");
        }
    }

    #[test]
    fn jittered_delays_stay_inside_the_window_and_vary() {
        let policy = RetryPolicy { max_attempts: 100, ..RetryPolicy::default() };
        let now = Instant::now();
        let deadline = now + Duration::from_secs(60);
        let mut rng = StdRng::seed_from_u64(42);
        for attempt in 1..=8 {
            let window = policy.backoff_window(attempt);
            let delays: Vec<Duration> = (0..200)
                .map(|_| {
                    policy
                        .next_delay(attempt, FailureClass::Transient, None, now, deadline, &mut rng)
                        .unwrap()
                })
                .collect();
            assert!(delays.iter().all(|delay| *delay <= window), "attempt {attempt}");
            let distinct: std::collections::HashSet<_> = delays.iter().collect();
            assert!(distinct.len() > 100, "full jitter should spread delays, got {}", distinct.len());
            assert!(delays.iter().any(|delay| *delay < window / 2), "attempt {attempt}");
        }
    }

    #[test]
    fn retry_after_replaces_the_backoff_even_beyond_the_cap() {
        let policy = RetryPolicy::default();
        let now = Instant::now();
        let deadline = now + Duration::from_secs(60);
        let mut rng = StdRng::seed_from_u64(1);
        for (class, requested) in [
            (FailureClass::RateLimited, ms(0)),
            (FailureClass::RateLimited, ms(1500)),
            (FailureClass::RateLimited, Duration::from_secs(10)),
            (FailureClass::Transient, Duration::from_secs(3)),
        ] {
            let delay = policy.next_delay(1, class, Some(requested), now, deadline, &mut rng);
            assert_eq!(delay, Some(requested), "{class:?}");
        }
    }

    #[test]
    fn never_sleeps_past_the_deadline() {
        let policy = RetryPolicy::default();
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(3);
        // (deadline after now, Retry-After, expect a retry)
        let table = [
            (ms(1000), Some(ms(500)), true),
            (ms(1000), Some(ms(950)), true),
            (ms(1000), Some(ms(951)), false),
            (ms(1000), Some(ms(5000)), false),
            (ms(0), Some(ms(0)), false),
            (ms(40), None, false),
            (ms(150), None, true),
        ];
        for (budget, retry_after, expected) in table {
            let delay =
                policy.next_delay(1, FailureClass::RateLimited, retry_after, now, now + budget, &mut rng);
            assert_eq!(delay.is_some(), expected, "budget {budget:?} retry_after {retry_after:?}");
            if let Some(delay) = delay {
                assert!(now + delay + policy.min_attempt_time <= now + budget);
            }
        }
    }

    #[test]
    fn gives_up_after_the_last_attempt() {
        let policy = RetryPolicy { max_attempts: 3, ..RetryPolicy::default() };
        let now = Instant::now();
        let deadline = now + Duration::from_secs(60);
        let mut rng = StdRng::seed_from_u64(9);
        let tries: Vec<bool> = (1..=4)
            .map(|attempt| {
                policy.next_delay(attempt, FailureClass::Transient, None, now, deadline, &mut rng).is_some()
            })
            .collect();
        assert_eq!(tries, [true, true, false, false]);
        let never = RetryPolicy::none();
        assert_eq!(never.next_delay(1, FailureClass::Transient, None, now, deadline, &mut rng), None);
    }

    #[test]
    fn huge_retry_after_does_not_overflow() {
        let policy = RetryPolicy::default();
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(5);
        let delay = policy.next_delay(
            1,
            FailureClass::RateLimited,
            Some(Duration::MAX),
            now,
            now + Duration::from_secs(1),
            &mut rng,
        );
        assert_eq!(delay, None);
    }
}
