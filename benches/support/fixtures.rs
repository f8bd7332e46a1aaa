//! Fixtures shared by the runtime benches: an in-memory upstream, small bench tools and a
//! driver that keeps a fixed number of calls in flight.
//!
//! The bench tools plan as little as possible (one string argument, no schema work) so that
//! what is measured is the runtime's routing, caching and pooling, not a tool's planning.

#![allow(dead_code, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;
use newrelic_mcp_actors::call::ToolCall;
use newrelic_mcp_actors::tool::{
    CacheKey, CachePolicy, NrqlAccounts, Plan, PlanAction, PlanContext, PlanError, Plugin, Tool,
    ToolDescriptor, ToolHints, ToolOutput,
};
use newrelic_mcp_actors::upstream::{
    RequestKind, Upstream, UpstreamError, UpstreamRequest, UpstreamResponse,
};
use newrelic_mcp_actors::{Runtime, RuntimeConfig, RuntimeHandle};
use serde_json::{Map, Value, json};

/// Account every bench call runs against.
pub const ACCOUNT: i64 = 1_000_001;

/// How long a bench tool's answer stays cached: longer than any bench run.
const BENCH_TTL: Duration = Duration::from_secs(3600);

const LOOKUP_DOCUMENT: &str = "query BenchLookup($key: String!) { lookup(key: $key) { key } }";

/// Answers every request with the same `data`, after an optional delay, and counts calls.
pub struct CannedUpstream {
    data: Value,
    delay: Duration,
    calls: AtomicU64,
}

impl CannedUpstream {
    pub fn new(data: Value, delay: Duration) -> Arc<Self> {
        Arc::new(Self { data, delay, calls: AtomicU64::new(0) })
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

impl Upstream for CannedUpstream {
    fn endpoint(&self) -> &str {
        "memory://bench"
    }

    fn execute<'a>(
        &'a self,
        _request: &'a UpstreamRequest,
        _deadline: tokio::time::Instant,
        cancel: tokio_util::sync::CancellationToken,
    ) -> BoxFuture<'a, Result<UpstreamResponse, UpstreamError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if !self.delay.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(self.delay) => {}
                    () = cancel.cancelled() => {
                        return Err(UpstreamError::new(
                            newrelic_mcp_actors::upstream::FailureClass::Cancelled,
                            "cancelled",
                        ));
                    }
                }
            }
            Ok(UpstreamResponse {
                data: self.data.clone(),
                partial_errors: Vec::new(),
                pages: 1,
                truncated: false,
            })
        })
    }
}

/// The `data` of a NerdGraph NRQL answer with `rows` facet rows, shaped as NerdGraph sends it.
pub fn nrql_response(rows: usize) -> Value {
    let results: Vec<Value> = (0..rows)
        .map(|row| {
            json!({
                "appName": format!("service-{row:02}"),
                "average.duration": 0.125 + row as f64 / 1000.0,
                "count": 1200 + row * 37,
                "facet": format!("service-{row:02}"),
            })
        })
        .collect();
    json!({
        "actor": {"account": {"nrql": {
            "results": results,
            "metadata": {
                "eventTypes": ["Transaction"],
                "facets": ["appName"],
                "messages": [],
                "timeWindow": {"begin": 1_700_000_000_000_i64, "end": 1_700_003_600_000_i64},
            },
        }}}
    })
}

/// The `data` the bench lookup tools expect.
pub fn lookup_response() -> Value {
    json!({"lookup": {"key": "value"}})
}

/// A tool with one `key` argument that sends one read upstream; cached or not.
struct LookupTool {
    descriptor: ToolDescriptor,
}

impl LookupTool {
    fn shared(name: &str, cache_ttl: Option<Duration>) -> Arc<dyn Tool> {
        let schema =
            json!({"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]});
        let Value::Object(schema) = schema else { unreachable!("the schema literal is an object") };
        Arc::new(Self {
            descriptor: ToolDescriptor {
                name: name.to_string(),
                title: name.to_string(),
                description: "Looks a key up upstream (bench tool).".to_string(),
                category: "bench".to_string(),
                input_schema: Arc::new(schema),
                output_schema: None,
                hints: ToolHints::READ,
                cache_ttl,
            },
        })
    }
}

impl Tool for LookupTool {
    fn descriptor(&self) -> &ToolDescriptor {
        &self.descriptor
    }

    fn plan(&self, arguments: Map<String, Value>, _context: &PlanContext) -> Result<Plan, PlanError> {
        let Some(Value::String(key)) = arguments.get("key") else {
            return Err(PlanError::InvalidArguments("key must be a string".to_string()));
        };
        let cache = self.descriptor.cache_ttl.map(|ttl| CachePolicy {
            key: CacheKey::new(&self.descriptor.name, None, &Value::String(key.clone())),
            ttl,
        });
        let request = UpstreamRequest {
            operation: "BenchLookup",
            document: LOOKUP_DOCUMENT.into(),
            variables: json!({"key": key}),
            kind: RequestKind::Read,
            pagination: None,
            async_poll: None,
            experimental_opt_in: None,
        };
        let text = format!("looked up {key}");
        let render = Arc::new(move |response: UpstreamResponse| {
            Ok(ToolOutput { structured: response.data, text: text.clone() })
        });
        Ok(Plan {
            tool: self.descriptor.name.clone(),
            action: PlanAction::Upstream { request, render },
            cache,
            timeout: Duration::from_secs(30),
            nrql_accounts: NrqlAccounts::NONE,
        })
    }
}

/// `bench_cached` (cached for an hour) and `bench_uncached` (never cached).
pub struct BenchPlugin;

pub const CACHED_TOOL: &str = "bench_cached";
pub const UNCACHED_TOOL: &str = "bench_uncached";

impl Plugin for BenchPlugin {
    fn name(&self) -> &str {
        "bench"
    }
    fn version(&self) -> &str {
        "0"
    }
    fn description(&self) -> &str {
        "Lookup tools for benches"
    }
    fn tools(&self) -> Vec<Arc<dyn Tool>> {
        vec![LookupTool::shared(CACHED_TOOL, Some(BENCH_TTL)), LookupTool::shared(UNCACHED_TOOL, None)]
    }
}

pub fn bench_plugins() -> Vec<Arc<dyn Plugin>> {
    vec![Arc::new(BenchPlugin)]
}

/// The runtime's defaults, with the bench account, `workers` executor workers and no NRQL
/// budget to speak of (benches send far more than New Relic's per-account limit allows).
pub fn runtime_config(workers: usize) -> RuntimeConfig {
    let mut config = RuntimeConfig {
        executor_workers: workers,
        executor_queue: 1024,
        nrql_per_minute: u32::MAX,
        ..Default::default()
    };
    config.plan_defaults.default_account = Some(ACCOUNT);
    config
}

/// A multi-threaded tokio runtime like the server's.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime starts")
}

pub async fn start(
    config: RuntimeConfig,
    upstream: Arc<dyn Upstream>,
    plugins: Vec<Arc<dyn Plugin>>,
) -> RuntimeHandle {
    Runtime::start(config, upstream, plugins).await.expect("the runtime starts")
}

pub fn arguments(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("arguments must be a JSON object, got {other}"),
    }
}

pub fn lookup(tool: &str, key: &str) -> ToolCall {
    ToolCall::new(tool, arguments(json!({"key": key})))
}

/// Runs one call and insists it succeeded, so a broken path cannot pass for a fast one.
pub async fn call_ok(handle: &RuntimeHandle, call: ToolCall) -> Arc<ToolOutput> {
    let tool = call.tool.clone();
    match handle.call(call).await {
        Ok(output) => output,
        Err(error) => panic!("'{tool}' failed during the bench: {error}"),
    }
}

/// Runs `calls` calls (call `i` built by `make(i)`) with `in_flight` of them outstanding at
/// all times, from one task on the runtime's worker threads. Returns the elapsed time.
pub async fn drive(
    handle: &RuntimeHandle,
    calls: u64,
    in_flight: usize,
    make: impl Fn(u64) -> ToolCall,
) -> Duration {
    let started = Instant::now();
    futures::stream::iter(0..calls)
        .map(|index| call_ok(handle, make(index)))
        .buffer_unordered(in_flight.max(1))
        .for_each(|_| async {})
        .await;
    started.elapsed()
}

/// [`drive`] spawned on the runtime, as the MCP front's tasks are, and waited for from outside.
pub fn drive_blocking(
    runtime: &tokio::runtime::Runtime,
    handle: &RuntimeHandle,
    calls: u64,
    in_flight: usize,
    make: impl Fn(u64) -> ToolCall + Send + Sync + 'static,
) -> Duration {
    let handle = handle.clone();
    let task = runtime.spawn(async move { drive(&handle, calls, in_flight, make).await });
    runtime.block_on(task).expect("the bench task completes")
}
