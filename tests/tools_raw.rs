//! `query_nerdgraph` end to end, over the real binary's stdio against the sandbox.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mcp_process.rs"]
mod mcp_process;

use mcp_process::{McpProcess, structured_ok, text_of};
use serde_json::{Value, json};

const TOOL: &str = "query_nerdgraph";

fn tool_error(response: &Value) -> String {
    assert_eq!(response["result"]["isError"], json!(true), "expected a tool error: {response}");
    text_of(response)
}

async fn listed_tool(process: &mut McpProcess, name: &str) -> Option<Value> {
    let listed = process.request("tools/list", json!({})).await;
    listed["tools"].as_array().unwrap().iter().find(|tool| tool["name"] == name).cloned()
}

#[tokio::test]
async fn the_raw_tool_is_opt_in_and_read_only() {
    let (mut process, _) = McpProcess::initialized(&[]).await;
    assert!(listed_tool(&mut process, TOOL).await.is_none(), "query_nerdgraph is not in the default set");
    process.finish().await;

    let (mut process, _) = McpProcess::initialized(&["--enabled-categories", "raw"]).await;
    let tool = listed_tool(&mut process, TOOL).await.expect("listed with --enabled-categories raw");
    assert_eq!(tool["annotations"]["readOnlyHint"], true, "{tool}");
    let properties = tool["inputSchema"]["properties"].as_object().unwrap();
    for name in ["query", "variables", "account_id", "operation_name"] {
        assert!(properties.contains_key(name), "{name} missing from {tool}");
    }
    assert!(!properties.contains_key("confirmation_token"), "{tool}");
    process.finish().await;
}

#[tokio::test]
async fn queries_answer_with_nerdgraph_s_data_and_fill_the_account() {
    let (mut process, _) = McpProcess::initialized(&["--enabled-categories", "raw,server"]).await;

    let me = process.call_tool(TOOL, json!({ "query": "{ actor { user { name email } } }" })).await;
    let data = &structured_ok(&me)["data"];
    assert_eq!(data["actor"]["user"]["name"], "Sandbox User", "{me}");
    assert!(text_of(&me).contains("\"email\":\"sandbox.user@acme.example\""), "{}", text_of(&me));

    let accounts = process.call_tool(TOOL, json!({ "query": "{ actor { accounts { id name } } }" })).await;
    let accounts: Vec<i64> = structured_ok(&accounts)["data"]["actor"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|account| account["id"].as_i64().unwrap())
        .collect();
    assert!(accounts.len() >= 2, "{accounts:?}");

    // `$accountId` comes from the default account (the sandbox's first), or from account_id.
    let by_account = "query AccountName($accountId: Int!) { actor { account(id: $accountId) { id name } } }";
    let default = process.call_tool(TOOL, json!({ "query": by_account })).await;
    assert_eq!(structured_ok(&default)["data"]["actor"]["account"]["id"], accounts[0], "{default}");
    let second = process.call_tool(TOOL, json!({ "query": by_account, "account_id": accounts[1] })).await;
    assert_eq!(structured_ok(&second)["data"]["actor"]["account"]["id"], accounts[1], "{second}");
    assert!(text_of(&second).starts_with("NerdGraph answered query AccountName"), "{}", text_of(&second));

    // The same query again is served from the cache: New Relic sees one call, not two.
    let before = process.call_tool("get_server_status", json!({})).await;
    let upstream_calls = |status: &Value| structured_ok(status)["pool"]["upstream_calls"].as_u64().unwrap();
    let again = process.call_tool(TOOL, json!({ "query": by_account, "account_id": accounts[1] })).await;
    assert_eq!(structured_ok(&again)["data"], structured_ok(&second)["data"]);
    let after = process.call_tool("get_server_status", json!({})).await;
    assert_eq!(upstream_calls(&after), upstream_calls(&before), "the repeat was answered from the cache");

    // Several operations: the named one runs.
    let two = "query Who { actor { user { name } } }\nquery Where { actor { accounts { id } } }";
    let chosen = process.call_tool(TOOL, json!({ "query": two, "operation_name": "Who" })).await;
    assert_eq!(structured_ok(&chosen)["data"]["actor"]["user"]["name"], "Sandbox User", "{chosen}");
    let ambiguous = process.call_tool(TOOL, json!({ "query": two })).await;
    let message = tool_error(&ambiguous);
    assert!(message.contains("'Who', 'Where'") && message.contains("operation_name"), "{message}");
    process.finish().await;
}

#[tokio::test]
async fn refusals_are_clear_and_cost_no_call() {
    let (mut process, _) = McpProcess::initialized(&["--enabled-categories", "raw,server"]).await;

    let mutation = "mutation Create($accountId: Int!) { alertsPolicyCreate(accountId: $accountId, policy: \
                    {name: \"raw\", incidentPreference: PER_POLICY}) { id } }";
    let refused = process.call_tool(TOOL, json!({ "query": mutation })).await;
    let message = tool_error(&refused);
    assert!(message.contains("mutation Create (alertsPolicyCreate) was not sent"), "{message}");
    assert!(message.contains("--enable-writes"), "{message}");

    let syntax = process.call_tool(TOOL, json!({ "query": "{ actor { user { name }" })).await;
    let message = tool_error(&syntax);
    assert!(message.contains("GraphQL syntax error at line 1, column"), "{message}");

    let subscription = process.call_tool(TOOL, json!({ "query": "subscription { ticks }" })).await;
    assert!(tool_error(&subscription).contains("subscription"), "{subscription}");

    let status = process.call_tool("get_server_status", json!({})).await;
    assert_eq!(structured_ok(&status)["pool"]["upstream_calls"], 0, "refusals never reached New Relic");

    let empty = process.call_tool(TOOL, json!({ "query": "" })).await;
    assert_eq!(empty["error"]["code"], -32602, "{empty}");
    process.finish().await;
}

#[tokio::test]
async fn a_document_nerdgraph_rejects_comes_back_with_its_message() {
    let (mut process, _) = McpProcess::initialized(&["--enabled-categories", "raw"]).await;
    let unknown = process.call_tool(TOOL, json!({ "query": "{ actor { favouriteColour } }" })).await;
    let message = tool_error(&unknown);
    assert!(message.contains("New Relic rejected the request"), "{message}");
    assert!(message.contains("favouriteColour"), "{message}");
    process.finish().await;
}

#[tokio::test]
async fn the_allow_list_holds_for_accounts_named_in_the_document() {
    let (mut process, _) = McpProcess::initialized(&["--enabled-categories", "raw"]).await;
    let accounts = process.call_tool(TOOL, json!({ "query": "{ actor { accounts { id } } }" })).await;
    let ids: Vec<i64> = structured_ok(&accounts)["data"]["actor"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|account| account["id"].as_i64().unwrap())
        .collect();
    process.finish().await;

    let allowed = ids[0].to_string();
    let (mut process, _) =
        McpProcess::initialized(&["--enabled-categories", "raw", "--allowed-accounts", &allowed]).await;
    let inside = format!("{{ actor {{ account(id: {}) {{ name }} }} }}", ids[0]);
    structured_ok(&process.call_tool(TOOL, json!({ "query": inside })).await);
    let outside = format!("{{ actor {{ account(id: {}) {{ name }} }} }}", ids[1]);
    let message = tool_error(&process.call_tool(TOOL, json!({ "query": outside })).await);
    assert!(message.contains(&format!("account {} is outside", ids[1])), "{message}");
    let by_variable = "query($id: Int!) { actor { account(id: $id) { name } } }";
    let refused =
        process.call_tool(TOOL, json!({ "query": by_variable, "variables": { "id": ids[1] } })).await;
    assert!(tool_error(&refused).contains("outside"), "{refused}");
    process.finish().await;
}

#[tokio::test]
async fn with_writes_enabled_a_mutation_is_previewed_then_applied_with_its_token() {
    let (mut process, _) = McpProcess::initialized(&["--enabled-categories", "raw", "--enable-writes"]).await;
    let tool = listed_tool(&mut process, TOOL).await.expect("listed");
    assert_eq!(tool["annotations"]["readOnlyHint"], false, "{tool}");
    assert!(tool["inputSchema"]["properties"]["confirmation_token"].is_object(), "{tool}");

    let create = "mutation Create($accountId: Int!) { alertsPolicyCreate(accountId: $accountId, policy: \
                  {name: \"raw-e2e-policy\", incidentPreference: PER_POLICY}) { id name } }";
    let preview = process.call_tool(TOOL, json!({ "query": create })).await;
    let previewed = structured_ok(&preview).clone();
    assert_eq!(previewed["mutations"], json!(["alertsPolicyCreate"]), "{previewed}");
    assert_eq!(previewed["dry_run"], true, "{previewed}");
    assert!(text_of(&preview).starts_with("DRY RUN. Would send mutation Create"), "{}", text_of(&preview));
    let token = previewed["confirmation"]["confirmation_token"].as_str().expect("a token").to_string();
    // A client that reads only the text can confirm too.
    assert!(
        text_of(&preview).contains(&format!("\"confirmation_token\": \"{token}\"")),
        "{}",
        text_of(&preview)
    );

    let count_policies = |selection: &str| {
        format!(
            "query($accountId: Int!) {{ actor {{ account(id: $accountId) {{ alerts {{ policiesSearch(searchCriteria: \
             {{nameLike: \"raw-e2e-policy\"}}) {{ {selection} }} }} }} }} }}"
        )
    };
    let policies = |response: &Value| {
        structured_ok(response)["data"]["actor"]["account"]["alerts"]["policiesSearch"]["policies"]
            .as_array()
            .map_or(0, Vec::len)
    };
    // Each check selects differently, so the 30-second cache cannot answer it.
    let before = process.call_tool(TOOL, json!({ "query": count_policies("policies { id }") })).await;
    assert_eq!(policies(&before), 0, "the preview created nothing: {before}");

    let applied = process.call_tool(TOOL, json!({ "query": create, "confirmation_token": token })).await;
    let created = &structured_ok(&applied)["data"]["alertsPolicyCreate"];
    assert_eq!(created["name"], "raw-e2e-policy", "{applied}");
    let after = process.call_tool(TOOL, json!({ "query": count_policies("policies { id name }") })).await;
    assert_eq!(policies(&after), 1, "{after}");

    let delete = format!(
        "mutation($accountId: Int!) {{ alertsPolicyDelete(accountId: $accountId, id: {}) {{ id }} }}",
        created["id"]
    );
    let refused = process.call_tool(TOOL, json!({ "query": delete })).await;
    let message = tool_error(&refused);
    assert!(message.contains("alertsPolicyDelete") && message.contains("--enable-destructive"), "{message}");
    process.finish().await;
}
