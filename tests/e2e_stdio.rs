//! End to end: the real binary on the sandbox, raw JSON-RPC over its stdio.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mcp_process.rs"]
mod mcp_process;

use mcp_process::{McpProcess, binary, structured_ok, text_of};
use serde_json::{Value, json};

const INVALID_PARAMS: i64 = -32602;
const METHOD_NOT_FOUND: i64 = -32601;

#[tokio::test]
async fn initialize_names_the_server_and_its_version() {
    let (process, result) = McpProcess::initialized(&[]).await;
    assert_eq!(result["serverInfo"]["name"], "newrelic-mcp");
    assert_eq!(result["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(result["protocolVersion"], "2025-06-18");
    assert!(result["capabilities"]["tools"].is_object(), "{result}");
    assert!(process.finish().await.success());
}

#[tokio::test]
async fn tools_list_describes_every_tool_with_hints_and_schemas() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    let listed = process.request("tools/list", json!({})).await;
    let tools = listed["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for expected in [
        "execute_nrql_query",
        "get_entity",
        "search_entity_with_tag",
        "list_alert_policies",
        "list_recent_issues",
        "list_available_new_relic_accounts",
        "convert_time_period_to_epoch_ms",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    for tool in tools {
        assert!(tool["description"].as_str().is_some_and(|d| d.len() > 30), "{tool}");
        assert_eq!(tool["annotations"]["readOnlyHint"], true, "{tool}");
        assert_eq!(tool["annotations"]["destructiveHint"], false, "{tool}");
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
    }
    let nrql = tools.iter().find(|t| t["name"] == "execute_nrql_query").unwrap();
    assert_eq!(nrql["inputSchema"]["required"], json!(["nrql_query"]));
    assert!(
        nrql["inputSchema"]["properties"]["nrql_query"]["description"].as_str().unwrap().contains("NRQL")
    );
    process.finish().await;
}

#[tokio::test]
async fn every_tool_answers_from_the_sandbox() {
    let (mut process, _) = McpProcess::initialized(&[]).await;

    let counted = process
        .call_tool(
            "execute_nrql_query",
            json!({"nrql_query": "SELECT count(*) FROM Transaction SINCE 1 hour ago"}),
        )
        .await;
    let count = structured_ok(&counted)["results"][0]["count"].as_f64().unwrap();
    assert!(count > 0.0, "{counted}");
    assert!(text_of(&counted).contains("count"));

    let accounts = process.call_tool("list_available_new_relic_accounts", json!({})).await;
    let listed = structured_ok(&accounts)["accounts"].as_array().unwrap().clone();
    assert!(listed.len() >= 2, "{accounts}");

    let found = process.call_tool("get_entity", json!({"name_pattern": "checkout"})).await;
    let entities = structured_ok(&found)["entities"].as_array().unwrap().clone();
    assert!(!entities.is_empty(), "{found}");
    let guid = entities[0]["guid"].as_str().unwrap().to_string();

    let entity = process.call_tool("get_entity", json!({"guid": guid})).await;
    assert_eq!(structured_ok(&entity)["entity"]["guid"], guid.as_str());
    let tags = structured_ok(&entity)["entity"]["tags"].as_array().unwrap().clone();
    let tag = tags.first().expect("sandbox entities carry tags");
    let (key, value) = (tag["key"].as_str().unwrap(), tag["values"][0].as_str().unwrap());

    let tagged =
        process.call_tool("search_entity_with_tag", json!({"tag_key": key, "tag_value": value})).await;
    let tagged_entities = structured_ok(&tagged)["entities"].as_array().unwrap().clone();
    assert!(tagged_entities.iter().any(|e| e["guid"] == guid.as_str()), "{tagged}");

    let policies = process.call_tool("list_alert_policies", json!({})).await;
    assert!(structured_ok(&policies)["total"].as_u64().unwrap() > 0, "{policies}");

    let issues = process.call_tool("list_recent_issues", json!({"states": ["ACTIVATED", "CLOSED"]})).await;
    assert!(structured_ok(&issues)["total"].as_u64().unwrap() > 0, "{issues}");

    let period =
        process.call_tool("convert_time_period_to_epoch_ms", json!({"time_period": "last 30 minutes"})).await;
    let period = structured_ok(&period);
    assert_eq!(period["duration_ms"], 1_800_000);
    process.finish().await;
}

#[tokio::test]
async fn protocol_errors_for_unknown_tools_bad_arguments_and_unknown_methods() {
    let (mut process, _) = McpProcess::initialized(&[]).await;

    let unknown = process.call_tool("no_such_tool", json!({})).await;
    assert_eq!(unknown["error"]["code"], INVALID_PARAMS, "{unknown}");
    assert!(unknown["error"]["message"].as_str().unwrap().contains("no_such_tool"));

    for arguments in
        [json!({}), json!({"nrql_query": 42}), json!({"nrql_query": "SELECT 1", "timeout_seconds": 500})]
    {
        let invalid = process.call_tool("execute_nrql_query", arguments.clone()).await;
        assert_eq!(invalid["error"]["code"], INVALID_PARAMS, "{arguments} → {invalid}");
    }

    let id = process.send_request("no/such/method", json!({})).await;
    let response = process.response(id).await;
    assert_eq!(response["error"]["code"], METHOD_NOT_FOUND, "{response}");

    // The server keeps serving after every error.
    let listed = process.request("tools/list", json!({})).await;
    assert!(listed["tools"].as_array().is_some_and(|t| !t.is_empty()));
    process.finish().await;
}

#[tokio::test]
async fn a_failing_tool_is_a_tool_error_the_model_can_read() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    let failed = process
        .call_tool(
            "execute_nrql_query",
            json!({"nrql_query": "SELECT count(*) FROM Transaction", "account_id": 999}),
        )
        .await;
    assert_eq!(failed["result"]["isError"], true, "{failed}");
    assert!(!text_of(&failed).is_empty());
    let failed =
        process.call_tool("convert_time_period_to_epoch_ms", json!({"time_period": "whenever"})).await;
    assert_eq!(failed["result"]["isError"], true, "{failed}");
    assert!(text_of(&failed).contains("last 30 minutes"), "{failed}");
    process.finish().await;
}

#[tokio::test]
async fn a_malformed_line_gets_an_error_and_loses_nothing() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    process.send_line("{this is not json").await;
    let id = process.send_request("tools/list", json!({})).await;
    let mut parse_error = None;
    let listed = loop {
        let message = process.next_message().await.expect("the server keeps running");
        if message["id"] == id {
            break message;
        }
        if message.get("error").is_some() {
            parse_error = Some(message);
        }
    };
    assert!(listed["result"]["tools"].is_array(), "{listed}");
    let parse_error = parse_error.expect("the malformed line was answered with an error");
    assert_eq!(parse_error["error"]["code"], -32700, "{parse_error}");
    process.finish().await;
}

#[tokio::test]
async fn a_slow_call_reports_progress_and_can_be_cancelled() {
    let (mut process, _) = McpProcess::initialized(&["--sandbox-latency-ms", "2500"]).await;
    let slow = json!({
        "name": "execute_nrql_query",
        "arguments": {"nrql_query": "SELECT count(*) FROM Transaction SINCE 2 hours ago"},
        "_meta": {"progressToken": "p1"}
    });
    let id = process.send_request("tools/call", slow).await;
    let answered = process.response(id).await;
    structured_ok(&answered);
    let progress: Vec<&Value> =
        process.notifications.iter().filter(|n| n["method"] == "notifications/progress").collect();
    assert!(!progress.is_empty(), "no progress during a 2.5 s call: {:?}", process.notifications);
    assert_eq!(progress[0]["params"]["progressToken"], "p1");

    let cancelled = process
        .send_request(
            "tools/call",
            json!({"name": "execute_nrql_query", "arguments": {"nrql_query": "SELECT count(*) FROM Log SINCE 3 hours ago"}}),
        )
        .await;
    process
        .notify("notifications/cancelled", json!({"requestId": cancelled, "reason": "user gave up"}))
        .await;
    // The server stays responsive while the cancelled call winds down; that the cancellation
    // reaches the HTTP request is asserted in tests/cancellation.rs, where the sandbox is visible.
    let started = std::time::Instant::now();
    let listed = process.request("tools/list", json!({})).await;
    assert!(listed["tools"].is_array());
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "a cancelled call blocked the server");
    let after = process.call_tool("convert_time_period_to_epoch_ms", json!({"time_period": "today"})).await;
    structured_ok(&after);
    process.finish().await;
}

#[tokio::test]
async fn without_a_key_or_sandbox_it_exits_2_naming_both() {
    let output = binary().arg("serve").stdin(std::process::Stdio::null()).output().await.unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("NEW_RELIC_API_KEY") && stderr.contains("--sandbox"), "{stderr}");
    assert!(output.stdout.is_empty(), "stdout is the protocol and stays clean");
}

#[tokio::test]
async fn a_foreign_nerdgraph_url_is_refused() {
    let output = binary()
        .arg("serve")
        .env("NEW_RELIC_API_KEY", "NRAK-ABCDEFGHIJKLMNOPQRSTUVWXYZ1")
        .env("NEW_RELIC_NERDGRAPH_URL", "https://attacker.example/graphql")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The host is not echoed: an operator may have pasted a key where the host goes.
    assert!(stderr.contains("not a New Relic host") && stderr.contains("newrelic.com"), "{stderr}");
    assert!(!stderr.contains("attacker.example"), "{stderr}");
    assert!(!stderr.contains("NRAK-ABCDEFGHIJKLMNOPQRSTUVWXYZ1"));
}

#[tokio::test]
async fn the_sandbox_command_prints_its_address_and_key() {
    use tokio::io::AsyncBufReadExt;
    let mut child = binary()
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first =
        tokio::time::timeout(mcp_process::EXCHANGE_LIMIT, lines.next_line()).await.unwrap().unwrap().unwrap();
    let second =
        tokio::time::timeout(mcp_process::EXCHANGE_LIMIT, lines.next_line()).await.unwrap().unwrap().unwrap();
    let url = first.rsplit(' ').next().unwrap();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/graphql"), "{first}");
    assert!(!url.ends_with(":0/graphql"), "the real port is printed: {first}");
    assert!(second.starts_with("API key: "), "{second}");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_2026_07_28_discover_path_and_inline_requests_work_without_initialize() {
    let mut process = McpProcess::sandbox(&[]).await;
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "e2e", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let discovered = process.request("server/discover", json!({"_meta": meta})).await;
    assert!(
        discovered["supportedVersions"].as_array().unwrap().iter().any(|v| v == "2026-07-28"),
        "{discovered}"
    );
    assert_eq!(
        discovered["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "newrelic-mcp",
        "{discovered}"
    );
    let call = process
        .send_request(
            "tools/call",
            json!({"name": "convert_time_period_to_epoch_ms", "arguments": {"time_period": "last hour"}, "_meta": meta}),
        )
        .await;
    let answered = process.response(call).await;
    assert_eq!(structured_ok(&answered)["duration_ms"], 3_600_000, "{answered}");
    process.finish().await;
}
