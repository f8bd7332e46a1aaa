//! Cache shards: hits, TTL, coalescing of concurrent misses, error handling, cancellation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::RuntimeConfig;
use newrelic_mcp_actors::tool::ToolErrorKind;
use newrelic_mcp_actors::upstream::FailureClass;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_identical_calls_make_one_upstream_call() {
    let upstream = FakeUpstream::gated();
    let handle = start(small_config(), upstream.clone()).await;
    let calls: Vec<_> = (0..1_000)
        .map(|_| {
            let handle = handle.clone();
            tokio::spawn(
                async move { bounded(&handle, call("query", "SELECT count(*) FROM Transaction")).await },
            )
        })
        .collect();
    eventually_stats(&handle, "every call waits on the one fill", |s| s.cache_misses + s.coalesced == 1_000)
        .await;
    assert_eq!(upstream.calls(), 1);
    upstream.open();
    let mut outputs = Vec::new();
    for call in calls {
        outputs.push(call.await.unwrap().expect("every caller gets the result"));
    }
    assert_eq!(upstream.calls(), 1, "exactly one upstream call");
    assert!(outputs.iter().all(|output| Arc::ptr_eq(output, &outputs[0])), "all share one answer");
    let stats = handle.stats().await;
    assert_eq!((stats.cache_misses, stats.coalesced), (1, 999));
    assert_eq!(stats.cache_entries, 1);
    assert!(stats.cache_bytes > 0);
    handle.shutdown().await;
}

#[tokio::test]
async fn a_filled_key_is_a_hit_and_other_keys_are_not() {
    let upstream = FakeUpstream::new();
    let handle = start(small_config(), upstream.clone()).await;
    let first = bounded(&handle, call("query", "a")).await.unwrap();
    let second = bounded(&handle, call("query", "a")).await.unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(upstream.calls(), 1);
    bounded(&handle, call("query", "b")).await.unwrap();
    assert_eq!(upstream.calls(), 2);
    let stats = handle.stats().await;
    assert_eq!((stats.cache_hits, stats.cache_misses), (1, 2));
    handle.shutdown().await;
}

#[tokio::test]
async fn uncached_tools_always_go_upstream() {
    let upstream = FakeUpstream::new();
    let handle = start(small_config(), upstream.clone()).await;
    for _ in 0..3 {
        bounded(&handle, call("fetch", "a")).await.unwrap();
    }
    assert_eq!(upstream.calls(), 3);
    assert_eq!(handle.stats().await.cache_entries, 0);
    handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn entries_expire_after_their_ttl() {
    let upstream = FakeUpstream::new();
    let handle = start(small_config(), upstream.clone()).await;
    bounded(&handle, call("query", "a")).await.unwrap();
    tokio::time::advance(Duration::from_secs(59)).await;
    bounded(&handle, call("query", "a")).await.unwrap();
    assert_eq!(upstream.calls(), 1, "still fresh at 59 s");
    tokio::time::advance(Duration::from_secs(2)).await;
    bounded(&handle, call("query", "a")).await.unwrap();
    assert_eq!(upstream.calls(), 2, "expired at 61 s");
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_shared_but_never_cached() {
    let upstream = FakeUpstream::gated();
    upstream.fail_with(Some(FailureClass::BadRequest));
    let handle = start(small_config(), upstream.clone()).await;
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let handle = handle.clone();
            tokio::spawn(async move { bounded(&handle, call("query", "a")).await })
        })
        .collect();
    eventually_stats(&handle, "all five wait on one fill", |s| s.cache_misses + s.coalesced == 5).await;
    upstream.open();
    for call in calls {
        let failed = call.await.unwrap();
        assert_eq!(tool_error(&failed).kind, ToolErrorKind::BadRequest);
        assert!(tool_error(&failed).message.contains("injected BadRequest failure"));
    }
    assert_eq!(upstream.calls(), 1, "the waiters shared one failed fill");
    upstream.fail_with(None);
    bounded(&handle, call("query", "a")).await.expect("the error was not cached");
    assert_eq!(upstream.calls(), 2);
    assert_eq!(handle.stats().await.cache_entries, 1);
    handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn cancelling_the_only_waiter_cancels_the_upstream_call() {
    let upstream = FakeUpstream::gated();
    let handle = start(small_config(), upstream.clone()).await;
    let request = call("query", "slow");
    let cancel = request.cancel.clone();
    let pending = tokio::spawn({
        let handle = handle.clone();
        async move { handle.call(request).await }
    });
    settle().await;
    assert_eq!(upstream.calls(), 1);
    cancel.cancel();
    let result = pending.await.unwrap();
    assert_eq!(tool_error(&result).kind, ToolErrorKind::Cancelled);
    settle().await;
    assert_eq!(upstream.cancels_seen(), 1, "the upstream call saw its token fire");
    handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_fill_survives_while_another_waiter_remains() {
    let upstream = FakeUpstream::gated();
    let handle = start(small_config(), upstream.clone()).await;
    let leaving = call("query", "shared");
    let leaving_cancel = leaving.cancel.clone();
    let staying = call("query", "shared");
    let staying_cancel = staying.cancel.clone();
    let first = tokio::spawn({
        let handle = handle.clone();
        async move { handle.call(leaving).await }
    });
    let second = tokio::spawn({
        let handle = handle.clone();
        async move { handle.call(staying).await }
    });
    settle().await;
    assert_eq!(handle.stats().await.coalesced, 1);
    leaving_cancel.cancel();
    assert_eq!(tool_error(&first.await.unwrap()).kind, ToolErrorKind::Cancelled);
    settle().await;
    assert_eq!(upstream.cancels_seen(), 0, "one waiter remains, so the fill goes on");
    upstream.open();
    second.await.unwrap().expect("the remaining waiter gets the result");
    assert_eq!(upstream.cancels_seen(), 0);
    assert!(!staying_cancel.is_cancelled());
    handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_fill_is_cancelled_when_the_last_of_several_waiters_leaves() {
    let upstream = FakeUpstream::gated();
    let handle = start(small_config(), upstream.clone()).await;
    let requests: Vec<_> = (0..3).map(|_| call("query", "shared")).collect();
    let cancels: Vec<_> = requests.iter().map(|r| r.cancel.clone()).collect();
    let pending: Vec<_> = requests
        .into_iter()
        .map(|request| {
            let handle = handle.clone();
            tokio::spawn(async move { handle.call(request).await })
        })
        .collect();
    settle().await;
    for (index, cancel) in cancels.iter().enumerate() {
        cancel.cancel();
        settle().await;
        let expected = usize::from(index == cancels.len() - 1);
        assert_eq!(upstream.cancels_seen(), expected, "after {} cancellations", index + 1);
    }
    for call in pending {
        assert_eq!(tool_error(&call.await.unwrap()).kind, ToolErrorKind::Cancelled);
    }
    handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn waiters_past_the_bound_are_told_the_server_is_overloaded() {
    let upstream = FakeUpstream::gated();
    let config = RuntimeConfig { max_waiters_per_key: 3, ..small_config() };
    let handle = start(config, upstream.clone()).await;
    let pending: Vec<_> = (0..3)
        .map(|_| {
            let handle = handle.clone();
            tokio::spawn(async move { handle.call(call("query", "hot")).await })
        })
        .collect();
    settle().await;
    let refused = bounded(&handle, call("query", "hot")).await;
    assert_eq!(tool_error(&refused).kind, ToolErrorKind::Overloaded);
    upstream.open();
    for call in pending {
        call.await.unwrap().expect("waiters within the bound are answered");
    }
    assert_eq!(handle.stats().await.rejected_overloaded, 1);
    handle.shutdown().await;
}
