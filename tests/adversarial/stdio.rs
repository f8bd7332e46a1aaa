//! See the module's doc in `tests/adversarial.rs`.
//!
//! Every case runs the real binary (`serve --sandbox`) and speaks raw JSON-RPC lines to it, so
//! the framing, the back-pressure and the process's exit are the ones a client meets.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::mcp_process::{EXCHANGE_LIMIT, binary};

const INVALID_REQUEST: i64 = -32600;
const INVALID_PARAMS: i64 = -32602;

/// The binary with its pipes held apart, so a case can stop reading, close one side, or
/// write from another task.
struct Served {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<Lines<BufReader<ChildStdout>>>,
}

impl Served {
    async fn start(extra: &[&str]) -> Self {
        let mut command = binary();
        command.arg("serve").arg("--sandbox").args(extra);
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).kill_on_drop(true);
        let mut child = command.spawn().expect("the binary starts");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().map(|stdout| BufReader::new(stdout).lines());
        Self { child, stdin, stdout }
    }

    /// Started and through the handshake at protocol version 2025-06-18.
    async fn initialized(extra: &[&str]) -> Self {
        let mut served = Self::start(extra).await;
        let answer = served.exchange(&initialize(0, "2025-06-18")).await;
        assert_eq!(answer["result"]["protocolVersion"], "2025-06-18", "{answer}");
        served.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
        served
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(bytes).await.unwrap();
        stdin.flush().await.unwrap();
    }

    async fn send(&mut self, message: &Value) {
        self.send_raw(format!("{message}\n").as_bytes()).await;
    }

    async fn next_message(&mut self) -> Option<Value> {
        let stdout = self.stdout.as_mut().expect("stdout is open");
        let line = tokio::time::timeout(EXCHANGE_LIMIT, stdout.next_line())
            .await
            .expect("the server answered in time")
            .expect("stdout is readable")?;
        Some(serde_json::from_str(&line).unwrap_or_else(|error| panic!("not JSON: {line:?}: {error}")))
    }

    /// The next response (not a notification), whatever its id.
    async fn next_response(&mut self) -> Value {
        loop {
            let message = self.next_message().await.expect("the server is still running");
            if message.get("method").is_none() {
                return message;
            }
        }
    }

    /// Sends a request and waits for the response with its id.
    async fn exchange(&mut self, request: &Value) -> Value {
        self.send(request).await;
        loop {
            let response = self.next_response().await;
            if response.get("id") == request.get("id") {
                return response;
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    /// Waits up to `limit` for the process to exit.
    async fn exited_within(&mut self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.child.wait()).await.is_ok()
    }
}

fn initialize(id: i64, version: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "adversary", "version": "0"}}})
}

fn tool_call(id: i64, name: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": arguments}})
}

/// Resident memory of a process, in bytes, from `/proc/<pid>/status`.
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Requests piped by a client that never reads its answers.
const FLOOD_CALLS: usize = 20_000;
/// A cheap call: the server spends its time reading and answering, not computing.
const FLOOD_PERIOD: &str = "last 30 minutes";
/// Growth over the idle server that back-pressure keeps memory under. Bounded, the server
/// holds at most its calls in flight and its queued output (well under a megabyte here);
/// unbounded, it read all 20,000 calls and held them with their answers (over 100 MB).
const FLOOD_GROWTH_LIMIT: u64 = 48 * 1024 * 1024;
/// How long the writer may make no progress before the server counts as no longer reading.
const STALL: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_cannot_make_memory_grow_without_bound() {
    let mut served = Served::initialized(&[]).await;
    let warm = served
        .exchange(&tool_call(1, "convert_time_period_to_epoch_ms", json!({"time_period": FLOOD_PERIOD})))
        .await;
    assert_ne!(warm["result"]["isError"], json!(true), "{warm}");
    let idle = resident_bytes(served.pid());

    let mut stdin = served.stdin.take().unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (progress, stopped) = (written.clone(), stop.clone());
    let writer = tokio::spawn(async move {
        for n in 0..FLOOD_CALLS {
            if stopped.load(Ordering::Relaxed) {
                break;
            }
            let call = tool_call(
                10 + n as i64,
                "convert_time_period_to_epoch_ms",
                json!({"time_period": FLOOD_PERIOD}),
            );
            stdin.write_all(format!("{call}\n").as_bytes()).await.unwrap();
            progress.fetch_add(1, Ordering::Relaxed);
        }
        stdin.flush().await.unwrap();
        stdin
    });

    // Nobody reads stdout: the server must stop reading once it cannot answer.
    let started = Instant::now();
    let mut last = (0, Instant::now());
    let stalled = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = written.load(Ordering::Relaxed);
        if writer.is_finished() {
            break false;
        }
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() >= STALL {
            break true;
        }
        assert!(started.elapsed() < EXCHANGE_LIMIT, "the flood neither finished nor stalled");
    };
    let flooded = resident_bytes(served.pid());
    eprintln!(
        "idle RSS {} KiB; with {} of {FLOOD_CALLS} calls written and none read: {} KiB (stalled: {stalled})",
        idle / 1024,
        written.load(Ordering::Relaxed),
        flooded / 1024
    );
    assert!(stalled, "the server read all {FLOOD_CALLS} calls while none of its answers could be written");
    assert!(
        flooded < idle + FLOOD_GROWTH_LIMIT,
        "memory grew from {} KiB to {} KiB while the client did not read",
        idle / 1024,
        flooded / 1024
    );

    // Reading again drains every call written (the writer stops after the line it is on),
    // and the server still answers.
    stop.store(true, Ordering::Relaxed);
    let mut answered = 0;
    while !writer.is_finished() || answered < written.load(Ordering::Relaxed) {
        let response = served.next_response().await;
        assert_ne!(response["result"]["isError"], json!(true), "{response}");
        assert!(response.get("result").is_some(), "{response}");
        answered += 1;
    }
    served.stdin = Some(writer.await.unwrap());
    let ping = served.exchange(&json!({"jsonrpc": "2.0", "id": "after", "method": "ping"})).await;
    assert!(ping.get("result").is_some(), "{ping}");
}

/// A sandbox whose every answer takes far longer than any case waits.
const SLOW_SANDBOX: [&str; 2] = ["--sandbox-latency-ms", "60000"];
/// How soon a server whose client left must be gone.
const PROMPT_EXIT: Duration = Duration::from_secs(3);

#[tokio::test]
async fn the_end_of_input_cancels_running_calls_and_the_server_exits_promptly() {
    let mut served = Served::initialized(&SLOW_SANDBOX).await;
    served
        .send(&tool_call(1, "execute_nrql_query", json!({"nrql_query": "SELECT count(*) FROM Transaction"})))
        .await;
    served.send(&json!({"jsonrpc": "2.0", "id": 2, "method": "ping"})).await;
    assert_eq!(served.next_response().await["id"], 2, "the slow call is still running");

    drop(served.stdin.take());
    let closed = Instant::now();
    assert!(
        served.exited_within(PROMPT_EXIT).await,
        "the server kept a call running after its client closed its input"
    );
    eprintln!("exited {:?} after the end of input", closed.elapsed());
}

#[tokio::test]
async fn a_closed_stdout_cancels_running_calls_and_ends_the_session() {
    let mut served = Served::initialized(&SLOW_SANDBOX).await;
    served
        .send(&tool_call(1, "execute_nrql_query", json!({"nrql_query": "SELECT count(*) FROM Transaction"})))
        .await;

    // The client stops listening; the next answer the server writes finds no reader.
    drop(served.stdout.take());
    served.send(&json!({"jsonrpc": "2.0", "id": 2, "method": "ping"})).await;
    assert!(
        served.exited_within(PROMPT_EXIT).await,
        "with its stdout closed and its stdin still open, the server kept serving nobody"
    );
}

/// Just over the 16 MiB line limit.
fn huge_arguments() -> String {
    let filler = "x".repeat(17 * 1024 * 1024);
    format!("{{\"nrql_query\": \"SELECT 1\", \"padding\": \"{filler}\"}}")
}

#[tokio::test]
async fn an_over_long_line_is_answered_with_its_id_wherever_the_id_stands() {
    let mut served = Served::initialized(&[]).await;
    let arguments = huge_arguments();
    let lines = [
        (
            json!("before"),
            format!(
                "{{\"jsonrpc\": \"2.0\", \"id\": \"before\", \"method\": \"tools/call\", \"params\": {{\"name\": \"execute_nrql_query\", \"arguments\": {arguments}}}}}\n"
            ),
        ),
        (
            json!(77),
            format!(
                "{{\"jsonrpc\": \"2.0\", \"method\": \"tools/call\", \"params\": {{\"name\": \"execute_nrql_query\", \"arguments\": {arguments}}}, \"id\": 77}}\n"
            ),
        ),
    ];
    for (id, line) in lines {
        served.send_raw(line.as_bytes()).await;
        let answer = served.next_response().await;
        assert_eq!(answer["id"], id, "{answer}");
        assert_eq!(answer["error"]["code"], INVALID_REQUEST, "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("16 MiB"), "{answer}");
    }
    let ping = served.exchange(&json!({"jsonrpc": "2.0", "id": 3, "method": "ping"})).await;
    assert!(ping.get("result").is_some(), "{ping}");
}

#[tokio::test]
async fn tools_call_with_array_arguments_or_no_name_is_invalid_params() {
    let mut served = Served::initialized(&[]).await;
    let cases = [
        (
            json!({"name": "execute_nrql_query", "arguments": ["SELECT count(*) FROM Transaction"]}),
            "arguments",
        ),
        (json!({"arguments": {"nrql_query": "SELECT count(*) FROM Transaction"}}), "name"),
        (json!({"name": 7, "arguments": {}}), "name"),
    ];
    for (n, (params, named)) in cases.into_iter().enumerate() {
        let request = json!({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params});
        let answer = served.exchange(&request).await;
        assert_eq!(answer["error"]["code"], INVALID_PARAMS, "{params} → {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(named) && message.contains("tools/call"), "{params} → {message}");
    }
}

#[tokio::test]
async fn a_second_initialize_is_refused_and_the_protocol_version_stays() {
    let mut served = Served::initialized(&[]).await;
    let again = served.exchange(&initialize(1, "2025-03-26")).await;
    assert_eq!(again["error"]["code"], INVALID_REQUEST, "{again}");
    let message = again["error"]["message"].as_str().unwrap();
    assert!(message.contains("already initialized") && message.contains("2025-06-18"), "{message}");

    // The session goes on at the version first agreed.
    let third = served.exchange(&initialize(2, "2025-06-18")).await;
    assert!(third["error"]["message"].as_str().unwrap().contains("2025-06-18"), "{third}");
    let answer = served
        .exchange(&tool_call(3, "convert_time_period_to_epoch_ms", json!({"time_period": "last hour"})))
        .await;
    assert_eq!(answer["result"]["structuredContent"]["duration_ms"], 3_600_000, "{answer}");
}
