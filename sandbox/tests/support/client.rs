//! A spawned sandbox and a small GraphQL client for the integration tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use newrelic_mcp_sandbox::{Dataset, SandboxConfig, SandboxHandle};
use serde_json::{Value, json};

/// The clock every test sandbox uses: a fixed minute, so answers are reproducible.
pub const ANCHOR_MS: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
pub const PRODUCTION: i64 = 1_000_001;
pub const STAGING: i64 = 1_000_002;

pub fn config() -> SandboxConfig {
    SandboxConfig {
        api_key: "NRAK-TESTKEY".to_string(),
        seed: 7,
        now_epoch_ms: Some(ANCHOR_MS),
        ..SandboxConfig::default()
    }
}

pub fn dataset() -> Dataset {
    newrelic_mcp_sandbox::dataset(&config())
}

pub struct Sandbox {
    pub handle: SandboxHandle,
    pub http: reqwest::Client,
}

impl Sandbox {
    pub async fn start() -> Sandbox {
        Sandbox::start_with(config()).await
    }

    pub async fn start_with(config: SandboxConfig) -> Sandbox {
        let handle = newrelic_mcp_sandbox::spawn(config).await.expect("sandbox starts");
        // Plain HTTP on loopback needs no TLS, but the client insists on a provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().build().expect("client builds");
        Sandbox { handle, http }
    }

    /// Sends a document with variables; returns the status and the JSON body.
    pub async fn post(&self, query: &str, variables: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.handle.url())
            .header("API-Key", self.handle.api_key())
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("request is answered");
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.expect("body is JSON");
        (status, body)
    }

    /// Sends a document that must succeed without errors; returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self.post(query, variables).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Runs NRQL against one account and returns the `nrql` container.
    pub async fn nrql(&self, account: i64, nrql: &str) -> Value {
        let data = self
            .data(
                "query($accountId: Int!, $nrql: Nrql!) { actor { account(id: $accountId) { nrql(query: $nrql) { results totalResult otherResult metadata { eventTypes facets messages timeWindow { begin end } } } } } }",
                json!({"accountId": account, "nrql": nrql}),
            )
            .await;
        data["actor"]["account"]["nrql"].clone()
    }

    pub async fn stop(self) {
        self.handle.shutdown().await;
    }
}
