//! See the module's doc in `tests/adversarial.rs`.
//!
//! A raw mutation is judged by the tier of every field it calls, from an explicit list of
//! NerdGraph's mutation fields: a name that merely avoids the word "delete" gets no further
//! than the first (preview) step, and one that contains it is not refused for that alone.

use serde_json::{Value, json};

use super::mcp_process::{McpProcess, binary, structured_ok, text_of};

const TOOL: &str = "query_nerdgraph";

const CANCEL_ACCOUNT: &str = "mutation Cancel { accountManagementCancelAccount(id: 1) { id name } }";
const RETENTION_RULE: &str = "mutation Keep($accountId: Int!) { dataManagementCreateEventRetentionRule(\
                              accountId: $accountId, namespace: \"Transaction\", retentionInDays: 1) { id } }";
const MUTING_RULE: &str = "mutation Hush($accountId: Int!) { alertsMutingRuleCreate(accountId: $accountId, rule: \
                           {name: \"everything\", enabled: true, condition: {operator: AND, conditions: []}}) \
                           { id } }";
const CREATE_KEYS: &str = "mutation Mint { apiAccessCreateKeys(keys: {user: [{accountId: 1, userId: 1, name: \
                           \"k\"}]}) { createdKeys { id key } errors { message } } }";
const UNDELETE_DASHBOARD: &str =
    "mutation Restore { dashboardUndelete(guid: \"MXxWSVp8REFTSEJPQVJEfDE\") { errors { description } } }";
const UNKNOWN_FIELD: &str = "mutation Later { observabilityFutureThing(accountId: 1) { id } }";

/// The refusal's text, failing the test when the call was not refused as a tool error.
fn refusal(response: &Value) -> String {
    assert_eq!(response["result"]["isError"], json!(true), "expected a refusal: {response}");
    text_of(response)
}

/// Asserts the call stopped at the preview: a dry run with a token, nothing sent.
fn previewed(response: &Value) -> String {
    let preview = structured_ok(response);
    assert_eq!(preview["dry_run"], true, "{response}");
    preview["confirmation"]["confirmation_token"].as_str().expect("a confirmation token").to_string()
}

async fn upstream_calls(process: &mut McpProcess) -> u64 {
    let status = process.call_tool("get_server_status", json!({})).await;
    structured_ok(&status)["pool"]["upstream_calls"].as_u64().unwrap()
}

#[tokio::test]
async fn with_only_writes_enabled_account_retention_muting_and_key_mutations_are_refused_at_the_preview() {
    let (mut process, _) =
        McpProcess::initialized(&["--enabled-categories", "raw,server", "--enable-writes"]).await;
    let cases = [
        (CANCEL_ACCOUNT, "accountManagementCancelAccount", "--enable-admin-mutations"),
        (RETENTION_RULE, "dataManagementCreateEventRetentionRule", "--enable-destructive"),
        (MUTING_RULE, "alertsMutingRuleCreate", "--enable-destructive"),
        (CREATE_KEYS, "apiAccessCreateKeys", "--enable-admin-mutations"),
    ];
    for (query, field, switch) in cases {
        let message = refusal(&process.call_tool(TOOL, json!({ "query": query })).await);
        assert!(message.contains("was not sent"), "{field}: {message}");
        assert!(message.contains(field), "{field}: {message}");
        assert!(message.contains(switch), "{field} should name {switch}: {message}");
    }
    assert_eq!(upstream_calls(&mut process).await, 0, "no refusal reached New Relic");
    process.finish().await;
}

#[tokio::test]
async fn with_destructive_enabled_credential_and_account_administration_is_still_refused() {
    let (mut process, _) =
        McpProcess::initialized(&["--enabled-categories", "raw", "--enable-destructive"]).await;
    for (query, field) in
        [(CANCEL_ACCOUNT, "accountManagementCancelAccount"), (CREATE_KEYS, "apiAccessCreateKeys")]
    {
        let message = refusal(&process.call_tool(TOOL, json!({ "query": query })).await);
        assert!(message.contains(field) && message.contains("administration"), "{message}");
        assert!(message.contains("--enable-admin-mutations"), "{message}");
    }
    // What destructive access is for still runs (after its confirmation).
    previewed(&process.call_tool(TOOL, json!({ "query": MUTING_RULE })).await);
    previewed(&process.call_tool(TOOL, json!({ "query": RETENTION_RULE })).await);
    process.finish().await;
}

#[tokio::test]
async fn the_strictest_field_decides_however_the_document_hides_it() {
    let (mut process, _) =
        McpProcess::initialized(&["--enabled-categories", "raw", "--enable-destructive"]).await;
    let hidden = [
        // Behind an ordinary write.
        "mutation { alertsPolicyCreate(accountId: 1, policy: {name: \"p\", incidentPreference: PER_POLICY}) { id } \
         apiAccessCreateKeys(keys: {user: [{accountId: 1, userId: 1}]}) { createdKeys { id } } }",
        // Under an innocent alias.
        "mutation { tagEntity: apiAccessCreateKeys(keys: {user: [{accountId: 1, userId: 1}]}) { createdKeys { id } } }",
        // In a fragment.
        "mutation { ...Keys } fragment Keys on RootMutationType { apiAccessCreateKeys(keys: {user: [{accountId: 1, \
         userId: 1}]}) { createdKeys { id } } }",
        // In an inline fragment.
        "mutation { ... on RootMutationType { apiAccessCreateKeys(keys: {user: [{accountId: 1, userId: 1}]}) \
         { createdKeys { id } } } }",
    ];
    for query in hidden {
        let message = refusal(&process.call_tool(TOOL, json!({ "query": query })).await);
        assert!(message.contains("apiAccessCreateKeys"), "{query}: {message}");
        assert!(message.contains("--enable-admin-mutations"), "{query}: {message}");
    }
    process.finish().await;
}

#[tokio::test]
async fn undeleting_a_dashboard_is_an_ordinary_write() {
    let (mut process, _) = McpProcess::initialized(&["--enabled-categories", "raw", "--enable-writes"]).await;
    let preview = process.call_tool(TOOL, json!({ "query": UNDELETE_DASHBOARD })).await;
    let token = previewed(&preview);
    assert_eq!(structured_ok(&preview)["mutations"], json!(["dashboardUndelete"]), "{preview}");
    // Confirmed, it is sent: the sandbox's schema subset has no dashboardUndelete, so it is
    // the sandbox, not this server's policy, that answers.
    let sent =
        process.call_tool(TOOL, json!({ "query": UNDELETE_DASHBOARD, "confirmation_token": token })).await;
    let message = refusal(&sent);
    assert!(message.contains("New Relic rejected"), "{message}");
    assert!(!message.contains("--enable-destructive"), "{message}");
    process.finish().await;
}

#[tokio::test]
async fn a_mutation_field_the_server_does_not_know_is_treated_as_destructive() {
    let (mut process, _) = McpProcess::initialized(&["--enabled-categories", "raw", "--enable-writes"]).await;
    let message = refusal(&process.call_tool(TOOL, json!({ "query": UNKNOWN_FIELD })).await);
    assert!(message.contains("observabilityFutureThing"), "{message}");
    assert!(message.contains("--enable-destructive"), "{message}");
    process.finish().await;

    let (mut process, _) =
        McpProcess::initialized(&["--enabled-categories", "raw", "--enable-destructive"]).await;
    previewed(&process.call_tool(TOOL, json!({ "query": UNKNOWN_FIELD })).await);
    process.finish().await;
}

#[tokio::test]
async fn the_admin_switch_lets_administration_through_only_with_destructive_access() {
    let (mut process, _) = McpProcess::initialized(&[
        "--enabled-categories",
        "raw",
        "--enable-destructive",
        "--enable-admin-mutations",
    ])
    .await;
    let preview = process.call_tool(TOOL, json!({ "query": CREATE_KEYS })).await;
    previewed(&preview);
    assert!(text_of(&preview).contains("apiAccessCreateKeys"), "{}", text_of(&preview));
    process.finish().await;

    // From the environment too.
    let mut command = binary();
    command
        .args(["serve", "--sandbox", "--enabled-categories", "raw", "--enable-destructive"])
        .env("NEW_RELIC_MCP_ENABLE_ADMIN_MUTATIONS", "true");
    let mut process = McpProcess::spawn(command).await;
    process
        .request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "0"}}),
        )
        .await;
    process.notify("notifications/initialized", json!({})).await;
    previewed(&process.call_tool(TOOL, json!({ "query": CANCEL_ACCOUNT })).await);
    process.finish().await;

    // Without destructive access the switch is a mistake, refused at start.
    let output = binary()
        .args(["serve", "--sandbox", "--enable-writes", "--enable-admin-mutations"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("enable_admin_mutations") && stderr.contains("enable_destructive"), "{stderr}");
}
