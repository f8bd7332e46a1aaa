//! End to end: the logs tools through the real binary on the sandbox.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mcp_process.rs"]
mod mcp_process;

use mcp_process::{McpProcess, structured_ok, text_of};
use serde_json::{Value, json};

const INVALID_PARAMS: i64 = -32602;

async fn answered(process: &mut McpProcess, tool: &str, arguments: Value) -> Value {
    let response = process.call_tool(tool, arguments.clone()).await;
    let structured = structured_ok(&response).clone();
    assert!(!text_of(&response).trim().is_empty(), "{tool} {arguments}: empty text");
    structured
}

#[tokio::test]
async fn search_patterns_and_tail_answer_from_the_logs() {
    let (mut process, _) = McpProcess::initialized(&[]).await;

    let found = answered(&mut process, "search_logs", json!({"query": "timed out", "since": "1 day"})).await;
    let lines = found["lines"].as_array().unwrap();
    assert!(!lines.is_empty(), "{found}");
    assert!(lines.iter().all(|l| l["message"].as_str().unwrap().contains("timed out")), "{found}");

    // Quotes and wildcards in the text are matched as text, never as query syntax.
    let hostile = answered(&mut process, "search_logs", json!({"query": "x' OR message LIKE '%"})).await;
    assert_eq!(hostile["total"], 0, "{hostile}");

    let errors = answered(
        &mut process,
        "search_logs",
        json!({"query": "failed", "level": "ERROR", "app_name": "payments-api", "since": "1 day"}),
    )
    .await;
    assert!(
        errors["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["level"] == "ERROR" && l["service"] == "payments-api"),
        "{errors}"
    );

    let patterns = answered(&mut process, "get_log_patterns", json!({"since": "1 day"})).await;
    let patterns = patterns["patterns"].as_array().unwrap();
    assert!(
        patterns
            .iter()
            .any(|p| p["pattern"].as_str().unwrap().contains("<n>") && p["variants"].as_u64().unwrap() > 1),
        "numbers are masked and merged: {patterns:?}"
    );

    let tail = answered(&mut process, "tail_logs", json!({"limit": 5, "since": "1 hour"})).await;
    let times: Vec<i64> =
        tail["lines"].as_array().unwrap().iter().map(|l| l["timestamp"].as_i64().unwrap()).collect();
    assert_eq!(times.len(), 5, "{tail}");
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "oldest first: {times:?}");
    let next = tail["next_after_timestamp"].as_i64().unwrap();
    assert_eq!(next, *times.last().unwrap());
    let newer = answered(&mut process, "tail_logs", json!({"after_timestamp": next})).await;
    assert!(
        newer["lines"].as_array().unwrap().iter().all(|l| l["timestamp"].as_i64().unwrap() > next),
        "{newer}"
    );

    process.finish().await;
}

#[tokio::test]
async fn bad_arguments_are_invalid_params() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    for (tool, arguments) in [
        ("search_logs", json!({})),
        ("search_logs", json!({"query": ""})),
        ("search_logs", json!({"query": "x", "field": "a`b"})),
        ("get_log_patterns", json!({"sample_size": 5000})),
        ("tail_logs", json!({"since": "5 minutes", "after_timestamp": 1})),
    ] {
        let response = process.call_tool(tool, arguments.clone()).await;
        assert_eq!(response["error"]["code"], INVALID_PARAMS, "{tool} {arguments} → {response}");
    }
    process.finish().await;
}
