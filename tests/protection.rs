//! Protecting New Relic, in-process on the sandbox: never more NerdGraph requests in flight
//! than there are workers, one upstream call for any number of identical concurrent queries,
//! and a per-account NRQL budget that cache hits do not spend.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp::config::{self, Overrides, SandboxFile, Settings};
use newrelic_mcp::server::Server;
use newrelic_mcp_actors::call::{CallError, CallResult, ToolCall};
use newrelic_mcp_actors::tool::ToolErrorKind;
use serde_json::{Value, json};

/// Longest any single call may take before the test fails instead of hanging.
const BOUND: Duration = Duration::from_secs(60);

fn sandbox_settings(latency_ms: u64) -> Settings {
    let overrides = Overrides {
        sandbox: true,
        sandbox_faults: SandboxFile { latency_ms: Some(latency_ms), seed: Some(11), ..Default::default() },
        ..Default::default()
    };
    config::resolve(&overrides, &|_| None, None).unwrap()
}

fn nrql(query: &str) -> ToolCall {
    let Value::Object(arguments) = json!({ "nrql_query": query }) else { unreachable!() };
    ToolCall::new("execute_nrql_query", arguments)
}

/// A query no other call of the test sends, so the cache cannot answer it.
fn distinct_query(n: usize) -> String {
    format!("SELECT count(*) FROM Transaction WHERE appName != 'probe-{n}'")
}

async fn bounded_call(server: &Server, call: ToolCall) -> CallResult {
    tokio::time::timeout(BOUND, server.runtime.call(call)).await.expect("the call was answered in time")
}

/// Runs every call at once and returns the answers in order.
async fn all_at_once(server: &Arc<Server>, calls: Vec<ToolCall>) -> Vec<CallResult> {
    let tasks: Vec<_> = calls
        .into_iter()
        .map(|call| {
            let server = server.clone();
            tokio::spawn(async move { bounded_call(&server, call).await })
        })
        .collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

async fn stop(server: Arc<Server>) {
    match Arc::try_unwrap(server) {
        Ok(server) => server.stop().await,
        Err(_) => panic!("a task still holds the server"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nerdgraph_requests_in_flight_never_exceed_the_worker_count() {
    // Each request holds its worker long enough that, even on a loaded machine, every worker
    // is busy at once while the queue still holds calls.
    let mut settings = sandbox_settings(150);
    // Room for every call to wait, so that all of them reach the sandbox eventually.
    settings.executor_queue = 400;
    let server = Arc::new(Server::start(&settings).await.unwrap());
    let results = all_at_once(&server, (0..120).map(|n| nrql(&distinct_query(n))).collect()).await;
    let failed: Vec<_> = results.iter().filter(|r| r.is_err()).collect();
    assert!(failed.is_empty(), "every call succeeds: {failed:?}");
    let sandbox = server.sandbox().unwrap().stats();
    assert_eq!(sandbox.requests, 120);
    assert!(sandbox.in_flight_high_water <= 20, "in flight at once: {}", sandbox.in_flight_high_water);
    assert_eq!(sandbox.in_flight_high_water, 20, "the load kept every worker busy");
    assert_eq!(server.runtime.stats().await.upstream_in_flight_high_water, 20);
    stop(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_identical_queries_make_one_upstream_call() {
    let server = Arc::new(Server::start(&sandbox_settings(200)).await.unwrap());
    let query = "SELECT count(*) FROM Transaction FACET appName";
    let results = all_at_once(&server, (0..1_000).map(|_| nrql(query)).collect()).await;
    let first = results[0].as_ref().expect("the query succeeds").clone();
    for (n, result) in results.iter().enumerate() {
        let output = result.as_ref().unwrap_or_else(|error| panic!("call {n} failed: {error}"));
        assert!(Arc::ptr_eq(output, &first), "call {n} got a different answer");
    }
    let sandbox = server.sandbox().unwrap().stats();
    assert_eq!(sandbox.requests, 1);
    assert_eq!(sandbox.by_operation.get("NrqlQuery"), Some(&1));
    let stats = server.runtime.stats().await;
    assert_eq!(stats.upstream_calls, 1);
    assert_eq!(stats.cache_misses + stats.coalesced + stats.cache_hits, 1_000);
    stop(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nrql_budget_refuses_queries_past_the_limit_but_never_cache_hits() {
    let mut settings = sandbox_settings(0);
    settings.nrql_per_minute = 3;
    let server = Arc::new(Server::start(&settings).await.unwrap());
    for n in 0..3 {
        bounded_call(&server, nrql(&distinct_query(n))).await.expect("within the budget");
    }
    for _ in 0..10 {
        bounded_call(&server, nrql(&distinct_query(0))).await.expect("a cache hit costs nothing");
    }
    let refused = bounded_call(&server, nrql(&distinct_query(3))).await;
    let Err(CallError::Tool(error)) = refused else { panic!("expected a tool error, got {refused:?}") };
    let account = server.sandbox().unwrap().dataset().accounts[0].id;
    assert_eq!(error.kind, ToolErrorKind::RateLimited);
    // The wait counts down from 20 s (one query back every 20 s), less whatever a loaded machine
    // spent since the budget ran out.
    let expected =
        format!("account {account} reached this server's limit of 3 NRQL queries per minute; retry in ");
    let seconds = error.message.strip_prefix(&expected).and_then(|rest| rest.strip_suffix(" s"));
    assert!(
        seconds.and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| (1..=20).contains(&s)),
        "{}",
        error.message
    );
    assert!(error.retry_after.is_some_and(|wait| wait <= Duration::from_secs(20)));
    // Another account has its own budget.
    let other = server.sandbox().unwrap().dataset().accounts[1].id;
    let Value::Object(mut arguments) = json!({ "nrql_query": distinct_query(4) }) else { unreachable!() };
    arguments.insert("account_id".into(), json!(other));
    bounded_call(&server, ToolCall::new("execute_nrql_query", arguments)).await.expect("account two is free");
    assert_eq!(server.sandbox().unwrap().stats().requests, 4, "the refused query never left the server");
    stop(server).await;
}
