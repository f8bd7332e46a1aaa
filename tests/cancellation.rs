//! `notifications/cancelled` reaches all the way to the HTTP call: the sandbox sees its
//! client go away before it answered.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use newrelic_mcp::config::{self, Overrides, SandboxFile};
use newrelic_mcp::server::Server;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_call_aborts_its_upstream_request() {
    // Every sandbox answer takes 30 s, far longer than the test waits.
    let overrides = Overrides {
        sandbox: true,
        sandbox_faults: SandboxFile { latency_ms: Some(30_000), ..Default::default() },
        ..Default::default()
    };
    let settings = config::resolve(&overrides, &|_| None, None).unwrap();
    let server = Server::start(&settings).await.unwrap();
    let sandbox = server.sandbox().unwrap();

    let (client, server_side) = tokio::io::duplex(1 << 16);
    let (server_reader, server_writer) = tokio::io::split(server_side);
    let (reader, mut writer) = tokio::io::split(client);
    let client = async {
        let mut lines = BufReader::new(reader).lines();
        let mut send = async |message: Value| {
            writer.write_all(format!("{message}\n").as_bytes()).await.unwrap();
        };
        send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}))
        .await;
        let initialized = lines.next_line().await.unwrap().unwrap();
        assert!(initialized.contains("newrelic-mcp"), "{initialized}");
        send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
        send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "execute_nrql_query", "arguments": {"nrql_query": "SELECT count(*) FROM Transaction"}}}))
        .await;

        eventually("the query to reach the sandbox", || sandbox.stats().in_flight >= 1).await;
        assert_eq!(sandbox.stats().cancelled, 0);
        send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2}}))
            .await;
        eventually("the sandbox to see its client go away", || sandbox.stats().cancelled >= 1).await;
        assert_eq!(sandbox.stats().in_flight, 0);
    };
    let limit = Duration::from_secs(30);
    tokio::time::timeout(limit, async {
        tokio::select! {
            served = server.serve(server_reader, server_writer, std::future::pending()) => {
                panic!("the server stopped before the client was done: {served:?}")
            }
            () = client => {}
        }
    })
    .await
    .unwrap();
    server.stop().await;
}
