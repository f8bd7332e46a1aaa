//! A tour of newrelic-mcp on the built-in sandbox: no New Relic account needed.
//!
//! Starts the server in-process on synthetic data, connects to it as an MCP client would
//! (JSON-RPC lines over a pipe), and prints every exchange.
//!
//! ```sh
//! cargo run --release --example quickstart
//! ```

use std::io::Write;

use newrelic_mcp::config::{self, Overrides};
use newrelic_mcp::server::Server;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let overrides = Overrides { sandbox: true, ..Default::default() };
    let settings = config::resolve(&overrides, &|_| None, None)?;
    let server = Server::start(&settings).await?;

    let (client, server_side) = tokio::io::duplex(1 << 20);
    let (server_reader, server_writer) = tokio::io::split(server_side);
    let serving = tokio::spawn(async move {
        let outcome = server.serve(server_reader, server_writer, std::future::pending()).await;
        server.stop().await;
        outcome
    });

    let (reader, mut writer) = tokio::io::split(client);
    let mut lines = BufReader::new(reader).lines();
    let mut out = std::io::stdout().lock();
    let mut next_id = 0;
    let mut exchange = async |method: &str, params: Value| -> anyhow::Result<Value> {
        next_id += 1;
        let request = json!({"jsonrpc": "2.0", "id": next_id, "method": method, "params": params});
        writer.write_all(format!("{request}\n").as_bytes()).await?;
        loop {
            let line =
                lines.next_line().await?.ok_or_else(|| anyhow::anyhow!("the server closed the pipe"))?;
            let message: Value = serde_json::from_str(&line)?;
            if message["id"] == next_id {
                return Ok(message);
            }
        }
    };

    let init = exchange(
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "quickstart", "version": "1"}}),
    )
    .await?;
    writeln!(
        out,
        "connected to {} {}",
        init["result"]["serverInfo"]["name"], init["result"]["serverInfo"]["version"]
    )?;

    let tools = exchange("tools/list", json!({})).await?;
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    writeln!(out, "\ntools: {}", names.join(", "))?;

    let calls = [
        ("list_available_new_relic_accounts", json!({})),
        ("execute_nrql_query", json!({"nrql_query": "SELECT count(*) FROM Transaction SINCE 1 hour ago"})),
        (
            "execute_nrql_query",
            json!({"nrql_query": "SELECT average(duration), count(*) FROM Transaction FACET appName SINCE 1 hour ago"}),
        ),
        ("get_entity", json!({"name_pattern": "checkout"})),
        (
            "search_entity_with_tag",
            json!({"tag_key": "environment", "tag_value": "production", "entity_type": "APPLICATION"}),
        ),
        ("list_alert_policies", json!({})),
        ("list_recent_issues", json!({})),
        ("convert_time_period_to_epoch_ms", json!({"time_period": "yesterday"})),
    ];
    for (tool, arguments) in calls {
        writeln!(out, "\n→ {tool} {arguments}")?;
        let response = exchange("tools/call", json!({"name": tool, "arguments": arguments})).await?;
        let text = response["result"]["content"][0]["text"].as_str().map(str::to_string);
        match text {
            Some(text) => writeln!(out, "{}", text.trim_end())?,
            None => writeln!(out, "{response}")?,
        }
    }
    // Half-closing the pipe is how a client says goodbye: the server sees end of input.
    writer.shutdown().await?;
    serving.await??;
    Ok(())
}
