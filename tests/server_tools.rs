//! `get_server_status` and `list_plugins` end to end, over the real binary's stdio.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mcp_process.rs"]
mod mcp_process;

use mcp_process::{McpProcess, structured_ok, text_of};
use serde_json::json;

const INVALID_PARAMS: i64 = -32602;

#[tokio::test]
async fn server_status_reports_the_live_runtime() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    let listed = process.request("tools/list", json!({})).await;
    let status_tool =
        listed["tools"].as_array().unwrap().iter().find(|t| t["name"] == "get_server_status").cloned();
    let status_tool = status_tool.expect("get_server_status is listed");
    assert_eq!(status_tool["annotations"]["readOnlyHint"], true, "{status_tool}");

    let query = json!({"nrql_query": "SELECT count(*) FROM Transaction SINCE 1 hour ago"});
    for _ in 0..3 {
        structured_ok(&process.call_tool("execute_nrql_query", query.clone()).await);
    }
    let first = process.call_tool("get_server_status", json!({})).await;
    let status = structured_ok(&first).clone();
    assert_eq!(status["server"]["name"], "newrelic-mcp");
    assert_eq!(status["server"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(status["server"]["uptime_seconds"].as_f64().unwrap() > 0.0, "{status}");
    assert_eq!(status["health"], "healthy", "{status}");
    assert_eq!(status["breakers"][0]["state"], "closed", "{status}");
    assert_eq!(status["cache"]["misses"], 1, "{status}");
    assert_eq!(status["cache"]["hits"], 2, "{status}");
    assert!(status["cache"]["entries"].as_u64().unwrap() >= 1, "{status}");
    assert!(status["cache"]["bytes"].as_u64().unwrap() > 0, "{status}");
    assert_eq!(status["pool"]["upstream_calls"], 1, "{status}");
    assert_eq!(status["pool"]["in_flight"], 0, "{status}");
    assert_eq!(status["restarts"]["count"], 0, "{status}");
    assert!(status["tool_table_generation"].is_u64(), "{status}");
    let text = text_of(&first);
    assert!(text.contains(&format!("newrelic-mcp {}", env!("CARGO_PKG_VERSION"))), "{text}");
    assert!(text.contains("2 hits, 1 misses"), "{text}");

    // Not cached: the next answer sees the status call itself counted.
    let second = process.call_tool("get_server_status", json!({})).await;
    let calls = |s: &serde_json::Value| s["calls"].as_u64().unwrap();
    assert_eq!(calls(structured_ok(&second)), calls(&status) + 1);

    let refused = process.call_tool("get_server_status", json!({"verbose": true})).await;
    assert_eq!(refused["error"]["code"], INVALID_PARAMS, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("verbose"), "{refused}");
    process.finish().await;
}

#[tokio::test]
async fn list_plugins_names_every_plugin_and_its_tools() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    let answer = process.call_tool("list_plugins", json!({})).await;
    let plugins = structured_ok(&answer)["plugins"].as_array().unwrap().clone();
    let names: Vec<&str> = plugins.iter().map(|p| p["name"].as_str().unwrap()).collect();
    for expected in ["discovery", "data-access", "alerting", "server"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    let server = plugins.iter().find(|p| p["name"] == "server").unwrap();
    assert_eq!(server["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(server["tools"], json!(["get_server_status", "list_plugins"]));
    let listed = process.request("tools/list", json!({})).await;
    let listed_count = listed["tools"].as_array().unwrap().len();
    let plugin_tools: usize = plugins.iter().map(|p| p["tools"].as_array().unwrap().len()).sum();
    assert_eq!(plugin_tools, listed_count, "every listed tool belongs to one plugin");
    assert_eq!(structured_ok(&answer)["tool_count"], listed_count);
    assert!(text_of(&answer).contains("execute_nrql_query"), "{}", text_of(&answer));
    process.finish().await;
}

#[tokio::test]
async fn both_tools_take_account_id_checked_against_the_allow_list() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    let accounts = process.call_tool("list_available_new_relic_accounts", json!({})).await;
    let ids: Vec<i64> = structured_ok(&accounts)["accounts"]
        .as_array()
        .unwrap_or_else(|| panic!("accounts listed: {accounts}"))
        .iter()
        .map(|account| account["id"].as_i64().unwrap())
        .collect();
    process.finish().await;

    let allowed = ids[0].to_string();
    let (mut process, _) = McpProcess::initialized(&["--allowed-accounts", &allowed]).await;
    for tool in ["get_server_status", "list_plugins"] {
        let listed = process.request("tools/list", json!({})).await;
        let descriptor =
            listed["tools"].as_array().unwrap().iter().find(|t| t["name"] == tool).unwrap().clone();
        assert!(descriptor["inputSchema"]["properties"]["account_id"].is_object(), "{descriptor}");
        structured_ok(&process.call_tool(tool, json!({ "account_id": ids[0] })).await);
        let refused = process.call_tool(tool, json!({ "account_id": ids[1] })).await;
        assert_eq!(refused["result"]["isError"], true, "{refused}");
        assert!(text_of(&refused).contains(&format!("account {} is outside", ids[1])), "{refused}");
    }
    let status = process.call_tool("get_server_status", json!({ "account_id": ids[0] })).await;
    let accounts = &structured_ok(&status)["accounts"];
    assert_eq!(accounts["default_account"], ids[0], "{accounts}");
    assert_eq!(accounts["allowed_accounts"], json!([ids[0]]), "{accounts}");
    assert_eq!(accounts["requested_allowed"], true, "{accounts}");
    assert!(
        text_of(&status).contains(&format!("account {} passes the allow-list", ids[0])),
        "{}",
        text_of(&status)
    );
    process.finish().await;
}
