//! Alert conditions, incident search and synthetic monitoring end to end, over the real
//! binary's stdio against the sandbox.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mcp_process.rs"]
mod mcp_process;

use mcp_process::{McpProcess, structured_ok, text_of};
use serde_json::json;

#[tokio::test]
async fn the_new_alerting_tools_are_listed_read_only() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    let listed = process.request("tools/list", json!({})).await;
    let tools = listed["tools"].as_array().unwrap();
    for name in [
        "list_alert_conditions",
        "search_incident",
        "list_synthetic_monitors",
        "list_synthetic_monitor_results",
        "get_synthetic_check_statistics",
    ] {
        let tool = tools.iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("{name} is listed"));
        assert_eq!(tool["annotations"]["readOnlyHint"], true, "{tool}");
        assert_eq!(tool["inputSchema"]["additionalProperties"], false, "{tool}");
    }
    process.finish().await;
}

#[tokio::test]
async fn conditions_are_listed_per_policy_with_their_thresholds() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    let policies = process.call_tool("list_alert_policies", json!({"name_filter": "Payments"})).await;
    let policy_id = structured_ok(&policies)["policies"][0]["id"].as_str().unwrap().to_string();

    let all = process.call_tool("list_alert_conditions", json!({})).await;
    let of_policy = process.call_tool("list_alert_conditions", json!({"policy_id": policy_id})).await;
    let conditions = structured_ok(&of_policy)["conditions"].as_array().unwrap().clone();
    assert!(!conditions.is_empty());
    assert!(conditions.len() < structured_ok(&all)["total"].as_u64().unwrap() as usize);
    assert!(conditions.iter().all(|c| c["policyId"] == policy_id.as_str()), "{conditions:?}");
    assert!(text_of(&of_policy).contains("thresholds: CRITICAL when"), "{}", text_of(&of_policy));

    let by_query = process.call_tool("list_alert_conditions", json!({"query_filter": "payments-api"})).await;
    for condition in structured_ok(&by_query)["conditions"].as_array().unwrap() {
        assert!(condition["nrql"]["query"].as_str().unwrap().contains("payments-api"), "{condition}");
    }
    process.finish().await;
}

#[tokio::test]
async fn incidents_are_found_by_text_state_and_priority() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    let open = process
        .call_tool(
            "search_incident",
            json!({"query": "payments", "states": ["ACTIVATED"], "priorities": ["CRITICAL"]}),
        )
        .await;
    let issues = structured_ok(&open)["issues"].as_array().unwrap().clone();
    assert!(!issues.is_empty(), "{open}");
    for issue in &issues {
        assert_eq!(issue["state"], "ACTIVATED");
        assert_eq!(issue["priority"], "CRITICAL");
        assert_eq!(issue["open"], true);
        assert!(issue["title"][0].as_str().unwrap().contains("payments"), "{issue}");
    }
    let by_id = process.call_tool("search_incident", json!({"issue_id": issues[0]["issueId"]})).await;
    assert_eq!(structured_ok(&by_id)["total"], 1);

    let closed = process
        .call_tool("search_incident", json!({"states": ["CLOSED"], "time_period": "last 3 days"}))
        .await;
    let closed_issues = structured_ok(&closed)["issues"].as_array().unwrap().clone();
    assert!(!closed_issues.is_empty());
    assert!(closed_issues.iter().all(|i| i["duration_minutes"].as_f64().unwrap() > 0.0), "{closed_issues:?}");
    assert!(text_of(&closed).contains("by state: CLOSED"), "{}", text_of(&closed));

    let unreadable = process.call_tool("search_incident", json!({"time_period": "whenever"})).await;
    assert_eq!(unreadable["result"]["isError"], true, "{unreadable}");
    process.finish().await;
}

#[tokio::test]
async fn synthetic_monitors_results_and_statistics_agree() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    let listed = process.call_tool("list_synthetic_monitors", json!({})).await;
    let monitors = structured_ok(&listed)["monitors"].as_array().unwrap().clone();
    assert_eq!(monitors.len(), 3, "{listed}");
    for monitor in &monitors {
        assert!(monitor["checks"].as_f64().unwrap() > 0.0, "{monitor}");
        assert!(["SUCCESS", "FAILED"].contains(&monitor["last_result"].as_str().unwrap()), "{monitor}");
    }
    // The least successful monitor comes first among those passing at their last check.
    let flaky = monitors
        .iter()
        .filter(|m| m["failures"].as_f64().unwrap() > 0.0)
        .min_by(|a, b| {
            a["success_rate_pct"].as_f64().unwrap().total_cmp(&b["success_rate_pct"].as_f64().unwrap())
        })
        .expect("one monitor fails sometimes")
        .clone();

    let failures = process
        .call_tool(
            "list_synthetic_monitor_results",
            json!({"monitor_guid": flaky["guid"], "failures_only": true, "since": "1 day", "limit": 20}),
        )
        .await;
    let checks = structured_ok(&failures)["checks"].as_array().unwrap().clone();
    assert!(!checks.is_empty(), "{failures}");
    assert!(checks.iter().all(|c| c["result"] == "FAILED" && c["error"].is_string()), "{checks:?}");

    let statistics = process
        .call_tool("get_synthetic_check_statistics", json!({"monitor_name": flaky["name"], "since": "1 day"}))
        .await;
    let overall = structured_ok(&statistics)["overall"].clone();
    assert_eq!(overall["checks"], flaky["checks"], "{statistics}");
    assert_eq!(overall["failures"], flaky["failures"], "{statistics}");
    let locations = structured_ok(&statistics)["locations"].as_array().unwrap().clone();
    assert!(locations.len() > 1, "{locations:?}");
    assert!(
        locations
            .iter()
            .all(|l| l["p95_duration_ms"].as_f64().unwrap() >= l["p50_duration_ms"].as_f64().unwrap())
    );
    assert!(text_of(&statistics).contains("worst location"), "{}", text_of(&statistics));
    process.finish().await;
}
