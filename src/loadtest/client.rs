//! A minimal MCP client over a child process's stdio, built for many calls in flight.
//!
//! It speaks raw JSON-RPC lines. One task owns the child's stdout and the table of pending
//! requests (no lock): a caller hands its request to that task, which records the id and
//! only then passes the line on to be written, so a response can never arrive before its id
//! is known. The task hands each response to the caller waiting on that id. Another task
//! owns stdin and batches writes. A caller that gives up (timeout) has the id forgotten and
//! the server told that the request is cancelled, so nothing waits forever and the pending
//! table stays bounded by the calls in flight.

use std::collections::{HashMap, VecDeque};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::process::{Child, ChildStderr, Command};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::target::TargetCommand;

/// The protocol revision announced in `initialize`.
const PROTOCOL_VERSION: &str = "2025-06-18";
/// Lines of the target's stderr kept to explain a failure.
const STDERR_TAIL_LINES: usize = 20;
/// Longest stderr line kept, in characters.
const STDERR_LINE_CHARS: usize = 400;
/// Least capacity of the channels to the reader and writer tasks; they hold at most one
/// request per call in flight, plus the odd notification.
const MIN_CHANNEL_CAPACITY: usize = 4096;
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
    /// Record `id` as pending, then have `line` written.
    Send { id: u64, line: String, reply: oneshot::Sender<Value> },
    /// The caller stopped waiting: drop `id`, and tell the server.
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
    /// A client reading the server's messages from `output` and writing to its `input`.
    fn over<R, W>(output: R, input: W, max_in_flight: usize) -> Self
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let capacity = MIN_CHANNEL_CAPACITY.max(max_in_flight.saturating_mul(2));
        let (writer, writes) = mpsc::channel(capacity);
        let (reader, commands) = mpsc::channel(capacity);
        tokio::spawn(write_lines(input, writes));
        tokio::spawn(read_responses(output, commands, writer.clone()));
        Self { reader, writer, next_id: Arc::new(AtomicU64::new(1)) }
    }

    /// Sends a request and waits up to `timeout` for its response (result or error).
    pub async fn request(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, RequestFailure> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, response) = oneshot::channel();
        let line = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        if self.reader.send(ReaderCommand::Send { id, line, reply }).await.is_err() {
            return Err(RequestFailure::Transport);
        }
        match tokio::time::timeout(timeout, response).await {
            Ok(Ok(response)) => Ok(response),
            // The reader dropped the reply: the target's output closed, or its input did.
            Ok(Err(_)) => Err(RequestFailure::Transport),
            Err(_) => {
                let _ = self.reader.try_send(ReaderCommand::Forget { id });
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
///
/// `max_in_flight` is the most requests callers will have outstanding at once; it sizes the
/// channels so that queuing a request never waits on the target.
pub async fn connect(
    target: &TargetCommand,
    timeout: Duration,
    max_in_flight: usize,
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
    let client = McpClient::over(stdout, stdin, max_in_flight);
    let process = TargetProcess {
        child,
        command: target.display.clone(),
        stderr_tail: tokio::spawn(keep_stderr_tail(stderr)),
    };
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

async fn write_lines(input: impl AsyncWrite + Unpin, mut lines: mpsc::Receiver<String>) {
    let mut stdin = BufWriter::new(input);
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
    stdout: impl AsyncRead + Unpin,
    mut commands: mpsc::Receiver<ReaderCommand>,
    writer: mpsc::Sender<String>,
) {
    let mut pending: HashMap<u64, oneshot::Sender<Value>> = HashMap::new();
    let mut lines = BufReader::new(stdout).lines();
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(ReaderCommand::Send { id, line, reply }) => {
                    pending.insert(id, reply);
                    // Capacity covers every call in flight, so a full queue means the
                    // target stopped reading its input (or the writer is gone): the
                    // caller then sees a transport failure instead of waiting.
                    if writer.try_send(line).is_err() {
                        pending.remove(&id);
                    }
                }
                Some(ReaderCommand::Forget { id }) => {
                    if pending.remove(&id).is_some() {
                        let cancelled = json!({
                            "jsonrpc": "2.0",
                            "method": "notifications/cancelled",
                            "params": {"requestId": id, "reason": "the load test's call timeout passed"},
                        });
                        let _ = writer.try_send(cancelled.to_string());
                    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use tokio::io::{DuplexStream, Lines, duplex};

    use super::*;

    /// The server's side of the pipes.
    struct FakeServer {
        requests: Lines<BufReader<DuplexStream>>,
        responses: DuplexStream,
    }

    impl FakeServer {
        async fn next(&mut self) -> Value {
            let line = self.requests.next_line().await.unwrap().expect("the client wrote a line");
            serde_json::from_str(&line).unwrap()
        }

        async fn send(&mut self, message: Value) {
            self.responses.write_all(format!("{message}\n").as_bytes()).await.unwrap();
        }
    }

    fn pair() -> (McpClient, FakeServer) {
        let (client_output, server_responses) = duplex(1 << 16);
        let (client_input, server_requests) = duplex(1 << 16);
        let client = McpClient::over(client_output, client_input, 4);
        (
            client,
            FakeServer { requests: BufReader::new(server_requests).lines(), responses: server_responses },
        )
    }

    fn spawn_request(
        client: &McpClient,
        method: &'static str,
        timeout: Duration,
    ) -> JoinHandle<Result<Value, RequestFailure>> {
        let client = client.clone();
        tokio::spawn(async move { client.request(method, json!({}), timeout).await })
    }

    #[tokio::test]
    async fn responses_reach_their_callers_in_any_order() {
        let (client, mut server) = pair();
        let first = spawn_request(&client, "a", Duration::from_secs(5));
        let a = server.next().await;
        let second = spawn_request(&client, "b", Duration::from_secs(5));
        let b = server.next().await;
        assert_eq!((a["method"].as_str(), b["method"].as_str()), (Some("a"), Some("b")));
        // Noise the client must ignore: a notification, a stray line, an unknown id.
        server.send(json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {}})).await;
        server.responses.write_all(b"not json\n").await.unwrap();
        server.send(json!({"jsonrpc": "2.0", "id": 999, "result": {}})).await;
        server.send(json!({"jsonrpc": "2.0", "id": b["id"], "result": {"which": "b"}})).await;
        server.send(json!({"jsonrpc": "2.0", "id": a["id"], "result": {"which": "a"}})).await;
        assert_eq!(first.await.unwrap().unwrap()["result"]["which"], "a");
        assert_eq!(second.await.unwrap().unwrap()["result"]["which"], "b");
    }

    #[tokio::test]
    async fn an_answer_written_right_after_its_request_is_never_lost() {
        let (client, mut server) = pair();
        let echo = tokio::spawn(async move {
            for _ in 0..2_000 {
                let request = server.next().await;
                server
                    .send(
                        json!({"jsonrpc": "2.0", "id": request["id"], "result": {"echo": request["method"]}}),
                    )
                    .await;
            }
        });
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    for _ in 0..250 {
                        let answer = client.request("m", json!({}), Duration::from_secs(10)).await.unwrap();
                        assert_eq!(answer["result"]["echo"], "m");
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.await.unwrap();
        }
        echo.await.unwrap();
    }

    #[tokio::test]
    async fn a_request_the_server_never_answers_times_out_and_is_cancelled() {
        let (client, mut server) = pair();
        let outcome = client.request("slow", json!({}), Duration::from_millis(50)).await;
        assert_eq!(outcome, Err(RequestFailure::Timeout));
        let request = server.next().await;
        let cancelled = server.next().await;
        assert_eq!(cancelled["method"], "notifications/cancelled");
        assert_eq!(cancelled["params"]["requestId"], request["id"]);
        // A late answer is dropped, and the client keeps working.
        server.send(json!({"jsonrpc": "2.0", "id": request["id"], "result": {}})).await;
        let next = spawn_request(&client, "next", Duration::from_secs(5));
        let asked = server.next().await;
        server.send(json!({"jsonrpc": "2.0", "id": asked["id"], "result": {"ok": true}})).await;
        assert_eq!(next.await.unwrap().unwrap()["result"]["ok"], true);
    }

    #[tokio::test]
    async fn server_pings_are_answered_and_other_requests_refused() {
        let (_client, mut server) = pair();
        server.send(json!({"jsonrpc": "2.0", "id": "p1", "method": "ping"})).await;
        server.send(json!({"jsonrpc": "2.0", "id": "r1", "method": "roots/list"})).await;
        let pong = server.next().await;
        assert_eq!((pong["id"].as_str(), pong["result"].is_object()), (Some("p1"), true));
        let refused = server.next().await;
        assert_eq!((refused["id"].as_str(), refused["error"]["code"].as_i64()), (Some("r1"), Some(-32601)));
    }

    #[tokio::test]
    async fn a_closed_output_fails_waiting_and_later_calls_at_once() {
        let (client, mut server) = pair();
        let waiting = spawn_request(&client, "a", Duration::from_secs(30));
        server.next().await;
        drop(server);
        assert_eq!(waiting.await.unwrap(), Err(RequestFailure::Transport));
        let later = client.request("b", json!({}), Duration::from_secs(30)).await;
        assert_eq!(later, Err(RequestFailure::Transport));
    }
}
