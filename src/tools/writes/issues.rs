//! `acknowledge_issue` and `resolve_issue`: the two issue actions responders take.

use std::sync::Arc;

use newrelic_mcp_actors::tool::{
    Plan, PlanContext, PlanError, ReadBack, Renderer, Tool, ToolDescriptor, ToolError, ToolHints, ToolOutput,
};
use newrelic_mcp_actors::upstream::{RequestKind, UpstreamRequest, UpstreamResponse};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::super::account::resolve_account;
use super::super::builtin::{BuiltinTool, Spec};
use super::super::render::cell;
use super::super::time_period::iso;
use super::{Preview, field_lines, find_by, mutation_payload, with_read_back, write_plan, written};

const CATEGORY: &str = "incident-response";
/// Issue ids are UUIDs; anything much longer is not an issue id.
const MAX_ISSUE_ID_CHARS: usize = 100;
/// How far back the read-back looks for the issue: issues stay open for weeks at most.
const READ_BACK_WINDOW_MS: i64 = 90 * 86_400_000;
/// The read-back window ends a little after the call, so that the change just made is inside it.
const READ_BACK_SLACK_MS: i64 = 5 * 60_000;

pub(crate) const ACKNOWLEDGE_ISSUE: &str = r#"mutation AcknowledgeIssue($accountId: Int!, $issueId: ID!) {
  aiIssuesAckIssue(accountId: $accountId, issueId: $issueId) { error result { accountId action issueId } }
}"#;

pub(crate) const RESOLVE_ISSUE: &str = r#"mutation ResolveIssue($accountId: Int!, $issueId: ID!) {
  aiIssuesResolveIssue(accountId: $accountId, issueId: $issueId) { error result { accountId action issueId } }
}"#;

pub(crate) const ISSUE_BY_ID: &str = r#"query IssueById($accountId: Int!, $ids: [ID!], $start: EpochMilliseconds!, $end: EpochMilliseconds!) {
  actor {
    account(id: $accountId) {
      aiIssues {
        issues(filter: { ids: $ids }, timeWindow: { startTime: $start, endTime: $end }) {
          issues {
            issueId title priority state createdAt activatedAt closedAt updatedAt
            acknowledgedAt acknowledgedBy entityNames conditionName policyName deepLinkUrl
          }
        }
      }
    }
  }
}"#;

pub(crate) const DOCUMENTS: &[(&str, &str)] =
    &[("AcknowledgeIssue", ACKNOWLEDGE_ISSUE), ("ResolveIssue", RESOLVE_ISSUE), ("IssueById", ISSUE_BY_ID)];

const ISSUES_PATH: &[&str] = &["actor", "account", "aiIssues", "issues", "issues"];

/// The two actions, with everything that differs between them.
#[derive(Clone, Copy)]
struct IssueAction {
    tool: &'static str,
    /// What is done, in a few words: `acknowledge issue`.
    label: &'static str,
    title: &'static str,
    description: &'static str,
    operation: &'static str,
    document: &'static str,
    field: &'static str,
    verb: &'static str,
    done: &'static str,
    warning: &'static str,
}

const ACKNOWLEDGE: IssueAction = IssueAction {
    tool: "acknowledge_issue",
    label: "acknowledge issue",
    title: "Acknowledge an issue",
    description: "Acknowledge an alert issue: tells the team someone is on it (the issue stays open). \
        Two steps: the first call returns a dry run and a confirmation_token; call again with the same \
        arguments and that token to acknowledge. list_recent_issues and search_incident give issue ids.",
    operation: "AcknowledgeIssue",
    document: ACKNOWLEDGE_ISSUE,
    field: "aiIssuesAckIssue",
    verb: "acknowledge",
    done: "Acknowledged",
    warning: "acknowledging is visible to everyone who follows the issue and cannot be undone with \
        this server's tools; the issue stays open until resolved",
};

const RESOLVE: IssueAction = IssueAction {
    tool: "resolve_issue",
    label: "resolve issue",
    title: "Resolve an issue",
    description: "Resolve (close) an alert issue and its incidents. Two steps: the first call returns a \
        dry run and a confirmation_token; call again with the same arguments and that token to resolve. \
        list_recent_issues and search_incident give issue ids.",
    operation: "ResolveIssue",
    document: RESOLVE_ISSUE,
    field: "aiIssuesResolveIssue",
    verb: "resolve",
    done: "Resolved",
    warning: "resolving closes the issue for everyone; if its conditions still breach, New Relic \
        opens a new issue",
};

pub(super) fn acknowledge_tool() -> Arc<dyn Tool> {
    tool(ACKNOWLEDGE)
}

pub(super) fn resolve_tool() -> Arc<dyn Tool> {
    tool(RESOLVE)
}

fn tool(action: IssueAction) -> Arc<dyn Tool> {
    BuiltinTool::with_state(
        Spec {
            name: action.tool,
            title: action.title,
            description: action.description,
            category: CATEGORY,
            hints: ToolHints::WRITE,
            cache_ttl: None,
        },
        action,
        plan_issue_action,
    )
}

/// Arguments of `acknowledge_issue` and `resolve_issue`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueActionArgs {
    /// Account the issue belongs to; defaults to the configured account.
    pub account_id: Option<i64>,
    /// The issue's id, e.g. `5c6c3b7e-2f1d-4a8e-9b0c-7d2e1f3a4b5c` (list_recent_issues lists them).
    pub issue_id: String,
}

fn checked_issue_id(value: &str) -> Result<String, PlanError> {
    let id = value.trim();
    let valid = !id.is_empty()
        && id.len() <= MAX_ISSUE_ID_CHARS
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if valid {
        Ok(id.to_string())
    } else {
        Err(PlanError::InvalidArguments(
            "issue_id must be an issue id such as 5c6c3b7e-2f1d-4a8e-9b0c-7d2e1f3a4b5c \
             (list_recent_issues lists them)"
                .to_string(),
        ))
    }
}

fn plan_issue_action(
    action: &IssueAction,
    args: IssueActionArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let action = *action;
    let account = resolve_account(args.account_id, context)?;
    let issue_id = checked_issue_id(&args.issue_id)?;
    let request = UpstreamRequest {
        operation: action.operation,
        document: action.document.into(),
        variables: json!({ "accountId": account, "issueId": issue_id }),
        kind: RequestKind::Write,
        pagination: None,
        async_poll: None,
        experimental_opt_in: None,
    };
    let preview = Preview {
        action: action.label,
        account,
        summary: format!("Would {} issue {issue_id} in account {account}.", action.verb),
        request,
        warnings: vec![action.warning.to_string()],
    };
    let end = context.now_epoch_ms + READ_BACK_SLACK_MS;
    let start = end - READ_BACK_WINDOW_MS;
    let read_id = issue_id.clone();
    let read_back: ReadBack = Arc::new(move |output: &ToolOutput| {
        let id = read_id.clone();
        let request = UpstreamRequest {
            operation: "IssueById",
            document: ISSUE_BY_ID.into(),
            variables: json!({ "accountId": account, "ids": [id], "start": start, "end": end }),
            kind: RequestKind::Read,
            pagination: None,
            async_poll: None,
            experimental_opt_in: None,
        };
        let written = output.clone();
        let render: Renderer = Arc::new(move |response: UpstreamResponse| {
            let issue = find_by(&response.data, ISSUES_PATH, "issueId", &id);
            let text = issue.as_ref().map(issue_text).unwrap_or_default();
            Ok(with_read_back(
                &written,
                issue,
                text,
                &format!("issue {id} was not found among the issues of the last 90 days"),
            ))
        });
        Some((request, render))
    });
    Ok(write_plan(
        descriptor,
        preview,
        context.default_timeout,
        move |response| render_action(action, account, &issue_id, response),
        Some(read_back),
    ))
}

fn render_action(
    action: IssueAction,
    account: i64,
    issue_id: &str,
    response: UpstreamResponse,
) -> Result<ToolOutput, ToolError> {
    let payload = mutation_payload(&response, action.field, &format!("{} issue {issue_id}", action.verb))?;
    let result = payload.get("result").cloned().unwrap_or(Value::Null);
    let text = format!("{} issue {issue_id} in account {account}.\n", action.done);
    Ok(written(action.label, account, result, text))
}

fn time_field(issue: &Value, key: &str) -> Value {
    issue[key].as_i64().map_or(Value::Null, |ms| Value::String(iso(ms)))
}

fn issue_text(issue: &Value) -> String {
    let shown = json!({
        "issueId": issue["issueId"],
        "title": joined(&issue["title"]),
        "priority": issue["priority"],
        "state": issue["state"],
        "created": time_field(issue, "createdAt"),
        "acknowledged": time_field(issue, "acknowledgedAt"),
        "acknowledgedBy": issue["acknowledgedBy"],
        "closed": time_field(issue, "closedAt"),
        "entities": joined(&issue["entityNames"]),
        "condition": joined(&issue["conditionName"]),
        "policy": joined(&issue["policyName"]),
        "link": issue["deepLinkUrl"],
    });
    field_lines(
        &shown,
        &[
            ("id", &["issueId"]),
            ("title", &["title"]),
            ("priority", &["priority"]),
            ("state", &["state"]),
            ("created", &["created"]),
            ("acknowledged", &["acknowledged"]),
            ("acknowledged by", &["acknowledgedBy"]),
            ("closed", &["closed"]),
            ("entities", &["entities"]),
            ("condition", &["condition"]),
            ("policy", &["policy"]),
            ("link", &["link"]),
        ],
    )
}

/// A list of strings as one comma-separated value; `null` stays `null`.
fn joined(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::String(items.iter().map(cell).collect::<Vec<_>>().join(", ")),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use serde_json::json;

    use super::super::test_support::*;
    use super::*;

    const ISSUE: &str = "5c6c3b7e-2f1d-4a8e-9b0c-7d2e1f3a4b5c";

    #[test]
    fn both_actions_send_their_own_mutation() {
        let cases = [
            ("acknowledge_issue", ACKNOWLEDGE_ISSUE, "Would acknowledge issue"),
            ("resolve_issue", RESOLVE_ISSUE, "Would resolve issue"),
        ];
        for (name, document, summary) in cases {
            let write = write_of(name, json!({"issue_id": format!(" {ISSUE} ")}));
            assert_eq!(write.request.document, document, "{name}");
            assert_eq!(write.request.variables, json!({"accountId": 1, "issueId": ISSUE}), "{name}");
            assert_eq!(write.request.experimental_opt_in, None, "{name}");
            assert!(
                write.preview.text.contains(&format!("{summary} {ISSUE} in account 1")),
                "{}",
                write.preview.text
            );
        }
    }

    #[test]
    fn odd_issue_ids_are_refused() {
        for bad in ["", "   ", "abc def", "x\" } } mutation {", &"a".repeat(101)] {
            let message = invalid("acknowledge_issue", json!({"issue_id": bad}));
            assert!(message.contains("issue_id must be an issue id"), "{bad}: {message}");
        }
    }

    #[test]
    fn an_error_inside_the_payload_is_a_tool_error() {
        let write = write_of("resolve_issue", json!({"issue_id": ISSUE}));
        let error = render(
            &write,
            json!({"aiIssuesResolveIssue": {"error": "Issue is already closed", "result": null}}),
        )
        .unwrap_err();
        assert!(error.message.contains("Issue is already closed"), "{}", error.message);
        assert!(error.message.contains("resolve issue"), "{}", error.message);
    }

    #[test]
    fn the_issue_is_read_back_in_a_window_around_now() {
        let write = write_of("acknowledge_issue", json!({"issue_id": ISSUE}));
        let written = render(
            &write,
            json!({"aiIssuesAckIssue": {"error": null, "result": {"accountId": 1, "action": "ACK", "issueId": ISSUE}}}),
        )
        .unwrap();
        assert_eq!(written.structured["result"]["action"], "ACK");
        assert!(written.text.contains(&format!("Acknowledged issue {ISSUE}")), "{}", written.text);
        let data = json!({"actor": {"account": {"aiIssues": {"issues": {"issues": [
            {"issueId": "other", "state": "ACTIVATED"},
            {"issueId": ISSUE, "title": ["High error rate"], "priority": "CRITICAL", "state": "ACTIVATED",
             "createdAt": NOW_MS - 3_600_000, "acknowledgedAt": NOW_MS, "acknowledgedBy": "oncall@example.com",
             "entityNames": ["checkout"]}
        ]}}}}});
        let (request, answer) = read_back(&write, &written, data);
        assert_eq!(request.variables["ids"], json!([ISSUE]));
        assert!(request.variables["end"].as_i64().unwrap() > NOW_MS);
        assert!(request.variables["start"].as_i64().unwrap() < NOW_MS - 30 * 86_400_000);
        assert_eq!(answer.structured["readBack"]["object"]["acknowledgedBy"], "oncall@example.com");
        assert!(answer.text.contains("acknowledged by: oncall@example.com"), "{}", answer.text);
        assert!(answer.text.contains("title: High error rate"), "{}", answer.text);
        assert!(answer.text.contains("acknowledged: 2024-05-15"), "{}", answer.text);
    }
}
