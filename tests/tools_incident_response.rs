//! Change tracking, deployment impact, errors and incident reports end to end, over the
//! real binary's stdio against the sandbox, whose payments-api release of about 100 minutes
//! ago raised its error rate.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mcp_process.rs"]
mod mcp_process;

use mcp_process::{McpProcess, structured_ok, text_of};
use serde_json::json;

#[tokio::test]
async fn incident_response_tools_are_listed_in_their_category() {
    let (mut process, _) = McpProcess::initialized(&["--enabled-categories", "incident-response"]).await;
    let listed = process.request("tools/list", json!({})).await;
    let mut names: Vec<&str> =
        listed["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    for expected in [
        "analyze_deployment_impact",
        "generate_alert_insights_report",
        "generate_user_impact_report",
        "get_error_statistics",
        "list_change_events",
        "list_entity_error_groups",
        "search_errors",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    assert!(!names.contains(&"list_dashboards"), "{names:?}");
    process.finish().await;
}

#[tokio::test]
async fn deployments_are_listed_and_the_bad_release_is_a_regression() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    let by_name = process
        .call_tool("list_change_events", json!({"app_name": "payments-api", "time_period": "last 3 days"}))
        .await;
    let deployments = structured_ok(&by_name)["deployments"].as_array().unwrap().clone();
    assert!(!deployments.is_empty(), "{by_name}");
    let latest = deployments[0].clone();
    let guid = latest["entity_guid"].as_str().unwrap().to_string();
    let by_guid = process
        .call_tool("list_change_events", json!({"entity_guid": guid, "time_period": "last 3 days"}))
        .await;
    assert_eq!(structured_ok(&by_guid)["deployments"][0]["version"], latest["version"], "{by_guid}");

    let exact = process
        .call_tool(
            "analyze_deployment_impact",
            json!({"app_name": "payments-api", "deployment_timestamp": latest["timestamp"]}),
        )
        .await;
    let report = structured_ok(&exact).clone();
    assert_eq!(report["verdict"], "regression", "{}", text_of(&exact));
    assert_eq!(report["deployment"]["version"], latest["version"]);
    assert!(
        report["after"]["error_rate_pct"].as_f64().unwrap()
            > report["before"]["error_rate_pct"].as_f64().unwrap(),
        "{report}"
    );
    assert!(report["before"]["p95_latency_ms"].as_f64().unwrap() > 0.0, "{report}");

    let latest_by_guid = process.call_tool("analyze_deployment_impact", json!({"entity_guid": guid})).await;
    let latest_report = structured_ok(&latest_by_guid).clone();
    assert_eq!(latest_report["deployment"]["version"], latest["version"], "{latest_report}");
    assert_eq!(latest_report["verdict"], "regression", "{}", text_of(&latest_by_guid));

    let quiet = process
        .call_tool(
            "analyze_deployment_impact",
            json!({"app_name": "inventory-worker", "window_minutes": 180}),
        )
        .await;
    assert_eq!(quiet["result"]["isError"], true, "{quiet}");
    assert!(text_of(&quiet).contains("deployment_timestamp"), "{}", text_of(&quiet));
    process.finish().await;
}

#[tokio::test]
async fn errors_are_grouped_counted_and_searched() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    let groups = process.call_tool("list_entity_error_groups", json!({"app_name": "payments-api"})).await;
    let structured = structured_ok(&groups).clone();
    let listed = structured["groups"].as_array().unwrap().clone();
    assert!(!listed.is_empty(), "{groups}");
    let counts: Vec<f64> = listed.iter().map(|g| g["occurrences"].as_f64().unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    assert_eq!(counts.iter().sum::<f64>(), structured["total_errors"].as_f64().unwrap());

    let statistics = process
        .call_tool("get_error_statistics", json!({"app_name": "payments-api", "since": "3 hours"}))
        .await;
    let stats = structured_ok(&statistics).clone();
    assert!(stats["errors"].as_f64().unwrap() > 0.0, "{stats}");
    assert!(stats["series"].as_array().unwrap().len() > 1, "{stats}");
    assert!(["rising", "falling", "steady"].contains(&stats["trend"].as_str().unwrap()), "{stats}");

    let class = listed[0]["error_class"].as_str().unwrap().to_string();
    let search = process.call_tool("search_errors", json!({"text": class, "limit": 10})).await;
    let found = structured_ok(&search)["errors"].as_array().unwrap().clone();
    assert!(!found.is_empty(), "{search}");
    assert!(
        found.iter().all(|e| e["error_class"].as_str().unwrap().contains(&class)
            || e["error_message"].as_str().unwrap().contains(&class)),
        "{found:?}"
    );
    process.finish().await;
}

#[tokio::test]
async fn reports_explain_the_open_issue_and_its_user_impact() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    let insights = process.call_tool("generate_alert_insights_report", json!({})).await;
    let report = structured_ok(&insights).clone();
    assert_eq!(report["issue"]["priority"], "CRITICAL", "{report}");
    assert_eq!(report["entities"][0]["name"], "payments-api", "{report}");
    assert!(
        report["entities"][0]["during"]["error_rate_pct"].as_f64().unwrap()
            > report["entities"][0]["before"]["error_rate_pct"].as_f64().unwrap(),
        "{report}"
    );
    assert_eq!(report["conditions"][0]["name"], report["issue"]["conditionName"][0]);
    assert!(!report["suspect_deployments"].as_array().unwrap().is_empty(), "{report}");
    assert!(text_of(&insights).contains("Next steps:"), "{}", text_of(&insights));

    // The same data gives the same report.
    let again = process
        .call_tool("generate_alert_insights_report", json!({"issue_id": report["issue"]["issueId"]}))
        .await;
    assert_eq!(structured_ok(&again)["findings"], report["findings"]);

    let users = process.call_tool("generate_user_impact_report", json!({"app_name": "acme-web"})).await;
    let overview = structured_ok(&users)["overview"].clone();
    assert!(overview["page_views"].as_f64().unwrap() > 0.0, "{users}");
    assert!(overview["sessions"].as_f64().unwrap() > 0.0, "{users}");
    assert!(
        overview["p95_load_ms"].as_f64().unwrap() >= overview["p50_load_ms"].as_f64().unwrap(),
        "{users}"
    );
    assert!(!structured_ok(&users)["slowest_pages"].as_array().unwrap().is_empty(), "{users}");

    let during = process
        .call_tool(
            "generate_user_impact_report",
            json!({"app_name": "acme-web", "issue_id": report["issue"]["issueId"]}),
        )
        .await;
    let during = structured_ok(&during).clone();
    assert!(during["during_issue"]["page_views"].as_f64().unwrap() > 0.0, "{during}");
    assert!(during["before_issue"]["page_views"].as_f64().unwrap() > 0.0, "{during}");
    process.finish().await;
}
