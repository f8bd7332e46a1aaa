//! Drives the real `newrelic-mcp` binary over its stdio with raw JSON-RPC lines.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Longest any single exchange may take before the test fails instead of hanging.
pub const EXCHANGE_LIMIT: Duration = Duration::from_secs(30);

pub struct McpProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    next_id: i64,
    /// Notifications received while waiting for responses, in order.
    pub notifications: Vec<Value>,
}

pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_newrelic-mcp"));
    command.env_remove("NEW_RELIC_API_KEY").env_remove("NEW_RELIC_ACCOUNT_ID").env_remove("NEW_RELIC_REGION");
    command.env_remove("NEW_RELIC_NERDGRAPH_URL").env_remove("NEW_RELIC_ALLOWED_ACCOUNTS");
    command.env("RUST_LOG", "warn");
    command
}

impl McpProcess {
    /// Starts `newrelic-mcp serve --sandbox` plus `extra` arguments.
    pub async fn sandbox(extra: &[&str]) -> Self {
        let mut command = binary();
        command.arg("serve").arg("--sandbox").args(extra);
        Self::spawn(command).await
    }

    pub async fn spawn(mut command: Command) -> Self {
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).kill_on_drop(true);
        let mut child = command.spawn().expect("the binary starts");
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        Self { child, stdin, stdout, next_id: 1, notifications: Vec::new() }
    }

    /// Starts the sandbox server and completes the MCP handshake.
    pub async fn initialized(extra: &[&str]) -> (Self, Value) {
        let mut process = Self::sandbox(extra).await;
        let result = process
            .request(
                "initialize",
                json!({
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "e2e", "version": "0"}
                }),
            )
            .await;
        process.notify("notifications/initialized", json!({})).await;
        (process, result)
    }

    pub async fn send_line(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.write_all(b"\n").await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        let message = json!({"jsonrpc": "2.0", "method": method, "params": params});
        self.send_line(&message.to_string()).await;
    }

    /// Sends a request and returns its id without waiting.
    pub async fn send_request(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_line(&message.to_string()).await;
        id
    }

    /// The next message on stdout, or `None` when stdout closed.
    pub async fn next_message(&mut self) -> Option<Value> {
        let line = tokio::time::timeout(EXCHANGE_LIMIT, self.stdout.next_line())
            .await
            .expect("the server answered in time")
            .expect("stdout is readable")?;
        Some(
            serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout carried a non-JSON line {line:?}: {e}")),
        )
    }

    /// Waits for the response to `id`, keeping notifications and other responses aside.
    pub async fn response(&mut self, id: i64) -> Value {
        loop {
            let message = self.next_message().await.expect("the server is still running");
            if message.get("id").and_then(Value::as_i64) == Some(id) && message.get("method").is_none() {
                return message;
            }
            if message.get("method").is_some() {
                self.notifications.push(message);
            }
        }
    }

    /// Sends a request and returns its `result`, failing the test on an error response.
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params).await;
        let response = self.response(id).await;
        match response.get("result") {
            Some(result) => result.clone(),
            None => panic!("{method} failed: {response}"),
        }
    }

    /// Calls a tool and returns the whole response (result or error).
    pub async fn call_tool(&mut self, name: &str, arguments: Value) -> Value {
        let id = self.send_request("tools/call", json!({"name": name, "arguments": arguments})).await;
        self.response(id).await
    }

    /// Closes stdin and waits for the process to exit.
    pub async fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin);
        tokio::time::timeout(EXCHANGE_LIMIT, self.child.wait()).await.expect("the server exits").unwrap()
    }
}

/// The structured content of a successful tool result, failing the test otherwise.
pub fn structured_ok(response: &Value) -> &Value {
    let result = response.get("result").unwrap_or_else(|| panic!("expected a result: {response}"));
    assert_ne!(result["isError"], json!(true), "the tool failed: {result}");
    &result["structuredContent"]
}

/// The text content of a tool result.
pub fn text_of(response: &Value) -> String {
    response["result"]["content"]
        .as_array()
        .map(|blocks| blocks.iter().filter_map(|b| b["text"].as_str()).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}
