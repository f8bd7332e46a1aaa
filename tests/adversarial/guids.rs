//! See the module's doc in `tests/adversarial.rs`.
//!
//! The server runs on the sandbox with `--allowed-accounts 1000001`; the sandbox also holds
//! account 1000002 (staging), whose entities must stay out of reach however their GUIDs are
//! written or passed.

use base64::Engine;
use serde_json::{Value, json};

use super::mcp_process::{McpProcess, structured_ok, text_of};

const ALLOWED: i64 = 1_000_001;
const OTHER: i64 = 1_000_002;
const RAW: &str = "query_nerdgraph";

/// An entity GUID as New Relic writes it: unpadded base64 of `ACCOUNT|DOMAIN|TYPE|ID`.
fn guid(account: i64, domain: &str, kind: &str, id: &str) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("{account}|{domain}|{kind}|{id}"))
}

/// The sandbox's checkout-service in the allowed account.
fn allowed_app() -> String {
    guid(ALLOWED, "APM", "APPLICATION", "100001")
}

/// An application of the staging account.
fn other_app() -> String {
    guid(OTHER, "APM", "APPLICATION", "200001")
}

/// The staging account's dashboard.
fn other_dashboard() -> String {
    guid(OTHER, "VIZ", "DASHBOARD", "8001")
}

/// `guid` with the unused low bits of its last character set: a strict decoder refuses it, a
/// lenient one (as a server may be) reads the same bytes.
fn with_trailing_bits(guid: &str) -> String {
    assert!(!guid.len().is_multiple_of(4), "{guid} has no spare bits to set");
    let (head, last) = guid.split_at(guid.len() - 1);
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let index = alphabet.iter().position(|&c| c == last.as_bytes()[0]).unwrap();
    let spare = if guid.len() % 4 == 2 { 0b1111 } else { 0b11 };
    format!("{head}{}", char::from(alphabet[index | spare]))
}

fn refusal(response: &Value) -> String {
    assert_eq!(response["result"]["isError"], json!(true), "expected a refusal: {response}");
    text_of(response)
}

fn refused_as_outside(response: &Value, context: &str) {
    let message = refusal(response);
    assert!(message.contains(&format!("account {OTHER} is outside")), "{context}: {message}");
}

async fn start(extra: &[&str]) -> McpProcess {
    let allowed = ALLOWED.to_string();
    let mut arguments = vec!["--enabled-categories", "all", "--allowed-accounts", &allowed];
    arguments.extend_from_slice(extra);
    McpProcess::initialized(&arguments).await.0
}

#[test]
fn the_trailing_bits_helper_changes_the_spelling_not_the_bytes() {
    let original = other_dashboard();
    let nudged = with_trailing_bits(&original);
    assert_ne!(nudged, original);
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    assert_eq!(lenient.decode(&nudged).unwrap(), lenient.decode(&original).unwrap());
    assert!(base64::engine::general_purpose::STANDARD_NO_PAD.decode(&nudged).is_err());
}

#[tokio::test]
async fn query_nerdgraph_holds_entity_guids_to_the_allow_list_wherever_they_are_written() {
    let mut process = start(&[]).await;
    let (other, dashboard) = (other_app(), other_dashboard());

    // The allowed account's entity is read as before.
    let inside = format!("{{ actor {{ entity(guid: \"{}\") {{ name accountId }} }} }}", allowed_app());
    let answer = process.call_tool(RAW, json!({ "query": inside })).await;
    assert_eq!(structured_ok(&answer)["data"]["actor"]["entity"]["accountId"], ALLOWED, "{answer}");

    let cases: Vec<(&str, String, Value)> = vec![
        (
            "entity(guid:) literal",
            format!("{{ actor {{ entity(guid: \"{dashboard}\") {{ name }} }} }}"),
            json!({}),
        ),
        (
            "entities(guids:) literal list",
            format!("{{ actor {{ entities(guids: [\"{}\", \"{other}\"]) {{ name }} }} }}", allowed_app()),
            json!({}),
        ),
        (
            "entity(guid:) variable",
            "query($g: EntityGuid!) { actor { entity(guid: $g) { name tags { key values } } } }".into(),
            json!({ "g": dashboard }),
        ),
        (
            "entities(guids:) variable list",
            "query($gs: [EntityGuid]!) { actor { entities(guids: $gs) { name } } }".into(),
            json!({ "gs": [allowed_app(), other] }),
        ),
        (
            "a list element given as a variable",
            "query($g: EntityGuid!) { actor { entities(guids: [$g]) { name } } }".into(),
            json!({ "g": other }),
        ),
        (
            "a variable's default",
            format!("query($g: EntityGuid = \"{dashboard}\") {{ actor {{ entity(guid: $g) {{ name }} }} }}"),
            json!({}),
        ),
        (
            "a fragment",
            format!(
                "query Q {{ actor {{ ...Reach }} }}\nfragment Reach on Actor {{ entity(guid: \"{other}\") {{ name }} }}"
            ),
            json!({}),
        ),
        (
            "an input object's entityGuids",
            format!(
                "{{ actor {{ account(id: {ALLOWED}) {{ aiIssues {{ issues(filter: {{entityGuids: [\"{other}\"]}}) \
                 {{ issues {{ issueId }} }} }} }} }} }}"
            ),
            json!({}),
        ),
        (
            "an input object given as a variable",
            "query($f: AiIssuesFilterIssues) { actor { account(id: 1000001) { aiIssues { issues(filter: $f) \
             { issues { issueId } } } } } }"
                .into(),
            json!({ "f": { "entityGuids": [other] } }),
        ),
    ];
    for (place, query, variables) in cases {
        let response = process.call_tool(RAW, json!({ "query": query, "variables": variables })).await;
        refused_as_outside(&response, place);
    }
    process.finish().await;
}

#[tokio::test]
async fn an_entity_guid_that_names_no_account_is_refused_under_an_allow_list() {
    let mut process = start(&[]).await;
    // "nope" in base64: a GUID in form, but no account inside it.
    let unreadable = "bm9wZQ";
    let calls = [
        (RAW, json!({ "query": format!("{{ actor {{ entity(guid: \"{unreadable}\") {{ name }} }} }}") })),
        (
            RAW,
            json!({ "query": "query($g: EntityGuid!) { actor { entity(guid: $g) { name } } }", "variables": { "g": "%%%" } }),
        ),
        ("get_entity", json!({ "guid": unreadable })),
        ("get_dashboard", json!({ "guid": unreadable })),
        ("list_related_entities", json!({ "entity_guid": unreadable })),
        ("list_change_events", json!({ "entity_guid": unreadable })),
        ("list_entity_error_groups", json!({ "entity_guid": unreadable })),
    ];
    for (tool, arguments) in calls {
        let response = process.call_tool(tool, arguments.clone()).await;
        let message = refusal(&response);
        assert!(message.contains("does not name an account"), "{tool} {arguments}: {message}");
    }
    process.finish().await;
}

#[tokio::test]
async fn a_guid_with_altered_trailing_bits_is_read_like_any_other_by_every_tool() {
    let mut process = start(&[]).await;
    let dashboard = with_trailing_bits(&other_dashboard());
    // 29 bytes, so its last character carries spare bits too.
    let app = with_trailing_bits(&guid(OTHER, "APM", "APPLICATION", "20001"));
    let calls = [
        ("get_entity", json!({ "guid": dashboard })),
        ("get_dashboard", json!({ "guid": dashboard })),
        ("list_related_entities", json!({ "entity_guid": app })),
        ("list_metric_names", json!({ "entity_guid": app })),
        ("list_change_events", json!({ "entity_guid": app })),
        ("analyze_deployment_impact", json!({ "entity_guid": app })),
        ("search_incident", json!({ "entity_guid": app })),
        ("list_entity_error_groups", json!({ "entity_guid": app })),
        ("get_error_statistics", json!({ "entity_guid": app })),
        ("analyze_golden_metrics", json!({ "entity_guid": app })),
        ("analyze_entity_logs", json!({ "entity_guid": app })),
        ("get_host_metrics", json!({ "entity_guid": app })),
        ("list_synthetic_monitor_results", json!({ "monitor_guid": app })),
        (RAW, json!({ "query": format!("{{ actor {{ entity(guid: \"{dashboard}\") {{ name }} }} }}") })),
    ];
    for (tool, arguments) in calls {
        let response = process.call_tool(tool, arguments.clone()).await;
        refused_as_outside(&response, &format!("{tool} {arguments}"));
    }
    process.finish().await;
}

#[tokio::test]
async fn a_raw_deployment_on_another_account_s_entity_is_refused_at_its_preview() {
    let mut process = start(&["--enable-writes"]).await;
    let other = other_app();
    let literal = format!(
        "mutation {{ changeTrackingCreateDeployment(deployment: {{entityGuid: \"{other}\", version: \"9.9.9\"}}) \
         {{ deploymentId }} }}"
    );
    refused_as_outside(&process.call_tool(RAW, json!({ "query": literal })).await, "literal input object");
    let by_variable = "mutation($d: ChangeTrackingDeploymentInput!) { changeTrackingCreateDeployment(deployment: $d) \
                       { deploymentId } }";
    let variables = json!({ "d": { "entityGuid": other, "version": "9.9.9" } });
    let response = process.call_tool(RAW, json!({ "query": by_variable, "variables": variables })).await;
    refused_as_outside(&response, "input object variable");
    let dedicated = process
        .call_tool("create_deployment_marker", json!({ "entity_guid": other, "version": "9.9.9" }))
        .await;
    refused_as_outside(&dedicated, "create_deployment_marker");
    process.finish().await;
}

#[tokio::test]
async fn a_raw_mutation_that_names_no_account_is_refused_under_an_allow_list() {
    let mut process = start(&["--enable-writes"]).await;
    let anonymous = "mutation { errorsInboxAssignErrorGroup(id: \"group-1\", assignment: {userId: 7}) \
                     { assignment { userInfo { id } } } }";
    let message = refusal(&process.call_tool(RAW, json!({ "query": anonymous })).await);
    assert!(message.contains("names no account"), "{message}");
    process.finish().await;
}

#[tokio::test]
async fn every_write_preview_names_the_accounts_it_changes() {
    let mut process = start(&["--enable-writes"]).await;
    let app = allowed_app();
    let raw = format!(
        "mutation Mark {{ changeTrackingCreateDeployment(deployment: {{entityGuid: \"{app}\", version: \"1.0.1\"}}) \
         {{ deploymentId }} }}"
    );
    let calls = [
        (RAW, json!({ "query": raw })),
        ("create_deployment_marker", json!({ "entity_guid": app, "version": "1.0.2" })),
        ("create_alert_policy", json!({ "name": "preview-accounts" })),
    ];
    for (tool, arguments) in calls {
        let preview = process.call_tool(tool, arguments).await;
        let structured = structured_ok(&preview);
        assert_eq!(structured["dry_run"], true, "{tool}: {preview}");
        assert_eq!(structured["accounts"], json!([ALLOWED]), "{tool}: {structured}");
        let text = text_of(&preview);
        assert!(text.contains(&format!("Account this changes: {ALLOWED}")), "{tool}: {text}");
    }
    process.finish().await;
}

#[tokio::test]
async fn query_nerdgraph_holds_every_account_holding_argument_to_the_allow_list() {
    let mut process = start(&["--enable-writes"]).await;
    // The condition is created in the allowed account but queries the other one's data.
    let literal = format!(
        "mutation {{ alertsNrqlConditionStaticCreate(accountId: {ALLOWED}, policyId: 1, condition: {{name: \"x\", \
         enabled: true, nrql: {{query: \"SELECT count(*) FROM Transaction\", dataAccountId: {OTHER}}}, \
         terms: [{{operator: ABOVE, priority: CRITICAL, threshold: 1, thresholdDuration: 60, \
         thresholdOccurrences: ALL}}]}}) {{ id }} }}"
    );
    refused_as_outside(&process.call_tool(RAW, json!({ "query": literal })).await, "dataAccountId literal");
    let by_variable = "mutation($c: AlertsNrqlConditionStaticInput!) { alertsNrqlConditionStaticCreate(accountId: \
                       1000001, policyId: 1, condition: $c) { id } }";
    let variables = json!({ "c": { "name": "x", "nrql": { "query": "SELECT 1", "dataAccountId": OTHER } } });
    let response = process.call_tool(RAW, json!({ "query": by_variable, "variables": variables })).await;
    refused_as_outside(&response, "dataAccountId variable");
    // The same condition on the allowed account's own data is previewed as before.
    let own = json!({ "c": { "name": "x", "nrql": { "query": "SELECT 1", "dataAccountId": ALLOWED } } });
    let preview = process.call_tool(RAW, json!({ "query": by_variable, "variables": own })).await;
    assert_eq!(structured_ok(&preview)["accounts"], json!([ALLOWED]), "{preview}");
    process.finish().await;
}

#[tokio::test]
async fn an_object_where_a_guid_goes_is_refused_under_an_allow_list() {
    let mut process = start(&[]).await;
    let query = "query($g: EntityGuid!) { actor { entity(guid: $g) { name } } }";
    let variables = json!({ "g": { "guid": other_app() } });
    let message = refusal(&process.call_tool(RAW, json!({ "query": query, "variables": variables })).await);
    assert!(message.contains("does not name an account"), "{message}");
    process.finish().await;
}

#[tokio::test]
async fn every_root_field_of_a_raw_mutation_must_name_an_account_under_an_allow_list() {
    let mut process = start(&["--enable-writes"]).await;
    let unnamed = "errorsInboxAssignErrorGroup(id: \"group-1\", assignment: {userId: 7}) \
                   { assignment { userInfo { id } } }";
    let named = format!(
        "alertsPolicyCreate(accountId: {ALLOWED}, policy: {{name: \"p\", incidentPreference: PER_POLICY}}) {{ id }}"
    );
    let documents = [
        ("side by side", format!("mutation {{ {named} {unnamed} }}")),
        ("in an inline fragment", format!("mutation {{ {named} ... on RootMutationType {{ {unnamed} }} }}")),
        (
            "in a fragment",
            format!("mutation {{ {named} ...Assign }}\nfragment Assign on RootMutationType {{ {unnamed} }}"),
        ),
    ];
    for (place, query) in documents {
        let message = refusal(&process.call_tool(RAW, json!({ "query": query })).await);
        assert!(message.contains("errorsInboxAssignErrorGroup"), "{place}: {message}");
        assert!(message.contains("names no account"), "{place}: {message}");
    }
    // Each field naming its account is previewed as before.
    let both = format!(
        "mutation {{ {named} second: alertsPolicyCreate(accountId: {ALLOWED}, policy: {{name: \"q\", \
         incidentPreference: PER_POLICY}}) {{ id }} }}"
    );
    let preview = process.call_tool(RAW, json!({ "query": both })).await;
    assert_eq!(structured_ok(&preview)["accounts"], json!([ALLOWED]), "{preview}");
    process.finish().await;
}
