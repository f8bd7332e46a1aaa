//! The per-account NRQL budget through the whole runtime: only queries that go upstream
//! spend it, accounts are independent, and a spent budget is a clear, retriable error that
//! neither reaches New Relic nor counts against its health.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::ToolErrorKind;
use newrelic_mcp_actors::{Runtime, RuntimeConfig, RuntimeHandle, StartError};
use support::*;

const MINUTE: Duration = Duration::from_secs(60);

/// `nrql` and `nrql_fresh` (uncached) run NRQL on account 7, `nrql_other` on account 8;
/// `entities` runs no NRQL.
async fn start_with_budget(per_minute: u32, upstream: Arc<FakeUpstream>) -> RuntimeHandle {
    let plugin = TestPlugin::shared(
        "nrql",
        vec![
            Arc::new(EchoTool::cached("nrql", MINUTE).with_nrql_account(7)),
            Arc::new(EchoTool::uncached("nrql_fresh").with_nrql_account(7)),
            Arc::new(EchoTool::cached("nrql_other", MINUTE).with_nrql_account(8)),
            Arc::new(EchoTool::cached("entities", MINUTE)),
        ],
    );
    let config = RuntimeConfig { nrql_per_minute: per_minute, ..small_config() };
    Runtime::start(config, upstream, vec![plugin]).await.expect("runtime starts")
}

#[tokio::test]
async fn queries_past_the_budget_are_refused_with_the_wait() {
    let upstream = FakeUpstream::new();
    let handle = start_with_budget(3, upstream.clone()).await;
    for q in ["a", "b", "c"] {
        bounded(&handle, call("nrql", q)).await.expect("within the budget");
    }
    let refused = bounded(&handle, call("nrql", "d")).await;
    let error = tool_error(&refused);
    assert_eq!(error.kind, ToolErrorKind::RateLimited);
    assert_eq!(
        error.message,
        "account 7 reached this server's limit of 3 NRQL queries per minute; retry in 20 s"
    );
    let retry_after = error.retry_after.expect("says when to retry");
    assert!(
        retry_after > Duration::from_secs(19) && retry_after <= Duration::from_secs(20),
        "{retry_after:?}"
    );
    assert!(error.kind.is_retriable());
    assert_eq!(upstream.calls(), 3, "the refused query never went upstream");
    assert_eq!(handle.stats().await.rejected_rate_limited, 1);
    handle.shutdown().await;
}

#[tokio::test]
async fn cache_hits_and_coalesced_callers_spend_nothing() {
    let upstream = FakeUpstream::gated();
    let handle = start_with_budget(1, upstream.clone()).await;
    let waiting: Vec<_> = (0..50)
        .map(|_| {
            let handle = handle.clone();
            tokio::spawn(async move { bounded(&handle, call("nrql", "shared")).await })
        })
        .collect();
    eventually_stats(&handle, "every caller joins the one fill", |s| s.cache_misses + s.coalesced == 50)
        .await;
    upstream.open();
    for caller in waiting {
        caller.await.unwrap().expect("every coalesced caller is answered");
    }
    for _ in 0..20 {
        bounded(&handle, call("nrql", "shared")).await.expect("a cache hit is free");
    }
    assert_eq!(upstream.calls(), 1);
    let refused = bounded(&handle, call("nrql", "another")).await;
    assert_eq!(tool_error(&refused).kind, ToolErrorKind::RateLimited);
    let stats = handle.stats().await;
    assert_eq!((stats.cache_hits, stats.rejected_rate_limited), (20, 1));
    handle.shutdown().await;
}

#[tokio::test]
async fn accounts_have_separate_budgets_and_other_requests_none() {
    let upstream = FakeUpstream::new();
    let handle = start_with_budget(1, upstream.clone()).await;
    // (tool, query, admitted)
    let steps = [
        ("nrql", "1", true),
        ("nrql_fresh", "2", false),
        ("nrql_other", "3", true),
        ("nrql_other", "4", false),
        ("entities", "5", true),
        ("entities", "6", true),
        ("nrql", "7", false),
    ];
    for (tool, q, admitted) in steps {
        let result = bounded(&handle, call(tool, q)).await;
        match admitted {
            true => assert!(result.is_ok(), "{tool} {q}: {result:?}"),
            false => assert_eq!(tool_error(&result).kind, ToolErrorKind::RateLimited, "{tool} {q}"),
        }
    }
    assert_eq!(upstream.calls(), 4);
    handle.shutdown().await;
}

#[tokio::test]
async fn a_cross_account_query_spends_every_account_it_reads() {
    let upstream = FakeUpstream::new();
    let plugin = TestPlugin::shared(
        "nrql",
        vec![
            Arc::new(EchoTool::uncached("across").with_nrql_accounts(&[7, 8])),
            Arc::new(EchoTool::uncached("seven").with_nrql_account(7)),
            Arc::new(EchoTool::uncached("eight").with_nrql_account(8)),
        ],
    );
    let config = RuntimeConfig { nrql_per_minute: 2, ..small_config() };
    let handle = Runtime::start(config, upstream.clone(), vec![plugin]).await.unwrap();
    bounded(&handle, call("across", "1")).await.expect("both accounts have budget");
    bounded(&handle, call("seven", "2")).await.expect("account 7's second query");
    let eight = bounded(&handle, call("eight", "3")).await;
    assert!(eight.is_ok(), "account 8 had spent one query of two: {eight:?}");
    let refused = bounded(&handle, call("across", "4")).await;
    let error = tool_error(&refused);
    assert_eq!(error.kind, ToolErrorKind::RateLimited);
    assert!(error.message.starts_with("account 7 reached"), "{}", error.message);
    assert_eq!(upstream.calls(), 3, "the refused cross-account query never went upstream");
    handle.shutdown().await;
}

#[tokio::test]
async fn a_spent_budget_is_not_cached_and_does_not_trip_the_breaker() {
    let upstream = FakeUpstream::new();
    let handle = start_with_budget(1, upstream.clone()).await;
    bounded(&handle, call("nrql", "spend")).await.unwrap();
    // Far past the breaker's threshold of consecutive failures.
    for n in 0..20 {
        let refused = bounded(&handle, call("nrql", &format!("refused {n}"))).await;
        assert_eq!(tool_error(&refused).kind, ToolErrorKind::RateLimited);
    }
    let stats = handle.stats().await;
    assert_eq!(stats.breaker.len(), 1);
    assert_eq!(stats.breaker[0].state, "closed");
    assert_eq!(stats.breaker[0].consecutive_failures, 0);
    assert_eq!(stats.cache_entries, 1, "only the success is cached");
    // Another account's queries still flow.
    bounded(&handle, call("nrql_other", "fine")).await.expect("account 8 is unaffected");
    handle.shutdown().await;
}

#[tokio::test]
async fn a_zero_budget_is_refused_at_start() {
    let config = RuntimeConfig { nrql_per_minute: 0, ..small_config() };
    let started = Runtime::start(config, FakeUpstream::new(), vec![standard_plugin()]).await;
    match started {
        Err(StartError::InvalidConfig(reason)) => assert!(reason.contains("nrql_per_minute"), "{reason}"),
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a zero budget must be refused"),
    }
}
