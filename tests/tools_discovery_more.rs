//! The dashboard, relationship and metric-name discovery tools end to end, over the real
//! binary's stdio against the sandbox.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mcp_process.rs"]
mod mcp_process;

use mcp_process::{McpProcess, structured_ok, text_of};
use serde_json::{Value, json};

const INVALID_PARAMS: i64 = -32602;

async fn guid_of(process: &mut McpProcess, name: &str) -> String {
    let found = process.call_tool("get_entity", json!({"name_pattern": name})).await;
    let entities = structured_ok(&found)["entities"].as_array().unwrap().clone();
    let entity =
        entities.iter().find(|e| e["name"] == name && e["accountId"] == 1_000_001).expect("entity exists");
    entity["guid"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_new_discovery_tools_are_listed_read_only_in_their_category() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    let listed = process.request("tools/list", json!({})).await;
    let tools = listed["tools"].as_array().unwrap();
    for name in ["list_dashboards", "get_dashboard", "list_related_entities", "list_metric_names"] {
        let tool = tools.iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("{name} is listed"));
        assert_eq!(tool["annotations"]["readOnlyHint"], true, "{tool}");
        assert!(tool["inputSchema"]["properties"].get("account_id").is_some(), "{tool}");
    }
    process.finish().await;
}

#[tokio::test]
async fn dashboards_are_listed_and_read_with_their_widget_queries() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    let listed = process.call_tool("list_dashboards", json!({})).await;
    let dashboards = structured_ok(&listed)["dashboards"].as_array().unwrap().clone();
    assert!(!dashboards.is_empty(), "{listed}");
    // Pages are folded into their dashboards.
    assert!(dashboards.iter().all(|d| d["pages"].as_u64().unwrap() >= 1), "{dashboards:?}");

    let guid = dashboards[0]["guid"].as_str().unwrap();
    let read = process.call_tool("get_dashboard", json!({"guid": guid})).await;
    let dashboard = structured_ok(&read).clone();
    assert_eq!(dashboard["name"], dashboards[0]["name"]);
    assert!(dashboard["widget_count"].as_u64().unwrap() > 0, "{dashboard}");
    assert!(dashboard["query_count"].as_u64().unwrap() > 0, "{dashboard}");
    let query = dashboard["pages"][0]["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|w| w["queries"][0]["query"].as_str())
        .unwrap()
        .to_string();
    assert!(query.to_uppercase().contains("FROM"), "{query}");
    assert!(text_of(&read).contains(&query), "{}", text_of(&read));

    let filtered = process.call_tool("list_dashboards", json!({"name_filter": "no such dashboard"})).await;
    assert_eq!(structured_ok(&filtered)["total"], 0);

    let app_guid = guid_of(&mut process, "payments-api").await;
    let not_a_dashboard = process.call_tool("get_dashboard", json!({"guid": app_guid})).await;
    assert_eq!(not_a_dashboard["result"]["isError"], true, "{not_a_dashboard}");
    assert!(text_of(&not_a_dashboard).contains("not a dashboard"), "{not_a_dashboard}");

    let typo = process.call_tool("get_dashboard", json!({"guid": guid, "page": 1})).await;
    assert_eq!(typo["error"]["code"], INVALID_PARAMS, "{typo}");
    process.finish().await;
}

#[tokio::test]
async fn related_entities_show_the_call_graph_and_the_host() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    let guid = guid_of(&mut process, "checkout-service").await;
    let related = process.call_tool("list_related_entities", json!({"entity_guid": guid})).await;
    let structured = structured_ok(&related).clone();
    let names: Vec<&str> =
        structured["related"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"payments-api"), "{structured}");
    assert!(structured["by_relationship"]["CALLS"].as_u64().unwrap() >= 1, "{structured}");
    assert!(text_of(&related).contains("checkout-service CALLS payments-api"), "{}", text_of(&related));

    let outbound = process
        .call_tool(
            "list_related_entities",
            json!({"entity_guid": guid, "direction": "OUTBOUND", "relationship_types": ["CALLS"]}),
        )
        .await;
    let rows = structured_ok(&outbound)["related"].as_array().unwrap().clone();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["direction"] == "OUTBOUND" && r["relationship"] == "CALLS"), "{rows:?}");
    process.finish().await;
}

#[tokio::test]
async fn metric_names_of_a_jvm_app_include_gc_and_heap() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    let answer = process.call_tool("list_metric_names", json!({"app_name": "checkout-service"})).await;
    let names: Vec<String> = structured_ok(&answer)["metric_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    for expected in ["GC/G1 Young Generation", "Memory/Heap/Used"] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
    let filtered = process
        .call_tool("list_metric_names", json!({"app_name": "checkout-service", "name_filter": "GC/"}))
        .await;
    let gc: Vec<Value> = structured_ok(&filtered)["metric_names"].as_array().unwrap().clone();
    assert!(!gc.is_empty() && gc.iter().all(|n| n.as_str().unwrap().contains("GC/")), "{gc:?}");
    process.finish().await;
}
