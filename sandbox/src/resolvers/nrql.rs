//! `nrql` and `nrqlQueryProgress` on `Account` and `Actor`: parse with the NRQL crate,
//! evaluate over the accounts' events, and honour `timeout` and `async` against the
//! latency the fault plan gives the request.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::{RequestContext, account_error, str_arg};
use crate::config::AsyncNrqlConfig;
use crate::data::Event;
use crate::graphql::executor::{FieldCall, FieldError, Resolved};
use crate::nrql_eval::{self, NrqlError};
use crate::world::AsyncQuery;

/// NerdGraph clamps `timeout` to this range (seconds) and defaults to its low end.
const TIMEOUT_RANGE: (u64, u64) = (5, 120);
/// Accounts one cross-account query may span.
const MAX_ACCOUNTS: usize = 5;
/// How long an async result stays retrievable (seconds).
const RESULT_EXPIRATION_SECONDS: u64 = 300;
/// How long a client may keep polling an async query (seconds).
const RETRY_DEADLINE_SECONDS: u64 = 600;

fn clamped_timeout(call: &FieldCall<'_>) -> Duration {
    let requested = call.arg("timeout").and_then(Value::as_u64).unwrap_or(TIMEOUT_RANGE.0);
    Duration::from_secs(requested.clamp(TIMEOUT_RANGE.0, TIMEOUT_RANGE.1))
}

pub(super) fn single_account<'w>(
    ctx: &'w RequestContext<'w>,
    account_id: i64,
    call: &FieldCall<'_>,
) -> Result<Resolved<'w>, FieldError> {
    run(ctx, &[account_id], call)
}

pub(super) fn cross_account<'w>(
    ctx: &'w RequestContext<'w>,
    call: &FieldCall<'_>,
) -> Result<Resolved<'w>, FieldError> {
    let accounts = account_list(call)?;
    run(ctx, &accounts, call)
}

pub(super) fn cross_account_progress<'w>(
    ctx: &'w RequestContext<'w>,
    call: &FieldCall<'_>,
) -> Result<Resolved<'w>, FieldError> {
    let accounts = account_list(call)?;
    progress(ctx, &accounts, call)
}

fn account_list(call: &FieldCall<'_>) -> Result<Vec<i64>, FieldError> {
    let accounts: Vec<i64> = call
        .arg("accounts")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    if accounts.is_empty() {
        return Err(FieldError::invalid_input("Provide at least one account id in 'accounts'"));
    }
    if accounts.len() > MAX_ACCOUNTS {
        return Err(FieldError::invalid_input(format!(
            "A cross-account query may span at most {MAX_ACCOUNTS} accounts; {} were given",
            accounts.len()
        )));
    }
    Ok(accounts)
}

/// The error NerdGraph gives for an NRQL query it cannot run, on the `nrql` path.
fn nrql_error(error: &NrqlError) -> FieldError {
    FieldError::new("INVALID_INPUT", error.to_string())
}

/// Evaluates `query` over the accounts' events into a result container.
pub fn evaluate_container(
    ctx: &RequestContext<'_>,
    accounts: &[i64],
    query: &str,
) -> Result<Value, FieldError> {
    let parsed = newrelic_mcp_nrql::parse(query)
        .map_err(|error| FieldError::new("INVALID_INPUT", format!("NRQL Syntax Error: {error}")))?;
    let world = ctx.world;
    let extras: Vec<Vec<Event>> = accounts.iter().map(|id| world.extra_events(*id)).collect();
    let events: Vec<&Event> = accounts
        .iter()
        .flat_map(|id| world.dataset.events(*id).iter())
        .chain(extras.iter().flatten())
        .collect();
    let output = nrql_eval::evaluate(&parsed, &events, world.now_ms()).map_err(|error| nrql_error(&error))?;
    Ok(json!({
        "results": output.results,
        "metadata": output.metadata,
        "totalResult": output.total_result,
        "otherResult": output.other_result,
        "currentResults": output.current_results,
        "previousResults": output.previous_results,
        "nrql": query,
        "queryProgress": null,
        "embeddedChartUrl": format!("https://chart-embed.service.newrelic.com/sandbox?accounts={}&nrql={}", accounts.iter().map(i64::to_string).collect::<Vec<_>>().join(","), percent_encode(query)),
    }))
}

fn run<'w>(
    ctx: &'w RequestContext<'w>,
    accounts: &[i64],
    call: &FieldCall<'_>,
) -> Result<Resolved<'w>, FieldError> {
    for id in accounts {
        if !ctx.world.has_account(*id) {
            return Err(account_error(*id));
        }
    }
    let query =
        str_arg(call, "query").ok_or_else(|| FieldError::invalid_input("Argument 'query' is required"))?;
    let timeout = clamped_timeout(call);
    let asynchronous = call.arg("async").and_then(Value::as_bool).unwrap_or(false);
    ctx.note_nrql_timeout(timeout);
    if ctx.forced_timeout {
        return Err(ctx.timeout_error());
    }
    let mut container = evaluate_container(ctx, accounts, query)?;
    let slow = ctx.planned_latency > timeout;
    if slow && !asynchronous {
        return Err(ctx.timeout_error());
    }
    if asynchronous {
        let polls = polls_needed(&ctx.world.async_nrql, &container);
        let retry_after_seconds = if polls > 0 { ctx.world.async_nrql.retry_after_seconds } else { 0 };
        let mut records = ctx.world.records();
        let sequence = records.next_id();
        let query_id = format!("sandbox-{sequence:x}");
        let remaining = if slow { ctx.planned_latency - timeout } else { Duration::ZERO };
        let query = AsyncQuery {
            accounts: accounts.to_vec(),
            // The answer itself leaves after `timeout`; the rest of the latency follows it.
            ready_at: if slow { Instant::now() + timeout + remaining } else { Instant::now() },
            result: container.clone(),
            cancelled: false,
            polls_left: polls,
            retry_after_seconds,
            sequence,
        };
        let progress = progress_json(&query_id, &query, remaining);
        records.remember_async_query(query_id, query, ctx.world.async_nrql.max_pending);
        drop(records);
        let running = progress.get("completed") == Some(&Value::Bool(false));
        if let Value::Object(map) = &mut container {
            map.insert("queryProgress".to_string(), progress);
            if running {
                for key in
                    ["results", "metadata", "totalResult", "otherResult", "currentResults", "previousResults"]
                {
                    map.insert(key.to_string(), Value::Null);
                }
            }
        }
    }
    Ok(Resolved::Value(container))
}

/// Polls a query needs before its result: `config.polls` when its time window is longer
/// than `config.long_window`, else none.
fn polls_needed(config: &AsyncNrqlConfig, container: &Value) -> u32 {
    let window = &container["metadata"]["timeWindow"];
    let (Some(begin), Some(end)) = (window["begin"].as_i64(), window["end"].as_i64()) else { return 0 };
    let long_ms = i64::try_from(config.long_window.as_millis()).unwrap_or(i64::MAX);
    if end.saturating_sub(begin) > long_ms { config.polls } else { 0 }
}

/// `queryProgress` of `query`, whose injected latency leaves `remaining` to run.
fn progress_json(query_id: &str, query: &AsyncQuery, remaining: Duration) -> Value {
    let completed = query.polls_left == 0 && remaining.is_zero();
    let retry_after = if completed {
        0
    } else {
        let from_latency = remaining.as_secs_f64().ceil().clamp(1.0, 5.0) as u64;
        if remaining.is_zero() {
            query.retry_after_seconds.max(1)
        } else {
            from_latency.max(query.retry_after_seconds)
        }
    };
    json!({
        "queryId": query_id,
        "completed": completed,
        "retryAfter": retry_after,
        "retryDeadline": RETRY_DEADLINE_SECONDS,
        "resultExpiration": RESULT_EXPIRATION_SECONDS,
    })
}

pub(super) fn progress<'w>(
    ctx: &'w RequestContext<'w>,
    accounts: &[i64],
    call: &FieldCall<'_>,
) -> Result<Resolved<'w>, FieldError> {
    let query_id = str_arg(call, "queryId")
        .ok_or_else(|| FieldError::invalid_input("Argument 'queryId' is required"))?;
    let mut records = ctx.world.records();
    let Some(query) = records.async_queries.get_mut(query_id) else {
        return Err(FieldError::invalid_input(format!("Unknown or expired queryId '{query_id}'")));
    };
    if query.accounts != accounts {
        return Err(FieldError::invalid_input(format!(
            "queryId '{query_id}' belongs to accounts {:?}, not {accounts:?}",
            query.accounts
        )));
    }
    if query.cancelled {
        return Err(FieldError::new("INVALID_INPUT", format!("Query '{query_id}' was cancelled")));
    }
    // Every poll brings a long query one step closer to done.
    query.polls_left = query.polls_left.saturating_sub(1);
    let remaining = query.ready_at.saturating_duration_since(Instant::now());
    let progress = progress_json(query_id, query, remaining);
    let mut container = if progress.get("completed") == Some(&Value::Bool(true)) {
        query.result.clone()
    } else {
        json!({"results": null, "nrql": query.result.get("nrql")})
    };
    if let Value::Object(map) = &mut container {
        map.insert("queryProgress".to_string(), progress);
    }
    Ok(Resolved::Value(container))
}

/// `nrqlCancelQuery`: cancels an async query still running.
pub fn cancel(ctx: &RequestContext<'_>, query_id: &str) -> Value {
    let mut records = ctx.world.records();
    let now = Instant::now();
    match records.async_queries.get_mut(query_id) {
        Some(query) if !query.cancelled && (query.ready_at > now || query.polls_left > 0) => {
            query.cancelled = true;
            json!({"queryId": query_id, "requestStatus": "ACCEPTED", "rejectionReason": null})
        }
        Some(query) if query.cancelled => {
            json!({"queryId": query_id, "requestStatus": "REJECTED", "rejectionReason": "The query was already cancelled"})
        }
        Some(_) => {
            json!({"queryId": query_id, "requestStatus": "REJECTED", "rejectionReason": "The query has already completed"})
        }
        None => {
            json!({"queryId": query_id, "requestStatus": "REJECTED", "rejectionReason": "No running query has this id"})
        }
    }
}

/// Percent-encodes a query for a URL.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const HOUR_MS: i64 = 3_600_000;

    fn container(window_ms: Option<i64>) -> Value {
        match window_ms {
            Some(window) => json!({"metadata": {"timeWindow": {"begin": 1_000, "end": 1_000 + window}}}),
            None => json!({"metadata": {}}),
        }
    }

    #[test]
    fn only_windows_longer_than_the_long_window_need_polls() {
        let config = AsyncNrqlConfig { polls: 3, ..AsyncNrqlConfig::default() };
        let cases = [
            (Some(HOUR_MS), 3, 0),
            (Some(24 * HOUR_MS), 3, 0),
            (Some(24 * HOUR_MS + 1), 3, 3),
            (Some(72 * HOUR_MS), 3, 3),
            (Some(72 * HOUR_MS), 0, 0),
            (None, 3, 0),
        ];
        for (window, polls, expected) in cases {
            let config = AsyncNrqlConfig { polls, ..config.clone() };
            assert_eq!(polls_needed(&config, &container(window)), expected, "{window:?} {polls}");
        }
    }

    #[test]
    fn progress_is_complete_only_when_polls_and_latency_are_spent() {
        let query = |polls_left, retry_after_seconds| AsyncQuery {
            accounts: vec![1],
            ready_at: Instant::now(),
            result: Value::Null,
            cancelled: false,
            polls_left,
            retry_after_seconds,
            sequence: 1,
        };
        let cases = [
            (query(0, 0), Duration::ZERO, true, 0),
            (query(2, 4), Duration::ZERO, false, 4),
            (query(2, 0), Duration::ZERO, false, 1),
            (query(0, 0), Duration::from_millis(2_500), false, 3),
            (query(0, 0), Duration::from_secs(60), false, 5),
            (query(1, 9), Duration::from_secs(2), false, 9),
        ];
        for (query, remaining, completed, retry_after) in cases {
            let progress = progress_json("q", &query, remaining);
            assert_eq!(progress["completed"], completed, "{query:?} {remaining:?}");
            assert_eq!(progress["retryAfter"], retry_after, "{query:?} {remaining:?}");
            assert_eq!(progress["queryId"], "q");
        }
    }
}
