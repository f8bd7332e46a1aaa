//! The seam between the runtime and whatever answers GraphQL requests.
//!
//! The runtime never sees HTTP: the server crate implements [`Upstream`] over reqwest,
//! tests implement it in memory. Failures carry a [`FailureClass`] so that the breaker,
//! the retry policy and the error a model sees all agree on what went wrong.

use std::borrow::Cow;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Whether a request may change anything upstream. Writes are never retried blindly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    Read,
    Write,
}

/// Follows `nextCursor` across pages, concatenating one list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pagination {
    /// Name of the GraphQL variable that carries the cursor.
    pub cursor_variable: &'static str,
    /// Path from `data` to the object that holds `nextCursor` and the list.
    pub page_path: &'static [&'static str],
    /// Name of the list field inside the page object.
    pub items_field: &'static str,
    /// Stop after this many pages even when more remain (the render says so).
    pub max_pages: usize,
}

/// Follows NerdGraph's asynchronous NRQL: a query started with `async: true` that has not
/// finished within its `timeout` answers with `queryProgress { queryId completed retryAfter }`
/// instead of results. The executor then polls with [`document`](Self::document) until the
/// query completes or the call's deadline passes, and splices the final answer into the first
/// response, so the renderer sees the same shape as a query that finished at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncPoll {
    /// Path from `data` to the NRQL result object (the one holding `results` and
    /// `queryProgress`) in the first response.
    pub result_path: &'static [&'static str],
    /// Operation name of the poll, for logs and metrics.
    pub operation: &'static str,
    /// The poll document. Its variables are those of the first request that it declares,
    /// plus `queryId`.
    pub document: &'static str,
    /// Path from `data` to the result object in a poll response.
    pub poll_result_path: &'static [&'static str],
}

/// One GraphQL request, fully built by a tool's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamRequest {
    /// GraphQL operation name, for logs and metrics.
    pub operation: &'static str,
    /// The GraphQL document. Built-in tools send static documents, which a contract test
    /// validates against the real schema; `query_nerdgraph` sends the caller's own.
    pub document: Cow<'static, str>,
    pub variables: Value,
    pub kind: RequestKind,
    pub pagination: Option<Pagination>,
    /// Set on NRQL started with `async: true`: how to poll until it finishes.
    pub async_poll: Option<AsyncPoll>,
    /// NerdGraph experimental opt-in header value, where an operation needs one.
    pub experimental_opt_in: Option<&'static str>,
}

/// What came back: `data`, plus the messages of any errors that arrived beside it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpstreamResponse {
    pub data: Value,
    /// Non-fatal GraphQL errors delivered beside partial data; kept and shown, never dropped.
    pub partial_errors: Vec<String>,
    /// Pages fetched (1 without pagination).
    pub pages: usize,
    /// True when pagination stopped at `max_pages` with more remaining.
    pub truncated: bool,
}

/// Why an upstream call failed. Decides retries, breaker trips and the message's advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureClass {
    /// 401/403 or `BAD_API_KEY`: the key is wrong or lacks access. Never retried.
    Auth,
    /// 429 or `TOO_MANY_REQUESTS`: retried after `Retry-After`.
    RateLimited,
    /// 5xx, `INTERNAL_SERVER_ERROR`, `SERVER_ERROR`: retried with backoff.
    Transient,
    /// GraphQL `TIMEOUT` (NRDB ran out of time): retried with backoff.
    UpstreamTimeout,
    /// Connection refused, reset or DNS failure.
    Unreachable,
    /// The body was not the JSON NerdGraph sends.
    Malformed,
    /// A GraphQL or NRQL error caused by the request itself (syntax, unknown field). Not retried.
    BadRequest,
    /// A mutation reported an error inside its payload.
    Payload,
    /// Our own deadline passed before an answer arrived.
    DeadlineExceeded,
    /// The caller cancelled.
    Cancelled,
}

impl FailureClass {
    /// Whether a read may be tried again.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::RateLimited | Self::Transient | Self::UpstreamTimeout | Self::Unreachable | Self::Malformed
        )
    }

    /// Whether this failure says the endpoint is unhealthy. Bad NRQL, bad arguments,
    /// auth problems and cancellations say nothing about the endpoint's health.
    pub fn trips_breaker(self) -> bool {
        self.is_retryable()
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct UpstreamError {
    pub class: FailureClass,
    pub message: String,
    pub status: Option<u16>,
    pub retry_after: Option<Duration>,
}

impl UpstreamError {
    pub fn new(class: FailureClass, message: impl Into<String>) -> Self {
        Self { class, message: message.into(), status: None, retry_after: None }
    }
}

/// Anything that answers GraphQL requests: NerdGraph over HTTPS, or an in-memory double.
///
/// Implementations retry reads internally within `deadline`; the runtime records only the
/// final outcome. Dropping the future, or cancelling `cancel`, must abandon the call.
pub trait Upstream: Send + Sync + 'static {
    /// Identifies the endpoint, one circuit breaker per distinct value.
    fn endpoint(&self) -> &str;

    fn execute<'a>(
        &'a self,
        request: &'a UpstreamRequest,
        deadline: Instant,
        cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<UpstreamResponse, UpstreamError>>;
}
