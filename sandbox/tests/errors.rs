//! Error shapes: validation failures, malformed bodies, partial data with field errors,
//! NRQL errors on the `nrql` path.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/client.rs"]
mod support;

use serde_json::{Value, json};
use support::{PRODUCTION, Sandbox};

#[tokio::test]
async fn invalid_documents_get_200_with_located_errors_and_null_data() {
    let sandbox = Sandbox::start().await;
    let cases = [
        ("{ actor { nosuchfield } }", "nosuchfield"),
        ("{ actor { account { id } } }", "id"),
        ("query { actor { user { email } }", "expected"),
        ("query($x: Int!) { actor { account(id: $y) { id } } }", "$y"),
    ];
    for (document, mention) in cases {
        let (status, body) = sandbox.post(document, json!({})).await;
        assert_eq!(status, 200, "{document}");
        assert_eq!(body["data"], Value::Null, "{document}");
        let errors = body["errors"].as_array().unwrap();
        assert!(!errors.is_empty(), "{document}");
        let first = errors
            .iter()
            .find(|error| error["message"].as_str().unwrap().contains(mention))
            .unwrap_or_else(|| panic!("{document}: no error mentions {mention}: {body}"));
        let location = &first["locations"][0];
        assert!(
            location["line"].as_u64().unwrap() >= 1 && location["column"].as_u64().unwrap() >= 1,
            "{first}"
        );
    }
    assert_eq!(sandbox.handle.stats().invalid_documents, 4);
    sandbox.stop().await;
}

#[tokio::test]
async fn variables_are_coerced_and_checked() {
    let sandbox = Sandbox::start().await;
    let query = "query($id: Int!) { actor { account(id: $id) { name } } }";
    let (status, body) = sandbox.post(query, json!({})).await;
    assert_eq!(status, 200);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("id"), "{body}");
    let (_, body) = sandbox.post(query, json!({"id": "not a number"})).await;
    assert!(body["errors"].is_array(), "{body}");
    let data = sandbox.data(query, json!({"id": PRODUCTION})).await;
    assert_eq!(data["actor"]["account"]["name"], "Acme Production");
    sandbox.stop().await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_400() {
    let sandbox = Sandbox::start().await;
    let response = sandbox
        .http
        .post(sandbox.handle.url())
        .header("API-Key", sandbox.handle.api_key())
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("not valid"), "{body}");
    sandbox.stop().await;
}

#[tokio::test]
async fn an_unknown_account_nulls_only_its_field() {
    let sandbox = Sandbox::start().await;
    let (status, body) = sandbox
        .post(
            "{ actor { user { email } good: account(id: 1000001) { name } bad: account(id: 42) { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["actor"]["user"]["email"], "sandbox.user@acme.example");
    assert_eq!(body["data"]["actor"]["good"], json!({"name": "Acme Production"}));
    assert_eq!(body["data"]["actor"]["bad"], Value::Null);
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["path"], json!(["actor", "bad"]));
    assert_eq!(errors[0]["extensions"]["errorClass"], "FORBIDDEN");
    assert!(errors[0]["message"].as_str().unwrap().contains("42"));
    sandbox.stop().await;
}

#[tokio::test]
async fn nrql_problems_are_errors_on_the_nrql_path() {
    let sandbox = Sandbox::start().await;
    let query =
        "query($nrql: Nrql!) { actor { account(id: 1000001) { name nrql(query: $nrql) { results } } } }";
    let cases = [
        ("SELEC count(*) FROM Transaction", "NRQL Syntax Error"),
        (
            "SELECT count(*) FROM Transaction JOIN (SELECT count(*) FROM Log FACET x) ON x",
            "not supported by the sandbox",
        ),
        ("SELECT bucketPercentile(duration) FROM Transaction", "bucketPercentile"),
        ("SELECT count(*) FROM Transaction WITH TIMEZONE 'Mars/Olympus_Mons'", "TIMEZONE"),
        ("SELECT count(*) FROM Transaction LIMIT 6000", "LIMIT"),
        ("SELECT count(*) FROM Transaction SINCE 3 days ago TIMESERIES 1 minute", "buckets"),
    ];
    for (nrql, mention) in cases {
        let (status, body) = sandbox.post(query, json!({"nrql": nrql})).await;
        assert_eq!(status, 200, "{nrql}");
        assert_eq!(body["data"]["actor"]["account"]["name"], "Acme Production", "{nrql}: partial data kept");
        assert_eq!(body["data"]["actor"]["account"]["nrql"], Value::Null, "{nrql}");
        let error = &body["errors"][0];
        assert_eq!(error["path"], json!(["actor", "account", "nrql"]), "{nrql}");
        assert_eq!(error["extensions"]["errorClass"], "INVALID_INPUT", "{nrql}");
        assert!(error["message"].as_str().unwrap().contains(mention), "{nrql}: {error}");
    }
    sandbox.stop().await;
}

#[tokio::test]
async fn bad_arguments_are_field_errors_with_invalid_input() {
    let sandbox = Sandbox::start().await;
    let cases = [
        ("{ actor { entitySearch(query: \"colour = 'red'\") { count } } }", vec!["actor", "entitySearch"]),
        (
            "{ actor { entitySearch(query: \"name = 'x'\") { results(cursor: \"garbage\") { nextCursor } } } }",
            vec!["actor", "entitySearch", "results"],
        ),
        (
            "{ actor { nrql(accounts: [1000001, 1000002, 1000003, 1000004, 1000005, 1000006], query: \"SELECT 1 FROM Log\") { results } } }",
            vec!["actor", "nrql"],
        ),
    ];
    for (document, path) in cases {
        let (status, body) = sandbox.post(document, json!({})).await;
        assert_eq!(status, 200);
        assert_eq!(body["errors"][0]["path"], json!(path), "{document}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["errorClass"], "INVALID_INPUT", "{document}");
    }
    sandbox.stop().await;
}
