//! Data access: NRQL against one account or across up to five, synchronously or through
//! New Relic's asynchronous NRQL for queries that need longer than its 120 s ceiling.

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{
    NrqlAccounts, Plan, PlanContext, PlanError, Plugin, Tool, ToolDescriptor, ToolError, ToolErrorKind,
    ToolHints, ToolOutput,
};
use newrelic_mcp_actors::upstream::{AsyncPoll, RequestKind, UpstreamRequest, UpstreamResponse};
use newrelic_mcp_nrql::Policy;
use newrelic_mcp_nrql::policy::NEW_RELIC_MAX_ACCOUNTS;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::account::{check_allowed, resolve_account};
use super::builtin::{BuiltinTool, Spec, upstream_plan};
use super::render::{Capped, MAX_ROWS, at, list_at, response_notes, rows_as_text, warnings};

pub(crate) const NRQL_QUERY: &str = r#"query NrqlQuery($accountId: Int!, $nrql: Nrql!, $timeout: Seconds) {
  actor {
    account(id: $accountId) {
      nrql(query: $nrql, timeout: $timeout) {
        results
        metadata { eventTypes facets messages timeWindow { begin end } }
      }
    }
  }
}"#;

/// One account, asynchronous: answers `queryProgress` when the query outlives `timeout`.
const NRQL_QUERY_ASYNC: &str = r#"query NrqlQueryAsync($accountId: Int!, $nrql: Nrql!, $timeout: Seconds) {
  actor {
    account(id: $accountId) {
      nrql(query: $nrql, timeout: $timeout, async: true) {
        results
        metadata { eventTypes facets messages timeWindow { begin end } }
        queryProgress { queryId completed retryAfter retryDeadline resultExpiration }
      }
    }
  }
}"#;

const NRQL_QUERY_PROGRESS: &str = r#"query NrqlQueryProgress($accountId: Int!, $queryId: ID!) {
  actor {
    account(id: $accountId) {
      nrqlQueryProgress(queryId: $queryId) {
        results
        metadata { eventTypes facets messages timeWindow { begin end } }
        queryProgress { queryId completed retryAfter retryDeadline resultExpiration }
      }
    }
  }
}"#;

/// Several accounts at once; New Relic merges their results into one answer.
const CROSS_ACCOUNT_NRQL_QUERY: &str = r#"query CrossAccountNrqlQuery($accounts: [Int!]!, $nrql: Nrql!, $timeout: Seconds, $async: Boolean) {
  actor {
    nrql(accounts: $accounts, query: $nrql, timeout: $timeout, async: $async) {
      results
      metadata { eventTypes facets messages timeWindow { begin end } }
      queryProgress { queryId completed retryAfter retryDeadline resultExpiration }
    }
  }
}"#;

const CROSS_ACCOUNT_NRQL_QUERY_PROGRESS: &str = r#"query CrossAccountNrqlQueryProgress($accounts: [Int!]!, $queryId: ID!) {
  actor {
    nrqlQueryProgress(accounts: $accounts, queryId: $queryId) {
      results
      metadata { eventTypes facets messages timeWindow { begin end } }
      queryProgress { queryId completed retryAfter retryDeadline resultExpiration }
    }
  }
}"#;

pub(crate) const DOCUMENTS: &[(&str, &str)] = &[
    ("NrqlQuery", NRQL_QUERY),
    ("NrqlQueryAsync", NRQL_QUERY_ASYNC),
    ("NrqlQueryProgress", NRQL_QUERY_PROGRESS),
    ("CrossAccountNrqlQuery", CROSS_ACCOUNT_NRQL_QUERY),
    ("CrossAccountNrqlQueryProgress", CROSS_ACCOUNT_NRQL_QUERY_PROGRESS),
];

const SINGLE_ACCOUNT_POLL: AsyncPoll = AsyncPoll {
    result_path: &["actor", "account", "nrql"],
    operation: "NrqlQueryProgress",
    document: NRQL_QUERY_PROGRESS,
    poll_result_path: &["actor", "account", "nrqlQueryProgress"],
};

const CROSS_ACCOUNT_POLL: AsyncPoll = AsyncPoll {
    result_path: &["actor", "nrql"],
    operation: "CrossAccountNrqlQueryProgress",
    document: CROSS_ACCOUNT_NRQL_QUERY_PROGRESS,
    poll_result_path: &["actor", "nrqlQueryProgress"],
};

/// NerdGraph's own bounds on the NRQL `timeout` argument; past the upper one only
/// asynchronous NRQL can wait for a query.
const MIN_TIMEOUT_SECONDS: u64 = 5;
const MAX_SYNC_TIMEOUT_SECONDS: u64 = 120;
/// The longest this tool follows an asynchronous query. A tool call that blocks for more
/// than five minutes outlasts most clients' patience; a query that needs longer wants a
/// narrower window.
const MAX_ASYNC_TIMEOUT_SECONDS: u64 = 300;
/// NerdGraph's default when no `timeout` is sent.
const DEFAULT_TIMEOUT_SECONDS: u64 = 5;
/// How long `async: true` waits when no `timeout_seconds` is given.
const DEFAULT_ASYNC_TIMEOUT_SECONDS: u64 = 60;
/// Time beyond the NRQL timeout for the HTTP round trip and retries.
const TRANSPORT_ALLOWANCE: Duration = Duration::from_secs(10);
/// New Relic refuses longer queries.
pub(crate) const MAX_QUERY_BYTES: usize = 4096;

pub struct DataAccessPlugin {
    tools: Vec<Arc<dyn Tool>>,
}

/// What `execute_nrql_query` needs besides its arguments.
#[derive(Debug, Clone, Default)]
pub struct NrqlSettings {
    /// Checked before any query leaves the server.
    pub policy: Arc<Policy>,
}

impl DataAccessPlugin {
    pub fn new(settings: NrqlSettings) -> Self {
        let policy = settings.policy;
        Self {
            tools: vec![BuiltinTool::with_state(
                Spec {
                    name: "execute_nrql_query",
                    title: "Run an NRQL query",
                    description: "Run an NRQL query against one New Relic account, or up to 5 together \
                        (account_ids), and return its rows, e.g. SELECT count(*) FROM Transaction FACET appName \
                        SINCE 1 hour ago. Results are capped at 100 rows (the total is reported); add LIMIT, FACET \
                        or a narrower SINCE to focus. timeout_seconds over 120 (or async: true) waits for long \
                        queries through New Relic's async NRQL. Identical queries within 30 s are answered from \
                        cache.",
                    category: "data-access",
                    hints: ToolHints::READ,
                    cache_ttl: Some(Duration::from_secs(30)),
                },
                policy,
                plan_execute_nrql_query,
            )],
        }
    }
}

impl Default for DataAccessPlugin {
    fn default() -> Self {
        Self::new(NrqlSettings::default())
    }
}

super::builtin::builtin_plugin!(DataAccessPlugin, "data-access", "NRQL queries");

/// Arguments of `execute_nrql_query`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteNrqlQueryArgs {
    /// The NRQL query, e.g. `SELECT average(duration) FROM Transaction FACET appName SINCE 1 hour ago`.
    pub nrql_query: String,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
    /// Query up to 5 accounts at once, results merged (instead of account_id).
    pub account_ids: Option<Vec<i64>>,
    /// How long New Relic may run the query, 5 to 300 seconds (default 5); over 120 runs it async.
    #[schemars(range(min = 5, max = 300))]
    pub timeout_seconds: Option<u64>,
    /// Run as async NRQL, polling until done (default 60 s unless timeout_seconds).
    #[serde(rename = "async")]
    pub run_async: Option<bool>,
}

/// How New Relic runs the query, and for how long this call waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NrqlMode {
    /// One request; `timeout` is sent as given (`None`: New Relic's default of 5 s).
    Sync { timeout: Option<u64> },
    /// `async: true`: the first request waits up to `first_wait` seconds, then the call
    /// polls until `total` seconds have passed.
    Async { first_wait: u64, total: u64 },
}

impl NrqlMode {
    /// The mode the arguments ask for: async when asked, or when the timeout is beyond
    /// what a synchronous query may wait.
    fn choose(timeout_seconds: Option<u64>, run_async: Option<bool>) -> Result<Self, PlanError> {
        if let Some(timeout) = timeout_seconds
            && !(MIN_TIMEOUT_SECONDS..=MAX_ASYNC_TIMEOUT_SECONDS).contains(&timeout)
        {
            return Err(PlanError::InvalidArguments(format!(
                "timeout_seconds must be between {MIN_TIMEOUT_SECONDS} and {MAX_ASYNC_TIMEOUT_SECONDS}, got \
                 {timeout}"
            )));
        }
        let beyond_sync = timeout_seconds.is_some_and(|timeout| timeout > MAX_SYNC_TIMEOUT_SECONDS);
        match run_async {
            Some(false) if beyond_sync => Err(PlanError::InvalidArguments(format!(
                "timeout_seconds above {MAX_SYNC_TIMEOUT_SECONDS} needs async NRQL: drop \"async\": false, or \
                 lower timeout_seconds"
            ))),
            Some(true) => Ok(Self::asynchronous(timeout_seconds.unwrap_or(DEFAULT_ASYNC_TIMEOUT_SECONDS))),
            _ if beyond_sync => Ok(Self::asynchronous(timeout_seconds.unwrap_or(MAX_ASYNC_TIMEOUT_SECONDS))),
            _ => Ok(Self::Sync { timeout: timeout_seconds }),
        }
    }

    fn asynchronous(total: u64) -> Self {
        Self::Async { first_wait: total.min(MAX_SYNC_TIMEOUT_SECONDS), total }
    }

    /// The NRQL `timeout` argument.
    fn nrql_timeout(self) -> Option<u64> {
        match self {
            Self::Sync { timeout } => timeout,
            Self::Async { first_wait, .. } => Some(first_wait),
        }
    }

    /// How long New Relic may take in all.
    fn total_seconds(self) -> u64 {
        match self {
            Self::Sync { timeout } => timeout.unwrap_or(DEFAULT_TIMEOUT_SECONDS),
            Self::Async { total, .. } => total,
        }
    }

    fn is_async(self) -> bool {
        matches!(self, Self::Async { .. })
    }
}

/// The accounts of one call: distinct, sorted, one to [`NEW_RELIC_MAX_ACCOUNTS`], each allowed.
fn resolve_accounts(
    account_id: Option<i64>,
    account_ids: Option<Vec<i64>>,
    context: &PlanContext,
) -> Result<Vec<i64>, PlanError> {
    let Some(mut accounts) = account_ids else {
        return Ok(vec![resolve_account(account_id, context)?]);
    };
    if account_id.is_some() {
        return Err(PlanError::InvalidArguments(
            "pass account_id or account_ids, not both (account_ids may list a single account)".into(),
        ));
    }
    // Order and repetition do not change what New Relic answers, so neither splits the cache.
    accounts.sort_unstable();
    accounts.dedup();
    if accounts.is_empty() {
        return Err(PlanError::InvalidArguments(
            "account_ids is empty: list 1 to 5 account ids, or omit it to use the default account".into(),
        ));
    }
    if accounts.len() > NEW_RELIC_MAX_ACCOUNTS {
        return Err(PlanError::InvalidArguments(format!(
            "account_ids lists {} accounts; New Relic's cross-account NRQL spans at most {NEW_RELIC_MAX_ACCOUNTS}: \
             split the accounts over several calls",
            accounts.len()
        )));
    }
    for account in &accounts {
        check_allowed(*account, context)?;
    }
    Ok(accounts)
}

fn plan_execute_nrql_query(
    policy: &Arc<Policy>,
    args: ExecuteNrqlQueryArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let query = args.nrql_query.trim().to_string();
    if query.is_empty() {
        return Err(PlanError::InvalidArguments("nrql_query is empty".into()));
    }
    if query.len() > MAX_QUERY_BYTES {
        return Err(PlanError::InvalidArguments(format!(
            "nrql_query is {} bytes; New Relic accepts at most {MAX_QUERY_BYTES}",
            query.len()
        )));
    }
    let mode = NrqlMode::choose(args.timeout_seconds, args.run_async)?;
    let accounts = resolve_accounts(args.account_id, args.account_ids, context)?;
    // Parsed here first, so a typo or a policy breach costs no call to New Relic.
    let parsed = newrelic_mcp_nrql::parse(&query).map_err(|error| {
        ToolError::new(
            ToolErrorKind::BadRequest,
            format!("NRQL syntax error: {error}; fix the query and retry"),
        )
    })?;
    policy
        .check_call(&parsed, &accounts, context.now_epoch_ms)
        .map_err(|violation| ToolError::new(ToolErrorKind::Policy, violation.to_string()))?;
    Ok(nrql_plan_for(descriptor, accounts, &parsed, query, args.timeout_seconds, mode))
}

/// The plan of an NRQL query that has passed parsing and the policy: one `NrqlQuery`
/// request, cached under the tool's TTL by the query's canonical text and rendered as
/// `execute_nrql_query` renders. Manifest plugins' tools run through here too.
pub(crate) fn nrql_plan(
    descriptor: &ToolDescriptor,
    account: i64,
    parsed: &newrelic_mcp_nrql::ast::Query,
    query: String,
    timeout_seconds: Option<u64>,
) -> Plan {
    let mode = NrqlMode::Sync { timeout: timeout_seconds };
    nrql_plan_for(descriptor, vec![account], parsed, query, timeout_seconds, mode)
}

/// The plan for `accounts` (distinct, sorted, not empty): the account-level operation for
/// one account, the cross-account one for several; async NRQL sets the executor polling.
fn nrql_plan_for(
    descriptor: &ToolDescriptor,
    accounts: Vec<i64>,
    parsed: &newrelic_mcp_nrql::ast::Query,
    query: String,
    timeout_seconds: Option<u64>,
    mode: NrqlMode,
) -> Plan {
    let first = accounts.first().copied().unwrap_or_default();
    let request = match accounts.as_slice() {
        [account] if mode.is_async() => UpstreamRequest {
            operation: "NrqlQueryAsync",
            document: NRQL_QUERY_ASYNC.into(),
            variables: json!({ "accountId": account, "nrql": query, "timeout": mode.nrql_timeout() }),
            kind: RequestKind::Read,
            pagination: None,
            async_poll: Some(SINGLE_ACCOUNT_POLL),
            experimental_opt_in: None,
        },
        [account] => UpstreamRequest {
            operation: "NrqlQuery",
            document: NRQL_QUERY.into(),
            variables: json!({ "accountId": account, "nrql": query, "timeout": mode.nrql_timeout() }),
            kind: RequestKind::Read,
            pagination: None,
            async_poll: None,
            experimental_opt_in: None,
        },
        _ => UpstreamRequest {
            operation: "CrossAccountNrqlQuery",
            document: CROSS_ACCOUNT_NRQL_QUERY.into(),
            variables: json!({
                "accounts": accounts,
                "nrql": query,
                "timeout": mode.nrql_timeout(),
                "async": mode.is_async(),
            }),
            kind: RequestKind::Read,
            pagination: None,
            async_poll: mode.is_async().then_some(CROSS_ACCOUNT_POLL),
            experimental_opt_in: None,
        },
    };
    // Spelling that does not change the query (case, spacing) does not split the cache; the
    // account set does, and so does how long the call may wait: concurrent callers share one
    // fill, and a caller must never join a fill that may outlast its own deadline.
    let mut normalised = json!({
        "nrql_query": newrelic_mcp_nrql::print(parsed),
        "timeout_seconds": timeout_seconds,
        "wait_seconds": mode.total_seconds(),
        "async": mode.is_async(),
    });
    if accounts.len() > 1 {
        normalised["account_ids"] = json!(accounts);
    }
    // A cross-account query spends the NRQL budget of every account it reads.
    let nrql_accounts = NrqlAccounts::many(&accounts).unwrap_or(NrqlAccounts::one(first));
    let total_seconds = mode.total_seconds();
    let timeout = Duration::from_secs(total_seconds) + TRANSPORT_ALLOWANCE;
    let plan = upstream_plan(descriptor, Some(first), &normalised, request, timeout, move |response| {
        render_nrql(&accounts, &query, total_seconds, response)
    });
    Plan { nrql_accounts, ..plan }
}

fn render_nrql(
    accounts: &[i64],
    query: &str,
    timeout_seconds: u64,
    response: UpstreamResponse,
) -> Result<ToolOutput, ToolError> {
    let (path, scope): (&[&str], String) = match accounts {
        [account] => (&["actor", "account", "nrql"], format!("account {account}")),
        _ => (
            &["actor", "nrql"],
            format!("accounts {}", accounts.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")),
        ),
    };
    let nrql = at(&response.data, path);
    if nrql.is_null() {
        let reason = response.partial_errors.first().cloned().unwrap_or_else(|| "no result".into());
        let advice = if reason.to_lowercase().contains("timeout") {
            format!(
                "NRQL timed out after {timeout_seconds} s: narrow SINCE, add a WHERE, or pass a longer \
                 timeout_seconds (up to {MAX_ASYNC_TIMEOUT_SECONDS}; over {MAX_SYNC_TIMEOUT_SECONDS} runs async)"
            )
        } else {
            format!("New Relic returned no NRQL result: {reason}")
        };
        return Err(ToolError::new(ToolErrorKind::BadRequest, advice));
    }
    let capped = Capped::new(list_at(nrql, &["results"]), MAX_ROWS);
    let metadata = at(nrql, &["metadata"]).clone();
    let mut text = format!("{} ({scope})\n", capped.heading("row", "rows"));
    text.push_str(&rows_as_text(&capped.rows));
    for message in list_at(&metadata, &["messages"]) {
        if let Some(message) = message.as_str() {
            text.push_str(&format!("note from New Relic: {message}\n"));
        }
    }
    text.push_str(&response_notes(&response));
    let mut structured = capped.counts();
    match accounts {
        [account] => structured.insert("account_id".into(), json!(account)),
        _ => structured.insert("account_ids".into(), json!(accounts)),
    };
    structured.insert("nrql_query".into(), json!(query));
    structured.insert("results".into(), Value::Array(capped.rows));
    structured.insert("metadata".into(), metadata);
    structured.insert("warnings".into(), warnings(&response));
    Ok(ToolOutput { structured: Value::Object(structured), text })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, clippy::type_complexity)]
    use super::*;
    use newrelic_mcp_actors::tool::PlanAction;

    fn context() -> PlanContext {
        PlanContext {
            default_account: Some(1_000_001),
            allowed_accounts: None,
            now_epoch_ms: 0,
            default_timeout: Duration::from_secs(30),
        }
    }

    fn plan(arguments: Value) -> Result<Plan, PlanError> {
        let Value::Object(arguments) = arguments else { panic!("arguments must be an object") };
        DataAccessPlugin::new(NrqlSettings { policy: Arc::new(Policy::default()) }).tools()[0]
            .plan(arguments, &context())
    }

    #[test]
    fn validates_arguments() {
        let invalid = [
            json!({}),
            json!({"nrql_query": ""}),
            json!({"nrql_query": "   "}),
            json!({"nrql_query": 5}),
            json!({"nrql_query": "SELECT 1", "timeout_seconds": 4}),
            json!({"nrql_query": "SELECT 1", "timeout_seconds": 301}),
            json!({"nrql_query": "SELECT 1", "timeout_seconds": 121, "async": false}),
            json!({"nrql_query": "SELECT 1", "async": "yes"}),
            json!({"nrql_query": "SELECT 1", "account_id": 1, "account_ids": [1, 2]}),
            json!({"nrql_query": "SELECT 1", "account_ids": []}),
            json!({"nrql_query": "SELECT 1", "account_ids": [1, 2, 3, 4, 5, 6]}),
            json!({"nrql_query": "SELECT 1", "account_ids": "1,2"}),
            json!({"nrql_query": "SELECT 1", "timeout_seconds": -1}),
            json!({"nrql_query": "SELECT 1", "account": 1}),
            json!({"nrql_query": "x".repeat(5000)}),
        ];
        for arguments in invalid {
            assert!(matches!(plan(arguments.clone()), Err(PlanError::InvalidArguments(_))), "{arguments}");
        }
    }

    #[test]
    fn plans_a_cached_request_with_the_deadline_beyond_the_nrql_timeout() {
        let planned =
            plan(json!({"nrql_query": " SELECT count(*) FROM Transaction ", "timeout_seconds": 30})).unwrap();
        assert_eq!(planned.timeout, Duration::from_secs(40));
        let PlanAction::Upstream { request, .. } = &planned.action else { panic!("expected upstream") };
        assert_eq!(request.variables["accountId"], 1_000_001);
        assert_eq!(request.variables["nrql"], "SELECT count(*) FROM Transaction");
        // Whitespace around the query does not split the cache.
        let again =
            plan(json!({"nrql_query": "SELECT count(*) FROM Transaction", "timeout_seconds": 30})).unwrap();
        assert_eq!(planned.cache.unwrap().key, again.cache.unwrap().key);
        let other_account = plan(
            json!({"nrql_query": "SELECT count(*) FROM Transaction", "timeout_seconds": 30, "account_id": 2}),
        )
        .unwrap();
        assert_ne!(other_account.cache.unwrap().key, again.cache.unwrap().key);
    }

    #[test]
    fn syntax_errors_and_policy_breaches_never_leave_the_server() {
        let cases = [
            ("SELCT count(*) FROM Transaction", ToolErrorKind::BadRequest, "did you mean SELECT"),
            (
                "SELECT count(*) FROM Transaction WHERE name = 'x",
                ToolErrorKind::BadRequest,
                "unterminated string",
            ),
            ("SELECT * FROM Transaction LIMIT 5000", ToolErrorKind::Policy, "LIMIT"),
            ("SELECT count(*) FROM Transaction SINCE 90 days ago", ToolErrorKind::Policy, "30"),
        ];
        for (query, kind, needle) in cases {
            match plan(json!({ "nrql_query": query })) {
                Err(PlanError::Tool(error)) => {
                    assert_eq!(error.kind, kind, "{query}: {}", error.message);
                    assert!(error.message.contains(needle), "{query}: {}", error.message);
                }
                other => panic!("{query}: expected a tool error, got {other:?}"),
            }
        }
    }

    #[test]
    fn case_and_spacing_do_not_split_the_cache() {
        let a = plan(json!({"nrql_query": "select count(*) from Transaction since 1 hour ago"})).unwrap();
        let b = plan(json!({"nrql_query": "SELECT   count(*)\nFROM Transaction SINCE 1 HOUR AGO"})).unwrap();
        assert_eq!(a.cache.unwrap().key, b.cache.unwrap().key);
    }

    #[test]
    fn renders_rows_metadata_and_caps() {
        let rows: Vec<Value> = (0..150).map(|i| json!({"appName": format!("app{i}"), "count": i})).collect();
        let data = json!({"actor": {"account": {"nrql": {"results": rows, "metadata": {"facets": ["appName"], "messages": ["sampled"]}}}}});
        let output =
            render_nrql(&[1], "q", 5, UpstreamResponse { data, pages: 1, ..Default::default() }).unwrap();
        assert_eq!(output.structured["total"], 150);
        assert_eq!(output.structured["shown"], 100);
        assert!(output.text.starts_with("100 of 150 rows shown"));
        assert!(output.text.contains("appName: app0 | count: 0"));
        assert!(output.text.contains("note from New Relic: sampled"));
    }

    #[test]
    fn a_null_result_is_an_actionable_error() {
        let response = UpstreamResponse {
            data: json!({"actor": {"account": {"nrql": null}}}),
            partial_errors: vec!["NRDB query duration exceeded the set timeout".into()],
            pages: 1,
            truncated: false,
        };
        let error = render_nrql(&[1], "q", 5, response).unwrap_err();
        assert!(error.message.contains("timed out after 5 s"), "{}", error.message);
    }

    fn plan_in(arguments: Value, allowed: Option<&[i64]>) -> Result<Plan, PlanError> {
        let Value::Object(arguments) = arguments else { panic!("arguments must be an object") };
        let context = PlanContext { allowed_accounts: allowed.map(Arc::from), ..context() };
        DataAccessPlugin::default().tools()[0].plan(arguments, &context)
    }

    fn request_of(plan: &Plan) -> &UpstreamRequest {
        let PlanAction::Upstream { request, .. } = &plan.action else { panic!("expected upstream") };
        request
    }

    #[test]
    fn the_mode_follows_timeout_and_async() {
        let sync = |timeout| Ok(NrqlMode::Sync { timeout });
        let run_async = |first_wait, total| Ok(NrqlMode::Async { first_wait, total });
        let cases: Vec<(Option<u64>, Option<bool>, Result<NrqlMode, ()>)> = vec![
            (None, None, sync(None)),
            (Some(30), None, sync(Some(30))),
            (Some(120), Some(false), sync(Some(120))),
            (Some(121), None, run_async(120, 121)),
            (Some(300), None, run_async(120, 300)),
            (None, Some(true), run_async(60, 60)),
            (Some(5), Some(true), run_async(5, 5)),
            (Some(200), Some(true), run_async(120, 200)),
            (Some(121), Some(false), Err(())),
            (Some(4), Some(true), Err(())),
            (Some(301), None, Err(())),
        ];
        for (timeout, asked, expected) in cases {
            let got = NrqlMode::choose(timeout, asked).map_err(|_| ());
            assert_eq!(got, expected, "timeout {timeout:?} async {asked:?}");
        }
    }

    #[test]
    fn account_sets_are_folded_sorted_bounded_and_allowed() {
        let cases: Vec<(Value, Option<&[i64]>, Result<Vec<i64>, &str>)> = vec![
            (json!({}), None, Ok(vec![1_000_001])),
            (json!({"account_id": 7}), None, Ok(vec![7])),
            (json!({"account_ids": [3, 1, 3, 2]}), None, Ok(vec![1, 2, 3])),
            (json!({"account_ids": [5, 4, 3, 2, 1, 5]}), None, Ok(vec![1, 2, 3, 4, 5])),
            (json!({"account_ids": [1, 2, 3, 4, 5, 6]}), None, Err("at most 5")),
            (json!({"account_ids": []}), None, Err("empty")),
            (json!({"account_ids": [1], "account_id": 1}), None, Err("not both")),
            (json!({"account_ids": [1, 9]}), Some(&[1, 2]), Err("account 9 is outside")),
            (json!({"account_ids": [2, 1]}), Some(&[1, 2]), Ok(vec![1, 2])),
        ];
        for (arguments, allowed, expected) in cases {
            let Value::Object(map) = arguments.clone() else { panic!() };
            let args: ExecuteNrqlQueryArgs = serde_json::from_value(Value::Object({
                let mut map = map;
                map.insert("nrql_query".into(), json!("SELECT 1"));
                map
            }))
            .unwrap();
            let context = PlanContext { allowed_accounts: allowed.map(Arc::from), ..context() };
            let got = resolve_accounts(args.account_id, args.account_ids, &context);
            match (got, expected) {
                (Ok(accounts), Ok(expected)) => assert_eq!(accounts, expected, "{arguments}"),
                (Err(PlanError::InvalidArguments(reason)), Err(needle)) => {
                    assert!(reason.contains(needle), "{arguments}: {reason}")
                }
                (Err(PlanError::Tool(error)), Err(needle)) => {
                    assert_eq!(error.kind, ToolErrorKind::Policy, "{arguments}");
                    assert!(error.message.contains(needle), "{arguments}: {}", error.message)
                }
                (got, expected) => panic!("{arguments}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn each_shape_of_call_sends_its_operation() {
        let query = "SELECT count(*) FROM Transaction";
        #[rustfmt::skip]
        let cases: Vec<(Value, &str, Option<&str>, Value, u64)> = vec![
            (json!({}), "NrqlQuery", None, json!({"accountId": 1_000_001, "nrql": query, "timeout": null}), 15),
            (json!({"timeout_seconds": 30}), "NrqlQuery", None, json!({"accountId": 1_000_001, "nrql": query, "timeout": 30}), 40),
            (json!({"async": true}), "NrqlQueryAsync", Some("NrqlQueryProgress"), json!({"accountId": 1_000_001, "nrql": query, "timeout": 60}), 70),
            (json!({"timeout_seconds": 240}), "NrqlQueryAsync", Some("NrqlQueryProgress"), json!({"accountId": 1_000_001, "nrql": query, "timeout": 120}), 250),
            (json!({"account_ids": [2]}), "NrqlQuery", None, json!({"accountId": 2, "nrql": query, "timeout": null}), 15),
            (json!({"account_ids": [3, 2]}), "CrossAccountNrqlQuery", None, json!({"accounts": [2, 3], "nrql": query, "timeout": null, "async": false}), 15),
            (json!({"account_ids": [3, 2], "timeout_seconds": 150}), "CrossAccountNrqlQuery", Some("CrossAccountNrqlQueryProgress"), json!({"accounts": [2, 3], "nrql": query, "timeout": 120, "async": true}), 160),
        ];
        for (mut arguments, operation, poll, variables, seconds) in cases {
            arguments["nrql_query"] = json!(query);
            let planned = plan_in(arguments.clone(), None).unwrap();
            let request = request_of(&planned);
            assert_eq!(request.operation, operation, "{arguments}");
            assert_eq!(request.async_poll.as_ref().map(|p| p.operation), poll, "{arguments}");
            assert_eq!(request.variables, variables, "{arguments}");
            assert_eq!(planned.timeout, Duration::from_secs(seconds), "{arguments}");
            let charged: Vec<i64> = match variables.get("accounts").and_then(Value::as_array) {
                Some(accounts) => accounts.iter().filter_map(Value::as_i64).collect(),
                None => vec![variables["accountId"].as_i64().unwrap_or(2)],
            };
            assert_eq!(
                planned.nrql_accounts.iter().collect::<Vec<_>>(),
                charged,
                "every account pays: {arguments}"
            );
            let document = DOCUMENTS.iter().find(|(name, _)| *name == operation).map(|(_, d)| *d);
            assert_eq!(
                document,
                Some(request.document.as_ref()),
                "{operation} is listed for the contract test"
            );
            if let Some(poll) = &request.async_poll {
                assert!(DOCUMENTS.iter().any(|(name, d)| *name == poll.operation && *d == poll.document));
            }
        }
    }

    #[test]
    fn the_cache_key_follows_the_account_set_not_its_order() {
        let key = |arguments: Value| {
            let mut arguments = arguments;
            arguments["nrql_query"] = json!("SELECT count(*) FROM Transaction");
            plan_in(arguments, None).unwrap().cache.unwrap().key
        };
        let pair = key(json!({"account_ids": [1, 2]}));
        assert_eq!(pair, key(json!({"account_ids": [2, 1, 2]})));
        assert_ne!(pair, key(json!({"account_ids": [1, 3]})));
        assert_ne!(pair, key(json!({"account_ids": [1]})));
        // One account is one account, however it is named.
        assert_eq!(key(json!({"account_ids": [1]})), key(json!({"account_id": 1})));
        // How long a caller may wait splits the key, so no caller joins a fill that may outlast it.
        assert_ne!(key(json!({})), key(json!({"async": true})));
        assert_ne!(key(json!({"timeout_seconds": 10})), key(json!({"timeout_seconds": 10, "async": true})));
        assert_eq!(key(json!({"async": false})), key(json!({})));
    }

    #[test]
    fn every_account_is_checked_against_the_allow_list() {
        let error = plan_in(
            json!({"nrql_query": "SELECT count(*) FROM Transaction", "account_ids": [1, 2, 3]}),
            Some(&[1, 2]),
        )
        .unwrap_err();
        let PlanError::Tool(error) = error else { panic!("expected a tool error, got {error:?}") };
        assert_eq!(error.kind, ToolErrorKind::Policy);
        assert!(error.message.contains("account 3"), "{}", error.message);
    }

    #[test]
    fn renders_merged_rows_of_several_accounts() {
        let data = json!({"actor": {"nrql": {
            "results": [{"count": 3}, {"count": 4}],
            "metadata": {"eventTypes": ["Transaction"]},
            "queryProgress": {"queryId": "q", "completed": true}
        }}});
        let output =
            render_nrql(&[1, 2], "q", 5, UpstreamResponse { data, pages: 1, ..Default::default() }).unwrap();
        assert!(output.text.starts_with("2 rows (accounts 1, 2)"), "{}", output.text);
        assert_eq!(output.structured["account_ids"], json!([1, 2]));
        assert_eq!(output.structured.get("account_id"), None);
        assert_eq!(output.structured["results"], json!([{"count": 3}, {"count": 4}]));
    }
}
