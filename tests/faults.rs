//! Faults, in-process on the sandbox: transient errors are absorbed by retries, a dead
//! upstream opens the circuit breaker (calls then fail in well under a millisecond) and a
//! half-open probe closes it once New Relic is back, and malformed, dropped and hanging
//! answers each end in a clear tool error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use newrelic_mcp::config::{self, Overrides, SandboxFile, Settings};
use newrelic_mcp::server::Server;
use newrelic_mcp_actors::call::{CallError, CallResult, ToolCall};
use newrelic_mcp_actors::tool::{ToolError, ToolErrorKind};
use newrelic_mcp_sandbox::{FaultConfig, SandboxConfig};
use serde_json::{Value, json};

/// Longest any single call may take before the test fails instead of hanging.
const BOUND: Duration = Duration::from_secs(60);
/// The NRQL tool's deadline: the default NRQL timeout (5 s) plus 10 s for transport.
const NRQL_DEADLINE: Duration = Duration::from_secs(15);

fn sandbox_settings() -> Settings {
    let overrides = Overrides {
        sandbox: true,
        sandbox_faults: SandboxFile { seed: Some(29), ..Default::default() },
        ..Default::default()
    };
    config::resolve(&overrides, &|_| None, None).unwrap()
}

fn tool_call(tool: &str, arguments: Value) -> ToolCall {
    let Value::Object(arguments) = arguments else { unreachable!() };
    ToolCall::new(tool, arguments)
}

fn nrql(n: usize) -> ToolCall {
    tool_call(
        "execute_nrql_query",
        json!({ "nrql_query": format!("SELECT count(*) FROM Transaction WHERE appName != 'fault-{n}'") }),
    )
}

async fn timed_call(server: &Server, call: ToolCall) -> (CallResult, Duration) {
    let started = Instant::now();
    let result = tokio::time::timeout(BOUND, server.runtime.call(call)).await.expect("answered in time");
    (result, started.elapsed())
}

fn tool_error(result: &CallResult) -> &ToolError {
    match result {
        Err(CallError::Tool(error)) => error,
        other => panic!("expected a tool error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_succeed_through_transient_faults_within_their_deadline() {
    let server = Arc::new(Server::start(&sandbox_settings()).await.unwrap());
    server.sandbox().unwrap().set_faults(FaultConfig {
        error_5xx_rate: 0.20,
        rate_429_rate: 0.05,
        retry_after_seconds: 0,
        graphql_timeout_rate: 0.05,
        ..FaultConfig::default()
    });
    let calls = 400;
    let outcomes: Vec<(CallResult, Duration)> = futures::stream::iter(0..calls)
        .map(|n| {
            let server = server.clone();
            async move { timed_call(&server, nrql(n)).await }
        })
        .buffer_unordered(40)
        .collect()
        .await;
    let failures: Vec<_> = outcomes.iter().filter_map(|(result, _)| result.as_ref().err()).collect();
    let slowest = outcomes.iter().map(|(_, elapsed)| *elapsed).max().unwrap();
    let stats = server.sandbox().unwrap().stats();
    eprintln!(
        "{} of {calls} reads succeeded; {} faults injected in {} requests; slowest call {slowest:?}",
        calls - failures.len(),
        stats.faults.total(),
        stats.requests
    );
    assert!(failures.len() * 100 <= calls, "more than 1% failed: {failures:?}");
    assert!(slowest <= NRQL_DEADLINE + Duration::from_secs(1), "a call outlived its deadline: {slowest:?}");
    // The faults really happened: roughly 30% of requests.
    assert!(stats.faults.total() * 5 >= stats.requests, "{stats:?}");
    assert!(
        stats.faults.server_errors > 0 && stats.faults.rate_limited > 0 && stats.faults.graphql_timeouts > 0
    );
    for failure in failures {
        let CallError::Tool(error) = failure else { panic!("not a tool error: {failure:?}") };
        assert!(error.kind.is_retriable(), "{error:?}");
    }
    match Arc::try_unwrap(server) {
        Ok(server) => server.stop().await,
        Err(_) => panic!("a task still holds the server"),
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_upstream_opens_the_breaker_and_a_probe_closes_it_once_it_is_back() {
    // A loopback port with nothing listening: every connection is refused.
    let address = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let sandbox_config = SandboxConfig { seed: 3, ..SandboxConfig::default() };
    let api_key = sandbox_config.api_key.clone();
    let account = newrelic_mcp_sandbox::dataset(&sandbox_config).accounts[0].id;
    let overrides = Overrides {
        nerdgraph_url: Some(format!("http://{address}/graphql")),
        allow_local_endpoint: true,
        account_id: Some(account),
        ..Default::default()
    };
    let env = move |name: &str| (name == "NEW_RELIC_API_KEY").then(|| api_key.clone());
    let mut settings = config::resolve(&overrides, &env, None).unwrap();
    settings.breaker_open_for = Duration::from_secs(1);
    let threshold = settings.breaker_failure_threshold as usize;
    let server = Server::start(&settings).await.unwrap();

    for n in 0..threshold {
        let (result, _) = timed_call(&server, nrql(n)).await;
        let error = tool_error(&result);
        assert_eq!(error.kind, ToolErrorKind::UpstreamTransient, "{error:?}");
        assert!(error.message.starts_with("New Relic could not be reached"), "{}", error.message);
    }
    let stats = server.runtime.stats().await;
    assert_eq!(stats.breaker[0].state, "open", "open after {threshold} failures: {stats:?}");

    let mut latencies = Vec::new();
    for n in 0..50 {
        let (result, elapsed) = timed_call(&server, nrql(100 + n)).await;
        let error = tool_error(&result);
        assert_eq!(error.kind, ToolErrorKind::Unavailable);
        assert_eq!(error.message, "New Relic is unreachable; retrying in 1 s");
        latencies.push(elapsed);
    }
    let fail_fast = median(latencies.clone());
    eprintln!(
        "an open breaker answers in {fail_fast:?} (median of 50), {:?} at most",
        latencies.iter().max()
    );
    assert!(fail_fast < Duration::from_millis(20), "fail-fast median {fail_fast:?}");

    // New Relic comes back on the same address.
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let (stop_sandbox, stopped) = tokio::sync::oneshot::channel::<()>();
    let sandbox = tokio::spawn(newrelic_mcp_sandbox::run(listener, sandbox_config, async {
        let _ = stopped.await;
    }));
    let back = Instant::now();
    let mut n = 1_000;
    loop {
        n += 1;
        let (result, _) = timed_call(&server, nrql(n)).await;
        match result {
            Ok(_) => break,
            Err(CallError::Tool(error)) if error.kind == ToolErrorKind::Unavailable => {
                assert!(back.elapsed() < Duration::from_secs(10), "the breaker never probed again");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(other) => panic!("unexpected answer while the breaker waits: {other:?}"),
        }
    }
    let stats = server.runtime.stats().await;
    assert_eq!(stats.breaker[0].state, "closed", "{stats:?}");
    assert_eq!(stats.breaker[0].consecutive_failures, 0);
    timed_call(&server, nrql(5_000)).await.0.expect("calls flow again");
    server.stop().await;
    let _ = stop_sandbox.send(());
    sandbox.await.unwrap().unwrap();
}

/// Starts a sandbox server whose every request suffers `faults`.
async fn server_with(faults: FaultConfig, default_timeout: Duration) -> Server {
    let mut settings = sandbox_settings();
    settings.default_timeout = default_timeout;
    let server = Server::start(&settings).await.unwrap();
    server.sandbox().unwrap().set_faults(faults);
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_body_is_a_clear_retriable_error() {
    let server = server_with(FaultConfig { malformed_body_rate: 1.0, ..FaultConfig::default() }, BOUND).await;
    let (result, _) = timed_call(&server, nrql(0)).await;
    let error = tool_error(&result);
    assert_eq!(error.kind, ToolErrorKind::UpstreamTransient);
    assert_eq!(
        error.message,
        "New Relic sent a response that is not valid NerdGraph JSON; retry in a moment"
    );
    assert_eq!(
        server.sandbox().unwrap().stats().faults.malformed_bodies,
        2,
        "tried once more, and no further"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_a_clear_retriable_error() {
    let server =
        server_with(FaultConfig { drop_connection_rate: 1.0, ..FaultConfig::default() }, BOUND).await;
    let (result, _) = timed_call(&server, nrql(0)).await;
    let error = tool_error(&result);
    assert_eq!(error.kind, ToolErrorKind::UpstreamTransient);
    assert!(error.message.starts_with("New Relic could not be reached ("), "{}", error.message);
    assert!(
        error.message.ends_with("check network access and NEW_RELIC_REGION, then retry"),
        "{}",
        error.message
    );
    assert!(server.sandbox().unwrap().stats().faults.dropped_connections >= 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_upstream_ends_at_the_calls_deadline() {
    let deadline = Duration::from_secs(1);
    let server = server_with(FaultConfig { hang_rate: 1.0, ..FaultConfig::default() }, deadline).await;
    let call = tool_call("list_available_new_relic_accounts", json!({}));
    let (result, elapsed) = timed_call(&server, call).await;
    let error = tool_error(&result);
    assert_eq!(error.kind, ToolErrorKind::Timeout);
    assert_eq!(
        error.message,
        "the call did not finish within its 1 s deadline: narrow SINCE or pass a longer timeout_seconds (up to 300; over 120 runs as async NRQL)"
    );
    assert!(elapsed >= deadline && elapsed < deadline + Duration::from_millis(500), "{elapsed:?}");
    assert_eq!(server.sandbox().unwrap().stats().faults.hangs, 1);
    server.stop().await;
}
