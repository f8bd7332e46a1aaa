//! End to end: `execute_nrql_query` across accounts and as asynchronous NRQL, through the
//! real binary on the sandbox.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mcp_process.rs"]
mod mcp_process;

use std::time::{Duration, Instant};

use mcp_process::{McpProcess, structured_ok, text_of};
use serde_json::{Value, json};

const INVALID_PARAMS: i64 = -32602;
const PRODUCTION: i64 = 1_000_001;
const STAGING: i64 = 1_000_002;
/// A window over one day: the sandbox runs it asynchronously for its configured polls.
const LONG_QUERY: &str = "SELECT count(*) FROM Transaction SINCE 2 days ago";

async fn nrql(process: &mut McpProcess, arguments: Value) -> Value {
    let response = process.call_tool("execute_nrql_query", arguments.clone()).await;
    assert!(!text_of(&response).trim().is_empty(), "{arguments}: empty text");
    structured_ok(&response).clone()
}

fn count(structured: &Value) -> i64 {
    structured["results"][0]["count"].as_i64().unwrap_or_else(|| panic!("no count: {structured}"))
}

#[tokio::test]
async fn a_cross_account_query_merges_both_accounts() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    let query = "SELECT count(*) FROM Transaction SINCE 1 hour ago";
    let production = count(&nrql(&mut process, json!({"nrql_query": query, "account_id": PRODUCTION})).await);
    let staging = count(&nrql(&mut process, json!({"nrql_query": query, "account_id": STAGING})).await);
    assert!(production > 0 && staging > 0, "{production} {staging}");

    let response = process
        .call_tool("execute_nrql_query", json!({"nrql_query": query, "account_ids": [STAGING, PRODUCTION]}))
        .await;
    let both = structured_ok(&response);
    assert_eq!(count(both), production + staging, "{both}");
    assert_eq!(both["account_ids"], json!([PRODUCTION, STAGING]));
    assert!(
        text_of(&response).contains(&format!("(accounts {PRODUCTION}, {STAGING})")),
        "{}",
        text_of(&response)
    );
    process.finish().await;
}

#[tokio::test]
async fn more_than_five_accounts_or_an_account_outside_the_allow_list_is_refused() {
    let allowed = format!("{PRODUCTION},{STAGING}");
    let (mut process, _) = McpProcess::initialized(&["--allowed-accounts", &allowed]).await;

    let six = process
        .call_tool(
            "execute_nrql_query",
            json!({"nrql_query": "SELECT count(*) FROM Transaction", "account_ids": [1, 2, 3, 4, 5, 6]}),
        )
        .await;
    assert_eq!(six["error"]["code"], INVALID_PARAMS, "{six}");
    let message = six["error"]["message"].as_str().unwrap();
    assert!(message.contains("at most 5"), "{message}");

    let outside = process
        .call_tool(
            "execute_nrql_query",
            json!({"nrql_query": "SELECT count(*) FROM Transaction", "account_ids": [PRODUCTION, 1_000_003]}),
        )
        .await;
    assert_eq!(outside["result"]["isError"], true, "{outside}");
    let text = text_of(&outside);
    assert!(text.contains("account 1000003 is outside"), "{text}");

    // Both allowed accounts together are fine.
    let both = nrql(
        &mut process,
        json!({"nrql_query": "SELECT count(*) FROM Transaction", "account_ids": [PRODUCTION, STAGING]}),
    )
    .await;
    assert!(count(&both) > 0, "{both}");
    process.finish().await;
}

#[tokio::test]
async fn an_async_query_that_needs_polls_completes_with_the_same_rows_and_reports_progress() {
    let (mut process, _) = McpProcess::initialized(&["--sandbox-async-polls", "2"]).await;
    let started = Instant::now();
    let id = process
        .send_request(
            "tools/call",
            json!({
                "name": "execute_nrql_query",
                "arguments": {"nrql_query": LONG_QUERY, "async": true, "timeout_seconds": 10},
                "_meta": {"progressToken": "long-nrql"}
            }),
        )
        .await;
    let answered = process.response(id).await;
    let elapsed = started.elapsed();
    let async_rows = structured_ok(&answered).clone();
    // Two polls, each after the sandbox's retryAfter of 1 s.
    assert!(elapsed >= Duration::from_secs(2), "answered after {elapsed:?}: the polls were skipped");
    let progress: Vec<&Value> = process
        .notifications
        .iter()
        .filter(|n| n["method"] == "notifications/progress" && n["params"]["progressToken"] == "long-nrql")
        .collect();
    assert!(!progress.is_empty(), "no progress while polling: {:?}", process.notifications);

    let sync_rows = nrql(&mut process, json!({"nrql_query": LONG_QUERY})).await;
    assert!(count(&sync_rows) > 0, "{sync_rows}");
    assert_eq!(async_rows["results"], sync_rows["results"]);
    assert_eq!(async_rows["metadata"], sync_rows["metadata"]);
    assert_eq!(async_rows["account_id"], PRODUCTION);

    // Across accounts, a timeout beyond New Relic's synchronous 120 s runs async by itself.
    let cross = nrql(
        &mut process,
        json!({"nrql_query": LONG_QUERY, "account_ids": [PRODUCTION, STAGING], "timeout_seconds": 150}),
    )
    .await;
    let staging = nrql(&mut process, json!({"nrql_query": LONG_QUERY, "account_id": STAGING})).await;
    assert_eq!(count(&cross), count(&sync_rows) + count(&staging), "{cross}");
    process.finish().await;
}

#[tokio::test]
async fn a_query_that_cannot_finish_before_its_deadline_names_its_query_id() {
    // The sandbox asks for 30 s between polls; a 5 s query leaves a 15 s deadline.
    let (mut process, _) = McpProcess::initialized(&["--sandbox-async-retry-after", "30"]).await;
    let started = Instant::now();
    let response = process
        .call_tool(
            "execute_nrql_query",
            json!({"nrql_query": LONG_QUERY, "async": true, "timeout_seconds": 5}),
        )
        .await;
    assert_eq!(response["result"]["isError"], true, "{response}");
    let text = text_of(&response);
    for needle in ["still running", "queryId sandbox-", "narrow SINCE", "timeout_seconds"] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    // It gives up as soon as the next poll would be too late, not at the deadline.
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    process.finish().await;
}
