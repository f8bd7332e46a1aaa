//! Test doubles shared by the integration tests: an in-memory upstream that counts, gates,
//! fails or panics on demand, small tools and plugins, and condition polling.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use newrelic_mcp_actors::call::{CallError, CallResult, ToolCall};
use newrelic_mcp_actors::tool::{
    CacheKey, CachePolicy, NrqlAccounts, Plan, PlanAction, PlanContext, PlanError, Plugin, ReadBack,
    Renderer, Tool, ToolDescriptor, ToolError, ToolErrorKind, ToolFilter, ToolHints, ToolOutput, WriteAccess,
    WritePlan,
};
use newrelic_mcp_actors::upstream::{
    AsyncPoll, FailureClass, Pagination, RequestKind, Upstream, UpstreamError, UpstreamRequest,
    UpstreamResponse,
};
use newrelic_mcp_actors::{Runtime, RuntimeConfig, RuntimeHandle};
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Longest any single await in a test may take before the test fails instead of hanging.
pub const BOUND: Duration = Duration::from_secs(20);

/// An in-memory NerdGraph: answers `{"echo": variables}`, or pages of an entity list.
pub struct FakeUpstream {
    calls: AtomicUsize,
    finished: AtomicUsize,
    cancels_seen: AtomicUsize,
    gated: AtomicBool,
    gate: Semaphore,
    fail_with: Mutex<Option<FailureClass>>,
    fail_reads_with: Mutex<Option<FailureClass>>,
    panics_left: AtomicUsize,
    latency: Mutex<Option<Duration>>,
    /// (operation, kind) of every request received, in order.
    received: Mutex<Vec<(String, RequestKind)>>,
    /// Pages available to paginated requests.
    pub total_pages: AtomicUsize,
}

impl FakeUpstream {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            cancels_seen: AtomicUsize::new(0),
            gated: AtomicBool::new(false),
            gate: Semaphore::new(0),
            fail_with: Mutex::new(None),
            fail_reads_with: Mutex::new(None),
            panics_left: AtomicUsize::new(0),
            latency: Mutex::new(None),
            received: Mutex::new(Vec::new()),
            total_pages: AtomicUsize::new(1),
        })
    }

    /// Calls block until `open` releases them.
    pub fn gated() -> Arc<Self> {
        let upstream = Self::new();
        upstream.gated.store(true, Ordering::SeqCst);
        upstream
    }

    pub fn open(&self) {
        self.gated.store(false, Ordering::SeqCst);
        self.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    }

    pub fn fail_with(&self, class: Option<FailureClass>) {
        *self.fail_with.lock().unwrap() = class;
    }

    /// Reads fail with `class`; writes still succeed.
    pub fn fail_reads_with(&self, class: Option<FailureClass>) {
        *self.fail_reads_with.lock().unwrap() = class;
    }

    /// The next `count` calls panic inside the worker.
    pub fn panic_next(&self, count: usize) {
        self.panics_left.store(count, Ordering::SeqCst);
    }

    pub fn set_latency(&self, latency: Option<Duration>) {
        *self.latency.lock().unwrap() = latency;
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Requests of `kind` received so far.
    pub fn received(&self, kind: RequestKind) -> usize {
        self.received.lock().unwrap().iter().filter(|(_, received)| *received == kind).count()
    }

    pub fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }

    /// Calls whose cancellation token fired while they were running.
    pub fn cancels_seen(&self) -> usize {
        self.cancels_seen.load(Ordering::SeqCst)
    }

    fn answer(&self, request: &UpstreamRequest) -> Result<UpstreamResponse, UpstreamError> {
        let read_failure = (request.kind == RequestKind::Read).then(|| *self.fail_reads_with.lock().unwrap());
        if let Some(class) = (*self.fail_with.lock().unwrap()).or(read_failure.flatten()) {
            return Err(UpstreamError::new(class, format!("injected {class:?} failure")));
        }
        let Some(pagination) = &request.pagination else {
            return Ok(UpstreamResponse {
                data: json!({"echo": request.variables}),
                pages: 1,
                ..Default::default()
            });
        };
        let page: usize = request.variables[pagination.cursor_variable]
            .as_str()
            .and_then(|cursor| cursor.strip_prefix("page-"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let total = self.total_pages.load(Ordering::SeqCst);
        let next = (page < total).then(|| format!("page-{}", page + 1));
        Ok(UpstreamResponse {
            data: json!({"actor": {"entitySearch": {"results": {
                "entities": [{"name": format!("entity-{page}a")}, {"name": format!("entity-{page}b")}],
                "nextCursor": next,
            }}}}),
            pages: 1,
            ..Default::default()
        })
    }
}

impl Upstream for FakeUpstream {
    fn endpoint(&self) -> &str {
        "memory://nerdgraph"
    }

    fn execute<'a>(
        &'a self,
        request: &'a UpstreamRequest,
        _deadline: Instant,
        cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<UpstreamResponse, UpstreamError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.received.lock().unwrap().push((request.operation.to_string(), request.kind));
            if self.panics_left.load(Ordering::SeqCst) > 0 {
                self.panics_left.fetch_sub(1, Ordering::SeqCst);
                panic!("upstream double panics on purpose");
            }
            let latency = *self.latency.lock().unwrap();
            let wait = async {
                if self.gated.load(Ordering::SeqCst) {
                    let _permit = self.gate.acquire().await;
                }
                if let Some(latency) = latency {
                    tokio::time::sleep(latency).await;
                }
            };
            tokio::select! {
                () = cancel.cancelled() => {
                    self.cancels_seen.fetch_add(1, Ordering::SeqCst);
                    return Err(UpstreamError::new(FailureClass::Cancelled, "cancelled"));
                }
                () = wait => {}
            }
            self.finished.fetch_add(1, Ordering::SeqCst);
            self.answer(request)
        })
    }
}

/// Which response shape a test tool asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Echo,
    Paged { max_pages: usize },
}

/// A tool that needs a string argument `q` and sends it upstream.
pub struct EchoTool {
    descriptor: ToolDescriptor,
    shape: Shape,
    timeout: Duration,
    /// The account whose NRQL budget each call spends, when set.
    nrql_accounts: NrqlAccounts,
    /// How many times `plan` ran.
    plans: Arc<AtomicUsize>,
    /// Whether the request runs as asynchronous NRQL (polled until it completes).
    async_nrql: bool,
}

/// The poll of the test tools' asynchronous NRQL.
pub const TEST_POLL: AsyncPoll = AsyncPoll {
    result_path: &["nrql"],
    operation: "EchoProgress",
    document: "query EchoProgress($queryId: ID!) { progress(queryId: $queryId) }",
    poll_result_path: &["progress"],
};

impl EchoTool {
    /// A counter of this tool's `plan` calls, shared with its clones.
    pub fn plans(&self) -> Arc<AtomicUsize> {
        self.plans.clone()
    }

    pub fn new(name: &str, cache_ttl: Option<Duration>, hints: ToolHints) -> Self {
        Self {
            descriptor: ToolDescriptor {
                name: name.to_string(),
                title: name.to_string(),
                description: format!("test tool {name}"),
                category: "data-access".to_string(),
                input_schema: Arc::new(Map::new()),
                output_schema: None,
                hints,
                cache_ttl,
            },
            shape: Shape::Echo,
            timeout: Duration::from_secs(30),
            nrql_accounts: NrqlAccounts::NONE,
            plans: Arc::new(AtomicUsize::new(0)),
            async_nrql: false,
        }
    }

    /// Every call runs as asynchronous NRQL.
    pub fn with_async_nrql(self) -> Self {
        Self { async_nrql: true, ..self }
    }

    pub fn cached(name: &str, ttl: Duration) -> Self {
        Self::new(name, Some(ttl), ToolHints::READ)
    }

    pub fn uncached(name: &str) -> Self {
        Self::new(name, None, ToolHints::READ)
    }

    /// A write: previewed and confirmed in two steps, then read back.
    pub fn write(name: &str) -> Self {
        Self::new(name, None, ToolHints::WRITE)
    }

    pub fn paged(name: &str, max_pages: usize) -> Self {
        Self { shape: Shape::Paged { max_pages }, ..Self::uncached(name) }
    }

    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    /// Every call runs NRQL against `account`, spending its budget.
    pub fn with_nrql_account(self, account: i64) -> Self {
        Self { nrql_accounts: NrqlAccounts::one(account), ..self }
    }

    /// Every call runs one cross-account NRQL query, spending each account's budget.
    pub fn with_nrql_accounts(self, accounts: &[i64]) -> Self {
        Self { nrql_accounts: NrqlAccounts::many(accounts).expect("at most five accounts"), ..self }
    }
}

impl Tool for EchoTool {
    fn descriptor(&self) -> &ToolDescriptor {
        &self.descriptor
    }

    fn plan(&self, arguments: Map<String, Value>, _context: &PlanContext) -> Result<Plan, PlanError> {
        self.plans.fetch_add(1, Ordering::SeqCst);
        let Some(q) = arguments.get("q").and_then(Value::as_str) else {
            return Err(PlanError::InvalidArguments("'q' must be a string".to_string()));
        };
        if q == "refuse" {
            return Err(PlanError::Tool(ToolError::new(ToolErrorKind::Policy, "refused by policy")));
        }
        let pagination = match self.shape {
            Shape::Echo => None,
            Shape::Paged { max_pages } => Some(Pagination {
                cursor_variable: "cursor",
                page_path: &["actor", "entitySearch", "results"],
                items_field: "entities",
                max_pages,
            }),
        };
        let request = UpstreamRequest {
            operation: "Echo",
            document: "query Echo($q: String) { echo(q: $q) }".into(),
            variables: json!({"q": q}),
            kind: RequestKind::Read,
            pagination,
            async_poll: self.async_nrql.then_some(TEST_POLL),
            experimental_opt_in: None,
        };
        if !self.descriptor.hints.read_only {
            return Ok(write_plan(&self.descriptor.name, q, request, self.timeout));
        }
        let cache = self.descriptor.cache_ttl.map(|ttl| CachePolicy {
            key: CacheKey::new(&self.descriptor.name, None, &Value::Object(arguments.clone())),
            ttl,
        });
        Ok(Plan {
            tool: self.descriptor.name.clone(),
            action: PlanAction::Upstream {
                request,
                render: Arc::new(|response: UpstreamResponse| {
                    Ok(ToolOutput {
                        text: format!("{} page(s), truncated: {}", response.pages, response.truncated),
                        structured: json!({"data": response.data, "pages": response.pages, "truncated": response.truncated}),
                    })
                }),
            },
            cache,
            timeout: self.timeout,
            nrql_accounts: self.nrql_accounts,
        })
    }
}

/// The plan of the test write: echo `q` as a mutation, then read it back.
fn write_plan(tool: &str, q: &str, request: UpstreamRequest, timeout: Duration) -> Plan {
    let request = UpstreamRequest {
        operation: "EchoWrite",
        document: "mutation EchoWrite($q: String) { echo(q: $q) }".into(),
        kind: RequestKind::Write,
        ..request
    };
    let read_back: ReadBack = Arc::new(|written: &ToolOutput| {
        let written = written.clone();
        let request = UpstreamRequest {
            operation: "EchoReadBack",
            document: "query EchoReadBack($q: String) { echo(q: $q) }".into(),
            variables: json!({"q": written.structured["written"]["echo"]["q"], "readBack": true}),
            kind: RequestKind::Read,
            pagination: None,
            async_poll: None,
            experimental_opt_in: None,
        };
        let render: Renderer = Arc::new(move |response: UpstreamResponse| {
            Ok(ToolOutput {
                text: format!("written and read back: {}", response.data["echo"]["q"]),
                structured: json!({"written": written.structured["written"], "readBack": response.data["echo"]}),
            })
        });
        Some((request, render))
    });
    Plan {
        tool: tool.to_string(),
        action: PlanAction::Write(Box::new(WritePlan {
            preview: ToolOutput { text: format!("would write {q}"), structured: json!({"wouldWrite": q}) },
            request,
            render: Arc::new(|response: UpstreamResponse| {
                Ok(ToolOutput { text: "written".to_string(), structured: json!({"written": response.data}) })
            }),
            read_back: Some(read_back),
            accounts: vec![1],
        })),
        cache: None,
        timeout,
        nrql_accounts: NrqlAccounts::NONE,
    }
}

/// A tool the server answers itself.
pub struct ClockTool {
    descriptor: ToolDescriptor,
}

impl ClockTool {
    pub fn new() -> Self {
        Self {
            descriptor: ToolDescriptor {
                name: "server_clock".to_string(),
                title: "Server clock".to_string(),
                description: "the plan context's time".to_string(),
                category: "discovery".to_string(),
                input_schema: Arc::new(Map::new()),
                output_schema: None,
                hints: ToolHints::LOCAL,
                cache_ttl: None,
            },
        }
    }
}

impl Tool for ClockTool {
    fn descriptor(&self) -> &ToolDescriptor {
        &self.descriptor
    }

    fn plan(&self, _arguments: Map<String, Value>, context: &PlanContext) -> Result<Plan, PlanError> {
        Ok(Plan {
            tool: self.descriptor.name.clone(),
            action: PlanAction::Local(ToolOutput {
                structured: json!({"now_epoch_ms": context.now_epoch_ms}),
                text: context.now_epoch_ms.to_string(),
            }),
            cache: None,
            timeout: context.default_timeout,
            nrql_accounts: NrqlAccounts::NONE,
        })
    }
}

pub struct TestPlugin {
    name: String,
    tools: Vec<Arc<dyn Tool>>,
}

impl TestPlugin {
    pub fn shared(name: &str, tools: Vec<Arc<dyn Tool>>) -> Arc<dyn Plugin> {
        Arc::new(Self { name: name.to_string(), tools })
    }
}

impl Plugin for TestPlugin {
    fn name(&self) -> &str {
        &self.name
    }

    fn version(&self) -> &str {
        "1.0.0"
    }

    fn description(&self) -> &str {
        "tools for tests"
    }

    fn tools(&self) -> Vec<Arc<dyn Tool>> {
        self.tools.clone()
    }
}

/// The standard set: cached `query` (60 s), uncached `fetch`, write `mutate`, paged `list`, local clock.
pub fn standard_plugin() -> Arc<dyn Plugin> {
    TestPlugin::shared(
        "test",
        vec![
            Arc::new(EchoTool::cached("query", Duration::from_secs(60))),
            Arc::new(EchoTool::uncached("fetch")),
            Arc::new(EchoTool::write("mutate")),
            Arc::new(EchoTool::paged("list", 3)),
            Arc::new(ClockTool::new()),
        ],
    )
}

/// Small pools, and every tool listed (writes included).
pub fn small_config() -> RuntimeConfig {
    RuntimeConfig {
        cache_shards: 2,
        executor_workers: 4,
        executor_queue: 64,
        tool_filter: ToolFilter { write_access: WriteAccess::Destructive, ..ToolFilter::default() },
        ..RuntimeConfig::default()
    }
}

pub async fn start(config: RuntimeConfig, upstream: Arc<FakeUpstream>) -> RuntimeHandle {
    Runtime::start(config, upstream, vec![standard_plugin()]).await.expect("runtime starts")
}

pub fn call(tool: &str, q: &str) -> ToolCall {
    let mut arguments = Map::new();
    arguments.insert("q".to_string(), Value::String(q.to_string()));
    ToolCall::new(tool, arguments)
}

/// The same call, carrying a confirmation token.
pub fn confirmed(mut call: ToolCall, token: &str) -> ToolCall {
    call.arguments.insert("confirmation_token".to_string(), Value::String(token.to_string()));
    call
}

/// Runs a call, failing the test instead of hanging.
pub async fn bounded(handle: &RuntimeHandle, call: ToolCall) -> CallResult {
    tokio::time::timeout(BOUND, handle.call(call)).await.expect("call answered in time")
}

pub fn tool_error(result: &CallResult) -> &ToolError {
    match result {
        Err(CallError::Tool(error)) => error,
        other => panic!("expected a tool error, got {other:?}"),
    }
}

/// Polls `condition` until it holds, failing the test after [`BOUND`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + BOUND;
    while !condition() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Like [`eventually`], for conditions that need the runtime's stats.
pub async fn eventually_stats(
    handle: &RuntimeHandle,
    what: &str,
    condition: impl Fn(&newrelic_mcp_actors::call::RuntimeStats) -> bool,
) {
    let deadline = std::time::Instant::now() + BOUND;
    loop {
        let stats = handle.stats().await;
        if condition(&stats) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for: {what} (stats: {stats:?})");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// With paused time, returns once every task is idle: time only auto-advances then.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}
