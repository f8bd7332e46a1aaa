//! Every fault kind, observable by a client and in the statistics; fault decisions are
//! deterministic per seed; faults can change at run time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/client.rs"]
mod support;

use std::time::{Duration, Instant};

use newrelic_mcp_sandbox::{FaultConfig, SandboxConfig, SandboxStats};
use serde_json::{Value, json};
use support::{Sandbox, config};

const USER: &str = "{ actor { user { email } } }";
const NRQL: &str = "{ actor { account(id: 1000001) { name nrql(query: \"SELECT count(*) FROM Transaction\") { results } } } }";

async fn with_faults(faults: FaultConfig) -> Sandbox {
    Sandbox::start_with(SandboxConfig { faults, ..config() }).await
}

async fn raw(sandbox: &Sandbox, query: &str) -> Result<reqwest::Response, reqwest::Error> {
    sandbox
        .http
        .post(sandbox.handle.url())
        .header("API-Key", sandbox.handle.api_key())
        .json(&json!({"query": query}))
        .send()
        .await
}

/// Waits (bounded) until the statistics satisfy `condition`.
async fn until(sandbox: &Sandbox, condition: impl Fn(&SandboxStats) -> bool) -> SandboxStats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = sandbox.handle.stats();
        if condition(&stats) {
            return stats;
        }
        assert!(Instant::now() < deadline, "condition not reached: {stats:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn latency_delays_answers() {
    let sandbox =
        with_faults(FaultConfig { latency: Duration::from_millis(150), ..FaultConfig::default() }).await;
    let started = Instant::now();
    let data = sandbox.data(USER, json!({})).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(data["actor"]["user"]["email"], "sandbox.user@acme.example");
    assert_eq!(sandbox.handle.stats().faults.delayed, 1);
    sandbox.stop().await;
}

#[tokio::test]
async fn server_errors_and_rate_limits_use_http_statuses() {
    let sandbox = with_faults(FaultConfig { error_5xx_rate: 1.0, ..FaultConfig::default() }).await;
    for _ in 0..8 {
        let response = raw(&sandbox, USER).await.unwrap();
        let status = response.status().as_u16();
        assert!([500, 502, 503, 504].contains(&status), "{status}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["errorClass"], "INTERNAL_SERVER_ERROR");
    }
    assert_eq!(sandbox.handle.stats().faults.server_errors, 8);

    sandbox.handle.set_faults(FaultConfig {
        rate_429_rate: 1.0,
        retry_after_seconds: 7,
        ..FaultConfig::default()
    });
    let response = raw(&sandbox, USER).await.unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["errorClass"], "TOO_MANY_REQUESTS");

    sandbox.handle.set_faults(FaultConfig::default());
    assert_eq!(raw(&sandbox, USER).await.unwrap().status().as_u16(), 200);
    let stats = sandbox.handle.stats();
    assert_eq!((stats.faults.rate_limited, stats.faults.total(), stats.requests), (1, 9, 10));
    sandbox.stop().await;
}

#[tokio::test]
async fn graphql_timeouts_arrive_with_http_200_and_partial_data() {
    let sandbox = with_faults(FaultConfig { graphql_timeout_rate: 1.0, ..FaultConfig::default() }).await;
    let (status, body) = sandbox.post(NRQL, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"], json!({"actor": {"account": {"name": "Acme Production", "nrql": null}}}));
    assert_eq!(
        body["errors"][0],
        json!({
            "message": "NRDB query duration exceeded the set timeout",
            "locations": body["errors"][0]["locations"],
            "path": ["actor", "account", "nrql"],
            "extensions": {"errorClass": "TIMEOUT"},
        })
    );
    let (status, body) = sandbox.post(USER, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"], json!({"actor": null}));
    assert_eq!(body["errors"][0]["extensions"]["errorClass"], "TIMEOUT");
    assert_eq!(sandbox.handle.stats().faults.graphql_timeouts, 2);
    sandbox.stop().await;
}

#[tokio::test]
async fn malformed_bodies_do_not_parse() {
    let sandbox = with_faults(FaultConfig { malformed_body_rate: 1.0, ..FaultConfig::default() }).await;
    let response = raw(&sandbox, NRQL).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.unwrap();
    assert!(text.starts_with("{\"data\""), "{text}");
    assert!(serde_json::from_str::<Value>(&text).is_err());
    assert_eq!(sandbox.handle.stats().faults.malformed_bodies, 1);
    sandbox.stop().await;
}

#[tokio::test]
async fn dropped_connections_give_no_response() {
    let sandbox = with_faults(FaultConfig { drop_connection_rate: 1.0, ..FaultConfig::default() }).await;
    let error = raw(&sandbox, USER).await.expect_err("no response");
    assert!(!error.is_timeout(), "{error}");
    assert!(error.status().is_none(), "{error}");
    let stats = until(&sandbox, |s| s.in_flight == 0).await;
    assert_eq!(stats.faults.dropped_connections, 1);
    sandbox.handle.set_faults(FaultConfig::default());
    assert_eq!(raw(&sandbox, USER).await.unwrap().status().as_u16(), 200, "the sandbox keeps serving");
    sandbox.stop().await;
}

#[tokio::test]
async fn hangs_last_until_the_client_leaves_and_count_as_cancelled() {
    let sandbox = with_faults(FaultConfig { hang_rate: 1.0, ..FaultConfig::default() }).await;
    let result = sandbox
        .http
        .post(sandbox.handle.url())
        .header("API-Key", sandbox.handle.api_key())
        .timeout(Duration::from_millis(300))
        .json(&json!({"query": USER}))
        .send()
        .await;
    assert!(result.expect_err("no answer").is_timeout());
    let stats = until(&sandbox, |s| s.cancelled == 1).await;
    assert_eq!((stats.faults.hangs, stats.in_flight), (1, 0));
    sandbox.stop().await;
}

#[tokio::test]
async fn shutdown_releases_hanging_requests() {
    let sandbox = with_faults(FaultConfig { hang_rate: 1.0, ..FaultConfig::default() }).await;
    let http = sandbox.http.clone();
    let (url, key) = (sandbox.handle.url(), sandbox.handle.api_key().to_string());
    let pending = tokio::spawn(async move {
        http.post(url).header("API-Key", key).json(&json!({"query": USER})).send().await
    });
    until(&sandbox, |s| s.in_flight == 1).await;
    sandbox.stop().await;
    let response = pending.await.unwrap().unwrap();
    assert_eq!(response.status().as_u16(), 503);
}

#[tokio::test]
async fn fault_decisions_repeat_for_a_seed() {
    async fn statuses(seed: u64) -> Vec<u16> {
        let faults = FaultConfig { error_5xx_rate: 0.3, rate_429_rate: 0.3, ..FaultConfig::default() };
        let sandbox = Sandbox::start_with(SandboxConfig { faults, seed, ..config() }).await;
        let mut out = Vec::new();
        for _ in 0..24 {
            out.push(raw(&sandbox, USER).await.unwrap().status().as_u16());
        }
        sandbox.stop().await;
        out
    }
    let first = statuses(11).await;
    assert_eq!(first, statuses(11).await);
    assert_ne!(first, statuses(12).await);
    assert!(first.contains(&200) && first.contains(&429), "{first:?}");
}

#[tokio::test]
async fn concurrency_is_tracked() {
    let sandbox =
        with_faults(FaultConfig { latency: Duration::from_millis(200), ..FaultConfig::default() }).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let http = sandbox.http.clone();
        let (url, key) = (sandbox.handle.url(), sandbox.handle.api_key().to_string());
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .header("API-Key", key)
                .json(&json!({"query": USER, "operationName": null}))
                .send()
                .await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().status().as_u16(), 200);
    }
    let stats = sandbox.handle.stats();
    assert_eq!((stats.requests, stats.in_flight, stats.cancelled), (8, 0, 0));
    assert!(stats.in_flight_high_water > 1, "{stats:?}");
    assert_eq!(stats.by_operation.get("query actor"), Some(&8));
    sandbox.stop().await;
}

#[tokio::test(start_paused = true)]
async fn slow_async_nrql_returns_query_progress_then_results() {
    let faults = FaultConfig { latency: Duration::from_secs(8), ..FaultConfig::default() };
    let sandbox = with_faults(faults).await;
    let query = "query($accountId: Int!, $nrql: Nrql!) { actor { account(id: $accountId) {
        nrql(query: $nrql, async: true, timeout: 5) {
          results queryProgress { queryId completed retryAfter retryDeadline resultExpiration } } } } }";
    let (_, body) = sandbox
        .post(query, json!({"accountId": 1_000_001, "nrql": "SELECT count(*) FROM Log SINCE 1 day ago"}))
        .await;
    let nrql = &body["data"]["actor"]["account"]["nrql"];
    assert_eq!(nrql["results"], Value::Null, "{body}");
    assert_eq!(nrql["queryProgress"]["completed"], false);
    assert_eq!(nrql["queryProgress"]["retryAfter"], 3);
    let query_id = nrql["queryProgress"]["queryId"].as_str().unwrap().to_string();

    sandbox.handle.set_faults(FaultConfig::default());
    let poll = "query($accountId: Int!, $queryId: ID!) { actor { account(id: $accountId) {
        nrqlQueryProgress(queryId: $queryId) { results queryProgress { queryId completed retryAfter } } } } }";
    let vars = json!({"accountId": 1_000_001, "queryId": query_id});
    let data = sandbox.data(poll, vars.clone()).await;
    assert_eq!(data["actor"]["account"]["nrqlQueryProgress"]["queryProgress"]["completed"], false);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let data = sandbox.data(poll, vars).await;
    let progress = &data["actor"]["account"]["nrqlQueryProgress"];
    assert_eq!(progress["queryProgress"]["completed"], true);
    let logs = support::dataset()
        .events(1_000_001)
        .iter()
        .filter(|e| e.event_type == "Log" && e.timestamp >= support::ANCHOR_MS - 86_400_000)
        .count();
    assert_eq!(progress["results"], json!([{"count": logs}]));

    let (_, body) =
        sandbox.post(query, json!({"accountId": 1_000_001, "nrql": "SELECT count(*) FROM Log"})).await;
    assert_eq!(
        body["data"]["actor"]["account"]["nrql"]["queryProgress"]["completed"], true,
        "fast queries finish at once"
    );
    sandbox.stop().await;
}

#[tokio::test(start_paused = true)]
async fn slow_sync_nrql_times_out_at_its_timeout() {
    let sandbox =
        with_faults(FaultConfig { latency: Duration::from_secs(30), ..FaultConfig::default() }).await;
    let started = tokio::time::Instant::now();
    let (status, body) = sandbox.post(NRQL, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["errors"][0]["extensions"]["errorClass"], "TIMEOUT");
    assert_eq!(body["errors"][0]["path"], json!(["actor", "account", "nrql"]));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(5) && waited < Duration::from_secs(30), "{waited:?}");
    sandbox.stop().await;
}
