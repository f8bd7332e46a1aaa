//! The circuit breaker through the whole runtime: trips, fast rejection, half-open probe.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/support.rs"]
mod support;

use std::time::Duration;

use newrelic_mcp_actors::RuntimeConfig;
use newrelic_mcp_actors::breaker::BreakerConfig;
use newrelic_mcp_actors::tool::ToolErrorKind;
use newrelic_mcp_actors::upstream::FailureClass;
use support::*;

fn config() -> RuntimeConfig {
    RuntimeConfig {
        breaker: BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_secs(10),
            probe_wait: Duration::from_secs(1),
        },
        ..small_config()
    }
}

async fn breaker_state(handle: &newrelic_mcp_actors::RuntimeHandle) -> String {
    handle.stats().await.breaker.first().expect("the breaker reports its status").state.clone()
}

#[tokio::test(start_paused = true)]
async fn opens_after_the_threshold_rejects_fast_and_a_probe_closes_it() {
    let upstream = FakeUpstream::new();
    upstream.fail_with(Some(FailureClass::Transient));
    let handle = start(config(), upstream.clone()).await;
    for attempt in 0..3 {
        let result = bounded(&handle, call("fetch", &format!("q{attempt}"))).await;
        assert_eq!(tool_error(&result).kind, ToolErrorKind::UpstreamTransient);
    }
    assert_eq!(breaker_state(&handle).await, "open");

    let rejected = bounded(&handle, call("fetch", "q3")).await;
    let error = tool_error(&rejected);
    assert_eq!(error.kind, ToolErrorKind::Unavailable);
    assert_eq!(error.message, "New Relic is unreachable; retrying in 10 s");
    assert_eq!(error.retry_after, Some(Duration::from_secs(10)));
    assert_eq!(upstream.calls(), 3, "an open breaker does not call upstream");

    tokio::time::advance(Duration::from_secs(4)).await;
    let rejected = bounded(&handle, call("fetch", "q4")).await;
    assert_eq!(tool_error(&rejected).message, "New Relic is unreachable; retrying in 6 s");

    tokio::time::advance(Duration::from_secs(6)).await;
    upstream.fail_with(None);
    bounded(&handle, call("fetch", "probe")).await.expect("the probe goes through");
    assert_eq!(upstream.calls(), 4);
    assert_eq!(breaker_state(&handle).await, "closed");
    bounded(&handle, call("fetch", "after")).await.expect("closed again");
    handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_reopens_the_breaker() {
    let upstream = FakeUpstream::new();
    upstream.fail_with(Some(FailureClass::Unreachable));
    let handle = start(config(), upstream.clone()).await;
    for attempt in 0..3 {
        bounded(&handle, call("fetch", &format!("q{attempt}"))).await.unwrap_err();
    }
    tokio::time::advance(Duration::from_secs(10)).await;
    let probe = bounded(&handle, call("fetch", "probe")).await;
    assert_eq!(tool_error(&probe).kind, ToolErrorKind::UpstreamTransient);
    assert_eq!(breaker_state(&handle).await, "open");
    let rejected = bounded(&handle, call("fetch", "next")).await;
    assert_eq!(tool_error(&rejected).kind, ToolErrorKind::Unavailable);
    assert_eq!(upstream.calls(), 4);
    handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn only_one_probe_runs_while_half_open() {
    let upstream = FakeUpstream::new();
    upstream.fail_with(Some(FailureClass::Transient));
    let handle = start(config(), upstream.clone()).await;
    for attempt in 0..3 {
        bounded(&handle, call("fetch", &format!("q{attempt}"))).await.unwrap_err();
    }
    tokio::time::advance(Duration::from_secs(10)).await;
    upstream.fail_with(None);
    upstream.set_latency(Some(Duration::from_secs(2)));
    let probe = tokio::spawn({
        let handle = handle.clone();
        async move { handle.call(call("fetch", "probe")).await }
    });
    while upstream.calls() < 4 {
        tokio::task::yield_now().await;
    }
    let waiting = bounded(&handle, call("fetch", "meanwhile")).await;
    assert_eq!(tool_error(&waiting).kind, ToolErrorKind::Unavailable);
    assert_eq!(breaker_state(&handle).await, "half-open");
    probe.await.unwrap().expect("the probe succeeds");
    assert_eq!(breaker_state(&handle).await, "closed");
    handle.shutdown().await;
}

#[tokio::test]
async fn failures_caused_by_the_request_never_trip_it() {
    let upstream = FakeUpstream::new();
    let handle = start(config(), upstream.clone()).await;
    for class in [FailureClass::BadRequest, FailureClass::Auth, FailureClass::Payload] {
        upstream.fail_with(Some(class));
        for attempt in 0..5 {
            let result = bounded(&handle, call("fetch", &format!("{class:?}{attempt}"))).await;
            assert_ne!(tool_error(&result).kind, ToolErrorKind::Unavailable, "{class:?} must not trip");
        }
    }
    assert_eq!(upstream.calls(), 15);
    let status = handle.stats().await.breaker;
    assert_eq!(status[0].state, "closed");
    assert_eq!(status[0].consecutive_failures, 0);
    assert_eq!(status[0].endpoint, "memory://nerdgraph");
    handle.shutdown().await;
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let upstream = FakeUpstream::new();
    let handle = start(config(), upstream.clone()).await;
    for round in 0..3 {
        upstream.fail_with(Some(FailureClass::Transient));
        for attempt in 0..2 {
            bounded(&handle, call("fetch", &format!("{round}-{attempt}"))).await.unwrap_err();
        }
        upstream.fail_with(None);
        bounded(&handle, call("fetch", &format!("{round}-ok"))).await.expect("never opened");
    }
    assert_eq!(breaker_state(&handle).await, "closed");
    handle.shutdown().await;
}
