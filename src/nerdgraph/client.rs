//! The NerdGraph client: one pooled HTTP client, the attempt loop, and the [`Upstream`]
//! implementation the runtime calls.
//!
//! Each attempt is raced against the caller's deadline and cancel token; dropping the
//! in-flight reqwest future aborts the HTTP exchange, so a cancelled tool call stops costing
//! New Relic anything at once. Retries follow [`RetryPolicy`] and [`retry_permitted`].

use std::fmt;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use newrelic_mcp_actors::upstream::{
    FailureClass, RequestKind, Upstream, UpstreamError, UpstreamRequest, UpstreamResponse,
};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::classify::{TransportFailure, Verdict, classify_with_fallback, transport_error};
use super::endpoint::Endpoint;
use super::retry::{Delivery, RetryPolicy, retry_permitted};
use super::shape;

const USER_AGENT: &str = concat!("newrelic-mcp/", env!("CARGO_PKG_VERSION"));
const API_KEY_HEADER: HeaderName = HeaderName::from_static("api-key");
const OPT_IN_HEADER: HeaderName = HeaderName::from_static("nerd-graph-unsafe-experimental-opt-in");

/// How to reach NerdGraph and how hard to try.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub endpoint: Endpoint,
    /// A New Relic User key (NRAK-…). Surrounding whitespace is ignored.
    pub api_key: SecretString,
    /// Limit on establishing one connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// How long an idle pooled connection is kept warm.
    pub pool_idle_timeout: Duration,
    pub retry: RetryPolicy,
    /// Larger answers are refused rather than buffered.
    pub max_response_bytes: usize,
}

impl ClientConfig {
    /// The defaults: 5 s to connect, idle connections kept 90 s, [`RetryPolicy::default`],
    /// answers up to 64 MiB (5,000 wide NRQL rows fit comfortably).
    pub fn new(endpoint: Endpoint, api_key: SecretString) -> Self {
        Self {
            endpoint,
            api_key,
            connect_timeout: Duration::from_secs(5),
            pool_idle_timeout: Duration::from_secs(90),
            retry: RetryPolicy::default(),
            max_response_bytes: 64 * 1024 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("NEW_RELIC_API_KEY is empty: set it to a New Relic User key (NRAK-…)")]
    MissingApiKey,
    #[error(
        "NEW_RELIC_API_KEY contains characters that cannot travel in an HTTP header (line breaks, \
         control or non-ASCII characters): copy the key again"
    )]
    InvalidApiKey,
    #[error("could not set up the HTTP client for NerdGraph: {0}")]
    Http(#[source] reqwest::Error),
}

/// A pooled NerdGraph client. Cheap to share behind an `Arc`; every request reuses warm
/// connections.
pub struct NerdGraphClient {
    http: reqwest::Client,
    endpoint: Endpoint,
    /// The endpoint's host, the only part of the URL that error messages mention.
    host: String,
    /// Marked sensitive so that header dumps show it redacted.
    api_key: HeaderValue,
    retry: RetryPolicy,
    max_response_bytes: usize,
}

impl fmt::Debug for NerdGraphClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NerdGraphClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("retry", &self.retry)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

impl NerdGraphClient {
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        let key = config.api_key.expose_secret().trim();
        if key.is_empty() {
            return Err(ClientError::MissingApiKey);
        }
        let mut api_key = HeaderValue::from_str(key).map_err(|_| ClientError::InvalidApiKey)?;
        api_key.set_sensitive(true);

        // reqwest is built without a bundled crypto provider; install ring unless the
        // process already chose one (an `Err` here means exactly that, which is fine).
        let _already_installed = rustls::crypto::ring::default_provider().install_default();

        let builder = reqwest::Client::builder();
        // reqwest takes HTTP_PROXY and friends from the environment; a proxy cannot reach a
        // loopback endpoint (it is the proxy's own loopback), and over plain http it would
        // read the API key.
        let builder = if config.endpoint.is_loopback() { builder.no_proxy() } else { builder };
        let http = builder
            .user_agent(USER_AGENT)
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(config.pool_idle_timeout)
            .tcp_nodelay(true)
            .tcp_keepalive(Duration::from_secs(30))
            .http2_adaptive_window(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .http2_keep_alive_timeout(Duration::from_secs(10))
            .http2_keep_alive_while_idle(true)
            // A redirect would carry the API key to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .https_only(!config.endpoint.is_loopback())
            .build()
            .map_err(ClientError::Http)?;

        Ok(Self {
            http,
            host: config.endpoint.url().host_str().unwrap_or_default().to_owned(),
            endpoint: config.endpoint,
            api_key,
            retry: config.retry,
            max_response_bytes: config.max_response_bytes,
        })
    }

    /// Sends `request`, retrying per the policy until it succeeds, fails for good, the
    /// deadline passes or `cancel` fires.
    pub async fn send(
        &self,
        request: &UpstreamRequest,
        deadline: Instant,
        cancel: CancellationToken,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let started = Instant::now();
        let body = encode_body(request)?;
        let opt_in = match request.experimental_opt_in.map(HeaderValue::from_str).transpose() {
            Ok(value) => value,
            Err(_) => {
                return Err(UpstreamError::new(
                    FailureClass::BadRequest,
                    format!(
                        "operation {} has an experimental opt-in that is not a valid header value",
                        request.operation
                    ),
                ));
            }
        };
        let mut attempt: u32 = 0;
        let mut last_error: Option<UpstreamError> = None;
        // Partial data that arrived beside a retryable error: the answer if no retry does better.
        let mut fallback: Option<UpstreamResponse> = None;
        loop {
            attempt += 1;
            let attempt_started = Instant::now();
            let outcome = tokio::select! {
                biased;
                () = cancel.cancelled() => {
                    log_attempt(request, attempt, None, Some(FailureClass::Cancelled), attempt_started);
                    return Err(cancelled());
                }
                () = tokio::time::sleep_until(deadline) => {
                    log_attempt(request, attempt, None, Some(FailureClass::DeadlineExceeded), attempt_started);
                    return fallback.ok_or_else(|| deadline_error(started, deadline, attempt, last_error.as_ref()));
                }
                outcome = self.attempt(request.kind, &body, opt_in.as_ref(), deadline) => outcome,
            };
            let (error, delivery) = match outcome {
                Attempt::Answered { status, verdict: Verdict { outcome: Ok(response), .. } } => {
                    // A read whose answer has the wrong shape would render as "no data" and be
                    // cached: it is a retryable upstream failure instead. A write's answer is
                    // kept: the change may have been applied, and a retry could apply it twice.
                    match shape::check(&request.document, &response.data) {
                        Err(shape) if request.kind == RequestKind::Read => {
                            let error = UpstreamError {
                                class: FailureClass::Malformed,
                                message: shape.to_string(),
                                status: Some(status),
                                retry_after: None,
                            };
                            log_attempt(request, attempt, Some(status), Some(error.class), attempt_started);
                            (error, Delivery::MaybeSent)
                        }
                        _ => {
                            log_attempt(request, attempt, Some(status), None, attempt_started);
                            return Ok(response);
                        }
                    }
                }
                Attempt::Answered { status, verdict: Verdict { outcome: Err(error), fallback: partial } } => {
                    log_attempt(request, attempt, Some(status), Some(error.class), attempt_started);
                    fallback = partial.or(fallback);
                    (error, Delivery::MaybeSent)
                }
                Attempt::Failed { error, delivery } => {
                    log_attempt(request, attempt, None, Some(error.class), attempt_started);
                    (error, delivery)
                }
            };
            if error.class == FailureClass::DeadlineExceeded {
                return fallback
                    .ok_or_else(|| deadline_error(started, deadline, attempt, last_error.as_ref()));
            }
            let delay = if retry_permitted(request.kind, error.class, delivery) {
                let mut rng = rand::rng();
                self.retry.next_delay(
                    attempt,
                    error.class,
                    error.retry_after,
                    Instant::now(),
                    deadline,
                    &mut rng,
                )
            } else {
                None
            };
            let Some(delay) = delay else {
                return fallback.ok_or(error);
            };
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(cancelled()),
                () = tokio::time::sleep(delay) => {}
            }
            last_error = Some(error);
        }
    }

    /// One HTTP exchange, classified.
    async fn attempt(
        &self,
        kind: RequestKind,
        body: &[u8],
        opt_in: Option<&HeaderValue>,
        deadline: Instant,
    ) -> Attempt {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let mut builder = self
            .http
            .post(self.endpoint.url().clone())
            .header(API_KEY_HEADER, self.api_key.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .timeout(remaining)
            .body(body.to_vec());
        if let Some(opt_in) = opt_in {
            builder = builder.header(OPT_IN_HEADER, opt_in.clone());
        }
        let mut response = match builder.send().await {
            Ok(response) => response,
            Err(err) => return self.transport_failure(&err),
        };
        let received_at = SystemTime::now();
        let status = response.status();
        let headers = response.headers().clone();
        if response.content_length().is_some_and(|length| length > self.max_response_bytes as u64) {
            return self.too_large(status.as_u16());
        }
        let mut collected = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if collected.len().saturating_add(chunk.len()) > self.max_response_bytes {
                        return self.too_large(status.as_u16());
                    }
                    collected.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(err) => return self.transport_failure(&err),
            }
        }
        let verdict = classify_with_fallback(status, &headers, &collected, kind, received_at);
        Attempt::Answered { status: status.as_u16(), verdict }
    }

    fn transport_failure(&self, err: &reqwest::Error) -> Attempt {
        if err.is_builder() {
            return Attempt::Failed {
                error: UpstreamError::new(
                    FailureClass::BadRequest,
                    format!("could not build the NerdGraph request: {}", root_cause(err)),
                ),
                delivery: Delivery::NotSent,
            };
        }
        // A connect timeout is both; it is a connect failure (nothing was sent).
        let (failure, delivery) = if err.is_connect() {
            (TransportFailure::Connect, Delivery::NotSent)
        } else if err.is_timeout() {
            (TransportFailure::Timeout, Delivery::MaybeSent)
        } else {
            (TransportFailure::Interrupted, Delivery::MaybeSent)
        };
        Attempt::Failed { error: transport_error(failure, &self.host, &root_cause(err)), delivery }
    }

    fn too_large(&self, status: u16) -> Attempt {
        let mut error = UpstreamError::new(
            FailureClass::BadRequest,
            format!(
                "NerdGraph's answer is larger than {} MiB: narrow the query (a smaller LIMIT, fewer \
                 attributes or a shorter SINCE)",
                self.max_response_bytes / (1024 * 1024)
            ),
        );
        error.status = Some(status);
        Attempt::Failed { error, delivery: Delivery::MaybeSent }
    }
}

impl Upstream for NerdGraphClient {
    fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    fn execute<'a>(
        &'a self,
        request: &'a UpstreamRequest,
        deadline: Instant,
        cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<UpstreamResponse, UpstreamError>> {
        Box::pin(self.send(request, deadline, cancel))
    }
}

enum Attempt {
    /// New Relic answered with a status and a body.
    Answered { status: u16, verdict: Verdict },
    /// No (complete) answer arrived.
    Failed { error: UpstreamError, delivery: Delivery },
}

#[derive(Serialize)]
struct GraphQlBody<'a> {
    query: &'a str,
    #[serde(skip_serializing_if = "Value::is_null")]
    variables: &'a Value,
}

fn encode_body(request: &UpstreamRequest) -> Result<Vec<u8>, UpstreamError> {
    serde_json::to_vec(&GraphQlBody { query: &request.document, variables: &request.variables }).map_err(
        |err| {
            UpstreamError::new(
                FailureClass::BadRequest,
                format!("could not encode the variables of {}: {err}", request.operation),
            )
        },
    )
}

fn cancelled() -> UpstreamError {
    UpstreamError::new(FailureClass::Cancelled, "the request was cancelled before NerdGraph answered")
}

fn deadline_error(
    started: Instant,
    deadline: Instant,
    attempts: u32,
    last_error: Option<&UpstreamError>,
) -> UpstreamError {
    let budget = deadline.saturating_duration_since(started).as_secs_f64();
    let tries = if attempts == 1 { "1 attempt".to_owned() } else { format!("{attempts} attempts") };
    let last =
        last_error.map(|error| format!("; the last failure was: {}", error.message)).unwrap_or_default();
    let mut error = UpstreamError::new(
        FailureClass::DeadlineExceeded,
        format!("NerdGraph did not answer within the {budget:.1} s deadline ({tries}{last})"),
    );
    error.status = last_error.and_then(|error| error.status);
    error
}

/// The innermost error's text: the useful part ("Connection refused") without the wrappers.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

fn log_attempt(
    request: &UpstreamRequest,
    attempt: u32,
    status: Option<u16>,
    class: Option<FailureClass>,
    started: Instant,
) {
    tracing::debug!(
        operation = request.operation,
        attempt,
        status,
        class = class.map(|class| format!("{class:?}")),
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "nerdgraph attempt"
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::nerdgraph::endpoint::{LoopbackPolicy, Region};

    fn config(key: &str) -> ClientConfig {
        ClientConfig::new(Endpoint::for_region(Region::Us).unwrap(), SecretString::from(key.to_owned()))
    }

    #[test]
    fn keys_are_checked_and_never_shown() {
        assert!(matches!(NerdGraphClient::new(config("  ")), Err(ClientError::MissingApiKey)));
        assert!(matches!(NerdGraphClient::new(config("NRAK-a\nb")), Err(ClientError::InvalidApiKey)));
        let client = NerdGraphClient::new(config(" NRAK-SECRETKEY\n")).unwrap();
        assert_eq!(client.api_key.to_str().unwrap(), "NRAK-SECRETKEY");
        assert!(client.api_key.is_sensitive());
        let shown = format!("{client:?} {:?}", config("NRAK-SECRETKEY"));
        assert!(!shown.contains("SECRETKEY"), "{shown}");
        assert!(shown.contains("https://api.newrelic.com/graphql"), "{shown}");
    }

    #[test]
    fn endpoint_identifies_the_upstream() {
        let endpoint = Endpoint::custom("http://127.0.0.1:9/graphql", LoopbackPolicy::Permit).unwrap();
        let client =
            NerdGraphClient::new(ClientConfig::new(endpoint, SecretString::from("k".to_owned()))).unwrap();
        assert_eq!(Upstream::endpoint(&client), "http://127.0.0.1:9/graphql");
    }

    #[test]
    fn bodies_carry_query_and_variables() {
        let mut request = UpstreamRequest {
            operation: "NrqlQuery",
            document: "query { actor { user { name } } }".into(),
            variables: serde_json::json!({"accountId": 1}),
            kind: RequestKind::Read,
            pagination: None,
            async_poll: None,
            experimental_opt_in: None,
        };
        let body: Value = serde_json::from_slice(&encode_body(&request).unwrap()).unwrap();
        assert_eq!(body, serde_json::json!({"query": request.document, "variables": {"accountId": 1}}));
        request.variables = Value::Null;
        let body: Value = serde_json::from_slice(&encode_body(&request).unwrap()).unwrap();
        assert_eq!(body, serde_json::json!({"query": request.document}));
    }

    #[test]
    fn deadline_errors_mention_the_last_failure() {
        let started = Instant::now();
        let mut last = UpstreamError::new(FailureClass::Transient, "HTTP 503");
        last.status = Some(503);
        let error = deadline_error(started, started + Duration::from_millis(2500), 3, Some(&last));
        assert_eq!(error.class, FailureClass::DeadlineExceeded);
        assert_eq!(error.status, Some(503));
        assert!(error.message.contains("2.5 s"), "{}", error.message);
        assert!(error.message.contains("3 attempts"), "{}", error.message);
        assert!(error.message.contains("HTTP 503"), "{}", error.message);
    }
}
