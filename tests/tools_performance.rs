//! End to end: the performance-analytics tools through the real binary on the sandbox.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mcp_process.rs"]
mod mcp_process;

use mcp_process::{McpProcess, structured_ok, text_of};
use serde_json::{Value, json};

const INVALID_PARAMS: i64 = -32602;

/// Calls `tool`, fails unless it answered without `isError`, and returns (structured, text).
async fn answered(process: &mut McpProcess, tool: &str, arguments: Value) -> (Value, String) {
    let response = process.call_tool(tool, arguments.clone()).await;
    let structured = structured_ok(&response).clone();
    let text = text_of(&response);
    assert!(!text.trim().is_empty(), "{tool} {arguments}: empty text");
    assert_eq!(structured["account_id"], 1_000_001, "{tool}: {structured}");
    (structured, text)
}

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or_else(|| panic!("expected a number, got {value}"))
}

#[tokio::test]
async fn every_performance_tool_answers_with_plausible_data() {
    let (mut process, _) = McpProcess::initialized(&["--enabled-categories", "all"]).await;

    let (golden, text) =
        answered(&mut process, "analyze_golden_metrics", json!({"app_name": "checkout-service"})).await;
    assert!(number(&golden["summary"]["requests"]) > 0.0, "{golden}");
    let p95 = number(&golden["summary"]["p95_latency_ms"]);
    assert!(p95 >= number(&golden["summary"]["avg_latency_ms"]) * 0.5 && p95 < 60_000.0, "{golden}");
    assert!(text.starts_with("checkout-service — golden metrics"), "{text}");
    let (series, _) = answered(
        &mut process,
        "analyze_golden_metrics",
        json!({"app_name": "payments-api", "timeseries": true, "since": "30 minutes"}),
    )
    .await;
    assert!(number(&series["total"]) >= 2.0, "{series}");

    let (transactions, _) = answered(
        &mut process,
        "analyze_transactions",
        json!({"app_name": "checkout-service", "sort_by": "slowest"}),
    )
    .await;
    let listed = transactions["transactions"].as_array().unwrap();
    assert!(!listed.is_empty());
    let averages: Vec<f64> = listed.iter().map(|t| number(&t["avg_ms"])).collect();
    assert!(averages.windows(2).all(|pair| pair[0] >= pair[1]), "slowest first: {averages:?}");

    let (entity_logs, _) =
        answered(&mut process, "analyze_entity_logs", json!({"app_name": "payments-api", "since": "1 day"}))
            .await;
    assert!(number(&entity_logs["lines"]) > 0.0 && !entity_logs["patterns"].as_array().unwrap().is_empty());

    let (recent, _) = answered(&mut process, "list_recent_logs", json!({"limit": 5})).await;
    assert_eq!(recent["lines"].as_array().unwrap().len(), 5, "{recent}");

    let (statistics, _) = answered(&mut process, "get_log_statistics", json!({"since": "3 hours"})).await;
    assert!(number(&statistics["lines"]) > 0.0 && number(&statistics["total"]) > 1.0, "{statistics}");

    let (metric, _) = answered(
        &mut process,
        "get_metric_statistics",
        json!({"event_type": "Transaction", "attribute": "duration", "app_name": "web-frontend"}),
    )
    .await;
    let stats = &metric["statistics"];
    assert!(
        number(&stats["min"]) <= number(&stats["p50"]) && number(&stats["p50"]) <= number(&stats["max"]),
        "{stats}"
    );

    let (threads, _) =
        answered(&mut process, "analyze_threads", json!({"app_name": "checkout-service"})).await;
    assert!(number(&threads["thread_count"]["latest"]) > 0.0, "{threads}");
    let (gc, _) =
        answered(&mut process, "list_garbage_collection_metrics", json!({"app_name": "inventory-worker"}))
            .await;
    let collectors: Vec<&str> =
        gc["collectors"].as_array().unwrap().iter().map(|c| c["collector"].as_str().unwrap()).collect();
    assert!(collectors.iter().any(|c| c.contains("G1")), "{collectors:?}");

    let (lag, _) = answered(&mut process, "analyze_kafka_metrics", json!({})).await;
    assert!(!lag["consumer_groups"].as_array().unwrap().is_empty(), "{lag}");
    let (brokers, _) = answered(
        &mut process,
        "analyze_kafka_metrics",
        json!({"view": "brokers", "cluster_name": "acme-kafka"}),
    )
    .await;
    assert!(number(&brokers["total"]) >= 1.0, "{brokers}");

    let (traces, _) =
        answered(&mut process, "search_traces", json!({"app_name": "web-frontend", "limit": 3})).await;
    let trace_id = traces["traces"][0]["trace_id"].as_str().unwrap().to_string();
    let (trace, text) =
        answered(&mut process, "get_distributed_trace_details", json!({"trace_id": trace_id})).await;
    assert!(trace["services"].as_array().unwrap().len() >= 2, "a trace crosses services: {trace}");
    assert!(trace["spans"].as_array().unwrap().iter().any(|s| number(&s["depth"]) >= 1.0), "{text}");

    let (dependencies, _) =
        answered(&mut process, "analyze_service_dependencies", json!({"app_name": "checkout-service"})).await;
    let downstream: Vec<&str> = dependencies["downstream"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["service"].as_str().unwrap())
        .collect();
    assert!(downstream.contains(&"payments-api"), "{dependencies}");
    assert!(!dependencies["upstream"].as_array().unwrap().is_empty(), "{dependencies}");

    process.finish().await;
}

#[tokio::test]
async fn bad_arguments_are_invalid_params_and_unknown_apps_are_actionable_tool_errors() {
    let (mut process, _) = McpProcess::initialized(&["--enabled-categories", "all"]).await;
    for (tool, arguments) in [
        ("analyze_golden_metrics", json!({})),
        ("analyze_golden_metrics", json!({"app_name": "web", "since": "whenever"})),
        ("analyze_transactions", json!({"app_name": "web", "sort_by": "random"})),
        ("get_metric_statistics", json!({"event_type": "NotAType", "attribute": "duration"})),
        ("search_traces", json!({"app_name": "web", "limit": 1000})),
        ("get_distributed_trace_details", json!({"trace_id": "x' OR 1=1"})),
    ] {
        let response = process.call_tool(tool, arguments.clone()).await;
        assert_eq!(response["error"]["code"], INVALID_PARAMS, "{tool} {arguments} → {response}");
    }
    let unknown = process.call_tool("analyze_golden_metrics", json!({"app_name": "no-such-app"})).await;
    assert_eq!(unknown["result"]["isError"], true, "{unknown}");
    assert!(text_of(&unknown).contains("get_entity"), "{unknown}");
    process.finish().await;
}
