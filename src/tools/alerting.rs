//! Alerting: policies and issues.

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{
    Plan, PlanContext, PlanError, Plugin, Tool, ToolDescriptor, ToolError, ToolHints, ToolOutput,
};
use newrelic_mcp_actors::upstream::{Pagination, RequestKind, UpstreamRequest, UpstreamResponse};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::account::resolve_account;
use super::builtin::{BuiltinTool, Spec, upstream_plan};
use super::render::{Capped, MAX_ROWS, at, cell, list_at, response_notes, warnings};
use super::time_period::iso;

const CATEGORY: &str = "alerting";

pub(crate) const POLICIES_SEARCH: &str = r#"query AlertPolicies($accountId: Int!, $cursor: String, $nameLike: String) {
  actor {
    account(id: $accountId) {
      alerts {
        policiesSearch(cursor: $cursor, searchCriteria: { nameLike: $nameLike }) {
          nextCursor
          totalCount
          policies { id name incidentPreference accountId }
        }
      }
    }
  }
}"#;

pub(crate) const RECENT_ISSUES: &str = r#"query RecentIssues($accountId: Int!, $cursor: String, $states: [AiIssuesIssueState!], $start: EpochMilliseconds!, $end: EpochMilliseconds!) {
  actor {
    account(id: $accountId) {
      aiIssues {
        issues(cursor: $cursor, filter: { states: $states }, timeWindow: { startTime: $start, endTime: $end }) {
          nextCursor
          issues {
            issueId title priority state createdAt activatedAt closedAt acknowledgedAt acknowledgedBy
            entityGuids entityNames conditionName policyName totalIncidents deepLinkUrl sources
          }
        }
      }
    }
  }
}"#;

pub(crate) const DOCUMENTS: &[(&str, &str)] =
    &[("AlertPolicies", POLICIES_SEARCH), ("RecentIssues", RECENT_ISSUES)];

const ISSUE_WINDOW_MS: i64 = 7 * 86_400_000;

pub struct AlertingPlugin {
    tools: Vec<Arc<dyn Tool>>,
}

impl AlertingPlugin {
    pub fn new() -> Self {
        Self {
            tools: vec![
                BuiltinTool::shared(
                    Spec {
                        name: "list_alert_policies",
                        title: "List alert policies",
                        description: "List the alert policies of an account (id, name, incident preference), \
                            optionally only those whose name contains name_filter.",
                        category: CATEGORY,
                        hints: ToolHints::READ,
                        cache_ttl: Some(Duration::from_secs(60)),
                    },
                    plan_list_alert_policies,
                ),
                BuiltinTool::shared(
                    Spec {
                        name: "list_recent_issues",
                        title: "List recent issues",
                        description: "List alert issues of the last 7 days in an account, newest first: title, \
                            priority, state, affected entities, condition and policy. By default only open issues \
                            (CREATED, ACTIVATED); pass states to choose, e.g. [\"CLOSED\"].",
                        category: CATEGORY,
                        hints: ToolHints::READ,
                        cache_ttl: Some(Duration::from_secs(30)),
                    },
                    plan_list_recent_issues,
                ),
            ],
        }
    }
}

impl Default for AlertingPlugin {
    fn default() -> Self {
        Self::new()
    }
}

super::builtin::builtin_plugin!(AlertingPlugin, "alerting", "Alert policies and issues");

/// Arguments of `list_alert_policies`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAlertPoliciesArgs {
    /// Account whose policies to list; defaults to the configured account.
    pub account_id: Option<i64>,
    /// Only policies whose name contains this text, e.g. `checkout`.
    pub name_filter: Option<String>,
}

/// The states an issue moves through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum IssueState {
    Created,
    Activated,
    Deactivated,
    Closed,
}

/// Arguments of `list_recent_issues`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRecentIssuesArgs {
    /// Account whose issues to list; defaults to the configured account.
    pub account_id: Option<i64>,
    /// Issue states to include; default `["CREATED", "ACTIVATED"]` (open issues).
    pub states: Option<Vec<IssueState>>,
}

fn plan_list_alert_policies(
    args: ListAlertPoliciesArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let account = resolve_account(args.account_id, context)?;
    let name_filter =
        args.name_filter.as_deref().map(str::trim).filter(|f| !f.is_empty()).map(str::to_string);
    if name_filter.as_ref().is_some_and(|f| f.len() > 255) {
        return Err(PlanError::InvalidArguments("name_filter must be at most 255 characters".into()));
    }
    let request = UpstreamRequest {
        operation: "AlertPolicies",
        document: POLICIES_SEARCH.into(),
        variables: json!({ "accountId": account, "cursor": null, "nameLike": name_filter }),
        kind: RequestKind::Read,
        pagination: Some(Pagination {
            cursor_variable: "cursor",
            page_path: &["actor", "account", "alerts", "policiesSearch"],
            items_field: "policies",
            max_pages: 10,
        }),
        async_poll: None,
        experimental_opt_in: None,
    };
    let normalised = json!({ "name_filter": name_filter });
    Ok(upstream_plan(
        descriptor,
        Some(account),
        &normalised,
        request,
        context.default_timeout,
        move |response| render_policies(account, response),
    ))
}

fn render_policies(account: i64, response: UpstreamResponse) -> Result<ToolOutput, ToolError> {
    let search = at(&response.data, &["actor", "account", "alerts", "policiesSearch"]);
    let capped = Capped::new(list_at(search, &["policies"]), MAX_ROWS);
    let mut text = format!("{} in account {account}\n", capped.heading("alert policy", "alert policies"));
    for policy in &capped.rows {
        text.push_str(&format!(
            "{} {} (incidents {})\n",
            cell(at(policy, &["id"])),
            cell(at(policy, &["name"])),
            cell(at(policy, &["incidentPreference"]))
        ));
    }
    text.push_str(&response_notes(&response));
    let mut structured = capped.counts();
    structured.insert("account_id".into(), json!(account));
    structured.insert("policies".into(), Value::Array(capped.rows));
    structured.insert("warnings".into(), warnings(&response));
    Ok(ToolOutput { structured: Value::Object(structured), text })
}

fn plan_list_recent_issues(
    args: ListRecentIssuesArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let account = resolve_account(args.account_id, context)?;
    let mut states = args.states.unwrap_or_else(|| vec![IssueState::Created, IssueState::Activated]);
    states.sort_by_key(|state| *state as u8);
    states.dedup();
    if states.is_empty() {
        return Err(PlanError::InvalidArguments("states must name at least one state".into()));
    }
    // The window is aligned to the minute so that calls within a minute share a cache entry.
    let end = context.now_epoch_ms - context.now_epoch_ms.rem_euclid(60_000) + 60_000;
    let start = end - ISSUE_WINDOW_MS;
    let request = UpstreamRequest {
        operation: "RecentIssues",
        document: RECENT_ISSUES.into(),
        variables: json!({ "accountId": account, "cursor": null, "states": states, "start": start, "end": end }),
        kind: RequestKind::Read,
        pagination: Some(Pagination {
            cursor_variable: "cursor",
            page_path: &["actor", "account", "aiIssues", "issues"],
            items_field: "issues",
            max_pages: 5,
        }),
        async_poll: None,
        experimental_opt_in: None,
    };
    let normalised = json!({ "states": states, "end": end });
    Ok(upstream_plan(
        descriptor,
        Some(account),
        &normalised,
        request,
        context.default_timeout,
        move |response| render_issues(account, response),
    ))
}

fn joined(value: &Value) -> String {
    match value {
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => cell(other),
    }
}

fn render_issues(account: i64, response: UpstreamResponse) -> Result<ToolOutput, ToolError> {
    let mut issues = list_at(&response.data, &["actor", "account", "aiIssues", "issues", "issues"]);
    issues.sort_by_key(|issue| std::cmp::Reverse(at(issue, &["createdAt"]).as_i64().unwrap_or(0)));
    let capped = Capped::new(issues, MAX_ROWS);
    let mut text = format!("{} in account {account} (last 7 days)\n", capped.heading("issue", "issues"));
    for issue in &capped.rows {
        let created = at(issue, &["createdAt"]).as_i64().map(iso).unwrap_or_else(|| "unknown".into());
        text.push_str(&format!(
            "[{} {}] {} — entities: {}; condition: {}; policy: {}; created {created}; id {}\n",
            cell(at(issue, &["priority"])),
            cell(at(issue, &["state"])),
            joined(at(issue, &["title"])),
            joined(at(issue, &["entityNames"])),
            joined(at(issue, &["conditionName"])),
            joined(at(issue, &["policyName"])),
            cell(at(issue, &["issueId"])),
        ));
    }
    text.push_str(&response_notes(&response));
    let mut structured = capped.counts();
    structured.insert("account_id".into(), json!(account));
    structured.insert("issues".into(), Value::Array(capped.rows));
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
            default_account: Some(1),
            allowed_accounts: None,
            now_epoch_ms: 1_715_776_210_000,
            default_timeout: Duration::from_secs(30),
        }
    }

    fn plan(name: &str, arguments: Value) -> Result<Plan, PlanError> {
        let Value::Object(arguments) = arguments else { panic!("arguments must be an object") };
        let tool = AlertingPlugin::new().tools().into_iter().find(|t| t.descriptor().name == name).unwrap();
        tool.plan(arguments, &context())
    }

    fn variables(plan: &Plan) -> &Value {
        match &plan.action {
            PlanAction::Upstream { request, .. } => &request.variables,
            PlanAction::Local(_) | PlanAction::Write(_) => panic!("expected upstream"),
        }
    }

    #[test]
    fn issues_default_to_open_states_and_validate_states() {
        let planned = plan("list_recent_issues", json!({})).unwrap();
        assert_eq!(variables(&planned)["states"], json!(["CREATED", "ACTIVATED"]));
        assert_eq!(variables(&planned)["end"].as_i64().unwrap() % 60_000, 0);
        let closed = plan("list_recent_issues", json!({"states": ["CLOSED", "CLOSED"]})).unwrap();
        assert_eq!(variables(&closed)["states"], json!(["CLOSED"]));
        for bad in [json!({"states": ["OPEN"]}), json!({"states": []}), json!({"states": "CLOSED"})] {
            assert!(
                matches!(plan("list_recent_issues", bad.clone()), Err(PlanError::InvalidArguments(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn policy_filter_is_a_variable_never_spliced_into_the_document() {
        let planned = plan("list_alert_policies", json!({"name_filter": "\" } } mutation {"})).unwrap();
        assert_eq!(variables(&planned)["nameLike"], "\" } } mutation {");
        let PlanAction::Upstream { request, .. } = &planned.action else { panic!() };
        assert_eq!(request.document, POLICIES_SEARCH);
    }

    #[test]
    fn renders_issues_newest_first() {
        let data = json!({"actor": {"account": {"aiIssues": {"issues": {"issues": [
            {"issueId": "old", "title": ["Old"], "priority": "LOW", "state": "ACTIVATED", "createdAt": 1},
            {"issueId": "new", "title": ["New"], "priority": "CRITICAL", "state": "ACTIVATED", "createdAt": 2,
             "entityNames": ["checkout"], "conditionName": ["Error rate"], "policyName": ["Checkout"]}
        ]}}}}});
        let output = render_issues(1, UpstreamResponse { data, pages: 1, ..Default::default() }).unwrap();
        let new_at = output.text.find("New").unwrap();
        let old_at = output.text.find("Old").unwrap();
        assert!(new_at < old_at, "{}", output.text);
        assert!(output.text.contains("[CRITICAL ACTIVATED] New — entities: checkout; condition: Error rate"));
    }
}
