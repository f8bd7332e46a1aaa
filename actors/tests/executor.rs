//! The executor pool: load shedding, pagination, deadlines, error mapping, worker crashes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/support.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use newrelic_mcp_actors::tool::ToolErrorKind;
use newrelic_mcp_actors::upstream::FailureClass;
use newrelic_mcp_actors::{Runtime, RuntimeConfig};
use serde_json::Value;
use support::*;

#[tokio::test]
async fn a_job_past_the_queue_bound_is_refused_at_once() {
    let upstream = FakeUpstream::gated();
    let config = RuntimeConfig { executor_workers: 1, executor_queue: 1, ..small_config() };
    let handle = start(config, upstream.clone()).await;
    let running = tokio::spawn({
        let handle = handle.clone();
        async move { bounded(&handle, call("fetch", "running")).await }
    });
    eventually("the first call reaches upstream", || upstream.calls() == 1).await;
    let queued = tokio::spawn({
        let handle = handle.clone();
        async move { bounded(&handle, call("fetch", "queued")).await }
    });
    eventually_stats(&handle, "the second call is queued", |s| s.calls == 2).await;
    // Answered while the gate is still shut: the refusal does not wait for a worker.
    let refused = bounded(&handle, call("fetch", "refused")).await;
    let error = tool_error(&refused);
    assert_eq!(error.kind, ToolErrorKind::Overloaded);
    assert_eq!(error.message, "server overloaded, retry in a moment");
    assert!(error.kind.is_retriable());
    assert_eq!(upstream.calls(), 1);
    upstream.open();
    running.await.unwrap().expect("the running call completes");
    queued.await.unwrap().expect("the queued call completes");
    let stats = handle.stats().await;
    assert_eq!(stats.rejected_overloaded, 1);
    assert_eq!(stats.upstream_in_flight, 0);
    assert_eq!(stats.upstream_in_flight_high_water, 1);
    handle.shutdown().await;
}

#[tokio::test]
async fn in_flight_never_exceeds_the_worker_count() {
    let upstream = FakeUpstream::gated();
    let config = RuntimeConfig { executor_workers: 3, executor_queue: 100, ..small_config() };
    let handle = start(config, upstream.clone()).await;
    let calls: Vec<_> = (0..20)
        .map(|n| {
            let handle = handle.clone();
            tokio::spawn(async move { bounded(&handle, call("fetch", &n.to_string())).await })
        })
        .collect();
    eventually("three calls run", || upstream.calls() == 3).await;
    upstream.open();
    for call in calls {
        call.await.unwrap().expect("all complete");
    }
    let stats = handle.stats().await;
    assert_eq!(stats.upstream_calls, 20);
    assert_eq!(stats.upstream_in_flight_high_water, 3);
    handle.shutdown().await;
}

fn entity_names(output: &Value) -> Vec<String> {
    output["data"]["actor"]["entitySearch"]["results"]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entity| entity["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn pagination_follows_cursors_and_stops_at_max_pages() {
    let cases = [
        // (pages available, max pages of the tool, upstream calls, truncated)
        (1, 3, 1, false),
        (2, 3, 2, false),
        (3, 3, 3, false),
        (5, 3, 3, true),
    ];
    for (available, max_pages, expected_calls, truncated) in cases {
        let upstream = FakeUpstream::new();
        upstream.total_pages.store(available, Ordering::SeqCst);
        let plugin = TestPlugin::shared("paging", vec![Arc::new(EchoTool::paged("list", max_pages))]);
        let handle = Runtime::start(small_config(), upstream.clone(), vec![plugin]).await.unwrap();
        let output = bounded(&handle, call("list", "entities")).await.unwrap();
        assert_eq!(upstream.calls(), expected_calls, "{available} pages available");
        assert_eq!(output.structured["truncated"], truncated, "{available} pages available");
        assert_eq!(output.structured["pages"], expected_calls);
        let names = entity_names(&output.structured);
        let expected: Vec<String> = (1..=expected_calls)
            .flat_map(|page| [format!("entity-{page}a"), format!("entity-{page}b")])
            .collect();
        assert_eq!(names, expected);
        let cursor = &output.structured["data"]["actor"]["entitySearch"]["results"]["nextCursor"];
        assert_eq!(cursor.is_string(), truncated, "a truncated answer says where it stopped");
        handle.shutdown().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_call_past_its_deadline_times_out_and_abandons_the_upstream_call() {
    let upstream = FakeUpstream::gated();
    let plugin = TestPlugin::shared(
        "slow",
        vec![Arc::new(EchoTool::uncached("slow_query").with_timeout(Duration::from_secs(5)))],
    );
    let handle = Runtime::start(small_config(), upstream.clone(), vec![plugin]).await.unwrap();
    let result = handle.call(call("slow_query", "x")).await;
    let error = tool_error(&result);
    assert_eq!(error.kind, ToolErrorKind::Timeout);
    assert!(error.message.contains("within its 5 s deadline"), "{}", error.message);
    assert_eq!(upstream.finished(), 0);
    handle.shutdown().await;
}

#[tokio::test]
async fn upstream_failures_become_actionable_tool_errors() {
    let cases = [
        (FailureClass::Auth, ToolErrorKind::Auth, "NEW_RELIC_API_KEY"),
        (FailureClass::UpstreamTimeout, ToolErrorKind::UpstreamTransient, "narrow SINCE"),
        (FailureClass::BadRequest, ToolErrorKind::BadRequest, "injected BadRequest failure"),
        (FailureClass::RateLimited, ToolErrorKind::UpstreamTransient, "rate limiting"),
    ];
    let upstream = FakeUpstream::new();
    let handle = start(small_config(), upstream.clone()).await;
    for (class, kind, fragment) in cases {
        upstream.fail_with(Some(class));
        let result = bounded(&handle, call("fetch", &format!("{class:?}"))).await;
        let error = tool_error(&result);
        assert_eq!(error.kind, kind, "{class:?}");
        assert!(error.message.contains(fragment), "{class:?}: {}", error.message);
    }
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_worker_is_replaced_and_a_read_is_retried_once() {
    let upstream = FakeUpstream::new();
    let handle = start(small_config(), upstream.clone()).await;
    upstream.panic_next(1);
    bounded(&handle, call("fetch", "boom")).await.expect("the read is retried after the crash");
    assert_eq!(upstream.calls(), 2);
    eventually_stats(&handle, "the replacement is counted", |s| s.restarts >= 1).await;
    for n in 0..20 {
        bounded(&handle, call("fetch", &format!("after-{n}"))).await.expect("the pool keeps serving");
    }
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_lost_to_a_crash_is_not_repeated() {
    let upstream = FakeUpstream::new();
    let handle = start(small_config(), upstream.clone()).await;
    let preview = bounded(&handle, call("mutate", "create dashboard")).await.unwrap();
    let token = preview.structured["confirmation"]["confirmation_token"].as_str().unwrap().to_string();
    upstream.panic_next(1);
    let result = bounded(&handle, confirmed(call("mutate", "create dashboard"), &token)).await;
    let error = tool_error(&result);
    assert_eq!(error.kind, ToolErrorKind::Policy, "not to be retried blindly");
    assert!(error.message.contains("restarted while 'mutate' was being applied"), "{}", error.message);
    assert!(error.message.contains("may have been applied: check in New Relic"), "{}", error.message);
    assert_eq!(upstream.calls(), 1, "the write was not sent twice");

    // Neither the same token nor a fresh confirmation sends it again while the outcome is unknown.
    let replayed = bounded(&handle, confirmed(call("mutate", "create dashboard"), &token)).await;
    assert!(tool_error(&replayed).message.contains("ended without a clear outcome"), "{replayed:?}");
    let preview = bounded(&handle, call("mutate", "create dashboard")).await.unwrap();
    let fresh = preview.structured["confirmation"]["confirmation_token"].as_str().unwrap().to_string();
    let again = bounded(&handle, confirmed(call("mutate", "create dashboard"), &fresh)).await;
    assert!(tool_error(&again).message.contains("it may have been applied"), "{again:?}");
    assert_eq!(upstream.calls(), 1);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_nrql_may_hold_at_most_half_the_workers() {
    let upstream = FakeUpstream::gated();
    let plugin = TestPlugin::shared("nrql", vec![Arc::new(EchoTool::uncached("long").with_async_nrql())]);
    // Four workers: two may wait on asynchronous queries.
    let handle = Runtime::start(small_config(), upstream.clone(), vec![plugin]).await.unwrap();
    let waiting: Vec<_> = (0..2)
        .map(|n| {
            let handle = handle.clone();
            tokio::spawn(async move { bounded(&handle, call("long", &format!("held {n}"))).await })
        })
        .collect();
    eventually("both async queries reached New Relic", || upstream.calls() == 2).await;
    let refused = bounded(&handle, call("long", "third")).await;
    let error = tool_error(&refused);
    assert_eq!(error.kind, ToolErrorKind::Overloaded);
    assert!(error.message.contains("2 long-running async NRQL queries"), "{}", error.message);
    assert_eq!(upstream.calls(), 2, "the refused query was never sent");
    upstream.open();
    for call in waiting {
        call.await.unwrap().expect("the held queries finish");
    }
    bounded(&handle, call("long", "after")).await.expect("slots come back when queries end");
    handle.shutdown().await;
}
