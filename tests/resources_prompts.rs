//! End to end: MCP resources and prompts of the real binary on the sandbox, and the hints
//! an empty NRQL answer gains when a name is wrong.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mcp_process.rs"]
mod mcp_process;

use mcp_process::{McpProcess, structured_ok, text_of};
use serde_json::{Value, json};

const INVALID_PARAMS: i64 = -32602;
const RESOURCE_NOT_FOUND: i64 = -32002;
const PRODUCTION: i64 = 1_000_001;
const STAGING: i64 = 1_000_002;

async fn read(process: &mut McpProcess, uri: &str) -> Value {
    let id = process.send_request("resources/read", json!({ "uri": uri })).await;
    process.response(id).await
}

/// The JSON content of a successful read, and its compact text.
fn json_and_text(response: &Value) -> (Value, String) {
    let contents =
        response["result"]["contents"].as_array().unwrap_or_else(|| panic!("no contents: {response}"));
    assert_eq!(contents.len(), 2, "{response}");
    assert_eq!(contents[0]["mimeType"], "application/json", "{response}");
    assert_eq!(contents[1]["mimeType"], "text/plain", "{response}");
    let json = serde_json::from_str(contents[0]["text"].as_str().unwrap()).unwrap();
    (json, contents[1]["text"].as_str().unwrap().to_string())
}

fn error_of(response: &Value) -> (i64, String, Value) {
    let error = response.get("error").unwrap_or_else(|| panic!("expected an error: {response}"));
    (error["code"].as_i64().unwrap(), error["message"].as_str().unwrap().to_string(), error["data"].clone())
}

fn strings(value: &Value) -> Vec<&str> {
    value.as_array().map(|items| items.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

#[tokio::test]
async fn the_server_offers_resources_and_prompts_and_lists_them() {
    let (mut process, initialized) = McpProcess::initialized(&[]).await;
    assert!(initialized["capabilities"]["resources"].is_object(), "{initialized}");
    assert!(initialized["capabilities"]["prompts"].is_object(), "{initialized}");

    let listed = process.request("resources/list", json!({})).await;
    let uris: Vec<&str> =
        listed["resources"].as_array().unwrap().iter().map(|r| r["uri"].as_str().unwrap()).collect();
    assert_eq!(
        uris,
        [
            "newrelic://reference/nrql".to_string(),
            format!("newrelic://accounts/{PRODUCTION}/event-types"),
            format!("newrelic://accounts/{STAGING}/event-types"),
        ]
    );
    let accounts = &listed["resources"][1];
    assert_eq!(accounts["mimeType"], "application/json");
    assert!(accounts["title"].as_str().unwrap().contains("Acme Production"), "{accounts}");

    let templates = process.request("resources/templates/list", json!({})).await;
    let forms: Vec<&str> = templates["resourceTemplates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|template| template["uriTemplate"].as_str().unwrap())
        .collect();
    assert_eq!(
        forms,
        [
            "newrelic://accounts/{id}/event-types",
            "newrelic://accounts/{id}/event-types/{type}/attributes",
            "newrelic://entities/{guid}"
        ]
    );
    process.finish().await;
}

#[tokio::test]
async fn reads_the_reference_event_types_attributes_and_an_entity() {
    let (mut process, _) = McpProcess::initialized(&[]).await;

    let reference = read(&mut process, "newrelic://reference/nrql").await;
    let content = &reference["result"]["contents"][0];
    assert_eq!(content["mimeType"], "text/markdown", "{reference}");
    let markdown = content["text"].as_str().unwrap();
    for needle in ["LIMIT MAX", "COMPARE WITH", "TIMESERIES", "percentile(", "3,000"] {
        assert!(markdown.contains(needle), "the reference lacks {needle}");
    }

    let event_types = read(&mut process, &format!("newrelic://accounts/{PRODUCTION}/event-types")).await;
    let (json, text) = json_and_text(&event_types);
    assert_eq!(json["account_id"], PRODUCTION);
    let names: Vec<&str> =
        json["event_types"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    for expected in ["Transaction", "TransactionError", "Log", "SystemSample"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    let transaction =
        json["event_types"].as_array().unwrap().iter().find(|t| t["name"] == "Transaction").unwrap();
    let attributes_uri = transaction["attributes_uri"].as_str().unwrap().to_string();
    assert_eq!(
        attributes_uri,
        format!("newrelic://accounts/{PRODUCTION}/event-types/Transaction/attributes")
    );
    assert!(text.contains("Transaction") && text.contains(&PRODUCTION.to_string()), "{text}");

    let attributes = read(&mut process, &attributes_uri).await;
    let (json, text) = json_and_text(&attributes);
    assert_eq!(json["event_type"], "Transaction");
    let all = strings(&json["attributes"]);
    for expected in ["duration", "appName", "error", "host"] {
        assert!(all.contains(&expected), "{expected} missing from {all:?}");
    }
    assert!(strings(&json["numeric_attributes"]).contains(&"duration"), "{json}");
    assert!(strings(&json["string_attributes"]).contains(&"appName"), "{json}");
    assert!(text.contains("duration") && text.contains("appName"), "{text}");

    let found = process.call_tool("get_entity", json!({"name_pattern": "checkout-service"})).await;
    let entity = structured_ok(&found)["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entity| entity["domain"] == "APM" && entity["accountId"] == PRODUCTION)
        .unwrap_or_else(|| panic!("no APM checkout-service: {found}"))
        .clone();
    let guid = entity["guid"].as_str().unwrap();
    let read_entity = read(&mut process, &format!("newrelic://entities/{guid}")).await;
    let (json, text) = json_and_text(&read_entity);
    assert_eq!(json["entity"]["guid"], guid, "{json}");
    assert_eq!(json["entity"]["name"], "checkout-service");
    assert!(text.contains("checkout-service") && text.contains(guid), "{text}");
    process.finish().await;
}

#[tokio::test]
async fn unknown_uris_and_event_types_say_what_is_valid() {
    let (mut process, _) = McpProcess::initialized(&[]).await;

    let (code, message, data) = error_of(&read(&mut process, "newrelic://dashboards/42").await);
    assert_eq!(code, RESOURCE_NOT_FOUND);
    for form in
        ["newrelic://reference/nrql", "newrelic://accounts/{id}/event-types", "newrelic://entities/{guid}"]
    {
        assert!(message.contains(form), "{message}");
        assert!(strings(&data["supported_uris"]).contains(&form), "{data}");
    }

    let (code, message, _) = error_of(&read(&mut process, "newrelic://accounts/acme/event-types").await);
    assert_eq!(code, RESOURCE_NOT_FOUND);
    assert!(message.contains("'acme'") && message.contains("not an account id"), "{message}");

    let uri = format!("newrelic://accounts/{PRODUCTION}/event-types/Transactions/attributes");
    let (code, message, data) = error_of(&read(&mut process, &uri).await);
    assert_eq!(code, RESOURCE_NOT_FOUND);
    assert!(message.contains("'Transactions' has no data"), "{message}");
    assert!(message.contains("valid event types:") && message.contains("Transaction,"), "{message}");
    let valid = strings(&data["valid_event_types"]);
    assert!(valid.contains(&"Transaction") && valid.contains(&"Log"), "{data}");

    let uri = format!("newrelic://accounts/{PRODUCTION}/event-types/transaction/attributes");
    let (_, message, _) = error_of(&read(&mut process, &uri).await);
    assert!(message.contains("did you mean 'Transaction'"), "{message}");

    let (code, message, _) = error_of(&read(&mut process, "newrelic://entities/bm90IGFuIGVudGl0eQ").await);
    assert_eq!(code, RESOURCE_NOT_FOUND, "{message}");
    process.finish().await;
}

#[tokio::test]
async fn an_account_outside_the_allow_list_is_refused_as_the_tools_refuse_it() {
    let allowed = PRODUCTION.to_string();
    let (mut process, _) = McpProcess::initialized(&["--allowed-accounts", &allowed]).await;

    let listed = process.request("resources/list", json!({})).await;
    let uris: Vec<&str> =
        listed["resources"].as_array().unwrap().iter().map(|r| r["uri"].as_str().unwrap()).collect();
    assert!(!uris.iter().any(|uri| uri.contains(&STAGING.to_string())), "{uris:?}");

    let refused = process
        .call_tool("execute_nrql_query", json!({"nrql_query": "SHOW EVENT TYPES", "account_id": STAGING}))
        .await;
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    let tool_message =
        refused["result"]["structuredContent"]["error"]["message"].as_str().unwrap().to_string();

    for uri in [
        format!("newrelic://accounts/{STAGING}/event-types"),
        format!("newrelic://accounts/{STAGING}/event-types/Transaction/attributes"),
    ] {
        let (code, message, data) = error_of(&read(&mut process, &uri).await);
        assert_eq!(code, INVALID_PARAMS, "{uri}: {message}");
        assert_eq!(message, tool_message, "{uri}");
        assert_eq!(data["kind"], "Policy");
        assert!(message.contains("allowed accounts"), "{message}");
    }
    process.finish().await;
}

#[tokio::test]
async fn prompts_are_listed_and_rendered_with_their_arguments() {
    let (mut process, _) = McpProcess::initialized(&[]).await;

    let listed = process.request("prompts/list", json!({})).await;
    let prompts = listed["prompts"].as_array().unwrap();
    let names: Vec<&str> = prompts.iter().map(|prompt| prompt["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["incident_triage", "service_health_check", "deployment_review"]);
    let health = &prompts[1];
    assert_eq!(health["arguments"][0]["name"], "service_name");
    assert_eq!(health["arguments"][0]["required"], true);

    let cases = [
        (
            "incident_triage",
            json!({"issue_id": "issue-77", "entity_name": "payments-api", "account_id": "1000001"}),
            vec!["\"issue-77\"", "\"payments-api\"", "appName = 'payments-api'", "\"account_id\":1000001"],
        ),
        (
            "service_health_check",
            json!({"service_name": "Bob's shop", "time_period": "last 30 minutes"}),
            vec!["\"Bob's shop\"", r"appName = 'Bob\\'s shop'", "SINCE 30 minutes ago", "get_entity"],
        ),
        (
            "deployment_review",
            json!({"service_name": "checkout-service", "deployment_time": "1715770000000", "version": "4.1.0"}),
            vec![
                "version = '4.1.0'",
                "SINCE 1715770000000 UNTIL 1715771800000",
                "COMPARE WITH 30 minutes ago",
            ],
        ),
    ];
    for (name, arguments, needles) in cases {
        let result = process.request("prompts/get", json!({"name": name, "arguments": arguments})).await;
        let messages = result["messages"].as_array().unwrap();
        assert_eq!(messages[0]["role"], "user", "{result}");
        let text = messages[0]["content"]["text"].as_str().unwrap();
        assert!(text.contains("execute_nrql_query"), "{name}: {text}");
        for needle in needles {
            assert!(text.contains(needle), "{name} lacks {needle}: {text}");
        }
    }

    for (name, arguments, needle) in [
        ("service_health_check", json!({}), "'service_name'"),
        ("deployment_review", json!({"version": "1.0"}), "'service_name'"),
        ("incident_triage", json!({"account_id": "prod"}), "'account_id'"),
        ("nonexistent", json!({}), "incident_triage"),
    ] {
        let id = process.send_request("prompts/get", json!({"name": name, "arguments": arguments})).await;
        let (code, message, _) = error_of(&process.response(id).await);
        assert_eq!(code, INVALID_PARAMS, "{name}: {message}");
        assert!(message.contains(needle), "{name}: {message}");
    }
    process.finish().await;
}

#[tokio::test]
async fn an_nrql_answer_that_finds_nothing_names_the_wrong_name_and_the_valid_ones() {
    let (mut process, _) = McpProcess::initialized(&[]).await;

    let typo = process
        .call_tool("execute_nrql_query", json!({"nrql_query": "SELECT count(*) FROM Transactions"}))
        .await;
    let text = text_of(&typo);
    assert!(text.contains("event type 'Transactions' has no data"), "{text}");
    assert!(text.contains("valid event types:") && text.contains("TransactionError"), "{text}");
    assert!(structured_ok(&typo)["name_hint"].as_str().is_some(), "{typo}");

    let attribute = process
        .call_tool("execute_nrql_query", json!({"nrql_query": "SELECT average(durration) FROM Transaction"}))
        .await;
    let text = text_of(&attribute);
    assert!(
        text.contains("attribute 'durration' is not on Transaction (did you mean 'duration'?)"),
        "{text}"
    );
    assert!(text.contains("Attributes of Transaction:") && text.contains("appName"), "{text}");

    let fine = process
        .call_tool("execute_nrql_query", json!({"nrql_query": "SELECT count(*) FROM Transaction"}))
        .await;
    assert!(structured_ok(&fine)["results"][0]["count"].as_i64().unwrap() > 0, "{fine}");
    assert!(structured_ok(&fine).get("name_hint").is_none(), "{fine}");
    assert!(!text_of(&fine).contains("Likely cause"), "{fine}");
    process.finish().await;
}
