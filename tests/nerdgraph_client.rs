//! The NerdGraph client against a scripted NerdGraph on loopback: each test lists the answers
//! the server gives, in order, and checks what the client did with them (how many requests,
//! which headers, which outcome, how long it took).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::post;
use newrelic_mcp::nerdgraph::{ClientConfig, Endpoint, LoopbackPolicy, NerdGraphClient, RetryPolicy};
use newrelic_mcp_actors::upstream::{
    FailureClass, RequestKind, Upstream, UpstreamError, UpstreamRequest, UpstreamResponse,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const API_KEY: &str = "NRAK-TESTKEY0123456789ABCDEFGHIJ";
const NRQL_DOCUMENT: &str = "query NrqlQuery($accountId: Int!, $nrql: Nrql!) { actor { account(id: $accountId) { nrql(query: $nrql) { results } } } }";
const OK_BODY: &str = r#"{"data":{"actor":{"account":{"nrql":{"results":[{"count":42}]}}}}}"#;
const TIMEOUT_BODY: &str = r#"{"data":{"actor":{"account":{"nrql":null}}},"errors":[{"message":"NRDB query duration exceeded the set timeout","path":["actor","account","nrql"],"extensions":{"errorClass":"TIMEOUT"}}]}"#;
const SYNTAX_BODY: &str = r#"{"data":{"actor":{"account":{"nrql":null}}},"errors":[{"message":"NRQL Syntax Error: Error at line 1 position 8, unexpected 'FORM'","path":["actor","account","nrql"]}]}"#;

/// One scripted answer.
#[derive(Clone)]
enum Step {
    Reply {
        status: u16,
        headers: Vec<(&'static str, &'static str)>,
        body: &'static str,
        delay: Duration,
    },
    /// Never answers; records when the client abandons the request.
    Hang,
    /// Sends 200 and the start of a body, then breaks the connection.
    BreakBody,
}

fn reply(status: u16, body: &'static str) -> Step {
    Step::Reply { status, headers: Vec::new(), body, delay: Duration::ZERO }
}

fn ok() -> Step {
    reply(200, OK_BODY)
}

struct Seen {
    headers: HeaderMap,
    body: Value,
    at: Instant,
}

#[derive(Default)]
struct Script {
    steps: Mutex<VecDeque<Step>>,
    seen: Mutex<Vec<Seen>>,
    arrived: Notify,
    abandoned: Notify,
}

/// Signals the abandonment of a hanging request when the server drops its handler.
struct AbandonGuard(Arc<Script>);

impl Drop for AbandonGuard {
    fn drop(&mut self) {
        self.0.abandoned.notify_one();
    }
}

async fn answer(State(script): State<Arc<Script>>, headers: HeaderMap, body: Bytes) -> Response {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    script.seen.lock().unwrap().push(Seen { headers, body, at: Instant::now() });
    script.arrived.notify_one();
    let step = script.steps.lock().unwrap().pop_front();
    match step {
        Some(Step::Reply { status, headers, body, delay }) => {
            tokio::time::sleep(delay).await;
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap();
            for (name, value) in headers {
                response.headers_mut().insert(HeaderName::from_static(name), HeaderValue::from_static(value));
            }
            response
        }
        Some(Step::Hang) => {
            let _guard = AbandonGuard(script.clone());
            std::future::pending::<Response>().await
        }
        Some(Step::BreakBody) => {
            let chunks: Vec<Result<Bytes, io::Error>> = vec![
                Ok(Bytes::from_static(b"{\"data\":{\"actor\":")),
                Err(io::Error::other("connection cut")),
            ];
            Response::new(Body::from_stream(futures::stream::iter(chunks)))
        }
        None => {
            let mut response = Response::new(Body::from("the test script ran out of answers"));
            *response.status_mut() = StatusCode::IM_A_TEAPOT;
            response
        }
    }
}

struct TestServer {
    addr: SocketAddr,
    script: Arc<Script>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    async fn start(steps: Vec<Step>) -> Self {
        let script = Arc::new(Script { steps: Mutex::new(steps.into()), ..Script::default() });
        let app = Router::new().route("/graphql", post(answer)).with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, script, task }
    }

    fn client(&self) -> NerdGraphClient {
        client_for(&format!("http://{}/graphql", self.addr), fast_retries())
    }

    fn requests(&self) -> usize {
        self.script.seen.lock().unwrap().len()
    }

    fn header(&self, index: usize, name: &str) -> Option<String> {
        let seen = self.script.seen.lock().unwrap();
        seen[index].headers.get(name).map(|value| value.to_str().unwrap().to_owned())
    }

    fn arrival_gap(&self, first: usize, second: usize) -> Duration {
        let seen = self.script.seen.lock().unwrap();
        seen[second].at.duration_since(seen[first].at)
    }

    async fn wait_for_abandonment(&self) {
        tokio::time::timeout(Duration::from_secs(5), self.script.abandoned.notified())
            .await
            .expect("the server never saw the request go away");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_attempts: 4,
        min_attempt_time: Duration::from_millis(20),
    }
}

fn client_for(url: &str, retry: RetryPolicy) -> NerdGraphClient {
    let endpoint = Endpoint::custom(url, LoopbackPolicy::Permit).unwrap();
    let mut config = ClientConfig::new(endpoint, SecretString::from(API_KEY));
    config.retry = retry;
    config.connect_timeout = Duration::from_secs(2);
    NerdGraphClient::new(config).unwrap()
}

fn nrql_request(kind: RequestKind) -> UpstreamRequest {
    UpstreamRequest {
        operation: "NrqlQuery",
        document: NRQL_DOCUMENT.into(),
        variables: json!({"accountId": 1234567, "nrql": "SELECT count(*) FROM Transaction"}),
        kind,
        pagination: None,
        async_poll: None,
        experimental_opt_in: None,
    }
}

fn in_seconds(seconds: u64) -> Instant {
    Instant::now() + Duration::from_secs(seconds)
}

async fn call(
    client: &NerdGraphClient,
    request: &UpstreamRequest,
    deadline: Instant,
) -> Result<UpstreamResponse, UpstreamError> {
    bounded(client.execute(request, deadline, CancellationToken::new())).await
}

async fn run(
    client: &NerdGraphClient,
    request: &UpstreamRequest,
    deadline: Instant,
) -> Result<Value, UpstreamError> {
    call(client, request, deadline).await.map(|response| response.data)
}

/// Fails the test, rather than hanging it, when the client ignores its deadline or cancel token.
async fn bounded<T>(call: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .expect("the client neither answered nor gave up")
}

fn assert_key_absent(error: &UpstreamError) {
    assert!(!error.message.contains(API_KEY), "the key leaked into {:?}", error.message);
}

#[tokio::test]
async fn a_successful_query_sends_key_body_and_identity() {
    let server = TestServer::start(vec![ok()]).await;
    let client = server.client();
    let request = nrql_request(RequestKind::Read);

    let response = bounded(client.execute(&request, in_seconds(5), CancellationToken::new())).await.unwrap();

    assert_eq!(response.data["actor"]["account"]["nrql"]["results"][0]["count"], 42);
    assert!(response.partial_errors.is_empty());
    assert_eq!(response.pages, 1);
    assert_eq!(server.requests(), 1);
    assert_eq!(server.header(0, "api-key").as_deref(), Some(API_KEY));
    assert_eq!(server.header(0, "content-type").as_deref(), Some("application/json"));
    assert!(server.header(0, "user-agent").unwrap().starts_with("newrelic-mcp/"));
    assert_eq!(server.header(0, "nerd-graph-unsafe-experimental-opt-in"), None);
    let body = &server.script.seen.lock().unwrap()[0].body;
    assert_eq!(body["query"], NRQL_DOCUMENT);
    assert_eq!(body["variables"], request.variables);
}

#[tokio::test]
async fn experimental_operations_send_the_opt_in_header() {
    let server = TestServer::start(vec![reply(
        200,
        r#"{"data":{"aiIssuesAckIssue":{"error":null,"result":{"issueId":"7"}}}}"#,
    )])
    .await;
    let mut request = nrql_request(RequestKind::Write);
    request.experimental_opt_in = Some("AiIssues");

    let data = run(&server.client(), &request, in_seconds(5)).await.unwrap();

    assert_eq!(data["aiIssuesAckIssue"]["result"]["issueId"], "7");
    assert_eq!(server.header(0, "nerd-graph-unsafe-experimental-opt-in").as_deref(), Some("AiIssues"));
}

#[tokio::test]
async fn a_rejected_key_is_not_retried() {
    let server =
        TestServer::start(vec![reply(401, r#"{"errors":[{"message":"Invalid API key"}]}"#), ok()]).await;

    let error = run(&server.client(), &nrql_request(RequestKind::Read), in_seconds(5)).await.unwrap_err();

    assert_eq!(error.class, FailureClass::Auth);
    assert_eq!(error.status, Some(401));
    assert!(error.message.contains("NEW_RELIC_API_KEY"), "{}", error.message);
    assert_key_absent(&error);
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn rate_limits_are_retried_after_retry_after() {
    let limited =
        Step::Reply { status: 429, headers: vec![("retry-after", "1")], body: "", delay: Duration::ZERO };
    let server = TestServer::start(vec![limited, ok()]).await;

    let data = run(&server.client(), &nrql_request(RequestKind::Read), in_seconds(10)).await.unwrap();

    assert_eq!(data["actor"]["account"]["nrql"]["results"][0]["count"], 42);
    assert_eq!(server.requests(), 2);
    assert!(server.arrival_gap(0, 1) >= Duration::from_secs(1), "waited only {:?}", server.arrival_gap(0, 1));
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_fails_at_once() {
    let limited =
        Step::Reply { status: 429, headers: vec![("retry-after", "30")], body: "", delay: Duration::ZERO };
    let server = TestServer::start(vec![limited, ok()]).await;
    let started = Instant::now();

    let error = run(&server.client(), &nrql_request(RequestKind::Read), in_seconds(5)).await.unwrap_err();

    assert_eq!(error.class, FailureClass::RateLimited);
    assert_eq!(error.retry_after, Some(Duration::from_secs(30)));
    assert_eq!(server.requests(), 1);
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let server =
        TestServer::start(vec![reply(503, "unavailable"), reply(502, "<html>bad gateway</html>"), ok()])
            .await;

    let data = run(&server.client(), &nrql_request(RequestKind::Read), in_seconds(5)).await.unwrap();

    assert_eq!(data["actor"]["account"]["nrql"]["results"][0]["count"], 42);
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn graphql_timeouts_under_200_are_retried() {
    let server = TestServer::start(vec![reply(200, TIMEOUT_BODY), ok()]).await;

    let data = run(&server.client(), &nrql_request(RequestKind::Read), in_seconds(5)).await.unwrap();

    assert_eq!(data["actor"]["account"]["nrql"]["results"][0]["count"], 42);
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn persistent_graphql_timeouts_end_with_advice() {
    let server = TestServer::start(vec![reply(200, TIMEOUT_BODY); 4]).await;

    let error = run(&server.client(), &nrql_request(RequestKind::Read), in_seconds(5)).await.unwrap_err();

    assert_eq!(error.class, FailureClass::UpstreamTimeout);
    assert!(error.message.contains("SINCE"), "{}", error.message);
    assert_eq!(server.requests(), 4);
}

#[tokio::test]
async fn bad_nrql_is_not_retried_and_quotes_new_relic() {
    let server = TestServer::start(vec![reply(200, SYNTAX_BODY), ok()]).await;

    let error = run(&server.client(), &nrql_request(RequestKind::Read), in_seconds(5)).await.unwrap_err();

    assert_eq!(error.class, FailureClass::BadRequest);
    assert!(error.message.contains("unexpected 'FORM'"), "{}", error.message);
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn partial_data_is_kept_and_flagged() {
    // The answer fits the document's shape (a null field is legitimate), so only the error flags it.
    let partial = r#"{"data":{"actor":{"account":{"name":"checkout","nrql":null}}},"errors":[{"message":"NRQL results unavailable","path":["actor","account","nrql"]}]}"#;
    let server = TestServer::start(vec![reply(200, partial)]).await;

    let response = call(&server.client(), &nrql_request(RequestKind::Read), in_seconds(5)).await.unwrap();

    assert_eq!(response.data["actor"]["account"]["name"], "checkout");
    assert_eq!(response.partial_errors, ["NRQL results unavailable (at actor.account.nrql)"]);
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn partial_data_beside_a_persistent_timeout_is_returned_when_retries_run_out() {
    let body = r#"{"data":{"actor":{"a":{"nrql":{"results":[{"count":1}]}},"b":{"nrql":null}}},"errors":[{"message":"NRDB query duration exceeded the set timeout","path":["actor","b","nrql"],"extensions":{"errorClass":"TIMEOUT"}}]}"#;
    let server = TestServer::start(vec![reply(200, body); 2]).await;
    let client = client_for(
        &format!("http://{}/graphql", server.addr),
        RetryPolicy { max_attempts: 2, ..fast_retries() },
    );

    let response = call(&client, &nrql_request(RequestKind::Read), in_seconds(5)).await.unwrap();

    assert_eq!(server.requests(), 2);
    assert_eq!(response.data["actor"]["a"]["nrql"]["results"][0]["count"], 1);
    assert_eq!(response.partial_errors.len(), 1);
    assert!(response.partial_errors[0].contains("timeout"), "{:?}", response.partial_errors);
}

#[tokio::test]
async fn a_body_that_is_not_graphql_is_malformed() {
    let server = TestServer::start(vec![reply(200, "<html>maintenance</html>"); 2]).await;

    let error = run(&server.client(), &nrql_request(RequestKind::Read), in_seconds(5)).await.unwrap_err();

    assert_eq!(error.class, FailureClass::Malformed);
    assert!(error.message.contains("not JSON"), "{}", error.message);
    assert_eq!(server.requests(), 2, "a malformed answer is tried once more, and no further");
}

#[tokio::test]
async fn the_deadline_bounds_a_hanging_request() {
    let server = TestServer::start(vec![Step::Hang]).await;
    let started = Instant::now();

    let error = run(&server.client(), &nrql_request(RequestKind::Read), started + Duration::from_millis(300))
        .await
        .unwrap_err();

    let elapsed = started.elapsed();
    assert_eq!(error.class, FailureClass::DeadlineExceeded);
    assert!(error.message.contains("deadline"), "{}", error.message);
    assert!(elapsed >= Duration::from_millis(290), "gave up early: {elapsed:?}");
    assert!(elapsed < Duration::from_millis(1300), "overran the deadline: {elapsed:?}");
    server.wait_for_abandonment().await;
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn retries_never_outlive_the_deadline() {
    let slow_failure =
        Step::Reply { status: 503, headers: Vec::new(), body: "busy", delay: Duration::from_millis(120) };
    let server = TestServer::start(vec![slow_failure; 50]).await;
    let client = client_for(
        &format!("http://{}/graphql", server.addr),
        RetryPolicy { max_attempts: 50, ..fast_retries() },
    );
    let started = Instant::now();

    let error = run(&client, &nrql_request(RequestKind::Read), started + Duration::from_millis(500))
        .await
        .unwrap_err();

    let elapsed = started.elapsed();
    assert!(
        matches!(error.class, FailureClass::Transient | FailureClass::DeadlineExceeded),
        "unexpected {error:?}"
    );
    assert!(elapsed < Duration::from_millis(1500), "overran the deadline: {elapsed:?}");
    let requests = server.requests();
    assert!((1..=5).contains(&requests), "{requests} requests in 500 ms of 120 ms answers");
}

#[tokio::test]
async fn cancelling_aborts_the_request_in_flight() {
    let server = TestServer::start(vec![Step::Hang]).await;
    let client = server.client();
    let request = nrql_request(RequestKind::Read);
    let cancel = CancellationToken::new();
    let started = Instant::now();

    let call = client.execute(&request, in_seconds(30), cancel.clone());
    let canceller = async {
        tokio::time::timeout(Duration::from_secs(5), server.script.arrived.notified()).await.unwrap();
        cancel.cancel();
    };
    let (result, ()) = bounded(async { tokio::join!(call, canceller) }).await;

    let error = result.unwrap_err();
    assert_eq!(error.class, FailureClass::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(5));
    server.wait_for_abandonment().await;
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn dropping_the_call_aborts_the_request_in_flight() {
    let server = TestServer::start(vec![Step::Hang]).await;
    let client = server.client();
    let request = nrql_request(RequestKind::Read);

    let call = client.execute(&request, in_seconds(30), CancellationToken::new());
    tokio::select! {
        _ = call => panic!("a hanging request cannot succeed"),
        () = server.script.arrived.notified() => {}
    }

    server.wait_for_abandonment().await;
}

#[tokio::test]
async fn a_dropped_connection_is_retried_for_reads() {
    let server = TestServer::start(vec![Step::BreakBody, ok()]).await;

    let data = run(&server.client(), &nrql_request(RequestKind::Read), in_seconds(5)).await.unwrap();

    assert_eq!(data["actor"]["account"]["nrql"]["results"][0]["count"], 42);
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn writes_are_not_retried_once_sent() {
    let cases: Vec<(Step, FailureClass)> = vec![
        (reply(503, "unavailable"), FailureClass::Transient),
        (reply(200, TIMEOUT_BODY), FailureClass::UpstreamTimeout),
        (
            Step::Reply { status: 429, headers: vec![("retry-after", "0")], body: "", delay: Duration::ZERO },
            FailureClass::RateLimited,
        ),
        (Step::BreakBody, FailureClass::Unreachable),
    ];
    for (step, class) in cases {
        let server = TestServer::start(vec![step, ok()]).await;

        let error =
            run(&server.client(), &nrql_request(RequestKind::Write), in_seconds(5)).await.unwrap_err();

        assert_eq!(error.class, class, "{error:?}");
        assert_eq!(server.requests(), 1, "a {class:?} write was retried");
    }
}

#[tokio::test]
async fn mutation_payload_errors_fail_the_write() {
    let payload = r#"{"data":{"dashboardCreate":{"entityResult":null,"errors":[{"description":"Widget 1 has an invalid NRQL query","type":"INVALID_INPUT"}]}}}"#;
    let server = TestServer::start(vec![reply(200, payload), ok()]).await;

    let error = run(&server.client(), &nrql_request(RequestKind::Write), in_seconds(5)).await.unwrap_err();

    assert_eq!(error.class, FailureClass::Payload);
    assert!(error.message.contains("Widget 1 has an invalid NRQL query"), "{}", error.message);
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_within_the_deadline() {
    // Bind and release a port so that nothing listens on it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = client_for(&format!("http://127.0.0.1:{port}/graphql"), fast_retries());
    for kind in [RequestKind::Read, RequestKind::Write] {
        let started = Instant::now();

        let error = run(&client, &nrql_request(kind), in_seconds(5)).await.unwrap_err();

        assert_eq!(error.class, FailureClass::Unreachable, "{error:?}");
        assert!(error.message.contains("could not connect"), "{}", error.message);
        assert!(started.elapsed() < Duration::from_secs(3), "{kind:?} took {:?}", started.elapsed());
    }
}

/// Everything this test binary logs from the moment the logging test starts. A global
/// subscriber, because a thread-scoped one misses callsites that other test threads
/// registered first.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn captured_logs() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        capture
    })
}

#[tokio::test]
async fn logs_never_carry_the_key_or_the_variables() {
    let capture = captured_logs();

    let server = TestServer::start(vec![reply(503, "busy"), ok()]).await;
    run(&server.client(), &nrql_request(RequestKind::Read), in_seconds(5)).await.unwrap();

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("nerdgraph attempt"), "{logs}");
    assert!(logs.contains("NrqlQuery"), "{logs}");
    assert!(logs.contains("attempt=2"), "{logs}");
    assert!(!logs.contains(API_KEY), "the key leaked into the logs");
    assert!(!logs.contains("SELECT count"), "the variables leaked into the logs");
}
