//! The per-account NRQL budget: this server never sends New Relic more NRQL queries for one
//! account than New Relic allows (3,000 per account per minute by default).
//!
//! Executor workers consult it right before an NRQL query goes upstream, so cache hits and
//! coalesced callers never spend budget. Past the limit the call is answered at once with a
//! [`ToolErrorKind::RateLimited`] error that says when to retry, instead of letting New
//! Relic answer 429 to every other user of the same account.
//!
//! The budget is a GCRA limiter from `governor`, keyed by account: a sustained rate of
//! `per_minute` queries a minute with bursts of up to `per_minute`. It is shared by every
//! worker (a budget per worker would multiply the limit by the pool size), and outlives
//! worker and pool restarts. Its state is a sharded map whose entry is updated by one
//! compare-and-swap; nothing waits on it for longer than that.
//!
//! Memory: accounts that have not queried within the last replenish interval are
//! indistinguishable from new ones and are evicted whenever more than `max_tracked_accounts`
//! are held, so the map holds at most the accounts queried in the recent past.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::tool::{ToolError, ToolErrorKind};

/// New Relic's own limit of NRQL queries per account per minute.
pub const NEW_RELIC_NRQL_PER_MINUTE: u32 = 3_000;

/// Accounts held before the idle ones are evicted.
pub const DEFAULT_MAX_TRACKED_ACCOUNTS: usize = 10_000;

type KeyedLimiter<C> = RateLimiter<i64, DashMapStateStore<i64>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// How many NRQL queries each account may send per minute.
pub struct NrqlRateLimiter<C: Clock = MonotonicClock> {
    limiter: KeyedLimiter<C>,
    clock: C,
    per_minute: NonZeroU32,
    max_tracked_accounts: usize,
}

/// An account spent its NRQL budget for now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "account {account} reached this server's limit of {} NRQL queries per minute; retry in {} s",
    with_thousands(*per_minute),
    whole_seconds(*retry_in)
)]
pub struct NrqlBudgetSpent {
    pub account: i64,
    pub per_minute: u32,
    /// When the next query of this account will be admitted.
    pub retry_in: Duration,
}

impl NrqlBudgetSpent {
    /// The tool error a model sees: retriable, with `retry_after` set.
    pub fn tool_error(&self) -> ToolError {
        ToolError {
            retry_after: Some(self.retry_in),
            ..ToolError::new(ToolErrorKind::RateLimited, self.to_string())
        }
    }
}

impl NrqlRateLimiter<MonotonicClock> {
    /// A budget of `per_minute` NRQL queries per account, on the monotonic clock.
    pub fn per_minute(per_minute: NonZeroU32) -> Self {
        Self::with_clock(per_minute, MonotonicClock, DEFAULT_MAX_TRACKED_ACCOUNTS)
    }
}

impl<C: Clock + Clone> NrqlRateLimiter<C> {
    /// A budget on `clock` (tests pass a fake one), evicting idle accounts past
    /// `max_tracked_accounts`.
    pub fn with_clock(per_minute: NonZeroU32, clock: C, max_tracked_accounts: usize) -> Self {
        let limiter = RateLimiter::dashmap_with_clock(Quota::per_minute(per_minute), clock.clone());
        Self { limiter, clock, per_minute, max_tracked_accounts: max_tracked_accounts.max(1) }
    }

    /// Spends one query of `account`'s budget, or says how long until one is available.
    pub fn check(&self, account: i64) -> Result<(), NrqlBudgetSpent> {
        let outcome = self.limiter.check_key(&account);
        if self.limiter.len() > self.max_tracked_accounts {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        outcome.map_err(|not_until| NrqlBudgetSpent {
            account,
            per_minute: self.per_minute.get(),
            retry_in: not_until.wait_time_from(self.clock.now()),
        })
    }

    /// Accounts currently held.
    pub fn tracked_accounts(&self) -> usize {
        self.limiter.len()
    }
}

fn whole_seconds(duration: Duration) -> u64 {
    (duration.as_secs() + u64::from(duration.subsec_nanos() > 0)).max(1)
}

/// `3000` as `3,000`.
fn with_thousands(value: u32) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use governor::clock::FakeRelativeClock;

    use super::*;

    fn limit(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    fn limiter(per_minute: u32, clock: &FakeRelativeClock) -> NrqlRateLimiter<FakeRelativeClock> {
        NrqlRateLimiter::with_clock(limit(per_minute), clock.clone(), DEFAULT_MAX_TRACKED_ACCOUNTS)
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        let cases =
            [(0, "0"), (7, "7"), (999, "999"), (1_000, "1,000"), (3_000, "3,000"), (1_234_567, "1,234,567")];
        for (value, expected) in cases {
            assert_eq!(with_thousands(value), expected);
        }
    }

    #[test]
    fn a_burst_up_to_the_limit_passes_and_the_next_query_waits() {
        let clock = FakeRelativeClock::default();
        let budget = limiter(3, &clock);
        for _ in 0..3 {
            assert_eq!(budget.check(7), Ok(()));
        }
        let spent = budget.check(7).unwrap_err();
        assert_eq!(spent.account, 7);
        assert_eq!(spent.per_minute, 3);
        // Three a minute: one query comes back every 20 s.
        assert_eq!(spent.retry_in, Duration::from_secs(20));
        clock.advance(Duration::from_secs(19));
        assert!(budget.check(7).is_err(), "still too early");
        clock.advance(Duration::from_secs(1));
        assert_eq!(budget.check(7), Ok(()));
        assert!(budget.check(7).is_err(), "only one came back");
    }

    #[test]
    fn accounts_have_separate_budgets() {
        let clock = FakeRelativeClock::default();
        let budget = limiter(2, &clock);
        let sequence =
            [(1, true), (1, true), (1, false), (2, true), (2, true), (2, false), (3, true), (1, false)];
        for (step, (account, admitted)) in sequence.into_iter().enumerate() {
            assert_eq!(budget.check(account).is_ok(), admitted, "step {step}: account {account}");
        }
    }

    #[test]
    fn the_default_budget_is_new_relics_three_thousand_a_minute() {
        let clock = FakeRelativeClock::default();
        let budget = limiter(NEW_RELIC_NRQL_PER_MINUTE, &clock);
        let admitted = (0..3_100).filter(|_| budget.check(1).is_ok()).count();
        assert_eq!(admitted, 3_000);
        let spent = budget.check(1).unwrap_err();
        assert_eq!(spent.retry_in, Duration::from_millis(20));
    }

    #[test]
    fn the_error_is_retriable_and_names_account_limit_and_wait() {
        let spent =
            NrqlBudgetSpent { account: 1_000_001, per_minute: 3_000, retry_in: Duration::from_millis(1_500) };
        let error = spent.tool_error();
        assert_eq!(
            error.message,
            "account 1000001 reached this server's limit of 3,000 NRQL queries per minute; retry in 2 s"
        );
        assert_eq!(error.kind, ToolErrorKind::RateLimited);
        assert!(error.kind.is_retriable());
        assert_eq!(error.retry_after, Some(Duration::from_millis(1_500)));
    }

    #[test]
    fn idle_accounts_are_evicted_past_the_bound() {
        let clock = FakeRelativeClock::default();
        let budget = NrqlRateLimiter::with_clock(limit(60), clock.clone(), 10);
        for account in 0..10 {
            budget.check(account).unwrap();
        }
        assert_eq!(budget.tracked_accounts(), 10);
        // The ten are idle once their one query has been replenished (1 s at 60 a minute).
        clock.advance(Duration::from_secs(2));
        budget.check(100).unwrap();
        assert_eq!(budget.tracked_accounts(), 1, "only the account just used remains");
        // Accounts still inside their window are never evicted: their budget would reset.
        for account in 200..220 {
            budget.check(account).unwrap();
            budget.check(account).unwrap();
        }
        assert!(budget.tracked_accounts() > 10, "busy accounts are kept even past the bound");
        clock.advance(Duration::from_secs(5));
        budget.check(300).unwrap();
        assert_eq!(budget.tracked_accounts(), 1);
    }
}
