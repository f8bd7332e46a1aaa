//! Serving on a caller's listener until a shutdown future completes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/client.rs"]
mod support;

use serde_json::{Value, json};

#[tokio::test]
async fn run_serves_until_the_shutdown_future_completes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(newrelic_mcp_sandbox::run(listener, support::config(), async move {
        let _ = stopped.await;
    }));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let body: Value = http
        .post(&url)
        .header("API-Key", "NRAK-TESTKEY")
        .json(&json!({"query": "{ actor { accounts { id } } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["actor"]["accounts"][1]["id"], 1_000_002);
    let missing: Value =
        http.get(url.replace("/graphql", "/elsewhere")).send().await.unwrap().json().await.unwrap();
    assert!(missing["errors"][0]["message"].as_str().unwrap().contains("POST /graphql"));
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(http.post(&url).send().await.is_err(), "the listener is closed");
}
