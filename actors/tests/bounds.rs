//! Memory bounds: every queue and ledger that can grow is driven well past its bound. The
//! bound holds, and every caller past it is answered at once with a clear error; none is
//! dropped, none waits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/support.rs"]
mod support;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::FakeRelativeClock;
use newrelic_mcp_actors::RuntimeConfig;
use newrelic_mcp_actors::call::CallResult;
use newrelic_mcp_actors::rate_limit::NrqlRateLimiter;
use newrelic_mcp_actors::signer::{
    ManualClock, NonceError, SignerConfig, SignerError, SignerHandle, SigningKey, UnixTime, spawn_signer,
};
use newrelic_mcp_actors::tool::ToolErrorKind;
use support::*;
use tokio::task::JoinHandle;

const OVERLOADED: &str = "server overloaded, retry in a moment";

fn spawn_calls(
    handle: &newrelic_mcp_actors::RuntimeHandle,
    calls: Vec<(&'static str, String)>,
) -> Vec<JoinHandle<CallResult>> {
    calls
        .into_iter()
        .map(|(tool, q)| {
            let handle = handle.clone();
            tokio::spawn(async move { bounded(&handle, call(tool, &q)).await })
        })
        .collect()
}

/// Splits answered calls into successes and the errors of the rest.
async fn outcomes(calls: Vec<JoinHandle<CallResult>>) -> (usize, Vec<(ToolErrorKind, String)>) {
    let mut ok = 0;
    let mut errors = Vec::new();
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => ok += 1,
            result => {
                let error = tool_error(&result);
                errors.push((error.kind, error.message.clone()));
            }
        }
    }
    (ok, errors)
}

fn all_overloaded(errors: &[(ToolErrorKind, String)]) -> bool {
    errors.iter().all(|(kind, message)| *kind == ToolErrorKind::Overloaded && message == OVERLOADED)
}

#[tokio::test]
async fn the_executor_queue_refuses_everything_past_its_bound_at_once() {
    let upstream = FakeUpstream::gated();
    let config = RuntimeConfig { executor_workers: 2, executor_queue: 8, ..small_config() };
    let handle = start(config, upstream.clone()).await;
    let calls = spawn_calls(&handle, (0..100).map(|n| ("fetch", n.to_string())).collect());
    // 2 running and 8 queued; the other 90 are answered while the upstream is still shut.
    eventually_stats(&handle, "the excess is refused", |s| s.rejected_overloaded == 90).await;
    eventually("both workers reach the upstream", || upstream.calls() == 2).await;
    upstream.open();
    let (ok, errors) = outcomes(calls).await;
    assert_eq!((ok, errors.len()), (10, 90));
    assert!(all_overloaded(&errors), "{errors:?}");
    assert_eq!(upstream.calls(), 10);
    // Drained, the pool takes work again.
    bounded(&handle, call("fetch", "after")).await.expect("the pool serves again");
    handle.shutdown().await;
}

#[tokio::test]
async fn a_key_takes_no_more_waiters_than_its_bound() {
    let upstream = FakeUpstream::gated();
    let config = RuntimeConfig { max_waiters_per_key: 5, ..small_config() };
    let handle = start(config, upstream.clone()).await;
    let calls = spawn_calls(&handle, (0..200).map(|_| ("query", "hot".to_string())).collect());
    eventually_stats(&handle, "the excess waiters are refused", |s| s.rejected_overloaded == 195).await;
    let stats = handle.stats().await;
    assert_eq!((stats.cache_misses, stats.coalesced), (1, 4), "one leader and four followers");
    // Another key is not affected by the full waiter list.
    let other = tokio::spawn({
        let handle = handle.clone();
        async move { bounded(&handle, call("query", "cold")).await }
    });
    upstream.open();
    other.await.unwrap().expect("another key is served");
    let (ok, errors) = outcomes(calls).await;
    assert_eq!((ok, errors.len()), (5, 195));
    assert!(all_overloaded(&errors), "{errors:?}");
    assert_eq!(upstream.calls(), 2, "one fill per key");
    handle.shutdown().await;
}

#[tokio::test]
async fn a_shard_runs_no_more_fills_than_its_bound() {
    let upstream = FakeUpstream::gated();
    let config =
        RuntimeConfig { cache_shards: 1, max_fills_per_shard: 3, executor_queue: 256, ..small_config() };
    let handle = start(config, upstream.clone()).await;
    let calls = spawn_calls(&handle, (0..60).map(|n| ("query", format!("key {n}"))).collect());
    eventually_stats(&handle, "misses past the fill bound are refused", |s| s.rejected_overloaded == 57)
        .await;
    assert_eq!(handle.stats().await.cache_misses, 3);
    upstream.open();
    let (ok, errors) = outcomes(calls).await;
    assert_eq!((ok, errors.len()), (3, 57));
    assert!(all_overloaded(&errors), "{errors:?}");
    // The table drained: new keys start fills again.
    for n in 0..5 {
        bounded(&handle, call("query", &format!("later {n}"))).await.expect("fills start again");
    }
    assert_eq!(upstream.calls(), 8);
    handle.shutdown().await;
}

#[test]
fn the_nrql_budget_forgets_idle_accounts_past_its_bound() {
    let clock = FakeRelativeClock::default();
    let budget = NrqlRateLimiter::with_clock(NonZeroU32::new(600).unwrap(), clock.clone(), 100);
    for round in 0..10i64 {
        for account in 0..1_000 {
            budget.check(round * 1_000 + account).unwrap();
        }
        // Within a round every account is active, so none may be forgotten yet.
        assert!(budget.tracked_accounts() >= 1_000, "round {round}");
        clock.advance(Duration::from_secs(1));
        budget.check(-1).unwrap();
        assert!(budget.tracked_accounts() <= 101, "round {round}: {}", budget.tracked_accounts());
    }
}

const START: u64 = 1_700_000_000;

async fn signer(observed: usize, issued: usize) -> SignerHandle {
    let config = SignerConfig {
        max_clock_skew: Duration::from_secs(60),
        observed_nonce_capacity: observed,
        issued_nonce_capacity: issued,
        clock: Arc::new(ManualClock::new(UnixTime::from_secs(START))),
        ..SignerConfig::default()
    };
    let (actor, _join) = spawn_signer(SigningKey::new(b"bounds-test-secret").unwrap(), config).await.unwrap();
    SignerHandle::new(actor)
}

#[tokio::test]
async fn the_observed_nonce_ledger_stays_within_capacity_and_refuses_what_it_forgot() {
    let signer = signer(100, 10).await;
    for n in 0..1_000u64 {
        // Increasing timestamps inside the allowed skew, so eviction order is by age.
        let at = UnixTime::from_secs(START - 50 + n / 20);
        signer.observe_nonce(format!("client-nonce-{n:06}"), at).await.unwrap();
    }
    let stats = signer.stats().await.unwrap().observed_nonces;
    assert_eq!((stats.retained, stats.capacity, stats.evicted), (100, 100, 900));
    let forgotten =
        signer.observe_nonce("client-nonce-000000".to_owned(), UnixTime::from_secs(START - 50)).await;
    assert!(
        matches!(forgotten, Err(SignerError::Nonce(NonceError::BelowRetainedWindow { .. }))),
        "a forgotten nonce is refused, never accepted again: {forgotten:?}"
    );
    let remembered =
        signer.observe_nonce("client-nonce-000999".to_owned(), UnixTime::from_secs(START - 1)).await;
    assert_eq!(remembered, Err(SignerError::Nonce(NonceError::Replayed)));
}

#[tokio::test]
async fn the_issued_nonce_ledger_stays_within_capacity_and_refuses_evicted_nonces() {
    let signer = signer(100, 10).await;
    let mut issued = Vec::new();
    for _ in 0..50 {
        issued.push(signer.issue_nonce().await.unwrap().nonce);
    }
    let stats = signer.stats().await.unwrap().issued_nonces;
    assert_eq!((stats.retained, stats.capacity, stats.evicted), (10, 10, 40));
    let evicted = signer.consume_nonce(issued[0].clone()).await;
    assert_eq!(evicted, Err(SignerError::Nonce(NonceError::Unknown)), "evicted means unusable");
    let newest = issued.pop().unwrap();
    assert_eq!(signer.consume_nonce(newest).await, Ok(()));
}
