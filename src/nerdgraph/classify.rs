//! What a NerdGraph answer means: success, success with partial errors, or a failure whose
//! [`FailureClass`] decides retries, breaker trips and the advice a model sees.
//!
//! NerdGraph reports most trouble as HTTP 200 with an `errors` array beside (possibly partial)
//! `data`, so the status alone says little; `extensions.errorClass` and `extensions.error_code`
//! carry the real story. Mutations add a third channel: errors inside their payload object.
//! Everything here is a pure function of what arrived, so every case has a table test.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, NaiveDateTime, Utc};
use newrelic_mcp_actors::upstream::{FailureClass, RequestKind, UpstreamError, UpstreamResponse};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde_json::{Map, Value};

/// New Relic marks deprecation notices as errors; they are warnings and the data is valid.
const DEPRECATION_PREFIX: &str = "This field is deprecated!";

/// A wrong-region key gets this message rather than an auth status.
const WRONG_REGION_MESSAGE: &str = "not authorized for account region";

/// Bounds on what one error message may quote from New Relic.
const MAX_QUOTED_MESSAGES: usize = 5;
const MAX_MESSAGE_CHARS: usize = 600;

/// The full reading of one answer: the outcome, and for a retryable failure that arrived
/// beside usable data, that data, to return if no retry succeeds (partial data is never lost).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub outcome: Result<UpstreamResponse, UpstreamError>,
    pub fallback: Option<UpstreamResponse>,
}

impl Verdict {
    fn done(outcome: Result<UpstreamResponse, UpstreamError>) -> Self {
        Self { outcome, fallback: None }
    }
}

/// Classifies one HTTP answer. `received_at` resolves a `Retry-After` given as an HTTP date.
pub fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    kind: RequestKind,
    received_at: SystemTime,
) -> Result<UpstreamResponse, UpstreamError> {
    classify_with_fallback(status, headers, body, kind, received_at).outcome
}

/// [`classify`], keeping the partial data that arrived beside a retryable error.
pub fn classify_with_fallback(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    kind: RequestKind,
    received_at: SystemTime,
) -> Verdict {
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_retry_after(value, received_at));
    let envelope = Envelope::parse(body);
    let http = status.as_u16();
    let fail = |class: FailureClass, message: String| {
        Verdict::done(Err(UpstreamError { class, message, status: Some(http), retry_after }))
    };

    if let Some(envelope) = &envelope
        && let Some(error) = envelope.errors.iter().find(|error| error.is_wrong_region())
    {
        return fail(FailureClass::Auth, wrong_region_message(&error.message));
    }

    let said = envelope.as_ref().map(|envelope| new_relic_said(&envelope.errors)).unwrap_or_default();
    match http {
        200..=299 => {}
        401 => {
            return fail(
                FailureClass::Auth,
                format!(
                    "New Relic rejected the API key (HTTP 401){said}: check that NEW_RELIC_API_KEY is a \
                     valid User key (NRAK-…) and that NEW_RELIC_REGION matches the account's region"
                ),
            );
        }
        403 => {
            return fail(
                FailureClass::Auth,
                format!(
                    "New Relic refused access (HTTP 403){said}: the API key's user lacks permission for \
                     this account or operation; use a User key whose user can access the account"
                ),
            );
        }
        402 => {
            return fail(
                FailureClass::Auth,
                format!(
                    "New Relic answered 402 Payment Required{said}: the account's subscription does not \
                     include this capability; nothing to retry until the plan changes"
                ),
            );
        }
        413 => {
            return fail(
                FailureClass::BadRequest,
                format!(
                    "New Relic refused the request as too large (HTTP 413){said}: send fewer or smaller \
                     arguments (shorter NRQL, fewer GUIDs per call)"
                ),
            );
        }
        429 => {
            return fail(FailureClass::RateLimited, rate_limited_message("HTTP 429", retry_after));
        }
        408 | 500..=599 => {
            return fail(
                FailureClass::Transient,
                format!(
                    "New Relic had a server-side problem (HTTP {http}){said}; it usually clears within seconds"
                ),
            );
        }
        300..=399 => {
            return fail(
                FailureClass::BadRequest,
                format!(
                    "NerdGraph answered with a redirect (HTTP {http}), which is not followed because the \
                     API key would travel with it: check NEW_RELIC_NERDGRAPH_URL or NEW_RELIC_REGION"
                ),
            );
        }
        404 | 405 => {
            return fail(
                FailureClass::BadRequest,
                format!(
                    "the endpoint does not serve NerdGraph (HTTP {http}): check NEW_RELIC_NERDGRAPH_URL \
                     or NEW_RELIC_REGION"
                ),
            );
        }
        400..=499 => {
            return fail(
                FailureClass::BadRequest,
                format!("New Relic rejected the request (HTTP {http}){said}"),
            );
        }
        _ => {
            return fail(
                FailureClass::Malformed,
                format!("NerdGraph answered with unexpected HTTP status {http}"),
            );
        }
    }

    let Some(envelope) = envelope else {
        return fail(FailureClass::Malformed, malformed_message(headers, body));
    };
    graphql_verdict(envelope, kind, http, retry_after)
}

/// The verdict on a well-formed GraphQL answer that arrived with a 2xx status.
fn graphql_verdict(
    envelope: Envelope,
    kind: RequestKind,
    http: u16,
    retry_after: Option<Duration>,
) -> Verdict {
    let fail = |class: FailureClass, message: String| {
        Verdict::done(Err(UpstreamError { class, message, status: Some(http), retry_after }))
    };
    let usable = has_content(&envelope.data);
    let failures: Vec<&GraphQlError> = envelope.errors.iter().filter(|error| !error.is_warning()).collect();

    if let Some(error) = failures.iter().find(|error| error.code.as_deref() == Some("BAD_API_KEY")) {
        return fail(
            FailureClass::Auth,
            format!(
                "New Relic rejected the API key ({}): check that NEW_RELIC_API_KEY is a valid User key \
                 (NRAK-…) and that NEW_RELIC_REGION matches the account's region",
                quote(&error.message)
            ),
        );
    }
    if !usable && let Some(error) = failures.iter().find(|error| error.is_access_denied()) {
        return fail(
            FailureClass::Auth,
            format!(
                "New Relic refused access: {}; check that the API key's user can access this account",
                quote(&error.message)
            ),
        );
    }

    let retryable = [
        ("TOO_MANY_REQUESTS", FailureClass::RateLimited),
        ("TIMEOUT", FailureClass::UpstreamTimeout),
        ("INTERNAL_SERVER_ERROR", FailureClass::Transient),
        ("SERVER_ERROR", FailureClass::Transient),
    ]
    .into_iter()
    .find_map(|(error_class, class)| {
        failures
            .iter()
            .find(|error| error.error_class.as_deref() == Some(error_class))
            .map(|error| (class, *error))
    });

    if failures.is_empty() {
        return success(envelope, kind, http);
    }
    if let Some((class, error)) = retryable {
        let error = UpstreamError {
            class,
            message: retryable_message(class, error, retry_after),
            status: Some(http),
            retry_after,
        };
        return match (usable, kind) {
            // A write is not retried, so its partial data is the answer.
            (true, RequestKind::Write) => success(envelope, kind, http),
            (true, RequestKind::Read) => {
                Verdict { outcome: Err(error), fallback: success(envelope, kind, http).outcome.ok() }
            }
            (false, _) => Verdict::done(Err(error)),
        };
    }
    if usable {
        return success(envelope, kind, http);
    }
    let messages: Vec<&str> = failures.iter().map(|error| error.message.as_str()).collect();
    fail(FailureClass::BadRequest, format!("New Relic rejected the request: {}", quote_all(&messages)))
}

/// Usable data, with every error message kept beside it; a write's payload errors fail it.
fn success(envelope: Envelope, kind: RequestKind, http: u16) -> Verdict {
    if kind == RequestKind::Write {
        let payload_errors = mutation_payload_errors(&envelope.data);
        if !payload_errors.is_empty() {
            let messages: Vec<&str> = payload_errors.iter().map(String::as_str).collect();
            return Verdict::done(Err(UpstreamError {
                class: FailureClass::Payload,
                message: format!("New Relic did not apply the change: {}", quote_all(&messages)),
                status: Some(http),
                retry_after: None,
            }));
        }
    }
    let partial_errors = envelope.errors.iter().map(GraphQlError::describe).collect();
    Verdict::done(Ok(UpstreamResponse { data: envelope.data, partial_errors, pages: 1, truncated: false }))
}

/// Errors a mutation reported inside its payload: `errors { message | description, type }`
/// lists, or the non-null `error` of the `aiIssues…` mutations.
pub fn mutation_payload_errors(data: &Value) -> Vec<String> {
    let Some(fields) = data.as_object() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (field, payload) in fields {
        let Some(payload) = payload.as_object() else {
            continue;
        };
        if let Some(Value::Array(errors)) = payload.get("errors") {
            found.extend(errors.iter().map(|error| format!("{field}: {}", describe_payload_error(error))));
        }
        match payload.get("error") {
            None | Some(Value::Null) => {}
            Some(error) => found.push(format!("{field}: {}", describe_payload_error(error))),
        }
    }
    found
}

fn describe_payload_error(error: &Value) -> String {
    match error {
        Value::String(text) => text.clone(),
        Value::Object(fields) => {
            let text = ["message", "description", "reason"]
                .into_iter()
                .find_map(|key| fields.get(key).and_then(Value::as_str))
                .map(str::to_owned)
                .unwrap_or_else(|| Value::Object(fields.clone()).to_string());
            match fields.get("type").and_then(Value::as_str) {
                Some(kind) => format!("{text} ({kind})"),
                None => text,
            }
        }
        other => other.to_string(),
    }
}

/// Whether `data` holds an answer: any value other than null, where an empty list counts
/// (an empty result is still a result).
pub fn has_content(data: &Value) -> bool {
    match data {
        Value::Null => false,
        Value::Object(fields) => fields.values().any(has_content),
        Value::Array(_) | Value::Bool(_) | Value::Number(_) | Value::String(_) => true,
    }
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP date (IMF-fixdate, RFC 850 or
/// asctime). A date in the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .map(|date| date.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(value, "%A, %d-%b-%y %H:%M:%S GMT").map(|date| date.and_utc())
        })
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%a %b %e %H:%M:%S %Y").map(|date| date.and_utc()))
        .ok()?;
    let now: DateTime<Utc> = now.into();
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// How a transport-level failure presented itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFailure {
    /// No connection: refused, DNS failure, TLS handshake failure. Nothing was sent.
    Connect,
    /// The HTTP client's own timer, which is set from the caller's deadline.
    Timeout,
    /// The connection broke after the request may have been sent (reset, closed early,
    /// truncated body).
    Interrupted,
}

/// The error for a transport failure; `cause` is the root cause text (never the key: the key
/// travels in a header, and no transport error quotes headers).
pub fn transport_error(failure: TransportFailure, host: &str, cause: &str) -> UpstreamError {
    match failure {
        TransportFailure::Connect => UpstreamError::new(
            FailureClass::Unreachable,
            format!(
                "could not connect to NerdGraph at {host} ({cause}): check network access and the endpoint"
            ),
        ),
        TransportFailure::Timeout => UpstreamError::new(
            FailureClass::DeadlineExceeded,
            format!("NerdGraph at {host} did not answer before the deadline"),
        ),
        TransportFailure::Interrupted => UpstreamError::new(
            FailureClass::Unreachable,
            format!("the connection to NerdGraph at {host} broke before a full answer arrived ({cause})"),
        ),
    }
}

/// The parts of a GraphQL response envelope this module reads.
#[derive(Debug)]
struct Envelope {
    data: Value,
    errors: Vec<GraphQlError>,
}

impl Envelope {
    /// `None` unless `body` is a JSON object with `data` or a non-empty `errors` list.
    fn parse(body: &[u8]) -> Option<Self> {
        let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(body) else {
            return None;
        };
        let data = fields.remove("data");
        let errors = match fields.remove("errors") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(errors)) => errors.iter().map(GraphQlError::from_value).collect(),
            Some(_) => return None,
        };
        if data.as_ref().is_none_or(Value::is_null) && errors.is_empty() {
            return None;
        }
        Some(Self { data: data.unwrap_or(Value::Null), errors })
    }
}

#[derive(Debug)]
struct GraphQlError {
    message: String,
    path: Option<String>,
    error_class: Option<String>,
    code: Option<String>,
}

impl GraphQlError {
    fn from_value(value: &Value) -> Self {
        let empty = Map::new();
        let fields = value.as_object().unwrap_or(&empty);
        let message = match fields.get("message") {
            Some(Value::String(message)) => message.clone(),
            Some(other) => other.to_string(),
            None if fields.is_empty() => value.to_string(),
            None => "(New Relic sent an error without a message)".to_owned(),
        };
        let path = fields.get("path").and_then(Value::as_array).map(|segments| {
            segments
                .iter()
                .map(|segment| match segment {
                    Value::String(name) => name.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(".")
        });
        let extensions = fields.get("extensions");
        let extension =
            |key: &str| extensions.and_then(|ext| ext.get(key)).and_then(Value::as_str).map(str::to_owned);
        Self {
            message,
            path: path.filter(|path| !path.is_empty()),
            error_class: extension("errorClass"),
            code: extension("error_code").or_else(|| extension("code")),
        }
    }

    fn is_warning(&self) -> bool {
        self.message.starts_with(DEPRECATION_PREFIX)
    }

    fn is_wrong_region(&self) -> bool {
        self.message.to_ascii_lowercase().contains(WRONG_REGION_MESSAGE)
    }

    fn is_access_denied(&self) -> bool {
        let denied = |value: &Option<String>| matches!(value.as_deref(), Some("UNAUTHORIZED" | "FORBIDDEN"));
        denied(&self.error_class) || denied(&self.code)
    }

    /// The message as kept in `partial_errors`: New Relic's words first (so the deprecation
    /// prefix stays recognisable), then where it applies.
    fn describe(&self) -> String {
        let message = truncate(&self.message);
        match &self.path {
            Some(path) => format!("{message} (at {path})"),
            None => message,
        }
    }
}

fn wrong_region_message(message: &str) -> String {
    format!(
        "New Relic refused the key for this account's region ({}): set NEW_RELIC_REGION to the \
         account's region (US, EU or JP)",
        quote(message)
    )
}

fn rate_limited_message(origin: &str, retry_after: Option<Duration>) -> String {
    let wait = match retry_after {
        Some(delay) => format!("New Relic asks to wait {} s", delay.as_secs_f64().ceil()),
        None => "wait a few seconds".to_owned(),
    };
    format!(
        "New Relic's rate limit was reached ({origin}: at most 25 concurrent NerdGraph requests per \
         user, 3,000 NRQL queries per account per minute): {wait} before retrying"
    )
}

fn retryable_message(class: FailureClass, error: &GraphQlError, retry_after: Option<Duration>) -> String {
    match class {
        FailureClass::RateLimited => rate_limited_message("TOO_MANY_REQUESTS", retry_after),
        FailureClass::UpstreamTimeout => format!(
            "NRQL timed out in New Relic ({}): narrow SINCE, add a LIMIT or WHERE clause, or raise \
             timeout_seconds (up to 300 s; over 120 runs as async NRQL)",
            quote(&error.message)
        ),
        _ => format!(
            "New Relic had a server-side problem ({}); it usually clears within seconds",
            quote(&error.message)
        ),
    }
}

/// `: New Relic said "…"` for status errors whose body explains more, or nothing.
fn new_relic_said(errors: &[GraphQlError]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let messages: Vec<&str> = errors.iter().map(|error| error.message.as_str()).collect();
    format!(": New Relic said {}", quote_all(&messages))
}

fn malformed_message(headers: &HeaderMap, body: &[u8]) -> String {
    let content_type =
        headers.get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("no content type");
    let shape = if body.is_empty() {
        "an empty body".to_owned()
    } else if serde_json::from_slice::<Value>(body).is_ok() {
        format!("JSON without GraphQL `data` or `errors` ({} bytes)", body.len())
    } else {
        format!("a body that is not JSON ({} bytes, {content_type})", body.len())
    };
    format!(
        "NerdGraph sent {shape} instead of a GraphQL response; a proxy or load balancer may be in the way"
    )
}

fn quote(message: &str) -> String {
    format!("\"{}\"", truncate(message))
}

fn quote_all(messages: &[&str]) -> String {
    let mut quoted: Vec<String> =
        messages.iter().take(MAX_QUOTED_MESSAGES).map(|message| quote(message)).collect();
    if messages.len() > MAX_QUOTED_MESSAGES {
        quoted.push(format!("and {} more", messages.len() - MAX_QUOTED_MESSAGES));
    }
    quoted.join("; ")
}

fn truncate(message: &str) -> String {
    let message = message.trim();
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use reqwest::header::HeaderValue;
    use serde_json::json;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Expect {
        Success { partial: usize },
        Failure(FailureClass),
    }

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn run(status: u16, retry_after: Option<&str>, body: &str, kind: RequestKind) -> Verdict {
        let mut headers = HeaderMap::new();
        if let Some(value) = retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        }
        let status = StatusCode::from_u16(status).unwrap();
        classify_with_fallback(status, &headers, body.as_bytes(), kind, at(1_445_412_480))
    }

    fn expect_of(verdict: &Verdict) -> Expect {
        match &verdict.outcome {
            Ok(response) => Expect::Success { partial: response.partial_errors.len() },
            Err(error) => Expect::Failure(error.class),
        }
    }

    const NRQL_OK: &str = r#"{"data":{"actor":{"account":{"nrql":{"results":[{"count":42}]}}}}}"#;
    const NRQL_SYNTAX: &str = r#"{"data":{"actor":{"account":{"nrql":null}}},"errors":[{"message":"NRQL Syntax Error: Error at line 1 position 8, unexpected 'FORM'","path":["actor","account","nrql"],"extensions":{"errorClass":"INVALID_INPUT"}}]}"#;
    const NRQL_TIMEOUT: &str = r#"{"data":{"actor":{"account":{"nrql":null}}},"errors":[{"message":"NRDB query duration exceeded the set timeout","path":["actor","account","nrql"],"extensions":{"errorClass":"TIMEOUT"}}]}"#;
    const TOO_MANY: &str = r#"{"data":null,"errors":[{"message":"Too many requests","extensions":{"errorClass":"TOO_MANY_REQUESTS"}}]}"#;
    const SERVER_ERROR: &str = r#"{"data":null,"errors":[{"message":"Internal error","extensions":{"errorClass":"INTERNAL_SERVER_ERROR"}}]}"#;
    const SERVER_ERROR_2: &str =
        r#"{"errors":[{"message":"boom","extensions":{"errorClass":"SERVER_ERROR"}}]}"#;
    const BAD_KEY: &str =
        r#"{"data":null,"errors":[{"message":"Invalid API key","extensions":{"error_code":"BAD_API_KEY"}}]}"#;
    const FORBIDDEN: &str = r#"{"data":{"actor":{"account":null}},"errors":[{"message":"Access denied","path":["actor","account"],"extensions":{"errorClass":"FORBIDDEN"}}]}"#;
    const FORBIDDEN_BESIDE_DATA: &str = r#"{"data":{"actor":{"a":null,"b":{"name":"ok"}}},"errors":[{"message":"Access denied","path":["actor","a"],"extensions":{"errorClass":"FORBIDDEN"}}]}"#;
    const UNAUTHORIZED: &str =
        r#"{"data":null,"errors":[{"message":"Unauthorized","extensions":{"errorClass":"UNAUTHORIZED"}}]}"#;
    const WRONG_REGION: &str = r#"{"errors":[{"message":"not authorized for account region"}]}"#;
    const PARTIAL: &str = r#"{"data":{"actor":{"entity":{"name":"checkout","goldenMetrics":null}}},"errors":[{"message":"Golden metrics unavailable","path":["actor","entity","goldenMetrics"]}]}"#;
    const DEPRECATED_ONLY: &str = r#"{"data":{"actor":{"user":{"name":"a"}}},"errors":[{"message":"This field is deprecated! Use `other` instead."}]}"#;
    const DEPRECATED_NO_DATA: &str = r#"{"data":{"actor":{"user":null}},"errors":[{"message":"This field is deprecated! Use `other` instead."}]}"#;
    const TIMEOUT_BESIDE_DATA: &str = r#"{"data":{"actor":{"a":{"nrql":{"results":[]}},"b":{"nrql":null}}},"errors":[{"message":"NRDB query duration exceeded the set timeout","path":["actor","b","nrql"],"extensions":{"errorClass":"TIMEOUT"}}]}"#;
    const EMPTY_LIST: &str = r#"{"data":{"actor":{"entitySearch":{"results":{"entities":[]}}}}}"#;
    const DASHBOARD_PAYLOAD_ERROR: &str = r#"{"data":{"dashboardCreate":{"entityResult":null,"errors":[{"description":"Widget 1 has an invalid NRQL query","type":"INVALID_INPUT"}]}}}"#;
    const DASHBOARD_CREATED: &str =
        r#"{"data":{"dashboardCreate":{"entityResult":{"guid":"MXxE","name":"x"},"errors":[]}}}"#;
    const ISSUE_ACK_ERROR: &str =
        r#"{"data":{"aiIssuesAckIssue":{"error":"Issue not found","result":null}}}"#;
    const ISSUE_ACK_OK: &str = r#"{"data":{"aiIssuesAckIssue":{"error":null,"result":{"issueId":"1"}}}}"#;
    const MUTATION_MESSAGE_ERRORS: &str =
        r#"{"data":{"thingCreate":{"errors":[{"message":"name taken","type":"CONFLICT"}]}}}"#;

    #[test]
    fn outcomes() {
        use Expect::*;
        use FailureClass::*;
        use RequestKind::{Read, Write};
        // (case, status, Retry-After, body, kind, expected)
        type Row<'a> = (&'a str, u16, Option<&'a str>, &'a str, RequestKind, Expect);
        let table: &[Row] = &[
            ("plain success", 200, None, NRQL_OK, Read, Success { partial: 0 }),
            ("empty list is an answer", 200, None, EMPTY_LIST, Read, Success { partial: 0 }),
            ("401", 401, None, r#"{"errors":[{"message":"Invalid"}]}"#, Read, Failure(Auth)),
            ("401 with html", 401, None, "<html>nope</html>", Read, Failure(Auth)),
            ("403", 403, None, "", Read, Failure(Auth)),
            ("402", 402, None, "", Read, Failure(Auth)),
            ("413", 413, None, "", Read, Failure(BadRequest)),
            ("429", 429, Some("3"), "", Read, Failure(RateLimited)),
            ("500", 500, None, "oops", Read, Failure(Transient)),
            ("502", 502, None, "<html>bad gateway</html>", Read, Failure(Transient)),
            ("503", 503, Some("1"), "", Write, Failure(Transient)),
            ("408", 408, None, "", Read, Failure(Transient)),
            (
                "400 with graphql errors",
                400,
                None,
                r#"{"errors":[{"message":"Syntax Error"}]}"#,
                Read,
                Failure(BadRequest),
            ),
            ("404", 404, None, "not found", Read, Failure(BadRequest)),
            ("redirect", 301, None, "", Read, Failure(BadRequest)),
            ("BAD_API_KEY under 200", 200, None, BAD_KEY, Read, Failure(Auth)),
            ("FORBIDDEN under 200", 200, None, FORBIDDEN, Read, Failure(Auth)),
            ("UNAUTHORIZED under 200", 200, None, UNAUTHORIZED, Read, Failure(Auth)),
            ("FORBIDDEN beside data", 200, None, FORBIDDEN_BESIDE_DATA, Read, Success { partial: 1 }),
            ("wrong region under 200", 200, None, WRONG_REGION, Read, Failure(Auth)),
            ("wrong region under 401", 401, None, WRONG_REGION, Read, Failure(Auth)),
            ("TIMEOUT under 200", 200, None, NRQL_TIMEOUT, Read, Failure(UpstreamTimeout)),
            ("TOO_MANY_REQUESTS under 200", 200, None, TOO_MANY, Read, Failure(RateLimited)),
            ("INTERNAL_SERVER_ERROR under 200", 200, None, SERVER_ERROR, Read, Failure(Transient)),
            ("SERVER_ERROR under 200", 200, None, SERVER_ERROR_2, Read, Failure(Transient)),
            ("TIMEOUT beside data, read", 200, None, TIMEOUT_BESIDE_DATA, Read, Failure(UpstreamTimeout)),
            ("TIMEOUT beside data, write", 200, None, TIMEOUT_BESIDE_DATA, Write, Success { partial: 1 }),
            ("TIMEOUT without data, write", 200, None, NRQL_TIMEOUT, Write, Failure(UpstreamTimeout)),
            ("NRQL syntax error", 200, None, NRQL_SYNTAX, Read, Failure(BadRequest)),
            ("partial data", 200, None, PARTIAL, Read, Success { partial: 1 }),
            ("deprecation warning only", 200, None, DEPRECATED_ONLY, Read, Success { partial: 1 }),
            ("deprecation warning, null data", 200, None, DEPRECATED_NO_DATA, Read, Success { partial: 1 }),
            ("not json", 200, None, "<html>gateway</html>", Read, Failure(Malformed)),
            ("empty body", 200, None, "", Read, Failure(Malformed)),
            ("json array", 200, None, "[1,2]", Read, Failure(Malformed)),
            ("json without envelope", 200, None, r#"{"hello":"world"}"#, Read, Failure(Malformed)),
            ("null data, no errors", 200, None, r#"{"data":null}"#, Read, Failure(Malformed)),
            ("errors not a list", 200, None, r#"{"data":null,"errors":"bad"}"#, Read, Failure(Malformed)),
            ("empty errors, no data", 200, None, r#"{"errors":[]}"#, Read, Failure(Malformed)),
            ("truncated json", 200, None, r#"{"data":{"actor":"#, Read, Failure(Malformed)),
            ("odd status", 101, None, "", Read, Failure(Malformed)),
            ("dashboard payload error", 200, None, DASHBOARD_PAYLOAD_ERROR, Write, Failure(Payload)),
            ("dashboard created", 200, None, DASHBOARD_CREATED, Write, Success { partial: 0 }),
            ("aiIssues payload error", 200, None, ISSUE_ACK_ERROR, Write, Failure(Payload)),
            ("aiIssues acknowledged", 200, None, ISSUE_ACK_OK, Write, Success { partial: 0 }),
            ("payload errors with message", 200, None, MUTATION_MESSAGE_ERRORS, Write, Failure(Payload)),
            (
                "payload-shaped data on a read",
                200,
                None,
                MUTATION_MESSAGE_ERRORS,
                Read,
                Success { partial: 0 },
            ),
        ];
        for (name, status, retry_after, body, kind, expected) in table {
            let verdict = run(*status, *retry_after, body, *kind);
            assert_eq!(&expect_of(&verdict), expected, "{name}: {verdict:?}");
            if let Err(error) = &verdict.outcome {
                assert_eq!(error.status, Some(*status), "{name}");
                assert!(!error.message.is_empty(), "{name}");
            }
        }
    }

    #[test]
    fn messages_are_actionable() {
        use RequestKind::{Read, Write};
        let table: &[(u16, &str, RequestKind, &[&str])] = &[
            (401, "", Read, &["NEW_RELIC_API_KEY", "User key"]),
            (402, "", Read, &["Payment Required"]),
            (200, WRONG_REGION, Read, &["NEW_RELIC_REGION", "US, EU or JP"]),
            (200, BAD_KEY, Read, &["NEW_RELIC_API_KEY", "Invalid API key"]),
            (200, NRQL_SYNTAX, Read, &["NRQL Syntax Error", "unexpected 'FORM'"]),
            (200, NRQL_TIMEOUT, Read, &["timed out", "SINCE"]),
            (
                200,
                DASHBOARD_PAYLOAD_ERROR,
                Write,
                &["Widget 1 has an invalid NRQL query", "INVALID_INPUT", "dashboardCreate"],
            ),
            (200, ISSUE_ACK_ERROR, Write, &["Issue not found"]),
            (200, "<html>", Read, &["not JSON", "proxy"]),
            (404, "", Read, &["NEW_RELIC_NERDGRAPH_URL"]),
        ];
        for (status, body, kind, needles) in table {
            let error = run(*status, None, body, *kind).outcome.unwrap_err();
            for needle in *needles {
                assert!(
                    error.message.contains(needle),
                    "{status} {body}: {:?} lacks {needle:?}",
                    error.message
                );
            }
        }
    }

    #[test]
    fn partial_data_is_kept_with_its_errors() {
        let response = run(200, None, PARTIAL, RequestKind::Read).outcome.unwrap();
        assert_eq!(response.data, json!({"actor": {"entity": {"name": "checkout", "goldenMetrics": null}}}));
        assert_eq!(response.partial_errors, ["Golden metrics unavailable (at actor.entity.goldenMetrics)"]);
        assert_eq!(response.pages, 1);
        assert!(!response.truncated);

        let warned = run(200, None, DEPRECATED_ONLY, RequestKind::Read).outcome.unwrap();
        assert!(warned.partial_errors[0].starts_with(DEPRECATION_PREFIX));
    }

    #[test]
    fn retryable_errors_beside_data_keep_the_data_as_fallback() {
        let verdict = run(200, None, TIMEOUT_BESIDE_DATA, RequestKind::Read);
        assert_eq!(verdict.outcome.unwrap_err().class, FailureClass::UpstreamTimeout);
        let fallback = verdict.fallback.unwrap();
        assert_eq!(fallback.data["actor"]["a"]["nrql"]["results"], json!([]));
        assert_eq!(fallback.partial_errors.len(), 1);

        assert_eq!(run(200, None, NRQL_TIMEOUT, RequestKind::Read).fallback, None);
        assert_eq!(run(200, None, PARTIAL, RequestKind::Read).fallback, None);
    }

    #[test]
    fn retry_after_is_carried_on_rate_limits() {
        let table: &[(u16, Option<&str>, &str, Option<Duration>)] = &[
            (429, Some("7"), "", Some(Duration::from_secs(7))),
            (429, None, "", None),
            (429, Some("soon"), "", None),
            (200, Some("2"), TOO_MANY, Some(Duration::from_secs(2))),
            (503, Some("4"), "", Some(Duration::from_secs(4))),
        ];
        for (status, header, body, expected) in table {
            let error = run(*status, *header, body, RequestKind::Read).outcome.unwrap_err();
            assert_eq!(error.retry_after, *expected, "{status} {header:?}");
        }
        let message = run(429, Some("7"), "", RequestKind::Read).outcome.unwrap_err().message;
        assert!(message.contains("wait 7 s"), "{message}");
    }

    #[test]
    fn retry_after_values() {
        // 1445412480 is Wed, 21 Oct 2015 07:28:00 GMT.
        let now = at(1_445_412_480);
        let table: &[(&str, Option<Duration>)] = &[
            ("0", Some(Duration::ZERO)),
            ("120", Some(Duration::from_secs(120))),
            (" 5 ", Some(Duration::from_secs(5))),
            ("Wed, 21 Oct 2015 07:28:30 GMT", Some(Duration::from_secs(30))),
            ("Wednesday, 21-Oct-15 07:29:00 GMT", Some(Duration::from_secs(60))),
            ("Wed Oct 21 07:28:10 2015", Some(Duration::from_secs(10))),
            ("Wed, 21 Oct 2015 07:00:00 GMT", Some(Duration::ZERO)),
            ("-1", None),
            ("1.5", None),
            ("", None),
            ("tomorrow", None),
        ];
        for (value, expected) in table {
            assert_eq!(parse_retry_after(value, now), *expected, "{value:?}");
        }
    }

    #[test]
    fn content_detection() {
        let table = [
            (json!(null), false),
            (json!({}), false),
            (json!({"actor": {"account": {"nrql": null}}}), false),
            (json!({"actor": {"entities": []}}), true),
            (json!({"actor": {"count": 0}}), true),
            (json!({"actor": {"ok": false}}), true),
            (json!({"actor": {"name": ""}}), true),
        ];
        for (data, expected) in table {
            assert_eq!(has_content(&data), expected, "{data}");
        }
    }

    #[test]
    fn many_messages_are_bounded() {
        let errors: Vec<Value> =
            (0..50).map(|i| json!({"message": format!("bad {i} {}", "x".repeat(5000))})).collect();
        let body = json!({"data": null, "errors": errors}).to_string();
        let error = run(200, None, &body, RequestKind::Read).outcome.unwrap_err();
        assert_eq!(error.class, FailureClass::BadRequest);
        assert!(error.message.contains("and 45 more"));
        assert!(error.message.len() < 5 * (MAX_MESSAGE_CHARS + 16) + 200, "{}", error.message.len());
    }

    #[test]
    fn transport_errors() {
        let table = [
            (TransportFailure::Connect, FailureClass::Unreachable),
            (TransportFailure::Timeout, FailureClass::DeadlineExceeded),
            (TransportFailure::Interrupted, FailureClass::Unreachable),
        ];
        for (failure, class) in table {
            let error = transport_error(failure, "api.newrelic.com", "connection refused");
            assert_eq!(error.class, class);
            assert!(error.message.contains("api.newrelic.com"), "{}", error.message);
        }
    }
}
