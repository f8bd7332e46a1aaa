//! `create_deployment_marker`: records a deployment with change tracking, so that charts,
//! `list_change_events` and `analyze_deployment_impact` show it.

use std::sync::Arc;

use newrelic_mcp_actors::tool::{
    Plan, PlanContext, PlanError, ReadBack, Renderer, Tool, ToolDescriptor, ToolError, ToolHints, ToolOutput,
};
use newrelic_mcp_actors::upstream::{RequestKind, UpstreamRequest, UpstreamResponse};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::super::builtin::{BuiltinTool, Spec};
use super::super::entity_ref::{checked_guid, entity_account, guid_account};
use super::super::time_period::iso;
use super::{
    Preview, checked_url, field_lines, find_by, id_text, mutation_payload, optional_text, required_text,
    with_read_back, write_plan, written,
};

const CATEGORY: &str = "incident-response";
/// Change-tracking text fields must be shorter than this.
const TEXT_LIMIT_CHARS: usize = 4_096;
const MAX_TEXT_CHARS: usize = TEXT_LIMIT_CHARS - 1;
/// How far from now a deployment's timestamp may lie.
const MAX_SKEW_MS: i64 = 24 * 3_600_000;
/// The read-back looks this far either side of the recorded timestamp.
const READ_BACK_SLACK_MS: i64 = 60_000;
/// Below this a timestamp is surely in seconds, not milliseconds.
const SMALLEST_EPOCH_MS: i64 = 100_000_000_000;

pub(crate) const CREATE_DEPLOYMENT: &str = r#"mutation CreateDeploymentMarker($deployment: ChangeTrackingDeploymentInput!) {
  changeTrackingCreateDeployment(deployment: $deployment, dataHandlingRules: { validationFlags: [FAIL_ON_FIELD_LENGTH] }) {
    deploymentId entityGuid version commit user timestamp changelog description deploymentType groupId deepLink
  }
}"#;

pub(crate) const DEPLOYMENT_READ_BACK: &str = r#"query DeploymentReadBack($guid: EntityGuid!, $filter: ChangeTrackingSearchFilter) {
  actor {
    entity(guid: $guid) {
      guid name
      deploymentSearch(filter: $filter) {
        results { deploymentId entityGuid version commit user timestamp description deploymentType changelog deepLink groupId }
      }
    }
  }
}"#;

pub(crate) const DOCUMENTS: &[(&str, &str)] =
    &[("CreateDeploymentMarker", CREATE_DEPLOYMENT), ("DeploymentReadBack", DEPLOYMENT_READ_BACK)];

const RESULTS_PATH: &[&str] = &["actor", "entity", "deploymentSearch", "results"];

pub(super) fn create_tool() -> Arc<dyn Tool> {
    BuiltinTool::shared(
        Spec {
            name: "create_deployment_marker",
            title: "Record a deployment",
            description: "Record a deployment of an entity (change tracking): version, and optionally \
                commit, user, description, changelog, deployment type and time (default now). It then \
                shows on charts and in list_change_events and analyze_deployment_impact. Two steps: the \
                first call returns a dry run and a confirmation_token; call again with the same arguments \
                and that token to record it.",
            category: CATEGORY,
            hints: ToolHints::WRITE,
            cache_ttl: None,
        },
        plan_create,
    )
}

/// How a deployment was rolled out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeploymentType {
    Basic,
    BlueGreen,
    Canary,
    Other,
    Rolling,
    Shadow,
}

impl DeploymentType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "BASIC",
            Self::BlueGreen => "BLUE_GREEN",
            Self::Canary => "CANARY",
            Self::Other => "OTHER",
            Self::Rolling => "ROLLING",
            Self::Shadow => "SHADOW",
        }
    }
}

/// Arguments of `create_deployment_marker`.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDeploymentMarkerArgs {
    /// Account of the entity; read from the GUID when omitted (and refused if it differs).
    pub account_id: Option<i64>,
    /// GUID of the deployed entity, usually an APM application (get_entity finds it by name).
    pub entity_guid: String,
    /// The version deployed, e.g. `v1.4.2`.
    pub version: String,
    /// Commit SHA or other revision id.
    pub commit: Option<String>,
    /// Who or what deployed, e.g. `ci-bot`.
    pub user: Option<String>,
    /// What changed, in a sentence.
    pub description: Option<String>,
    /// Link to, or text of, the changelog.
    pub changelog: Option<String>,
    /// Link to the deployment in the CI/CD system.
    pub deep_link: Option<String>,
    /// Groups related deployments (several services shipped together).
    pub group_id: Option<String>,
    /// `BASIC`, `BLUE_GREEN`, `CANARY`, `OTHER`, `ROLLING` or `SHADOW`.
    pub deployment_type: Option<DeploymentType>,
    /// When it happened, epoch milliseconds within 24 hours of now (default: now).
    pub timestamp: Option<i64>,
}

fn plan_create(
    args: CreateDeploymentMarkerArgs,
    context: &PlanContext,
    descriptor: &ToolDescriptor,
) -> Result<Plan, PlanError> {
    let guid = checked_guid("entity_guid", &args.entity_guid, context)?;
    let account = entity_account(args.account_id, &guid, context)?;
    let version = required_text("version", &args.version, MAX_TEXT_CHARS)?;
    let mut deployment = Map::new();
    deployment.insert("entityGuid".into(), json!(guid));
    deployment.insert("version".into(), json!(version));
    for (argument, key, value) in [
        ("commit", "commit", &args.commit),
        ("user", "user", &args.user),
        ("description", "description", &args.description),
        ("changelog", "changelog", &args.changelog),
        ("group_id", "groupId", &args.group_id),
    ] {
        if let Some(text) = optional_text(argument, value.as_deref(), MAX_TEXT_CHARS)? {
            deployment.insert(key.into(), json!(text));
        }
    }
    if let Some(link) = args.deep_link.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        deployment.insert("deepLink".into(), json!(checked_url("deep_link", link, MAX_TEXT_CHARS)?));
    }
    if let Some(kind) = args.deployment_type {
        deployment.insert("deploymentType".into(), json!(kind.as_str()));
    }
    let mut warnings = Vec::new();
    let when = match args.timestamp {
        None => "at the moment it is confirmed".to_string(),
        Some(timestamp) => {
            check_timestamp(timestamp, context.now_epoch_ms)?;
            if timestamp > context.now_epoch_ms {
                warnings.push(format!("the timestamp {} is in the future", iso(timestamp)));
            }
            deployment.insert("timestamp".into(), json!(timestamp));
            format!("at {}", iso(timestamp))
        }
    };
    // Only without an allow-list: under one, such a GUID was refused above.
    if guid_account(&guid).is_none() {
        warnings.push(format!(
            "the GUID does not say which account owns the entity; account {account} is assumed"
        ));
    }
    let request = UpstreamRequest {
        operation: "CreateDeploymentMarker",
        document: CREATE_DEPLOYMENT.into(),
        variables: json!({ "deployment": deployment }),
        kind: RequestKind::Write,
        pagination: None,
        async_poll: None,
        experimental_opt_in: None,
    };
    let preview = Preview {
        action: "create deployment marker",
        account,
        summary: format!(
            "Would record deployment of version {version} for entity {guid} (account {account}) {when}."
        ),
        request,
        warnings,
    };
    let read_guid = guid.clone();
    let read_back: ReadBack = Arc::new(move |output: &ToolOutput| {
        let result = &output.structured["result"];
        let id = id_text(&result["deploymentId"]);
        let timestamp = result["timestamp"].as_i64()?;
        let request = UpstreamRequest {
            operation: "DeploymentReadBack",
            document: DEPLOYMENT_READ_BACK.into(),
            variables: json!({
                "guid": read_guid,
                "filter": {
                    "limit": 100,
                    "timeWindow": {
                        "startTime": timestamp.saturating_sub(READ_BACK_SLACK_MS),
                        "endTime": timestamp.saturating_add(READ_BACK_SLACK_MS),
                    },
                },
            }),
            kind: RequestKind::Read,
            pagination: None,
            async_poll: None,
            experimental_opt_in: None,
        };
        let written = output.clone();
        let render: Renderer = Arc::new(move |response: UpstreamResponse| {
            let found = find_by(&response.data, RESULTS_PATH, "deploymentId", &id);
            let text = found.as_ref().map(deployment_text).unwrap_or_default();
            Ok(with_read_back(
                &written,
                found,
                text,
                &format!(
                    "deployment {id} is not searchable yet; list_change_events will show it once New Relic has indexed it"
                ),
            ))
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

fn check_timestamp(timestamp: i64, now: i64) -> Result<(), PlanError> {
    if timestamp.abs_diff(now) <= MAX_SKEW_MS.unsigned_abs() {
        return Ok(());
    }
    let hint = if timestamp.unsigned_abs() < SMALLEST_EPOCH_MS.unsigned_abs() {
        " (it looks like seconds: multiply by 1000)"
    } else {
        ""
    };
    Err(PlanError::InvalidArguments(format!(
        "timestamp {timestamp}{hint} is not within 24 hours of now ({}); New Relic records deployments \
         only from {} to {}",
        iso(now),
        iso(now - MAX_SKEW_MS),
        iso(now + MAX_SKEW_MS)
    )))
}

fn render_created(account: i64, response: UpstreamResponse) -> Result<ToolOutput, ToolError> {
    let deployment = mutation_payload(&response, "changeTrackingCreateDeployment", "record the deployment")?;
    let when = deployment["timestamp"].as_i64().map(iso).unwrap_or_else(|| "now".to_string());
    let text = format!(
        "Recorded deployment {} of version {} for entity {} at {when}.\n",
        id_text(&deployment["deploymentId"]),
        deployment["version"].as_str().unwrap_or_default(),
        deployment["entityGuid"].as_str().unwrap_or_default(),
    );
    Ok(written("create deployment marker", account, deployment, text))
}

fn deployment_text(deployment: &Value) -> String {
    let mut shown = deployment.clone();
    if let Some(ms) = deployment["timestamp"].as_i64() {
        shown["time"] = Value::String(iso(ms));
    }
    field_lines(
        &shown,
        &[
            ("id", &["deploymentId"]),
            ("entity", &["entityGuid"]),
            ("version", &["version"]),
            ("time", &["time"]),
            ("type", &["deploymentType"]),
            ("commit", &["commit"]),
            ("user", &["user"]),
            ("description", &["description"]),
            ("changelog", &["changelog"]),
            ("group", &["groupId"]),
            ("link", &["deepLink"]),
        ],
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use base64::Engine;
    use serde_json::json;

    use super::super::test_support::*;
    use super::*;

    #[test]
    fn a_guid_without_a_readable_account_is_refused_under_an_allow_list() {
        let context = PlanContext {
            default_account: Some(1),
            allowed_accounts: Some(std::sync::Arc::from(vec![1])),
            now_epoch_ms: 1_700_000_000_000,
            default_timeout: std::time::Duration::from_secs(30),
        };
        let args = CreateDeploymentMarkerArgs {
            entity_guid: "bm90IGFuIGFjY291bnQ".to_string(),
            ..serde_json::from_value(json!({"entity_guid": "x", "version": "1.0"})).unwrap()
        };
        let descriptor = create_tool().descriptor().clone();
        match plan_create(args, &context, &descriptor) {
            Err(PlanError::Tool(error)) => {
                assert_eq!(error.kind, newrelic_mcp_actors::tool::ToolErrorKind::Policy);
                assert!(error.message.contains("allow-list cannot vouch"), "{}", error.message);
            }
            other => panic!("expected a policy refusal, got {:?}", other.map(|plan| plan.tool)),
        }
    }

    #[test]
    fn extreme_timestamps_are_refused_not_overflowed() {
        for timestamp in [i64::MIN, i64::MAX, -1] {
            assert!(check_timestamp(timestamp, 1_700_000_000_000).is_err(), "{timestamp}");
        }
        assert!(check_timestamp(1_700_000_000_000, 1_700_000_000_000).is_ok());
    }

    fn guid(account: i64) -> String {
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!("{account}|APM|APPLICATION|123"))
    }

    #[test]
    fn the_account_comes_from_the_guid_and_only_given_fields_are_sent() {
        let write = write_of(
            "create_deployment_marker",
            json!({"entity_guid": guid(7), "version": "v1.4.2", "commit": "9f1c2ab", "deployment_type": "CANARY", "user": " "}),
        );
        assert_eq!(
            write.request.variables,
            json!({"deployment": {"entityGuid": guid(7), "version": "v1.4.2", "commit": "9f1c2ab", "deploymentType": "CANARY"}})
        );
        assert_eq!(write.preview.structured["account_id"], 7);
        assert!(write.preview.text.contains("version v1.4.2"), "{}", write.preview.text);
        assert!(write.preview.text.contains("at the moment it is confirmed"), "{}", write.preview.text);
    }

    #[test]
    fn bad_arguments_are_refused() {
        let cases = [
            (json!({"entity_guid": "not a guid!", "version": "1"}), "not an entity GUID"),
            (json!({"entity_guid": guid(7), "version": ""}), "version must not be empty"),
            (json!({"entity_guid": guid(7), "version": "v".repeat(4_096)}), "at most 4095"),
            (
                json!({"entity_guid": guid(7), "version": "1", "description": "d".repeat(4_096)}),
                "description is 4096",
            ),
            (
                json!({"entity_guid": guid(7), "version": "1", "timestamp": NOW_MS - MAX_SKEW_MS - 1}),
                "within 24 hours",
            ),
            (json!({"entity_guid": guid(7), "version": "1", "timestamp": NOW_MS / 1000}), "multiply by 1000"),
            (
                json!({"entity_guid": guid(7), "version": "1", "deployment_type": "BIG_BANG"}),
                "unknown variant",
            ),
            (json!({"entity_guid": guid(7), "version": "1", "deep_link": "ci/run/5"}), "http:// or https://"),
            (json!({"entity_guid": guid(7), "version": "1", "account_id": 8}), "belongs to account 7"),
        ];
        for (arguments, expected) in cases {
            let message = invalid("create_deployment_marker", arguments.clone());
            assert!(message.contains(expected), "{arguments}: {message}");
        }
    }

    #[test]
    fn a_timestamp_within_a_day_is_sent_and_a_future_one_warned_about() {
        let past = write_of(
            "create_deployment_marker",
            json!({"entity_guid": guid(1), "version": "1", "timestamp": NOW_MS - 3_600_000}),
        );
        assert_eq!(past.request.variables["deployment"]["timestamp"], NOW_MS - 3_600_000);
        assert_eq!(past.preview.structured["warnings"], json!([]));
        let future = write_of(
            "create_deployment_marker",
            json!({"entity_guid": guid(1), "version": "1", "timestamp": NOW_MS + 60_000}),
        );
        assert!(future.preview.structured["warnings"][0].as_str().unwrap().contains("in the future"));
    }

    #[test]
    fn the_allow_list_applies_to_the_guids_account() {
        let mut context = context();
        context.allowed_accounts = Some(std::sync::Arc::from(vec![1_i64]));
        let refused =
            plan_in("create_deployment_marker", json!({"entity_guid": guid(2), "version": "1"}), &context);
        assert!(matches!(refused, Err(PlanError::Tool(_))));
    }

    #[test]
    fn the_deployment_is_read_back_around_its_timestamp() {
        let write = write_of("create_deployment_marker", json!({"entity_guid": guid(1), "version": "v2"}));
        let created = json!({"deploymentId": "d-1", "entityGuid": guid(1), "version": "v2", "timestamp": NOW_MS, "deploymentType": "BASIC"});
        let written = render(&write, json!({"changeTrackingCreateDeployment": created})).unwrap();
        assert!(written.text.contains("Recorded deployment d-1 of version v2"), "{}", written.text);
        let data = json!({"actor": {"entity": {"guid": guid(1), "name": "checkout", "deploymentSearch": {"results": [
            {"deploymentId": "d-0", "version": "v1", "timestamp": NOW_MS - 1},
            created
        ]}}}});
        let (request, answer) = read_back(&write, &written, data);
        assert_eq!(request.variables["filter"]["timeWindow"]["startTime"], NOW_MS - READ_BACK_SLACK_MS);
        assert_eq!(request.variables["guid"], guid(1));
        assert_eq!(answer.structured["readBack"]["object"]["deploymentId"], "d-1");
        assert!(answer.text.contains("version: v2"), "{}", answer.text);
        let (_, lagging) =
            read_back(&write, &written, json!({"actor": {"entity": {"deploymentSearch": {"results": []}}}}));
        assert!(lagging.text.contains("not searchable yet"), "{}", lagging.text);
    }
}
