//! `create_alert_policy` and `delete_alert_policy`.

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
use super::{
    NumericId, Preview, field_lines, find_by, id_text, mutation_payload, required_text, with_read_back,
    write_plan, written,
};

const CATEGORY: &str = "alerting";
/// Longest policy name New Relic accepts.
const MAX_NAME_CHARS: usize = 128;

pub(crate) const CREATE_POLICY: &str = r#"mutation CreateAlertPolicy($accountId: Int!, $policy: AlertsPolicyInput!) {
  alertsPolicyCreate(accountId: $accountId, policy: $policy) { id name incidentPreference accountId }
}"#;

pub(crate) const DELETE_POLICY: &str = r#"mutation DeleteAlertPolicy($accountId: Int!, $id: ID!) {
  alertsPolicyDelete(accountId: $accountId, id: $id) { id }
}"#;

pub(crate) const POLICY_BY_ID: &str = r#"query AlertPolicyById($accountId: Int!, $ids: [ID!]) {
  actor {
    account(id: $accountId) {
      alerts {
        policiesSearch(searchCriteria: { ids: $ids }) {
          policies { id name incidentPreference accountId }
        }
      }
    }
  }
}"#;

pub(crate) const DOCUMENTS: &[(&str, &str)] = &[
    ("CreateAlertPolicy", CREATE_POLICY),
    ("DeleteAlertPolicy", DELETE_POLICY),
    ("AlertPolicyById", POLICY_BY_ID),
];

const POLICIES_PATH: &[&str] = &["actor", "account", "alerts", "policiesSearch", "policies"];

pub(super) fn create_tool() -> Arc<dyn Tool> {
    BuiltinTool::shared(
        Spec {
            name: "create_alert_policy",
            title: "Create an alert policy",
            description: "Create an alert policy (a named group of alert conditions that decides how \
                violations are grouped into issues). Two steps: the first call returns a dry run and a \
                confirmation_token; call again with the same arguments and that token to create it. \
                Add conditions with create_nrql_alert_condition.",
            category: CATEGORY,
            hints: ToolHints::WRITE,
            cache_ttl: None,
        },
        plan_create,
    )
}

pub(super) fn delete_tool() -> Arc<dyn Tool> {
    BuiltinTool::shared(
        Spec {
            name: "delete_alert_policy",
            title: "Delete an alert policy",
            description: "Delete an alert policy and every condition in it. Two steps: the first call \
                returns a dry run and a confirmation_token; call again with the same arguments and that \
                token to delete. list_alert_policies gives policy ids.",
            category: CATEGORY,
            hints: ToolHints::DESTRUCTIVE,
            cache_ttl: None,
        },
        plan_delete,
    )
}

/// How violations of a policy's conditions are grouped into issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IncidentPreference {
    /// One issue at a time for the whole policy.
    PerPolicy,
    /// One issue per condition.
    PerCondition,
    /// One issue per condition and entity.
    PerConditionAndTarget,
}

impl IncidentPreference {
    fn as_str(self) -> &'static str {
        match self {
            Self::PerPolicy => "PER_POLICY",
            Self::PerCondition => "PER_CONDITION",
            Self::PerConditionAndTarget => "PER_CONDITION_AND_TARGET",
        }
    }
}

/// Arguments of `create_alert_policy`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAlertPolicyArgs {
    /// Account to create the policy in; defaults to the configured account.
    pub account_id: Option<i64>,
    /// Policy name, e.g. `checkout-prod` (at most 128 characters).
    pub name: String,
    /// How violations become issues: `PER_POLICY` (default: one issue for the whole policy),
    /// `PER_CONDITION` or `PER_CONDITION_AND_TARGET`.
    pub incident_preference: Option<IncidentPreference>,
}

/// Arguments of `delete_alert_policy`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAlertPolicyArgs {
    /// Account the policy belongs to; defaults to the configured account.
    pub account_id: Option<i64>,
    /// Id of the policy to delete, e.g. `2000101` (list_alert_policies lists them).
    pub policy_id: NumericId,
}

fn plan_create(
    args: CreateAlertPolicyArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let account = resolve_account(args.account_id, context)?;
    let name = required_text("name", &args.name, MAX_NAME_CHARS)?;
    let preference = args.incident_preference.unwrap_or(IncidentPreference::PerPolicy);
    let request = UpstreamRequest {
        operation: "CreateAlertPolicy",
        document: CREATE_POLICY.into(),
        variables: json!({
            "accountId": account,
            "policy": { "name": name, "incidentPreference": preference.as_str() },
        }),
        kind: RequestKind::Write,
        pagination: None,
        async_poll: None,
        experimental_opt_in: None,
    };
    let preview = Preview {
        action: "create alert policy",
        account,
        summary: format!(
            "Would create alert policy '{name}' (incident preference {}) in account {account}.",
            preference.as_str()
        ),
        request,
        warnings: vec![
            "a new policy has no conditions and alerts on nothing until you add some \
             (create_nrql_alert_condition)"
                .to_string(),
        ],
    };
    let read_back: ReadBack = Arc::new(move |output: &ToolOutput| {
        let id = id_text(&output.structured["result"]["id"]);
        if id.is_empty() {
            return None;
        }
        let request = policy_by_id(account, &id);
        let written = output.clone();
        let render: Renderer = Arc::new(move |response: UpstreamResponse| {
            Ok(render_created_read_back(&written, &id, &response))
        });
        Some((request, render))
    });
    Ok(write_plan(
        descriptor,
        preview,
        context.default_timeout,
        move |response| render_created(account, response),
        Some(read_back),
    ))
}

fn policy_by_id(account: i64, id: &str) -> UpstreamRequest {
    UpstreamRequest {
        operation: "AlertPolicyById",
        document: POLICY_BY_ID.into(),
        variables: json!({ "accountId": account, "ids": [id] }),
        kind: RequestKind::Read,
        pagination: None,
        async_poll: None,
        experimental_opt_in: None,
    }
}

fn render_created(account: i64, response: UpstreamResponse) -> Result<ToolOutput, ToolError> {
    let policy = mutation_payload(&response, "alertsPolicyCreate", "create the alert policy")?;
    let text = format!(
        "Created alert policy '{}' (id {}, incident preference {}) in account {account}.\n",
        policy["name"].as_str().unwrap_or_default(),
        id_text(&policy["id"]),
        policy["incidentPreference"].as_str().unwrap_or_default(),
    );
    Ok(written("create alert policy", account, policy, text))
}

fn policy_text(policy: &Value) -> String {
    field_lines(
        policy,
        &[
            ("id", &["id"]),
            ("name", &["name"]),
            ("incident preference", &["incidentPreference"]),
            ("account", &["accountId"]),
        ],
    )
}

fn render_created_read_back(written: &ToolOutput, id: &str, response: &UpstreamResponse) -> ToolOutput {
    let policy = find_by(&response.data, POLICIES_PATH, "id", id);
    let text = policy.as_ref().map(policy_text).unwrap_or_default();
    with_read_back(
        written,
        policy,
        text,
        &format!(
            "policy {id} is not listed yet; list_alert_policies will show it once New Relic has indexed it"
        ),
    )
}

fn plan_delete(
    args: DeleteAlertPolicyArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let account = resolve_account(args.account_id, context)?;
    let id = args.policy_id.digits("policy_id", "list_alert_policies")?;
    let request = UpstreamRequest {
        operation: "DeleteAlertPolicy",
        document: DELETE_POLICY.into(),
        variables: json!({ "accountId": account, "id": id }),
        kind: RequestKind::Write,
        pagination: None,
        async_poll: None,
        experimental_opt_in: None,
    };
    let preview = Preview {
        action: "delete alert policy",
        account,
        summary: format!("Would delete alert policy {id} in account {account}, with every condition in it."),
        request,
        warnings: vec![
            "deletion cannot be undone: every condition in the policy goes with it (New Relic \
             archives them)"
                .to_string(),
        ],
    };
    let deleted_id = id.clone();
    let read_back: ReadBack = Arc::new(move |output: &ToolOutput| {
        let written = output.clone();
        let id = deleted_id.clone();
        let request = policy_by_id(account, &id);
        let render: Renderer = Arc::new(move |response: UpstreamResponse| {
            Ok(match find_by(&response.data, POLICIES_PATH, "id", &id) {
                Some(policy) => with_read_back(
                    &written,
                    Some(policy.clone()),
                    format!(
                        "{}  note: New Relic still lists the policy; a deletion can take a moment to show\n",
                        policy_text(&policy)
                    ),
                    "",
                ),
                None => {
                    with_read_back(&written, None, String::new(), &format!("policy {id} no longer exists"))
                }
            })
        });
        Some((request, render))
    });
    Ok(write_plan(
        descriptor,
        preview,
        context.default_timeout,
        move |response| {
            let payload =
                mutation_payload(&response, "alertsPolicyDelete", &format!("delete alert policy {id}"))?;
            let text = format!(
                "Deleted alert policy {} in account {account}, with its conditions.\n",
                id_text(&payload["id"])
            );
            Ok(written("delete alert policy", account, payload, text))
        },
        Some(read_back),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use serde_json::json;

    use super::super::test_support::*;
    use super::*;

    #[test]
    fn the_preview_shows_the_account_name_preference_and_variables() {
        let write = write_of(
            "create_alert_policy",
            json!({"name": " checkout-prod ", "incident_preference": "PER_CONDITION"}),
        );
        assert_eq!(
            write.request.variables,
            json!({"accountId": 1, "policy": {"name": "checkout-prod", "incidentPreference": "PER_CONDITION"}})
        );
        assert_eq!(write.request.document, CREATE_POLICY);
        assert_eq!(write.preview.structured["dry_run"], true);
        assert_eq!(write.preview.structured["account_id"], 1);
        assert!(write.preview.text.starts_with("DRY RUN"), "{}", write.preview.text);
        assert!(
            write.preview.text.contains("'checkout-prod' (incident preference PER_CONDITION) in account 1")
        );
        assert!(
            write.preview.text.contains("\"incidentPreference\": \"PER_CONDITION\""),
            "{}",
            write.preview.text
        );
        let default = write_of("create_alert_policy", json!({"name": "x", "account_id": 7}));
        assert_eq!(default.request.variables["policy"]["incidentPreference"], "PER_POLICY");
        assert_eq!(default.request.variables["accountId"], 7);
    }

    #[test]
    fn bad_arguments_are_refused() {
        let cases = [
            (json!({"name": ""}), "name must not be empty"),
            (json!({"name": "x".repeat(129)}), "at most 128"),
            (json!({"name": "x", "incident_preference": "CUSTOM"}), "unknown variant"),
            (json!({"name": "x", "extra": 1}), "unknown field"),
            (json!({}), "missing field"),
        ];
        for (arguments, expected) in cases {
            let message = invalid("create_alert_policy", arguments.clone());
            assert!(message.contains(expected), "{arguments}: {message}");
        }
        let message = invalid("delete_alert_policy", json!({"policy_id": "abc"}));
        assert!(message.contains("numeric id"), "{message}");
    }

    #[test]
    fn the_allow_list_applies() {
        let mut context = context();
        context.allowed_accounts = Some(std::sync::Arc::from(vec![1_i64]));
        let refused = plan_in("create_alert_policy", json!({"name": "x", "account_id": 2}), &context);
        assert!(matches!(refused, Err(PlanError::Tool(_))));
    }

    #[test]
    fn a_created_policy_is_read_back_by_id() {
        let write = write_of("create_alert_policy", json!({"name": "checkout-prod"}));
        let written = render(
            &write,
            json!({"alertsPolicyCreate": {"id": "42", "name": "checkout-prod", "incidentPreference": "PER_POLICY", "accountId": 1}}),
        )
        .unwrap();
        assert!(written.text.contains("Created alert policy 'checkout-prod' (id 42"), "{}", written.text);
        let policies = json!({"actor": {"account": {"alerts": {"policiesSearch": {"policies": [
            {"id": "42", "name": "checkout-prod", "incidentPreference": "PER_POLICY", "accountId": 1}
        ]}}}}});
        let (request, answer) = read_back(&write, &written, policies);
        assert_eq!(request.variables, json!({"accountId": 1, "ids": ["42"]}));
        assert_eq!(request.document, POLICY_BY_ID);
        assert_eq!(answer.structured["readBack"]["object"]["name"], "checkout-prod");
        assert!(
            answer.text.contains("Read back from New Relic:\n  id: 42\n  name: checkout-prod"),
            "{}",
            answer.text
        );
        let empty = json!({"actor": {"account": {"alerts": {"policiesSearch": {"policies": []}}}}});
        let (_, lagging) = read_back(&write, &written, empty);
        assert!(lagging.text.contains("not listed yet"), "{}", lagging.text);
    }

    #[test]
    fn a_refused_create_is_a_tool_error() {
        let write = write_of("create_alert_policy", json!({"name": "x"}));
        let response = UpstreamResponse {
            data: json!({"alertsPolicyCreate": null}),
            partial_errors: vec!["Name already taken".into()],
            pages: 1,
            truncated: false,
        };
        let error = (write.render)(response).unwrap_err();
        assert!(error.message.contains("Name already taken"), "{}", error.message);
    }

    #[test]
    fn a_deletion_is_previewed_then_confirmed_gone() {
        let write = write_of("delete_alert_policy", json!({"policy_id": 42}));
        assert_eq!(write.request.variables, json!({"accountId": 1, "id": "42"}));
        assert!(
            write.preview.text.contains("Would delete alert policy 42 in account 1"),
            "{}",
            write.preview.text
        );
        assert!(write.preview.structured["warnings"][0].as_str().unwrap().contains("cannot be undone"));
        let written = render(&write, json!({"alertsPolicyDelete": {"id": "42"}})).unwrap();
        assert!(written.text.contains("Deleted alert policy 42"), "{}", written.text);
        let gone = json!({"actor": {"account": {"alerts": {"policiesSearch": {"policies": []}}}}});
        let (_, answer) = read_back(&write, &written, gone);
        assert!(answer.text.contains("policy 42 no longer exists"), "{}", answer.text);
    }
}
