//! A minimal MCP client over a child process's stdio, built for many calls in flight.
//!
//! It speaks raw JSON-RPC lines. One task owns the child's stdout and the table of pending
//! requests (no lock): a caller registers its id with that task before the request is
//! written, and the task hands each response to the caller waiting on that id. Another task
//! owns stdin and batches writes. A caller that gives up (timeout) tells the reader to
//! forget the id and the server that the request is cancelled, so nothing waits forever and
//! the pending table stays bounded by the calls in flight.

use std::collections::{HashMap, VecDeque};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::target::TargetCommand;

/// The protocol revision announced in `initialize`.
const PROTOCOL_VERSION: &str = "2025-06-18";
/// Lines of the target's stderr kept to explain a failure.
const STDERR_TAIL_LINES: usize = 20;
/// Longest stderr line kept, in characters.
const STDERR_LINE_CHARS: usize = 400;
/// Capacity of the channels to the reader and writer tasks.
const CHANNEL_CAPACITY: usize = 4096;
/// Most `tools/list` pages read.
const MAX_TOOL_PAGES: usize = 100;
/// How long the target gets to exit after its stdin closes, before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(3);

/// Why a request got no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFailure {
    /// No response within the timeout.
    Timeout,
    /// The target's stdio closed or the target exited.
    Transport,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot start the target `{command}`: {reason}")]
    Spawn { command: String, reason: String },
    #[error("the target `{command}` did not complete the MCP handshake: {reason}{}", stderr_note(.stderr))]
    Handshake { command: String, reason: String, stderr: Vec<String> },
}

fn stderr_note(lines: &[String]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!("\nthe target's last words on stderr:\n  {}", lines.join("\n  "))
    }
}

enum ReaderCommand {
    Expect { id: u64, reply: oneshot::Sender<Value> },
    Forget { id: u64 },
}

/// A cheap, cloneable handle for sending requests to the target.
#[derive(Clone)]
pub struct McpClient {
    reader: mpsc::Sender<ReaderCommand>,
    writer: mpsc::Sender<String>,
    next_id: Arc<AtomicU64>,
}

/// A tool as `tools/list` describes it, as far as the load test cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTool {
    pub name: String,
    pub read_only: bool,
}

/// What the target said about itself in the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerIdentity {
    pub name: String,
    pub version: String,
}

/// The running target: its process and the tasks around its pipes.
pub struct TargetProcess {
    child: Child,
    command: String,
    stderr_tail: JoinHandle<VecDeque<String>>,
}

impl McpClient {
    /// Sends a request and waits up to `timeout` for its response (result or error).
    pub async fn request(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, RequestFailure> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, response) = oneshot::channel();
        if self.reader.send(ReaderCommand::Expect { id, reply }).await.is_err() {
            return Err(RequestFailure::Transport);
        }
        let line = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        if self.writer.send(line).await.is_err() {
            let _ = self.reader.try_send(ReaderCommand::Forget { id });
            return Err(RequestFailure::Transport);
        }
        match tokio::time::timeout(timeout, response).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(_)) => Err(RequestFailure::Transport),
            Err(_) => {
                let _ = self.reader.try_send(ReaderCommand::Forget { id });
                let cancelled = json!({
                    "jsonrpc": "2.0",
                    "method": "notifications/cancelled",
                    "params": {"requestId": id, "reason": "the load test's call timeout passed"},
                });
                let _ = self.writer.try_send(cancelled.to_string());
                Err(RequestFailure::Timeout)
            }
        }
    }

    /// Sends a notification (no response).
    pub async fn notify(&self, method: &str, params: Value) -> Result<(), RequestFailure> {
        let line = json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string();
        self.writer.send(line).await.map_err(|_| RequestFailure::Transport)
    }

    /// Calls a tool; the whole JSON-RPC response comes back.
    pub async fn call_tool(
        &self,
        tool: &str,
        arguments: Value,
        timeout: Duration,
    ) -> Result<Value, RequestFailure> {
        self.request("tools/call", json!({"name": tool, "arguments": arguments}), timeout).await
    }

    /// Every tool the target lists, following pagination.
    pub async fn list_tools(&self, timeout: Duration) -> Result<Vec<ListedTool>, String> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_TOOL_PAGES {
            let params = match &cursor {
                Some(cursor) => json!({"cursor": cursor}),
                None => json!({}),
            };
            let response =
                self.request("tools/list", params, timeout).await.map_err(|failure| match failure {
                    RequestFailure::Timeout => {
                        format!("no answer to tools/list within {} s", timeout.as_secs_f64())
                    }
                    RequestFailure::Transport => {
                        "the target closed the connection during tools/list".to_string()
                    }
                })?;
            let result = response
                .get("result")
                .ok_or_else(|| format!("tools/list failed: {}", error_text(&response)))?;
            for tool in result.get("tools").and_then(Value::as_array).into_iter().flatten() {
                if let Some(name) = tool.get("name").and_then(Value::as_str) {
                    let read_only = tool
                        .get("annotations")
                        .and_then(|a| a.get("readOnlyHint"))
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    tools.push(ListedTool { name: name.to_string(), read_only });
                }
            }
            cursor = result.get("nextCursor").and_then(Value::as_str).map(str::to_string);
            if cursor.is_none() {
                return Ok(tools);
            }
        }
        Ok(tools)
    }
}

/// A JSON-RPC error response in words.
fn error_text(response: &Value) -> String {
    match response.get("error") {
        Some(error) => {
            let message = error.get("message").and_then(Value::as_str).unwrap_or("no message");
            match error.get("code").and_then(Value::as_i64) {
                Some(code) => format!("error {code}: {message}"),
                None => message.to_string(),
            }
        }
        None => format!("unexpected response {response}"),
    }
}

/// Starts the target, completes the MCP handshake and lists its tools.
pub async fn connect(
    target: &TargetCommand,
    timeout: Duration,
) -> Result<(McpClient, TargetProcess, ServerIdentity, Vec<ListedTool>), ConnectError> {
    let mut command = Command::new(&target.program);
    command
        .args(&target.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let spawn_failed = |reason: String| ConnectError::Spawn { command: target.display.clone(), reason };
    let mut child = command.spawn().map_err(|error| spawn_failed(error.to_string()))?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(spawn_failed("its standard streams could not be piped".to_string()));
    };
    let (writer, writes) = mpsc::channel(CHANNEL_CAPACITY);
    let (reader, commands) = mpsc::channel(CHANNEL_CAPACITY);
    tokio::spawn(write_lines(stdin, writes));
    tokio::spawn(read_responses(stdout, commands, writer.clone()));
    let process = TargetProcess {
        child,
        command: target.display.clone(),
        stderr_tail: tokio::spawn(keep_stderr_tail(stderr)),
    };
    let client = McpClient { reader, writer, next_id: Arc::new(AtomicU64::new(1)) };
    match handshake(&client, timeout).await {
        Ok((identity, tools)) => Ok((client, process, identity, tools)),
        Err(reason) => {
            drop(client);
            let (status, stderr) = process.stop().await;
            let reason = match status {
                Some(status) => format!("{reason} ({status})"),
                None => format!("{reason} (it was still running and had to be killed)"),
            };
            Err(ConnectError::Handshake { command: target.display.clone(), reason, stderr })
        }
    }
}

async fn handshake(
    client: &McpClient,
    timeout: Duration,
) -> Result<(ServerIdentity, Vec<ListedTool>), String> {
    let params = json!({
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "newrelic-mcp-loadtest", "version": env!("CARGO_PKG_VERSION")},
    });
    let response = client.request("initialize", params, timeout).await.map_err(|failure| match failure {
        RequestFailure::Timeout => format!("no answer to initialize within {} s", timeout.as_secs_f64()),
        RequestFailure::Transport => "it exited or closed its stdout before answering initialize".to_string(),
    })?;
    let result =
        response.get("result").ok_or_else(|| format!("initialize failed: {}", error_text(&response)))?;
    if result.get("protocolVersion").and_then(Value::as_str).is_none() {
        return Err(format!("its initialize result has no protocolVersion: {result}"));
    }
    let info = result.get("serverInfo");
    let field =
        |name: &str| info.and_then(|i| i.get(name)).and_then(Value::as_str).unwrap_or("unknown").to_string();
    let identity = ServerIdentity { name: field("name"), version: field("version") };
    client
        .notify("notifications/initialized", json!({}))
        .await
        .map_err(|_| "it closed the connection after initialize".to_string())?;
    let tools = client.list_tools(timeout).await?;
    Ok((identity, tools))
}

impl TargetProcess {
    /// Waits briefly for the target to exit (its stdin is closed once every client handle is
    /// dropped), kills it otherwise; returns its exit status and the tail of its stderr.
    pub async fn stop(mut self) -> (Option<ExitStatus>, Vec<String>) {
        let status = match tokio::time::timeout(EXIT_GRACE, self.child.wait()).await {
            Ok(Ok(status)) => Some(status),
            _ => {
                let _ = self.child.kill().await;
                None
            }
        };
        let tail = match tokio::time::timeout(EXIT_GRACE, &mut self.stderr_tail).await {
            Ok(Ok(tail)) => tail.into_iter().collect(),
            _ => {
                self.stderr_tail.abort();
                Vec::new()
            }
        };
        (status, tail)
    }

    /// How the report names the target.
    pub fn command(&self) -> &str {
        &self.command
    }
}

async fn write_lines(stdin: ChildStdin, mut lines: mpsc::Receiver<String>) {
    let mut stdin = BufWriter::new(stdin);
    while let Some(line) = lines.recv().await {
        let mut batch = Some(line);
        while let Some(line) = batch {
            if stdin.write_all(line.as_bytes()).await.is_err() || stdin.write_all(b"\n").await.is_err() {
                return;
            }
            batch = lines.try_recv().ok();
        }
        if stdin.flush().await.is_err() {
            return;
        }
    }
}

async fn read_responses(
    stdout: ChildStdout,
    mut commands: mpsc::Receiver<ReaderCommand>,
    writer: mpsc::Sender<String>,
) {
    let mut pending: HashMap<u64, oneshot::Sender<Value>> = HashMap::new();
    let mut lines = BufReader::new(stdout).lines();
    loop {
        tokio::select! {
            // Registrations first: a request's id is always registered before its response
            // can be read, because it is queued here before the request is written.
            biased;
            command = commands.recv() => match command {
                Some(ReaderCommand::Expect { id, reply }) => {
                    pending.insert(id, reply);
                }
                Some(ReaderCommand::Forget { id }) => {
                    pending.remove(&id);
                }
                None => return,
            },
            line = lines.next_line() => match line {
                Ok(Some(line)) => dispatch(&line, &mut pending, &writer),
                // Dropping `pending` tells every waiting caller that the transport failed.
                Ok(None) | Err(_) => return,
            },
        }
    }
}

/// Routes one line from the target: a response to its caller; a request from the server is
/// answered (`ping`) or refused; notifications and stray lines are ignored.
fn dispatch(line: &str, pending: &mut HashMap<u64, oneshot::Sender<Value>>, writer: &mpsc::Sender<String>) {
    let Ok(message) = serde_json::from_str::<Value>(line) else { return };
    let id = message.get("id");
    match (message.get("method").and_then(Value::as_str), id) {
        (None, Some(id)) => {
            if let Some(reply) = id.as_u64().and_then(|id| pending.remove(&id)) {
                let _ = reply.send(message);
            }
        }
        (Some(method), Some(id)) => {
            let answer = if method == "ping" {
                json!({"jsonrpc": "2.0", "id": id, "result": {}})
            } else {
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "the load-test client does not support this request"}})
            };
            let _ = writer.try_send(answer.to_string());
        }
        _ => {}
    }
}

async fn keep_stderr_tail(stderr: ChildStderr) -> VecDeque<String> {
    let mut tail = VecDeque::with_capacity(STDERR_TAIL_LINES);
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        if tail.len() == STDERR_TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.chars().take(STDERR_LINE_CHARS).collect());
    }
    tail
}
