//! Cross-account NRQL and asynchronous NRQL: results of several accounts merged, long
//! queries that need a set number of `nrqlQueryProgress` polls, and the bound on the async
//! queries the sandbox remembers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/client.rs"]
mod support;

use newrelic_mcp_sandbox::{AsyncNrqlConfig, SandboxConfig};
use serde_json::{Value, json};
use support::{PRODUCTION, STAGING, Sandbox, config};

const LONG: &str = "SELECT count(*) FROM Transaction SINCE 2 days ago";
const SHORT: &str = "SELECT count(*) FROM Transaction SINCE 1 hour ago";

const ASYNC: &str = "query($accountId: Int!, $nrql: Nrql!) { actor { account(id: $accountId) {
    nrql(query: $nrql, async: true, timeout: 5) {
      results queryProgress { queryId completed retryAfter retryDeadline resultExpiration } } } } }";
const POLL: &str = "query($accountId: Int!, $queryId: ID!) { actor { account(id: $accountId) {
    nrqlQueryProgress(queryId: $queryId) { results queryProgress { queryId completed retryAfter } } } } }";
const CROSS: &str = "query($accounts: [Int!]!, $nrql: Nrql!, $async: Boolean) { actor {
    nrql(accounts: $accounts, query: $nrql, async: $async) {
      results metadata { eventTypes } queryProgress { queryId completed retryAfter } } } }";
const CROSS_POLL: &str = "query($accounts: [Int!]!, $queryId: ID!) { actor {
    nrqlQueryProgress(accounts: $accounts, queryId: $queryId) { results queryProgress { queryId completed } } } }";

async fn with_async(async_nrql: AsyncNrqlConfig) -> Sandbox {
    Sandbox::start_with(SandboxConfig { async_nrql, ..config() }).await
}

fn count(results: &Value) -> i64 {
    results[0]["count"].as_i64().unwrap_or_else(|| panic!("no count in {results}"))
}

/// Starts an async query and returns its `queryProgress`.
async fn start(sandbox: &Sandbox, nrql: &str) -> Value {
    let data = sandbox.data(ASYNC, json!({"accountId": PRODUCTION, "nrql": nrql})).await;
    data["actor"]["account"]["nrql"].clone()
}

async fn poll(sandbox: &Sandbox, query_id: &str) -> (u16, Value) {
    sandbox.post(POLL, json!({"accountId": PRODUCTION, "queryId": query_id})).await
}

#[tokio::test]
async fn a_cross_account_query_merges_the_results_of_every_account() {
    let sandbox = Sandbox::start().await;
    let production = count(&sandbox.nrql(PRODUCTION, SHORT).await["results"]);
    let staging = count(&sandbox.nrql(STAGING, SHORT).await["results"]);
    assert!(production > 0 && staging > 0, "{production} {staging}");
    let data = sandbox.data(CROSS, json!({"accounts": [PRODUCTION, STAGING], "nrql": SHORT})).await;
    let nrql = &data["actor"]["nrql"];
    assert_eq!(count(&nrql["results"]), production + staging, "{nrql}");
    assert_eq!(nrql["queryProgress"], Value::Null, "a synchronous answer has no progress");

    let (status, body) = sandbox.post(CROSS, json!({"accounts": [1, 2, 3, 4, 5, 6], "nrql": SHORT})).await;
    assert_eq!(status, 200);
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("at most 5 accounts"), "{body}");
    sandbox.stop().await;
}

#[tokio::test]
async fn a_long_async_query_needs_the_configured_number_of_polls() {
    let sandbox =
        with_async(AsyncNrqlConfig { polls: 3, retry_after_seconds: 2, ..Default::default() }).await;
    let expected = count(&sandbox.nrql(PRODUCTION, LONG).await["results"]);

    let first = start(&sandbox, LONG).await;
    assert_eq!(first["results"], Value::Null, "{first}");
    assert_eq!(first["queryProgress"]["completed"], false);
    assert_eq!(first["queryProgress"]["retryAfter"], 2);
    let query_id = first["queryProgress"]["queryId"].as_str().unwrap().to_string();

    for round in 1..=2 {
        let (_, body) = poll(&sandbox, &query_id).await;
        let progress = &body["data"]["actor"]["account"]["nrqlQueryProgress"];
        assert_eq!(progress["queryProgress"]["completed"], false, "poll {round}: {body}");
        assert_eq!(progress["results"], Value::Null, "poll {round}");
    }
    let (_, body) = poll(&sandbox, &query_id).await;
    let progress = &body["data"]["actor"]["account"]["nrqlQueryProgress"];
    assert_eq!(progress["queryProgress"]["completed"], true, "{body}");
    assert_eq!(count(&progress["results"]), expected);

    // A short window is not long: it completes in the first answer.
    let short = start(&sandbox, SHORT).await;
    assert_eq!(short["queryProgress"]["completed"], true, "{short}");
    assert!(short["results"].is_array());
    sandbox.stop().await;
}

#[tokio::test]
async fn without_polls_every_async_query_completes_at_once() {
    let sandbox = with_async(AsyncNrqlConfig { polls: 0, ..Default::default() }).await;
    let first = start(&sandbox, LONG).await;
    assert_eq!(first["queryProgress"]["completed"], true, "{first}");
    assert_eq!(count(&first["results"]), count(&sandbox.nrql(PRODUCTION, LONG).await["results"]));
    sandbox.stop().await;
}

#[tokio::test]
async fn a_cross_account_async_query_is_polled_at_the_actor_with_its_accounts() {
    let sandbox = with_async(AsyncNrqlConfig { polls: 1, ..Default::default() }).await;
    let accounts = json!([PRODUCTION, STAGING]);
    let data = sandbox.data(CROSS, json!({"accounts": accounts, "nrql": LONG, "async": true})).await;
    let progress = &data["actor"]["nrql"]["queryProgress"];
    assert_eq!(progress["completed"], false, "{data}");
    let query_id = progress["queryId"].as_str().unwrap();

    let (_, body) = sandbox.post(CROSS_POLL, json!({"accounts": [PRODUCTION], "queryId": query_id})).await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("belongs to accounts"), "{body}");

    let data = sandbox.data(CROSS_POLL, json!({"accounts": accounts, "queryId": query_id})).await;
    let polled = &data["actor"]["nrqlQueryProgress"];
    assert_eq!(polled["queryProgress"]["completed"], true, "{data}");
    let expected = count(&sandbox.nrql(PRODUCTION, LONG).await["results"])
        + count(&sandbox.nrql(STAGING, LONG).await["results"]);
    assert_eq!(count(&polled["results"]), expected);
    sandbox.stop().await;
}

#[tokio::test]
async fn the_oldest_async_queries_are_forgotten_past_the_bound() {
    let sandbox = with_async(AsyncNrqlConfig { polls: 1, max_pending: 2, ..Default::default() }).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let first = start(&sandbox, LONG).await;
        ids.push(first["queryProgress"]["queryId"].as_str().unwrap().to_string());
    }
    let (_, forgotten) = poll(&sandbox, &ids[0]).await;
    let message = forgotten["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Unknown or expired queryId"), "{forgotten}");
    for id in &ids[1..] {
        let (_, body) = poll(&sandbox, id).await;
        assert_eq!(
            body["data"]["actor"]["account"]["nrqlQueryProgress"]["queryProgress"]["completed"], true,
            "{id}: {body}"
        );
    }
    sandbox.stop().await;
}

#[tokio::test]
async fn a_long_query_can_be_cancelled_while_it_runs() {
    let sandbox = with_async(AsyncNrqlConfig { polls: 5, ..Default::default() }).await;
    let first = start(&sandbox, LONG).await;
    let query_id = first["queryProgress"]["queryId"].as_str().unwrap();
    let data = sandbox
        .data(
            "mutation($queryId: String!) { nrqlCancelQuery(queryId: $queryId) { requestStatus } }",
            json!({"queryId": query_id}),
        )
        .await;
    assert_eq!(data["nrqlCancelQuery"]["requestStatus"], "ACCEPTED");
    let (_, body) = poll(&sandbox, query_id).await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("cancelled"), "{body}");
    sandbox.stop().await;
}
