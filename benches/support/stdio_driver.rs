//! Drives an MCP server over a child process's stdin and stdout, as an MCP client does:
//! the handshake, then a stream of `tools/call` requests with a fixed number in flight,
//! timing each call from the write of its request to the read of its response.
//!
//! Every response is checked: a JSON-RPC error or a result with `isError: true` stops the
//! run, so a failing server can never pass for a fast one.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Longest the driver waits for any one response before it gives up on the server.
const RESPONSE_LIMIT: Duration = Duration::from_secs(30);

/// Environment variables that would point newrelic-mcp at a real account or change its logging.
const SCRUBBED_ENV: &[&str] = &[
    "NEW_RELIC_API_KEY",
    "NEW_RELIC_ACCOUNT_ID",
    "NEW_RELIC_REGION",
    "NEW_RELIC_NERDGRAPH_URL",
    "NEW_RELIC_ALLOWED_ACCOUNTS",
    "RUST_LOG",
];

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("cannot start {program}: {source} (build it first: {hint})")]
    Spawn { program: PathBuf, hint: String, source: io::Error },
    #[error("talking to the server failed: {0}")]
    Io(#[from] io::Error),
    #[error("the server closed its output")]
    Closed,
    #[error("no response within {} s", RESPONSE_LIMIT.as_secs())]
    Timeout,
    #[error("the server sent a line that is not a JSON-RPC message: {0}")]
    Malformed(String),
    #[error("a call failed: {0}")]
    CallFailed(String),
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub elapsed: Duration,
    /// One per call, sorted ascending.
    pub latencies: Vec<Duration>,
    pub response_bytes: u64,
}

impl RunReport {
    pub fn calls(&self) -> usize {
        self.latencies.len()
    }

    pub fn calls_per_second(&self) -> f64 {
        self.calls() as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// The `quantile` (0 to 1) of the latencies, by the nearest-rank method.
    pub fn percentile(&self, quantile: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = (quantile.clamp(0.0, 1.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }

    pub fn mean_response_bytes(&self) -> u64 {
        self.response_bytes / (self.calls().max(1) as u64)
    }

    /// Joins several runs into one: calls and time add up, latencies pool.
    pub fn merge(reports: &[RunReport]) -> RunReport {
        let mut latencies: Vec<Duration> = reports.iter().flat_map(|r| r.latencies.iter().copied()).collect();
        latencies.sort_unstable();
        RunReport {
            elapsed: reports.iter().map(|r| r.elapsed).sum(),
            latencies,
            response_bytes: reports.iter().map(|r| r.response_bytes).sum(),
        }
    }
}

#[derive(Deserialize)]
struct Reply {
    id: Option<u64>,
    result: Option<ReplyResult>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ReplyResult {
    #[serde(rename = "isError", default)]
    is_error: bool,
}

/// A server process with a completed MCP handshake.
pub struct StdioServer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    line: String,
    next_id: u64,
}

impl StdioServer {
    /// Starts `program args…` with piped stdio (stderr discarded) and completes the handshake.
    /// `hint` says how to build the program, for the error when it is missing.
    pub async fn start(program: &Path, args: &[&str], hint: &str) -> Result<Self, DriverError> {
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for name in SCRUBBED_ENV {
            command.env_remove(name);
        }
        let spawn_error =
            |source| DriverError::Spawn { program: program.to_path_buf(), hint: hint.to_string(), source };
        let mut child = command.spawn().map_err(spawn_error)?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(DriverError::Closed);
        };
        let mut server = Self {
            child,
            stdin: Some(stdin),
            stdout: BufReader::new(stdout),
            line: String::new(),
            next_id: 1,
        };
        server.handshake().await?;
        Ok(server)
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), DriverError> {
        let stdin = self.stdin.as_mut().ok_or(DriverError::Closed)?;
        stdin.write_all(bytes).await?;
        stdin.flush().await?;
        Ok(())
    }

    /// Reads the next line into `self.line`; returns its length in bytes.
    async fn read_line(&mut self) -> Result<usize, DriverError> {
        self.line.clear();
        match tokio::time::timeout(RESPONSE_LIMIT, self.stdout.read_line(&mut self.line)).await {
            Err(_) => Err(DriverError::Timeout),
            Ok(Err(error)) => Err(error.into()),
            Ok(Ok(0)) => Err(DriverError::Closed),
            Ok(Ok(read)) => Ok(read),
        }
    }

    async fn handshake(&mut self) -> Result<(), DriverError> {
        let initialize = json!({
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "stdio-driver", "version": "0"}
            }
        });
        self.write(format!("{initialize}\n").as_bytes()).await?;
        loop {
            self.read_line().await?;
            let reply: Reply =
                serde_json::from_str(&self.line).map_err(|_| DriverError::Malformed(excerpt(&self.line)))?;
            match reply.id {
                Some(0) if reply.error.is_none() => break,
                Some(0) => return Err(DriverError::CallFailed(excerpt(&self.line))),
                _ => {}
            }
        }
        self.write(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n").await
    }

    /// Makes `calls` calls of `tool` with `arguments`, keeping `in_flight` outstanding.
    pub async fn run(
        &mut self,
        tool: &str,
        arguments: &Value,
        calls: u64,
        in_flight: usize,
    ) -> Result<RunReport, DriverError> {
        let params = json!({"name": tool, "arguments": arguments}).to_string();
        let in_flight = in_flight.max(1);
        let mut sent_at: HashMap<u64, Instant> = HashMap::with_capacity(in_flight * 2);
        let mut latencies = Vec::with_capacity(usize::try_from(calls).unwrap_or(0));
        let mut response_bytes = 0u64;
        let mut outgoing = String::new();
        let mut sent = 0u64;
        let started = Instant::now();
        loop {
            while sent < calls && sent_at.len() < in_flight {
                let id = self.next_id;
                self.next_id += 1;
                sent += 1;
                outgoing.push_str(&format!(
                    "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/call\",\"params\":{params}}}\n"
                ));
                sent_at.insert(id, Instant::now());
            }
            if !outgoing.is_empty() {
                self.write(outgoing.as_bytes()).await?;
                outgoing.clear();
            }
            if sent_at.is_empty() {
                break;
            }
            let read = self.read_line().await?;
            let reply: Reply =
                serde_json::from_str(&self.line).map_err(|_| DriverError::Malformed(excerpt(&self.line)))?;
            // Anything else is a notification, which carries no id of ours.
            let Some(call_started) = reply.id.and_then(|id| sent_at.remove(&id)) else { continue };
            latencies.push(call_started.elapsed());
            response_bytes += read as u64;
            let failed = reply.error.is_some() || reply.result.as_ref().is_none_or(|result| result.is_error);
            if failed {
                return Err(DriverError::CallFailed(excerpt(&self.line)));
            }
        }
        let elapsed = started.elapsed();
        latencies.sort_unstable();
        Ok(RunReport { elapsed, latencies, response_bytes })
    }

    /// Closes the server's input and waits for it to exit (it is killed if it lingers).
    pub async fn stop(mut self) {
        self.stdin = None;
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

fn excerpt(line: &str) -> String {
    line.trim_end().chars().take(300).collect()
}

/// Where the release binaries are, given the directory of `target/<profile>`.
pub fn newrelic_mcp_binary(profile_dir: &Path) -> PathBuf {
    profile_dir.join(format!("newrelic-mcp{}", std::env::consts::EXE_SUFFIX))
}

pub fn echo_server_binary(profile_dir: &Path) -> PathBuf {
    profile_dir.join("examples").join(format!("echo_server{}", std::env::consts::EXE_SUFFIX))
}

/// The arguments of a cached NRQL call and of an echo call of the same query text.
pub const NRQL_QUERY: &str = "SELECT count(*) FROM Transaction SINCE 1 hour ago";

pub fn nrql_arguments() -> Value {
    json!({"nrql_query": NRQL_QUERY})
}

pub fn echo_arguments() -> Value {
    json!({"text": NRQL_QUERY})
}
