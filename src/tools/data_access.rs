//! Data access: NRQL.

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{
    Plan, PlanContext, PlanError, Plugin, Tool, ToolDescriptor, ToolError, ToolErrorKind, ToolHints,
    ToolOutput,
};
use newrelic_mcp_actors::upstream::{RequestKind, UpstreamRequest, UpstreamResponse};
use newrelic_mcp_nrql::Policy;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::account::resolve_account;
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

pub(crate) const DOCUMENTS: &[(&str, &str)] = &[("NrqlQuery", NRQL_QUERY)];

/// NerdGraph's own bounds on the NRQL `timeout` argument.
const MIN_TIMEOUT_SECONDS: u64 = 5;
const MAX_TIMEOUT_SECONDS: u64 = 120;
/// NerdGraph's default when no `timeout` is sent.
const DEFAULT_TIMEOUT_SECONDS: u64 = 5;
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
                    description: "Run an NRQL query against one New Relic account and return its rows, e.g. \
                        SELECT count(*) FROM Transaction FACET appName SINCE 1 hour ago. Results are capped at 100 \
                        rows (the total is reported); add LIMIT, FACET or a narrower SINCE to focus. Identical \
                        queries within 30 s are answered from cache.",
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
    /// How long New Relic may run the query, 5 to 120 seconds (default 5).
    #[schemars(range(min = 5, max = 120))]
    pub timeout_seconds: Option<u64>,
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
    if let Some(timeout) = args.timeout_seconds
        && !(MIN_TIMEOUT_SECONDS..=MAX_TIMEOUT_SECONDS).contains(&timeout)
    {
        return Err(PlanError::InvalidArguments(format!(
            "timeout_seconds must be between {MIN_TIMEOUT_SECONDS} and {MAX_TIMEOUT_SECONDS}, got {timeout}"
        )));
    }
    let account = resolve_account(args.account_id, context)?;
    // Parsed here first, so a typo or a policy breach costs no call to New Relic.
    let parsed = newrelic_mcp_nrql::parse(&query).map_err(|error| {
        ToolError::new(
            ToolErrorKind::BadRequest,
            format!("NRQL syntax error: {error}; fix the query and retry"),
        )
    })?;
    policy
        .check_call(&parsed, &[account], context.now_epoch_ms)
        .map_err(|violation| ToolError::new(ToolErrorKind::Policy, violation.to_string()))?;
    Ok(nrql_plan(descriptor, account, &parsed, query, args.timeout_seconds))
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
    let nrql_timeout = timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
    let request = UpstreamRequest {
        operation: "NrqlQuery",
        document: NRQL_QUERY.into(),
        variables: json!({ "accountId": account, "nrql": query, "timeout": timeout_seconds }),
        kind: RequestKind::Read,
        pagination: None,
        async_poll: None,
        experimental_opt_in: None,
    };
    // Spelling that does not change the query (case, spacing) does not split the cache.
    let normalised =
        json!({ "nrql_query": newrelic_mcp_nrql::print(parsed), "timeout_seconds": timeout_seconds });
    let timeout = Duration::from_secs(nrql_timeout) + TRANSPORT_ALLOWANCE;
    let plan = upstream_plan(descriptor, Some(account), &normalised, request, timeout, move |response| {
        render_nrql(account, &query, nrql_timeout, response)
    });
    Plan { nrql_account: Some(account), ..plan }
}

fn render_nrql(
    account: i64,
    query: &str,
    timeout_seconds: u64,
    response: UpstreamResponse,
) -> Result<ToolOutput, ToolError> {
    let nrql = at(&response.data, &["actor", "account", "nrql"]);
    if nrql.is_null() {
        let reason = response.partial_errors.first().cloned().unwrap_or_else(|| "no result".into());
        let advice = if reason.to_lowercase().contains("timeout") {
            format!(
                "NRQL timed out after {timeout_seconds} s: narrow SINCE, add a WHERE, or pass timeout_seconds up to 120"
            )
        } else {
            format!("New Relic returned no NRQL result: {reason}")
        };
        return Err(ToolError::new(ToolErrorKind::BadRequest, advice));
    }
    let capped = Capped::new(list_at(nrql, &["results"]), MAX_ROWS);
    let metadata = at(nrql, &["metadata"]).clone();
    let mut text = format!("{} (account {account})\n", capped.heading("row", "rows"));
    text.push_str(&rows_as_text(&capped.rows));
    for message in list_at(&metadata, &["messages"]) {
        if let Some(message) = message.as_str() {
            text.push_str(&format!("note from New Relic: {message}\n"));
        }
    }
    text.push_str(&response_notes(&response));
    let mut structured = capped.counts();
    structured.insert("account_id".into(), json!(account));
    structured.insert("nrql_query".into(), json!(query));
    structured.insert("results".into(), Value::Array(capped.rows));
    structured.insert("metadata".into(), metadata);
    structured.insert("warnings".into(), warnings(&response));
    Ok(ToolOutput { structured: Value::Object(structured), text })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
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
            json!({"nrql_query": "SELECT 1", "timeout_seconds": 121}),
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
            render_nrql(1, "q", 5, UpstreamResponse { data, pages: 1, ..Default::default() }).unwrap();
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
        let error = render_nrql(1, "q", 5, response).unwrap_err();
        assert!(error.message.contains("timed out after 5 s"), "{}", error.message);
    }
}
