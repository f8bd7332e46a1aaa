//! See the module's doc in `tests/adversarial.rs`.

use std::time::Duration;

use newrelic_mcp::config::{self, Overrides, SandboxFile, Settings};
use newrelic_mcp::mcp::tool_failure;
use newrelic_mcp::server::Server;
use newrelic_mcp_actors::call::{CallError, CallResult, ToolCall};
use newrelic_mcp_actors::tool::{ToolError, ToolErrorKind};
use newrelic_mcp_nrql::Policy;
use newrelic_mcp_sandbox::FaultConfig;
use serde_json::{Value, json};

/// Longest any single call may take before the test fails instead of hanging.
const BOUND: Duration = Duration::from_secs(60);

fn sandbox_settings() -> Settings {
    let overrides = Overrides {
        sandbox: true,
        sandbox_faults: SandboxFile { seed: Some(31), ..Default::default() },
        ..Default::default()
    };
    config::resolve(&overrides, &|_| None, None).unwrap()
}

fn tool_call(tool: &str, arguments: Value) -> ToolCall {
    let Value::Object(arguments) = arguments else { panic!("arguments must be an object") };
    ToolCall::new(tool, arguments)
}

async fn call(server: &Server, tool: &str, arguments: Value) -> CallResult {
    tokio::time::timeout(BOUND, server.runtime.call(tool_call(tool, arguments)))
        .await
        .expect("answered in time")
}

/// The words a refused call shows, whichever kind of refusal it is.
fn refusal(result: &CallResult) -> String {
    match result {
        Err(CallError::Tool(error)) => error.message.clone(),
        Err(CallError::InvalidArguments { reason, .. }) => reason.clone(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn nrql(query: &str) -> Value {
    json!({ "nrql_query": query })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subquery_limit_cannot_escape_the_limit_cap() {
    let server = Server::start(&sandbox_settings()).await.unwrap();
    let queries = [
        "SELECT count(*) FROM Transaction WHERE name IN (FROM Transaction SELECT uniques(name) LIMIT MAX)",
        "SELECT count(*) FROM Transaction WHERE name IN (FROM Transaction SELECT uniques(name) LIMIT 5000)",
        "FROM Transaction JOIN (FROM Span SELECT count(*) FACET trace.id LIMIT MAX) ON trace.id SELECT count(*)",
    ];
    for query in queries {
        let result = call(&server, "execute_nrql_query", nrql(query)).await;
        let message = refusal(&result);
        assert!(
            message.contains("a subquery's LIMIT") && message.contains("cap of 1000"),
            "{query}: {message}"
        );
    }
    call(
        &server,
        "execute_nrql_query",
        nrql("SELECT count(*) FROM Transaction WHERE name IN (FROM Transaction SELECT uniques(name) LIMIT 100)"),
    )
    .await
    .expect("a subquery within the cap runs");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_event_types_cannot_escape_an_event_type_allow_list() {
    let mut settings = sandbox_settings();
    settings.nrql_policy =
        Policy { allowed_event_types: Some(vec!["Transaction".into()]), ..Policy::default() };
    let server = Server::start(&settings).await.unwrap();
    for query in ["SHOW EVENT TYPES", "SHOW EVENT TYPES SINCE 1 day ago"] {
        let result = call(&server, "execute_nrql_query", nrql(query)).await;
        let message = refusal(&result);
        assert!(message.contains("SHOW EVENT TYPES is not allowed here"), "{query}: {message}");
        assert!(!message.contains("Log"), "{message}");
    }
    call(&server, "execute_nrql_query", nrql("SELECT count(*) FROM Transaction"))
        .await
        .expect("allowed type");
    server.stop().await;
}

fn lines_found(result: &CallResult) -> usize {
    let output = result.as_ref().unwrap_or_else(|error| panic!("search failed: {error:?}"));
    output.structured["lines"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_logs_matches_wildcards_literally_and_refuses_control_characters() {
    let server = Server::start(&sandbox_settings()).await.unwrap();
    let search = |query: &str| json!({ "query": query, "since": "1 day" });
    let plain = call(&server, "search_logs", search("completed POST")).await;
    assert!(lines_found(&plain) > 0, "the sandbox logs hold 'completed POST …' lines");
    // As wildcards these would match the same lines; as literal text nothing holds them.
    for text in ["completed%POST", "completed_POST", "completed POST%ms"] {
        let result = call(&server, "search_logs", search(text)).await;
        assert_eq!(lines_found(&result), 0, "{text} matched as a wildcard");
    }
    for text in ["timeout\u{0}", "timeout\nlevel", "line\r", "a\tb"] {
        let result = call(&server, "search_logs", search(text)).await;
        let message = refusal(&result);
        assert!(message.contains("control character"), "{text:?}: {message}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_429s_say_new_relic_is_rate_limiting_and_hint_the_retry_once() {
    let mut settings = sandbox_settings();
    settings.breaker_open_for = Duration::from_secs(5);
    let threshold = settings.breaker_failure_threshold as usize;
    let server = Server::start(&settings).await.unwrap();
    server.sandbox().unwrap().set_faults(FaultConfig {
        rate_429_rate: 1.0,
        retry_after_seconds: 0,
        ..FaultConfig::default()
    });
    let mut errors: Vec<ToolError> = Vec::new();
    for n in 0..threshold + 2 {
        let query = format!("SELECT count(*) FROM Transaction WHERE appName != 'throttled-{n}'");
        match call(&server, "execute_nrql_query", nrql(&query)).await {
            Err(CallError::Tool(error)) => errors.push(error),
            other => panic!("call {n}: expected a tool error, got {other:?}"),
        }
    }
    let opened =
        errors.iter().find(|error| error.kind == ToolErrorKind::Unavailable).expect("the breaker opened");
    assert!(opened.message.contains("rate limiting"), "{}", opened.message);
    assert!(!opened.message.contains("unreachable"), "{}", opened.message);
    assert!(opened.message.contains("retry in 5 s"), "{}", opened.message);
    for error in &errors {
        let shown = tool_failure(error);
        let text = &shown.content[0].as_text().unwrap().text;
        assert_eq!(text.matches("retry").count(), 1, "{text}");
    }
    server.stop().await;
}

#[test]
fn a_retry_hint_is_added_once_when_the_message_has_none() {
    let mut error = ToolError::new(ToolErrorKind::UpstreamTransient, "New Relic returned a server error");
    error.retry_after = Some(Duration::from_millis(200));
    let text = tool_failure(&error).content[0].as_text().unwrap().text.clone();
    assert_eq!(text, "New Relic returned a server error (retry in 1 s)");
    error.message = "New Relic is rate limiting this API key; retry in 1 s".into();
    let text = tool_failure(&error).content[0].as_text().unwrap().text.clone();
    assert_eq!(text, "New Relic is rate limiting this API key; retry in 1 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_of_the_wrong_shape_is_a_retried_uncached_upstream_error() {
    let server = Server::start(&sandbox_settings()).await.unwrap();
    let sandbox = server.sandbox().unwrap();
    let calls = [
        ("list_alert_policies", json!({})),
        ("execute_nrql_query", nrql("SELECT count(*) FROM Transaction WHERE appName = 'shape'")),
    ];
    for (tool, arguments) in calls {
        sandbox.set_faults(FaultConfig { wrong_shape_rate: 1.0, ..FaultConfig::default() });
        let before = sandbox.stats().faults.wrong_shapes;
        let result = call(&server, tool, arguments.clone()).await;
        let Err(CallError::Tool(error)) = &result else {
            panic!("{tool}: expected a tool error, got {result:?}")
        };
        assert_eq!(error.kind, ToolErrorKind::UpstreamTransient, "{tool}: {error:?}");
        assert!(
            error.message.starts_with("New Relic's answer had an unexpected shape at data.actor: expected an object or a list, found a string"),
            "{tool}: {}",
            error.message
        );
        assert!(
            sandbox.stats().faults.wrong_shapes - before == 2,
            "{tool}: the read was tried once more, and no further"
        );

        // Nothing was cached: once New Relic answers properly, the same call reaches it again.
        sandbox.set_faults(FaultConfig::default());
        let requests = sandbox.stats().requests;
        call(&server, tool, arguments).await.unwrap_or_else(|error| panic!("{tool}: {error:?}"));
        assert!(sandbox.stats().requests > requests, "{tool}: served from a cache");
    }
    server.stop().await;
}
