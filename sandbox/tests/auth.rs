//! The API key check: NerdGraph's 401 shape for a missing or wrong key, and the header
//! spellings clients use.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/client.rs"]
mod support;

use serde_json::{Value, json};
use support::Sandbox;

const QUERY: &str = "{ actor { user { email } } }";

async fn send(sandbox: &Sandbox, header: Option<(&str, &str)>) -> (u16, Value) {
    let mut request = sandbox.http.post(sandbox.handle.url()).json(&json!({"query": QUERY}));
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn missing_or_wrong_keys_get_nerdgraphs_401() {
    let sandbox = Sandbox::start().await;
    let expected = json!({"errors": [{"message": "Invalid API key", "extensions": {"errorClass": "UNAUTHORIZED", "error_code": "BAD_API_KEY"}}]});
    for header in [None, Some(("API-Key", "NRAK-WRONG")), Some(("Authorization", "Bearer NRAK-TESTKEY"))] {
        let (status, body) = send(&sandbox, header).await;
        assert_eq!(status, 401, "{header:?}");
        assert_eq!(body, expected, "{header:?}");
    }
    assert_eq!(sandbox.handle.stats().unauthorized, 3);
    sandbox.stop().await;
}

#[tokio::test]
async fn the_key_is_accepted_in_every_header_spelling() {
    let sandbox = Sandbox::start().await;
    for name in ["API-Key", "Api-Key", "api-key", "X-Api-Key", "x-api-key"] {
        let (status, body) = send(&sandbox, Some((name, "NRAK-TESTKEY"))).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["data"]["actor"]["user"]["email"], "sandbox.user@acme.example");
    }
    sandbox.stop().await;
}

#[tokio::test]
async fn an_unset_key_becomes_a_random_user_key() {
    let sandbox = Sandbox::start_with(newrelic_mcp_sandbox::SandboxConfig {
        api_key: String::new(),
        ..support::config()
    })
    .await;
    let key = sandbox.handle.api_key().to_string();
    assert!(key.starts_with("NRAK-") && key.len() == 32, "{key}");
    let (status, _) = send(&sandbox, Some(("API-Key", &key))).await;
    assert_eq!(status, 200);
    sandbox.stop().await;
}
