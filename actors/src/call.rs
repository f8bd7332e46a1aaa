//! A tool call as it enters the runtime, and every way it can end.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::tool::{ToolError, ToolOutput};

/// One `tools/call`, as the MCP front hands it to the front door.
#[derive(Debug, Clone)]
pub struct ToolCall {
    pub tool: String,
    pub arguments: Map<String, Value>,
    /// Cancelled when the client sends `notifications/cancelled` or goes away;
    /// cancels the upstream HTTP call unless other callers still wait on it.
    pub cancel: CancellationToken,
    /// 1 for the first try; 2 when the runtime re-sends the call after a component crashed
    /// mid-call (only read-only tools are re-executed).
    pub attempt: u8,
}

impl ToolCall {
    pub fn new(tool: impl Into<String>, arguments: Map<String, Value>) -> Self {
        Self { tool: tool.into(), arguments, cancel: CancellationToken::new(), attempt: 1 }
    }
}

/// How a call ended when it did not produce output.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// No tool of that name is enabled (a protocol error).
    #[error("unknown tool '{name}'")]
    UnknownTool { name: String, known: Vec<String> },
    /// The arguments do not fit the tool's schema (a protocol error).
    #[error("invalid arguments for '{tool}': {reason}")]
    InvalidArguments { tool: String, reason: String },
    /// The tool ran and failed (a result with `isError: true`).
    #[error(transparent)]
    Tool(#[from] ToolError),
}

/// The answer to a call: shared output (cache hits hand out the same `Arc`) or an error.
pub type CallResult = Result<Arc<ToolOutput>, CallError>;

/// Counters a component reports, for `get_server_status` and the load-test harness.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RuntimeStats {
    pub calls: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub coalesced: u64,
    pub cache_entries: u64,
    pub cache_bytes: u64,
    pub upstream_calls: u64,
    pub upstream_in_flight: u64,
    pub upstream_in_flight_high_water: u64,
    pub rejected_overloaded: u64,
    /// NRQL queries refused because their account's budget was spent.
    pub rejected_rate_limited: u64,
    pub breaker: Vec<BreakerStatus>,
    pub restarts: u64,
    pub tool_table_generation: u64,
    /// Time from the last observed crash to its replacement being live (backoff included).
    pub restart_latency_last_micros: u64,
    pub restart_latency_max_micros: u64,
    /// Percentiles over the most recent restarts (up to 256).
    pub restart_latency_p50_micros: u64,
    pub restart_latency_p99_micros: u64,
    /// Restarts of the most-restarted component within the supervisor's restart window.
    pub recent_restarts: u64,
    /// The supervisor gave up after too many restarts.
    pub escalated: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BreakerStatus {
    pub endpoint: String,
    pub state: String,
    pub consecutive_failures: u32,
    pub retry_in: Option<Duration>,
}
