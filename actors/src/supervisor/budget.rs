//! The restart budget: how often a component may be restarted before the supervisor gives
//! up, and how long to wait before each restart. Pure, so the policy is a tested table.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// At most `max_restarts` restarts of one component within any `window`; the n-th restart in
/// a window waits `backoff_initial × 2^(n-2)`, capped at `backoff_max` (the first is immediate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartBudget {
    pub max_restarts: u32,
    pub window: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
}

impl Default for RestartBudget {
    /// Generous enough that a few crashes per second across the runtime, for as long as they
    /// last, never escalate; a component crashing in a tight loop does within seconds.
    fn default() -> Self {
        Self {
            max_restarts: 50,
            window: Duration::from_secs(10),
            backoff_initial: Duration::from_millis(10),
            backoff_max: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartDecision {
    Restart {
        after: Duration,
    },
    /// The budget is spent: stop and let the process manager restart the whole server.
    Escalate,
}

/// Recent restarts of one component.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestartLedger {
    recent: VecDeque<Instant>,
}

impl RestartLedger {
    /// Restarts inside the window as of the last decision.
    pub fn recent(&self) -> usize {
        self.recent.len()
    }
}

impl RestartBudget {
    /// Decides what to do about a failure at `now`, recording the restart if there is one.
    pub fn decide(&self, ledger: &mut RestartLedger, now: Instant) -> RestartDecision {
        while ledger.recent.front().is_some_and(|at| now.saturating_duration_since(*at) >= self.window) {
            ledger.recent.pop_front();
        }
        let earlier = ledger.recent.len();
        if earlier >= self.max_restarts as usize {
            return RestartDecision::Escalate;
        }
        ledger.recent.push_back(now);
        RestartDecision::Restart { after: self.backoff(earlier) }
    }

    fn backoff(&self, earlier: usize) -> Duration {
        if earlier == 0 {
            return Duration::ZERO;
        }
        let doublings = u32::try_from(earlier - 1).unwrap_or(u32::MAX).min(20);
        self.backoff_initial.saturating_mul(1 << doublings).min(self.backoff_max)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn budget() -> RestartBudget {
        RestartBudget {
            max_restarts: 4,
            window: Duration::from_secs(10),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_millis(250),
        }
    }

    #[test]
    fn decisions_follow_the_table() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let restart = |after| RestartDecision::Restart { after };
        // (failure time offset, expected decision)
        let table = [
            (ms(0), restart(ms(0))),
            (ms(10), restart(ms(100))),
            (ms(20), restart(ms(200))),
            (ms(30), restart(ms(250))),
            (ms(40), RestartDecision::Escalate),
            (ms(50), RestartDecision::Escalate),
            // The first restart leaves the window: room for exactly one more.
            (ms(10_000), restart(ms(250))),
            (ms(10_001), RestartDecision::Escalate),
            // Long after, the ledger is clean again.
            (ms(60_000), restart(ms(0))),
        ];
        let mut ledger = RestartLedger::default();
        for (offset, expected) in table {
            assert_eq!(budget().decide(&mut ledger, t0 + offset), expected, "failure at {offset:?}");
        }
    }

    #[test]
    fn ledgers_are_independent() {
        let now = Instant::now();
        let mut shard = RestartLedger::default();
        let mut breaker = RestartLedger::default();
        for _ in 0..4 {
            budget().decide(&mut shard, now);
        }
        assert_eq!(budget().decide(&mut shard, now), RestartDecision::Escalate);
        assert_eq!(budget().decide(&mut breaker, now), RestartDecision::Restart { after: Duration::ZERO });
    }

    #[test]
    fn zero_budget_escalates_at_once() {
        let budget = RestartBudget { max_restarts: 0, ..budget() };
        assert_eq!(budget.decide(&mut RestartLedger::default(), Instant::now()), RestartDecision::Escalate);
    }

    #[test]
    fn defaults_absorb_three_crashes_a_second_for_half_a_minute() {
        let budget = RestartBudget::default();
        let t0 = Instant::now();
        let components = 5;
        let mut ledgers = vec![RestartLedger::default(); components];
        for crash in 0..90u64 {
            let at = t0 + Duration::from_millis(crash * 333);
            let ledger = &mut ledgers[crash as usize % components];
            assert!(
                matches!(budget.decide(ledger, at), RestartDecision::Restart { .. }),
                "crash {crash} escalated"
            );
        }
        let mut hot = RestartLedger::default();
        let escalated_at = (0..100u64).position(|n| {
            budget.decide(&mut hot, t0 + Duration::from_millis(n)) == RestartDecision::Escalate
        });
        assert_eq!(escalated_at, Some(50), "a component crashing in a loop escalates");
    }

    #[test]
    fn backoff_never_exceeds_the_cap_even_after_many_restarts() {
        let budget = RestartBudget { max_restarts: 1_000, ..budget() };
        let mut ledger = RestartLedger::default();
        let now = Instant::now();
        for _ in 0..200 {
            match budget.decide(&mut ledger, now) {
                RestartDecision::Restart { after } => assert!(after <= budget.backoff_max),
                RestartDecision::Escalate => panic!("budget of 1000 escalated"),
            }
        }
        assert_eq!(ledger.recent(), 200);
    }
}
