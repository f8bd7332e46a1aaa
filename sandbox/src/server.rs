//! The HTTP front of the sandbox: `POST /graphql` with NerdGraph's authentication, status
//! codes and error bodies, plus fault injection.

mod connection;
pub mod faults;
mod stats;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use apollo_compiler::Schema;
use apollo_compiler::validation::Valid;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{FaultConfig, SandboxConfig, random_api_key};
use crate::error::SandboxError;
use crate::graphql::executor::Executor;
use crate::graphql::{self, GraphqlRequest, PreparedRequest};
use crate::resolvers::{MutationRoot, QueryRoot, RequestContext};
use crate::world::World;
use connection::{ConnectionControl, SeverableListener};
use faults::{Fault, FaultPlan};
use stats::Counters;
pub use stats::{FaultCounts, SandboxStats};

/// Headers that carry the key, compared case-insensitively as HTTP header names are.
const KEY_HEADERS: [&str; 3] = ["api-key", "x-api-key", "api_key"];

struct AppState {
    world: World,
    schema: Valid<Schema>,
    api_key: String,
    seed: u64,
    faults: RwLock<FaultConfig>,
    counters: Counters,
    sequence: AtomicU64,
    stopping: CancellationToken,
}

impl AppState {
    fn faults(&self) -> FaultConfig {
        self.faults.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// Shared view of a running sandbox.
#[derive(Clone)]
struct Shared(Arc<AppState>);

fn build_state(config: SandboxConfig, stopping: CancellationToken) -> Result<Arc<AppState>, SandboxError> {
    let schema = graphql::load_schema()?;
    let api_key = if config.api_key.is_empty() { random_api_key() } else { config.api_key.clone() };
    let world = World::new(crate::dataset(&config)).with_async_nrql(config.async_nrql.clone());
    Ok(Arc::new(AppState {
        world,
        schema,
        api_key,
        seed: config.seed,
        faults: RwLock::new(config.faults),
        counters: Counters::default(),
        sequence: AtomicU64::new(0),
        stopping,
    }))
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/graphql", post(graphql_endpoint))
        .fallback(|| async {
            error_response(StatusCode::NOT_FOUND, "Not found: NerdGraph is served at POST /graphql", None)
        })
        .with_state(Shared(state))
}

async fn serve(listener: TcpListener, state: Arc<AppState>) -> Result<(), SandboxError> {
    let stopping = state.stopping.clone();
    let app = router(state).into_make_service_with_connect_info::<ConnectionControl>();
    axum::serve(SeverableListener::new(listener), app)
        .with_graceful_shutdown(stopping.cancelled_owned())
        .await
        .map_err(SandboxError::Serve)
}

/// Serves the sandbox on `listener` until `shutdown` completes, then finishes in-flight
/// requests (hanging ones are released) and returns.
pub async fn run(
    listener: TcpListener,
    config: SandboxConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SandboxError> {
    let stopping = CancellationToken::new();
    let state = build_state(config, stopping.clone())?;
    let trigger = stopping.clone();
    let watcher = tokio::spawn(async move {
        shutdown.await;
        trigger.cancel();
    });
    let result = serve(listener, state).await;
    watcher.abort();
    result
}

/// A sandbox running in the background on loopback.
pub struct SandboxHandle {
    state: Arc<AppState>,
    address: SocketAddr,
    task: JoinHandle<Result<(), SandboxError>>,
}

impl std::fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxHandle").field("address", &self.address).finish_non_exhaustive()
    }
}

/// Starts a sandbox on `127.0.0.1` with an ephemeral port.
pub async fn spawn(config: SandboxConfig) -> Result<SandboxHandle, SandboxError> {
    let requested = "127.0.0.1:0";
    let listener = TcpListener::bind(requested)
        .await
        .map_err(|source| SandboxError::Bind { address: requested.to_string(), source })?;
    let address = listener.local_addr().map_err(SandboxError::LocalAddr)?;
    let state = build_state(config, CancellationToken::new())?;
    let task = tokio::spawn(serve(listener, Arc::clone(&state)));
    tracing::info!(%address, "NerdGraph sandbox listening");
    Ok(SandboxHandle { state, address, task })
}

impl SandboxHandle {
    /// The NerdGraph endpoint: `http://127.0.0.1:PORT/graphql`.
    pub fn url(&self) -> String {
        format!("http://{}/graphql", self.address)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.address
    }

    /// The API key the sandbox accepts.
    pub fn api_key(&self) -> &str {
        &self.state.api_key
    }

    /// Counters so far.
    pub fn stats(&self) -> SandboxStats {
        self.state.counters.snapshot()
    }

    /// Replaces the fault configuration for requests that arrive from now on.
    pub fn set_faults(&self, faults: FaultConfig) {
        *self.state.faults.write().unwrap_or_else(std::sync::PoisonError::into_inner) = faults;
    }

    /// The generated data the sandbox started from (mutations do not change it).
    pub fn dataset(&self) -> &crate::Dataset {
        &self.state.world.dataset
    }

    /// Stops accepting, releases hanging requests, waits for in-flight ones to finish.
    pub async fn shutdown(self) {
        self.state.stopping.cancel();
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "sandbox stopped with an error"),
            Err(error) => tracing::warn!(%error, "sandbox task failed"),
        }
    }
}

fn error_response(status: StatusCode, message: &str, extensions: Option<Value>) -> Response {
    let mut error = json!({"message": message});
    if let (Some(extensions), Value::Object(map)) = (extensions, &mut error) {
        map.insert("extensions".to_string(), extensions);
    }
    json_response(status, &json!({"errors": [error]}))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    raw_json_response(status, bytes)
}

fn raw_json_response(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut response = (status, Body::from(bytes)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    response
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    KEY_HEADERS
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
}

/// Sleeps unless the sandbox stops first.
async fn pause(state: &AppState, duration: Duration) {
    if duration.is_zero() {
        return;
    }
    tokio::select! {
        () = tokio::time::sleep(duration) => {}
        () = state.stopping.cancelled() => {}
    }
}

async fn graphql_endpoint(
    State(Shared(state)): State<Shared>,
    ConnectInfo(connection): ConnectInfo<ConnectionControl>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let guard = state.counters.begin();
    let sequence = state.sequence.fetch_add(1, Ordering::Relaxed);
    let plan = faults::plan(&state.faults(), state.seed, sequence);
    let response = answer(&state, &connection, &headers, body, plan).await;
    guard.answered();
    response
}

async fn answer(
    state: &Arc<AppState>,
    connection: &ConnectionControl,
    headers: &HeaderMap,
    body: Bytes,
    plan: FaultPlan,
) -> Response {
    if presented_key(headers) != Some(state.api_key.as_str()) {
        state.counters.unauthorized();
        return error_response(
            StatusCode::UNAUTHORIZED,
            "Invalid API key",
            Some(json!({"errorClass": "UNAUTHORIZED", "error_code": "BAD_API_KEY"})),
        );
    }
    if !plan.latency.is_zero() {
        state.counters.delayed();
    }
    match plan.fault {
        Some(Fault::Hang) => {
            state.counters.fault(Fault::Hang);
            state.stopping.cancelled().await;
            return error_response(StatusCode::SERVICE_UNAVAILABLE, "The sandbox is shutting down", None);
        }
        Some(Fault::DropConnection) => {
            state.counters.fault(Fault::DropConnection);
            pause(state, plan.latency).await;
            connection.sever();
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        Some(fault @ Fault::ServerError(code)) => {
            state.counters.fault(fault);
            pause(state, plan.latency).await;
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error_response(
                status,
                status.canonical_reason().unwrap_or("Server error"),
                Some(json!({"errorClass": "INTERNAL_SERVER_ERROR"})),
            );
        }
        Some(Fault::RateLimited) => {
            state.counters.fault(Fault::RateLimited);
            pause(state, plan.latency).await;
            let retry_after = state.faults().retry_after_seconds;
            let mut response = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many concurrent requests: retry later",
                Some(json!({"errorClass": "TOO_MANY_REQUESTS"})),
            );
            if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        _ => {}
    }
    let request: GraphqlRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            pause(state, plan.latency).await;
            return error_response(
                StatusCode::BAD_REQUEST,
                &format!("Request body is not valid GraphQL-over-HTTP JSON: {error}"),
                None,
            );
        }
    };
    let prepared = match graphql::prepare(&state.schema, &request) {
        Ok(prepared) => prepared,
        Err(errors) => {
            state.counters.invalid();
            pause(state, plan.latency).await;
            return json_response(StatusCode::OK, &json!({"data": null, "errors": errors}));
        }
    };
    state.counters.operation(prepared.label());
    let forced_timeout = plan.fault == Some(Fault::GraphqlTimeout);
    if forced_timeout {
        state.counters.fault(Fault::GraphqlTimeout);
    }
    let worker_state = Arc::clone(state);
    let latency = plan.latency;
    let executed =
        tokio::task::spawn_blocking(move || execute(&worker_state, &prepared, latency, forced_timeout)).await;
    let (body, nrql_timeout) = match executed {
        Ok(result) => result,
        Err(error) => {
            tracing::error!(%error, "sandbox execution failed");
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
                Some(json!({"errorClass": "INTERNAL_SERVER_ERROR"})),
            );
        }
    };
    pause(state, nrql_timeout.map_or(latency, |timeout| latency.min(timeout))).await;
    let mut body = body;
    if plan.fault == Some(Fault::WrongShape) {
        state.counters.fault(Fault::WrongShape);
        body = json!({"data": {"actor": "unexpected"}});
    }
    let mut bytes = serde_json::to_vec(&body).unwrap_or_default();
    if plan.fault == Some(Fault::MalformedBody) {
        state.counters.fault(Fault::MalformedBody);
        bytes.truncate(bytes.len() / 2);
    }
    raw_json_response(StatusCode::OK, bytes)
}

/// Executes a validated request; returns the response body and the shortest NRQL timeout
/// it used.
fn execute(
    state: &AppState,
    prepared: &PreparedRequest,
    latency: Duration,
    forced_timeout: bool,
) -> (Value, Option<Duration>) {
    let mut ctx = RequestContext::new(&state.world);
    ctx.planned_latency = latency;
    ctx.forced_timeout = forced_timeout;
    let executor = Executor::new(&state.schema, &prepared.document, &prepared.variables);
    let (mut data, mut errors) = if prepared.is_mutation() {
        executor.execute(&MutationRoot { ctx: &ctx }, &prepared.operation.selection_set)
    } else {
        executor.execute(&QueryRoot { ctx: &ctx }, &prepared.operation.selection_set)
    };
    if forced_timeout && !ctx.timeout_reported.get() {
        // No NRQL field took the timeout: the first root field does, as a slow resolver would.
        if let Value::Object(map) = &mut data
            && let Some(key) = map.keys().next().cloned()
        {
            map.insert(key.clone(), Value::Null);
            errors.push(json!({
                "message": "Request timed out",
                "path": [key],
                "extensions": {"errorClass": "TIMEOUT"},
            }));
        }
    }
    let mut body = json!({"data": data});
    if !errors.is_empty()
        && let Value::Object(map) = &mut body
    {
        map.insert("errors".to_string(), Value::Array(errors));
    }
    (body, ctx.nrql_timeout.get())
}
