//! Following NerdGraph's asynchronous NRQL until the query completes.
//!
//! An NRQL query sent with `async: true` that has not finished within its `timeout`
//! answers with `queryProgress { queryId completed retryAfter }` instead of results. The
//! worker then polls `nrqlQueryProgress(queryId:)` (see [`AsyncPoll`]), waiting at least
//! `retryAfter` between polls, until New Relic reports the query complete or the call's
//! deadline leaves no room for another poll. The final result object replaces the pending
//! one in the first response, so a renderer sees exactly what a query that finished at
//! once would have produced.
//!
//! The decisions (is it done, when to poll next, what to send, how to splice) are plain
//! functions; [`follow`] is the loop around them.

use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::pagination::page_object;
use crate::tool::{ToolError, ToolErrorKind};
use crate::upstream::{
    AsyncPoll, FailureClass, RequestKind, UpstreamError, UpstreamRequest, UpstreamResponse,
};

/// Polls never follow each other faster than this, whatever `retryAfter` says, so that a
/// server answering `retryAfter: 0` for a query still running is not polled in a hot loop.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Used when New Relic reports a query incomplete without a `retryAfter`.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The name of the poll variable that carries the query's id.
const QUERY_ID_VARIABLE: &str = "queryId";

/// Where an asynchronous query stands, read from one response.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// The response holds the final answer (or no NRQL result at all, which the renderer
    /// explains from the errors beside it).
    Done,
    /// Still running: poll with `query_id`, no sooner than `retry_after`.
    Running { query_id: String, retry_after: Duration },
}

/// Reads the `queryProgress` of the result object at `path`.
///
/// A missing or null result object, or one without `queryProgress` (a synchronous answer),
/// counts as done. A query reported incomplete without a `queryId` cannot be followed.
pub fn read_progress(data: &Value, path: &[&str]) -> Result<Progress, UpstreamError> {
    let Some(progress) = page_object(data, path).and_then(|result| result.get("queryProgress")) else {
        return Ok(Progress::Done);
    };
    if progress.is_null() || progress.get("completed").and_then(Value::as_bool) == Some(true) {
        return Ok(Progress::Done);
    }
    let query_id = match progress.get("queryId") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        Some(Value::Number(id)) => id.to_string(),
        _ => {
            return Err(UpstreamError::new(
                FailureClass::Malformed,
                "New Relic reported the NRQL query still running but sent no queryId to poll",
            ));
        }
    };
    let retry_after = progress
        .get("retryAfter")
        .and_then(Value::as_f64)
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        // A wait beyond any Duration is a wait past every deadline, not a panic.
        .map_or(DEFAULT_POLL_INTERVAL, |seconds| {
            Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
        })
        .max(MIN_POLL_INTERVAL);
    Ok(Progress::Running { query_id, retry_after })
}

/// When to send the next poll: `retry_after` from `now`, or `None` when that instant
/// leaves no time before `deadline` for the poll itself.
pub fn next_poll_at(now: Instant, retry_after: Duration, deadline: Instant) -> Option<Instant> {
    let at = now.checked_add(retry_after)?;
    (at < deadline).then_some(at)
}

/// The poll's variables: those of the first request that the poll document uses (a strict
/// server refuses variables a document does not declare), plus `queryId`.
pub fn poll_variables(original: &Value, poll_document: &str, query_id: &str) -> Value {
    let mut variables: Map<String, Value> = match original {
        Value::Object(map) => map
            .iter()
            .filter(|(name, _)| declares_variable(poll_document, name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
        _ => Map::new(),
    };
    variables.insert(QUERY_ID_VARIABLE.to_string(), Value::String(query_id.to_string()));
    Value::Object(variables)
}

/// Whether `$name` appears in `document` as a whole variable name.
fn declares_variable(document: &str, name: &str) -> bool {
    let needle = format!("${name}");
    document.match_indices(&needle).any(|(start, _)| {
        let after = document[start + needle.len()..].chars().next();
        !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The poll request for `query_id`.
pub fn poll_request(first: &UpstreamRequest, poll: &AsyncPoll, query_id: &str) -> UpstreamRequest {
    UpstreamRequest {
        operation: poll.operation,
        document: Cow::Borrowed(poll.document),
        variables: poll_variables(&first.variables, poll.document, query_id),
        kind: RequestKind::Read,
        pagination: None,
        async_poll: None,
        experimental_opt_in: first.experimental_opt_in,
    }
}

/// The first response with the result object at `path` replaced by `result`, and the
/// partial errors of the poll kept beside its own.
pub fn splice(
    mut first: UpstreamResponse,
    path: &[&str],
    result: Value,
    poll_errors: Vec<String>,
) -> UpstreamResponse {
    if let Some((last, parents)) = path.split_last() {
        let parent = parents.iter().try_fold(&mut first.data, |value, segment| value.get_mut(*segment));
        if let Some(Value::Object(parent)) = parent {
            parent.insert((*last).to_string(), result);
        }
    } else {
        first.data = result;
    }
    first.partial_errors.extend(poll_errors);
    first
}

/// Why following an asynchronous query failed.
#[derive(Debug, Clone, PartialEq)]
pub enum PollFailure {
    /// A poll (or the first request) failed the way any upstream call can.
    Upstream(UpstreamError),
    /// The query was still running when the call's deadline left no room for another poll.
    StillRunning {
        query_id: String,
        /// What New Relic last asked the caller to wait.
        retry_after: Duration,
    },
}

impl PollFailure {
    /// The failure class the breaker records: a query still running says nothing about the
    /// endpoint's health.
    pub fn class(&self) -> FailureClass {
        match self {
            Self::Upstream(error) => error.class,
            Self::StillRunning { .. } => FailureClass::DeadlineExceeded,
        }
    }

    /// The error a model sees; `timeout` is the call's whole budget.
    pub fn tool_error(&self, timeout: Duration) -> ToolError {
        match self {
            Self::Upstream(error) => super::errors::tool_error(error, timeout),
            Self::StillRunning { query_id, retry_after } => ToolError::new(
                ToolErrorKind::Timeout,
                format!(
                    "the NRQL query is still running in New Relic (queryId {query_id}), and the next check \
                     (New Relic asks to wait {} s) would fall past this call's {} s deadline: narrow SINCE or add \
                     a WHERE to scan less data, or retry with a longer timeout_seconds",
                    whole_seconds(*retry_after),
                    whole_seconds(timeout)
                ),
            ),
        }
    }
}

fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// Polls until the query behind `first` completes, then splices its result into `first`.
///
/// `fetch` sends one poll (raced against the deadline and cancellation by the caller's
/// own fetch). A response that needs no polling is returned unchanged.
pub async fn follow<F, Fut>(
    first: UpstreamResponse,
    request: &UpstreamRequest,
    poll: &AsyncPoll,
    deadline: Instant,
    cancel: &CancellationToken,
    mut fetch: F,
) -> Result<UpstreamResponse, PollFailure>
where
    F: FnMut(UpstreamRequest) -> Fut,
    Fut: Future<Output = Result<UpstreamResponse, UpstreamError>>,
{
    let mut progress = read_progress(&first.data, poll.result_path).map_err(PollFailure::Upstream)?;
    let mut poll_errors = Vec::new();
    loop {
        let Progress::Running { query_id, retry_after } = progress else {
            return Ok(first);
        };
        let still_running = |query_id: String| PollFailure::StillRunning { query_id, retry_after };
        let Some(poll_at) = next_poll_at(Instant::now(), retry_after, deadline) else {
            return Err(still_running(query_id));
        };
        tokio::select! {
            biased;
            () = cancel.cancelled() => {
                return Err(PollFailure::Upstream(UpstreamError::new(
                    FailureClass::Cancelled,
                    "cancelled by the caller",
                )));
            }
            () = tokio::time::sleep_until(poll_at) => {}
        }
        let answer = match fetch(poll_request(request, poll, &query_id)).await {
            Ok(answer) => answer,
            Err(error) if error.class == FailureClass::DeadlineExceeded => {
                return Err(still_running(query_id));
            }
            Err(error) => return Err(PollFailure::Upstream(error)),
        };
        progress = read_progress(&answer.data, poll.poll_result_path).map_err(PollFailure::Upstream)?;
        poll_errors.extend(answer.partial_errors);
        if progress == Progress::Done {
            let result = page_object(&answer.data, poll.poll_result_path).cloned().unwrap_or(Value::Null);
            return Ok(splice(first, poll.result_path, result, poll_errors));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::sync::Mutex;

    use serde_json::json;

    use super::*;

    #[test]
    fn an_absurd_retry_after_is_a_wait_past_the_deadline_not_a_panic() {
        for seconds in [json!(1e20), json!(f64::MAX), json!(18_446_744_073_709_551_615_u64)] {
            let data =
                json!({"r": {"queryProgress": {"queryId": "q", "completed": false, "retryAfter": seconds}}});
            let Ok(Progress::Running { retry_after, .. }) = read_progress(&data, &["r"]) else {
                panic!("still running: {seconds}")
            };
            let now = Instant::now();
            assert_eq!(next_poll_at(now, retry_after, now + Duration::from_secs(300)), None, "{seconds}");
        }
    }

    const POLL: AsyncPoll = AsyncPoll {
        result_path: &["actor", "account", "nrql"],
        operation: "NrqlQueryProgress",
        document: "query NrqlQueryProgress($accountId: Int!, $queryId: ID!) { actor { account(id: $accountId) { \
                   nrqlQueryProgress(queryId: $queryId) { results queryProgress { queryId completed retryAfter } } } } }",
        poll_result_path: &["actor", "account", "nrqlQueryProgress"],
    };

    fn first_request() -> UpstreamRequest {
        UpstreamRequest {
            operation: "NrqlQuery",
            document: Cow::Borrowed("query NrqlQuery($accountId: Int!, $nrql: Nrql!) { x }"),
            variables: json!({"accountId": 7, "nrql": "SELECT 1", "timeout": 5, "async": true}),
            kind: RequestKind::Read,
            pagination: None,
            async_poll: Some(POLL),
            experimental_opt_in: None,
        }
    }

    fn nrql(progress: Value, results: Value) -> Value {
        json!({"actor": {"account": {"nrql": {"results": results, "queryProgress": progress}}}})
    }

    fn poll_answer(progress: Value, results: Value) -> UpstreamResponse {
        UpstreamResponse {
            data: json!({"actor": {"account": {"nrqlQueryProgress": {"results": results, "queryProgress": progress}}}}),
            pages: 1,
            ..Default::default()
        }
    }

    fn running(id: &str, retry_after: u64) -> Value {
        json!({"queryId": id, "completed": false, "retryAfter": retry_after})
    }

    #[test]
    fn progress_is_read_from_the_result_object() {
        let path = POLL.result_path;
        let cases: Vec<(Value, Result<Progress, FailureClass>)> = vec![
            (json!({"actor": {"account": {"nrql": {"results": [1]}}}}), Ok(Progress::Done)),
            (nrql(Value::Null, json!([1])), Ok(Progress::Done)),
            (nrql(json!({"queryId": "q", "completed": true}), json!([1])), Ok(Progress::Done)),
            (json!({"actor": {"account": {"nrql": null}}}), Ok(Progress::Done)),
            (Value::Null, Ok(Progress::Done)),
            (
                nrql(running("q1", 3), Value::Null),
                Ok(Progress::Running { query_id: "q1".into(), retry_after: Duration::from_secs(3) }),
            ),
            (
                nrql(json!({"queryId": "q2", "completed": false}), Value::Null),
                Ok(Progress::Running { query_id: "q2".into(), retry_after: DEFAULT_POLL_INTERVAL }),
            ),
            (
                nrql(json!({"queryId": "q3", "completed": null, "retryAfter": 0}), Value::Null),
                Ok(Progress::Running { query_id: "q3".into(), retry_after: MIN_POLL_INTERVAL }),
            ),
            (
                nrql(json!({"queryId": 42, "completed": false, "retryAfter": 1.5}), Value::Null),
                Ok(Progress::Running { query_id: "42".into(), retry_after: Duration::from_millis(1_500) }),
            ),
            (
                nrql(json!({"queryId": "q4", "completed": false, "retryAfter": -2}), Value::Null),
                Ok(Progress::Running { query_id: "q4".into(), retry_after: DEFAULT_POLL_INTERVAL }),
            ),
            (nrql(json!({"completed": false, "retryAfter": 1}), Value::Null), Err(FailureClass::Malformed)),
            (nrql(json!({"queryId": "", "completed": false}), Value::Null), Err(FailureClass::Malformed)),
        ];
        for (data, expected) in cases {
            assert_eq!(read_progress(&data, path).map_err(|error| error.class), expected, "{data}");
        }
    }

    #[test]
    fn the_next_poll_must_fit_before_the_deadline() {
        let now = Instant::now();
        let second = Duration::from_secs(1);
        let cases = [
            (second, now + 10 * second, Some(now + second)),
            (second, now + second, None),
            (5 * second, now + 2 * second, None),
            (Duration::ZERO, now + second, Some(now)),
            (Duration::MAX, now + second, None),
        ];
        for (retry_after, deadline, expected) in cases {
            assert_eq!(next_poll_at(now, retry_after, deadline), expected, "{retry_after:?}");
        }
    }

    #[test]
    fn poll_variables_keep_what_the_poll_document_uses() {
        let cases = [
            (
                json!({"accountId": 7, "nrql": "SELECT 1", "timeout": 5}),
                "query($accountId: Int!, $queryId: ID!) { a(id: $accountId) { p(queryId: $queryId) { x } } }",
                json!({"accountId": 7, "queryId": "q"}),
            ),
            (
                json!({"accounts": [1, 2], "nrql": "SELECT 1"}),
                "query($accounts: [Int!]!, $queryId: ID!) { p(accounts: $accounts, queryId: $queryId) { x } }",
                json!({"accounts": [1, 2], "queryId": "q"}),
            ),
            // `$account` is not `$accountId`: only whole names count.
            (
                json!({"account": 1, "accountId": 7}),
                "query($accountId: Int!, $queryId: ID!) { a(id: $accountId) { x } }",
                json!({"accountId": 7, "queryId": "q"}),
            ),
            (json!({"queryId": "old"}), "query($queryId: ID!) { x }", json!({"queryId": "q"})),
            (Value::Null, "query($queryId: ID!) { x }", json!({"queryId": "q"})),
        ];
        for (original, document, expected) in cases {
            assert_eq!(poll_variables(&original, document, "q"), expected, "{document}");
        }
    }

    #[test]
    fn the_poll_request_is_a_read_of_the_poll_document() {
        let mut first = first_request();
        first.experimental_opt_in = Some("Beta");
        let request = poll_request(&first, &POLL, "abc");
        assert_eq!(request.operation, "NrqlQueryProgress");
        assert_eq!(request.document, POLL.document);
        assert_eq!(request.kind, RequestKind::Read);
        assert_eq!(request.async_poll, None);
        assert_eq!(request.variables, json!({"accountId": 7, "queryId": "abc"}));
        assert_eq!(request.experimental_opt_in, Some("Beta"));
    }

    #[test]
    fn splicing_replaces_the_pending_result_and_keeps_everything_else() {
        let first = UpstreamResponse {
            data: json!({"actor": {"account": {"id": 7, "nrql": {"results": null, "queryProgress": running("q", 1)}}}}),
            partial_errors: vec!["first".into()],
            pages: 1,
            truncated: false,
        };
        let result = json!({"results": [{"count": 3}], "queryProgress": {"queryId": "q", "completed": true}});
        let spliced = splice(first.clone(), POLL.result_path, result.clone(), vec!["poll".into()]);
        assert_eq!(spliced.data["actor"]["account"]["nrql"], result);
        assert_eq!(spliced.data["actor"]["account"]["id"], 7);
        assert_eq!(spliced.partial_errors, ["first", "poll"]);
        assert_eq!(spliced.pages, 1);
        // A path that is not there changes nothing but the errors.
        let unchanged = splice(first.clone(), &["actor", "missing", "nrql"], result.clone(), Vec::new());
        assert_eq!(unchanged.data, first.data);
        assert_eq!(splice(first, &[], result.clone(), Vec::new()).data, result);
    }

    #[test]
    fn a_query_still_running_names_its_id_and_suggests_a_way_out() {
        let failure =
            PollFailure::StillRunning { query_id: "q-77".into(), retry_after: Duration::from_millis(29_500) };
        assert_eq!(failure.class(), FailureClass::DeadlineExceeded);
        let error = failure.tool_error(Duration::from_secs(15));
        assert_eq!(error.kind, ToolErrorKind::Timeout);
        for needle in ["queryId q-77", "wait 30 s", "15 s deadline", "narrow SINCE", "timeout_seconds"] {
            assert!(error.message.contains(needle), "{needle}: {}", error.message);
        }
        let upstream = PollFailure::Upstream(UpstreamError::new(FailureClass::BadRequest, "Unknown queryId"));
        assert_eq!(upstream.class(), FailureClass::BadRequest);
        assert_eq!(upstream.tool_error(Duration::from_secs(5)).message, "Unknown queryId");
    }

    /// Answers polls from a script and records what was sent and when.
    struct Script {
        answers: Mutex<Vec<Result<UpstreamResponse, UpstreamError>>>,
        sent: Mutex<Vec<(Instant, Value)>>,
    }

    impl Script {
        fn new(answers: Vec<Result<UpstreamResponse, UpstreamError>>) -> Self {
            Self { answers: Mutex::new(answers), sent: Mutex::new(Vec::new()) }
        }

        async fn fetch(&self, request: UpstreamRequest) -> Result<UpstreamResponse, UpstreamError> {
            self.sent.lock().unwrap().push((Instant::now(), request.variables));
            let mut answers = self.answers.lock().unwrap();
            if answers.is_empty() {
                Err(UpstreamError::new(FailureClass::Transient, "script ran out"))
            } else {
                answers.remove(0)
            }
        }
    }

    fn first_answer(progress: Value) -> UpstreamResponse {
        UpstreamResponse { data: nrql(progress, Value::Null), pages: 1, ..Default::default() }
    }

    #[tokio::test(start_paused = true)]
    async fn polls_after_each_retry_after_until_the_query_completes() {
        let script = Script::new(vec![
            Ok(poll_answer(running("q", 2), Value::Null)),
            Ok(UpstreamResponse {
                partial_errors: vec!["shard slow".into()],
                ..poll_answer(json!({"queryId": "q", "completed": true}), json!([{"count": 9}]))
            }),
        ]);
        let start = Instant::now();
        let deadline = start + Duration::from_secs(30);
        let request = first_request();
        let done = follow(
            first_answer(running("q", 1)),
            &request,
            &POLL,
            deadline,
            &CancellationToken::new(),
            |r| script.fetch(r),
        )
        .await
        .unwrap();
        assert_eq!(done.data["actor"]["account"]["nrql"]["results"], json!([{"count": 9}]));
        assert_eq!(done.partial_errors, ["shard slow"]);
        let sent = script.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].0 - start, Duration::from_secs(1));
        assert_eq!(sent[1].0 - sent[0].0, Duration::from_secs(2));
        assert_eq!(sent[0].1, json!({"accountId": 7, "queryId": "q"}));
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_that_needs_no_poll_is_returned_as_it_came() {
        let script = Script::new(Vec::new());
        let first = first_answer(json!({"queryId": "q", "completed": true}));
        let request = first_request();
        let deadline = Instant::now() + Duration::from_secs(5);
        let done =
            follow(first.clone(), &request, &POLL, deadline, &CancellationToken::new(), |r| script.fetch(r))
                .await
                .unwrap();
        assert_eq!(done, first);
        assert!(script.sent.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_query_that_outlives_the_deadline_fails_without_a_pointless_wait() {
        let script = Script::new(vec![Ok(poll_answer(running("q", 20), Value::Null))]);
        let start = Instant::now();
        let deadline = start + Duration::from_secs(10);
        let request = first_request();
        let failure = follow(
            first_answer(running("q", 1)),
            &request,
            &POLL,
            deadline,
            &CancellationToken::new(),
            |r| script.fetch(r),
        )
        .await
        .unwrap_err();
        assert_eq!(
            failure,
            PollFailure::StillRunning { query_id: "q".into(), retry_after: Duration::from_secs(20) }
        );
        // Gave up as soon as New Relic asked for a wait past the deadline.
        assert_eq!(Instant::now() - start, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_cut_off_by_the_deadline_still_names_the_query() {
        let script = Script::new(vec![Err(UpstreamError::new(FailureClass::DeadlineExceeded, "late"))]);
        let request = first_request();
        let deadline = Instant::now() + Duration::from_secs(10);
        let failure = follow(
            first_answer(running("q9", 1)),
            &request,
            &POLL,
            deadline,
            &CancellationToken::new(),
            |r| script.fetch(r),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(failure, PollFailure::StillRunning { ref query_id, .. } if query_id == "q9"),
            "{failure:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn poll_failures_and_cancellation_end_the_call() {
        let request = first_request();
        let deadline = Instant::now() + Duration::from_secs(10);
        let bad = Script::new(vec![Err(UpstreamError::new(
            FailureClass::BadRequest,
            "Unknown or expired queryId",
        ))]);
        let failure = follow(
            first_answer(running("q", 1)),
            &request,
            &POLL,
            deadline,
            &CancellationToken::new(),
            |r| bad.fetch(r),
        )
        .await
        .unwrap_err();
        assert_eq!(failure.class(), FailureClass::BadRequest);

        let idle = Script::new(Vec::new());
        let cancel = CancellationToken::new();
        cancel.cancel();
        let failure =
            follow(first_answer(running("q", 5)), &request, &POLL, deadline, &cancel, |r| idle.fetch(r))
                .await
                .unwrap_err();
        assert_eq!(failure.class(), FailureClass::Cancelled);
        assert!(idle.sent.lock().unwrap().is_empty());

        let malformed = Script::new(vec![Ok(poll_answer(json!({"completed": false}), Value::Null))]);
        let failure = follow(
            first_answer(running("q", 1)),
            &request,
            &POLL,
            deadline,
            &CancellationToken::new(),
            |r| malformed.fetch(r),
        )
        .await
        .unwrap_err();
        assert_eq!(failure.class(), FailureClass::Malformed);
    }
}
