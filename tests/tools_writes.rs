//! The write tools end to end, over the real binary's stdio against the sandbox: hidden
//! unless enabled, previewed before anything changes, applied once with the token the
//! preview returned, read back, and never applied twice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mcp_process.rs"]
mod mcp_process;

use mcp_process::{McpProcess, binary, structured_ok, text_of};
use serde_json::{Value, json};

const WRITE_TOOLS: [&str; 6] = [
    "acknowledge_issue",
    "create_alert_policy",
    "create_deployment_marker",
    "create_nrql_alert_condition",
    "create_synthetic_monitor",
    "resolve_issue",
];
const DESTRUCTIVE_TOOLS: [&str; 2] = ["delete_alert_condition", "delete_alert_policy"];

async fn listed(process: &mut McpProcess) -> Vec<Value> {
    process.request("tools/list", json!({})).await["tools"].as_array().unwrap().clone()
}

fn names(tools: &[Value]) -> Vec<String> {
    tools.iter().map(|tool| tool["name"].as_str().unwrap().to_string()).collect()
}

/// The message of a refused call, whether it came back as a tool error or as invalid params.
fn refusal(response: &Value) -> String {
    if let Some(error) = response.get("error") {
        return error["message"].as_str().unwrap_or_default().to_string();
    }
    assert_eq!(response["result"]["isError"], true, "expected a refusal: {response}");
    text_of(response)
}

/// The first call of a write: its dry run, and the token that confirms it.
async fn preview(process: &mut McpProcess, tool: &str, arguments: &Value) -> (Value, String) {
    let response = process.call_tool(tool, arguments.clone()).await;
    let structured = structured_ok(&response).clone();
    assert_eq!(structured["dry_run"], true, "{response}");
    assert!(text_of(&response).starts_with("DRY RUN"), "{}", text_of(&response));
    let token = structured["confirmation"]["confirmation_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no confirmation token in {structured}"))
        .to_string();
    (structured, token)
}

fn with_token(arguments: &Value, token: &str) -> Value {
    let mut arguments = arguments.clone();
    arguments["confirmation_token"] = json!(token);
    arguments
}

/// Both calls of a write; returns the confirmed answer's structured content.
async fn confirm(process: &mut McpProcess, tool: &str, arguments: Value) -> Value {
    let (_, token) = preview(process, tool, &arguments).await;
    let response = process.call_tool(tool, with_token(&arguments, &token)).await;
    let structured = structured_ok(&response).clone();
    assert_eq!(structured["written"], true, "{response}");
    structured
}

/// Policies whose name contains `filter`. Listings are cached for a minute, so every check
/// below uses a filter of its own to see the sandbox as it is now.
async fn policies_named(process: &mut McpProcess, filter: &str) -> Vec<Value> {
    let response = process.call_tool("list_alert_policies", json!({ "name_filter": filter })).await;
    structured_ok(&response)["policies"].as_array().unwrap().clone()
}

#[tokio::test]
async fn write_tools_are_listed_only_when_enabled() {
    let (mut process, _) = McpProcess::initialized(&["--enabled-categories", "all"]).await;
    let default = names(&listed(&mut process).await);
    for tool in WRITE_TOOLS.iter().chain(&DESTRUCTIVE_TOOLS) {
        assert!(!default.iter().any(|name| name == tool), "{tool} listed without --enable-writes");
    }
    let unlisted = process.call_tool("create_alert_policy", json!({"name": "sneaky"})).await;
    assert!(refusal(&unlisted).contains("unknown tool"), "{unlisted}");
    process.finish().await;

    let (mut process, _) = McpProcess::initialized(&["--enabled-categories", "all", "--enable-writes"]).await;
    let tools = listed(&mut process).await;
    let writes = names(&tools);
    for tool in WRITE_TOOLS {
        assert!(writes.iter().any(|name| name == tool), "{tool} missing with --enable-writes: {writes:?}");
    }
    for tool in DESTRUCTIVE_TOOLS {
        assert!(!writes.iter().any(|name| name == tool), "{tool} listed without --enable-destructive");
    }
    let create = tools.iter().find(|tool| tool["name"] == "create_alert_policy").unwrap();
    assert_eq!(create["annotations"]["readOnlyHint"], false, "{create}");
    assert_eq!(create["annotations"]["destructiveHint"], false, "{create}");
    assert_eq!(create["inputSchema"]["properties"]["confirmation_token"]["type"], "string", "{create}");
    process.finish().await;

    let (mut process, _) = McpProcess::initialized(&["--enable-destructive"]).await;
    let tools = listed(&mut process).await;
    let all = names(&tools);
    for tool in WRITE_TOOLS.iter().chain(&DESTRUCTIVE_TOOLS) {
        assert!(all.iter().any(|name| name == tool), "{tool} missing with --enable-destructive: {all:?}");
    }
    let delete = tools.iter().find(|tool| tool["name"] == "delete_alert_policy").unwrap();
    assert_eq!(delete["annotations"]["destructiveHint"], true, "{delete}");
    process.finish().await;
}

#[tokio::test]
async fn the_environment_enables_writes_and_a_bad_value_stops_the_server() {
    let mut command = binary();
    command.arg("serve").arg("--sandbox").env("NEW_RELIC_MCP_ENABLE_WRITES", "1");
    let mut process = McpProcess::spawn(command).await;
    process
        .request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "0"}}),
        )
        .await;
    process.notify("notifications/initialized", json!({})).await;
    let tools = names(&listed(&mut process).await);
    assert!(tools.iter().any(|name| name == "create_deployment_marker"), "{tools:?}");
    assert!(!tools.iter().any(|name| name == "delete_alert_policy"), "{tools:?}");
    process.finish().await;

    let output = binary()
        .arg("serve")
        .arg("--sandbox")
        .env("NEW_RELIC_MCP_ENABLE_DESTRUCTIVE", "yes")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("NEW_RELIC_MCP_ENABLE_DESTRUCTIVE") && stderr.contains("true, false, 1 or 0"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_policy_is_created_only_once_and_only_with_its_own_token() {
    let (mut process, _) = McpProcess::initialized(&["--enable-writes"]).await;
    let arguments = json!({"name": "mcp-write-e2e checkout", "incident_preference": "PER_CONDITION"});

    let (dry_run, token) = preview(&mut process, "create_alert_policy", &arguments).await;
    assert_eq!(
        dry_run["variables"]["policy"],
        json!({"name": "mcp-write-e2e checkout", "incidentPreference": "PER_CONDITION"})
    );
    assert!(policies_named(&mut process, "mcp-write-e2e").await.is_empty(), "the dry run created a policy");

    let response = process.call_tool("create_alert_policy", with_token(&arguments, &token)).await;
    let created = structured_ok(&response).clone();
    assert_eq!(created["written"], true, "{created}");
    let id = created["result"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["readBack"]["found"], true, "{created}");
    assert_eq!(created["readBack"]["object"]["id"], json!(id), "{created}");
    assert_eq!(created["readBack"]["object"]["incidentPreference"], "PER_CONDITION");
    assert!(text_of(&response).contains("Read back from New Relic"), "{}", text_of(&response));
    assert_eq!(policies_named(&mut process, "mcp-write-e2e checkout").await.len(), 1);

    let repeat = process.call_tool("create_alert_policy", with_token(&arguments, &token)).await;
    let repeated = structured_ok(&repeat).clone();
    assert_eq!(repeated["result"]["id"], json!(id), "the repeat wrote again: {repeat}");
    assert!(text_of(&repeat).contains("already applied"), "{}", text_of(&repeat));
    assert_eq!(policies_named(&mut process, "mcp-write-e2e chec").await.len(), 1, "a duplicate was created");

    let (_, fresh_token) = preview(&mut process, "create_alert_policy", &arguments).await;
    let again = process.call_tool("create_alert_policy", with_token(&arguments, &fresh_token)).await;
    assert_eq!(structured_ok(&again)["result"]["id"], json!(id), "a new token wrote again: {again}");
    assert!(text_of(&again).contains("already applied"), "{}", text_of(&again));
    assert_eq!(policies_named(&mut process, "mcp-write-e2e che").await.len(), 1, "a duplicate was created");

    let (_, other_token) =
        preview(&mut process, "create_alert_policy", &json!({"name": "mcp-write-e2e other"})).await;
    let altered = json!({"name": "mcp-write-e2e altered", "confirmation_token": other_token});
    let refused = process.call_tool("create_alert_policy", altered).await;
    assert!(refusal(&refused).contains("different arguments"), "{refused}");

    let garbage = with_token(&json!({"name": "mcp-write-e2e garbage"}), "not-a-token");
    let refused = process.call_tool("create_alert_policy", garbage).await;
    let message = refusal(&refused);
    assert!(message.contains("confirmation token"), "{message}");
    let forged = with_token(&json!({"name": "mcp-write-e2e garbage"}), &format!("{token}x"));
    let refused = process.call_tool("create_alert_policy", forged).await;
    assert!(refusal(&refused).contains("confirmation token"), "{refused}");

    let after = policies_named(&mut process, "mcp-write-e2").await;
    let after = names_of(&after);
    assert_eq!(after, vec!["mcp-write-e2e checkout".to_string()], "only the confirmed policy exists");
    process.finish().await;
}

fn names_of(policies: &[Value]) -> Vec<String> {
    policies.iter().map(|p| p["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_condition_is_created_in_a_new_policy_then_both_are_deleted() {
    let (mut process, _) = McpProcess::initialized(&["--enable-destructive"]).await;
    let policy =
        confirm(&mut process, "create_alert_policy", json!({"name": "mcp-write-e2e conditions"})).await;
    let policy_id = policy["result"]["id"].as_str().unwrap().to_string();

    let nrql = "SELECT percentage(count(*), WHERE error IS true) FROM Transaction WHERE appName = 'checkout-service'";
    let refused = process
        .call_tool(
            "create_nrql_alert_condition",
            json!({"policy_id": policy_id, "name": "x", "nrql": format!("{nrql} SINCE 1 hour ago"), "critical_threshold": 5}),
        )
        .await;
    assert!(refusal(&refused).contains("SINCE"), "{refused}");

    let condition = confirm(
        &mut process,
        "create_nrql_alert_condition",
        json!({"policy_id": policy_id, "name": "checkout error rate", "nrql": nrql, "critical_threshold": 5,
               "warning_threshold": 2, "violation_time_limit_seconds": 86_400}),
    )
    .await;
    let condition_id = condition["result"]["id"].as_str().unwrap().to_string();
    let read = &condition["readBack"]["object"];
    assert_eq!(read["nrql"]["query"], nrql, "{condition}");
    assert_eq!(read["violationTimeLimitSeconds"], 86_400, "{condition}");
    assert_eq!(read["terms"].as_array().unwrap().len(), 2, "{condition}");
    let listed = process.call_tool("list_alert_conditions", json!({"policy_id": policy_id})).await;
    assert!(text_of(&listed).contains("checkout error rate"), "{}", text_of(&listed));

    let deleted =
        confirm(&mut process, "delete_alert_condition", json!({"condition_id": condition_id})).await;
    assert_eq!(deleted["readBack"]["found"], false, "{deleted}");
    let deleted = confirm(&mut process, "delete_alert_policy", json!({"policy_id": policy_id})).await;
    assert_eq!(deleted["readBack"]["found"], false, "{deleted}");
    assert!(deleted["readBack"]["note"].as_str().unwrap().contains("no longer exists"), "{deleted}");
    assert!(policies_named(&mut process, "mcp-write-e2e conditions").await.is_empty());
    process.finish().await;
}

#[tokio::test]
async fn an_open_issue_is_acknowledged_then_resolved() {
    let (mut process, _) = McpProcess::initialized(&["--enable-writes"]).await;
    let open = process.call_tool("list_recent_issues", json!({})).await;
    let issue_id = structured_ok(&open)["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|issue| issue["acknowledgedAt"].is_null())
        .and_then(|issue| issue["issueId"].as_str())
        .unwrap_or_else(|| panic!("the sandbox has an unacknowledged open issue: {open}"))
        .to_string();

    let acknowledged = confirm(&mut process, "acknowledge_issue", json!({"issue_id": issue_id})).await;
    assert_eq!(acknowledged["result"]["action"], "ACK", "{acknowledged}");
    assert!(acknowledged["readBack"]["object"]["acknowledgedBy"].is_string(), "{acknowledged}");

    let resolved = confirm(&mut process, "resolve_issue", json!({"issue_id": issue_id})).await;
    assert_eq!(resolved["readBack"]["object"]["state"], "CLOSED", "{resolved}");

    let (_, token) = preview(&mut process, "resolve_issue", &json!({"issue_id": "no-such-issue"})).await;
    let missing = process
        .call_tool("resolve_issue", json!({"issue_id": "no-such-issue", "confirmation_token": token}))
        .await;
    assert!(refusal(&missing).contains("not found"), "{missing}");
    process.finish().await;
}

#[tokio::test]
async fn a_deployment_marker_is_recorded_and_listed() {
    let (mut process, _) = McpProcess::initialized(&["--enable-writes"]).await;
    let changes = process
        .call_tool("list_change_events", json!({"app_name": "payments-api", "time_period": "last 3 days"}))
        .await;
    let guid = structured_ok(&changes)["deployments"][0]["entity_guid"]
        .as_str()
        .unwrap_or_else(|| panic!("payments-api has deployments: {changes}"))
        .to_string();

    let stale = process
        .call_tool(
            "create_deployment_marker",
            json!({"entity_guid": guid, "version": "v9", "timestamp": 1_000_000_000_000_i64}),
        )
        .await;
    assert!(refusal(&stale).contains("within 24 hours"), "{stale}");

    let recorded = confirm(
        &mut process,
        "create_deployment_marker",
        json!({"entity_guid": guid, "version": "v9.9.9-e2e", "commit": "abc1234", "user": "e2e", "deployment_type": "CANARY"}),
    )
    .await;
    assert_eq!(recorded["readBack"]["object"]["version"], "v9.9.9-e2e", "{recorded}");
    assert_eq!(recorded["readBack"]["object"]["deploymentType"], "CANARY", "{recorded}");

    let listed = process
        .call_tool("list_change_events", json!({"entity_guid": guid, "time_period": "last 2 hours"}))
        .await;
    let versions: Vec<&str> = structured_ok(&listed)["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|deployment| deployment["version"].as_str())
        .collect();
    assert_eq!(versions.iter().filter(|v| **v == "v9.9.9-e2e").count(), 1, "{versions:?}");
    process.finish().await;
}

#[tokio::test]
async fn a_synthetic_monitor_is_created_and_listed() {
    let (mut process, _) = McpProcess::initialized(&["--enable-writes"]).await;
    let monitor = confirm(
        &mut process,
        "create_synthetic_monitor",
        json!({"name": "mcp-write-e2e health", "uri": "https://shop.example/health",
               "locations": ["AWS_US_EAST_1", "AWS_EU_WEST_1"], "period": "EVERY_5_MINUTES"}),
    )
    .await;
    assert_eq!(monitor["readBack"]["found"], true, "{monitor}");
    assert_eq!(monitor["readBack"]["object"]["monitorType"], "SIMPLE", "{monitor}");
    assert_eq!(monitor["readBack"]["object"]["period"], 5, "{monitor}");

    let listed = process.call_tool("list_synthetic_monitors", json!({"name_filter": "mcp-write-e2e"})).await;
    assert!(text_of(&listed).contains("mcp-write-e2e health"), "{}", text_of(&listed));

    let (_, token) = preview(
        &mut process,
        "create_synthetic_monitor",
        &json!({"name": "nowhere", "uri": "https://shop.example/", "locations": ["MOON_BASE_1"]}),
    )
    .await;
    let refused = process
        .call_tool(
            "create_synthetic_monitor",
            json!({"name": "nowhere", "uri": "https://shop.example/", "locations": ["MOON_BASE_1"], "confirmation_token": token}),
        )
        .await;
    assert!(refusal(&refused).contains("MOON_BASE_1"), "{refused}");
    process.finish().await;
}
