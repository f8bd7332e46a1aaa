//! Tools that change New Relic: alert policies and NRQL conditions, issue acknowledgement
//! and resolution, deployment markers and synthetic monitors.
//!
//! They are listed only when writes are enabled (deletions only when destructive tools are),
//! and each runs in two steps that the runtime enforces: the first call answers the dry run
//! built here (what would be written, the exact GraphQL variables, warnings), to which the
//! runtime adds the account it changes and a single-use confirmation token; the second call, with that token, sends
//! the mutation and then reads the object back uncached. This module holds what every write
//! tool shares: the confirmation-token argument in the schema, the preview, the check of a
//! mutation's payload errors, and the final answer that joins the write and its read-back.

pub mod alert_conditions;
pub mod alert_policies;
pub mod deployments;
pub mod issues;
pub mod synthetic_monitors;

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{
    CONFIRMATION_TOKEN_ARGUMENT, NrqlAccounts, Plan, PlanAction, PlanContext, PlanError, Plugin, ReadBack,
    Renderer, Tool, ToolDescriptor, ToolError, ToolErrorKind, ToolOutput, WritePlan,
};
use newrelic_mcp_actors::upstream::{UpstreamRequest, UpstreamResponse};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::data_access::NrqlSettings;
use super::render::at;

/// How the confirmation token is explained to models in every write tool's schema.
const CONFIRMATION_TOKEN_DOC: &str = "Leave out on the first call; pass the token the first call returned \
     to apply the change.";

/// The write tools, hidden unless writes (or, for deletions, destructive tools) are enabled.
pub struct WritesPlugin {
    tools: Vec<Arc<dyn Tool>>,
}

impl WritesPlugin {
    pub fn new(settings: NrqlSettings) -> Self {
        let tools = vec![
            alert_policies::create_tool(),
            alert_policies::delete_tool(),
            alert_conditions::create_tool(settings.policy),
            alert_conditions::delete_tool(),
            issues::acknowledge_tool(),
            issues::resolve_tool(),
            deployments::create_tool(),
            synthetic_monitors::create_tool(),
        ];
        Self { tools: tools.into_iter().map(with_confirmation_token).collect() }
    }
}

impl Default for WritesPlugin {
    fn default() -> Self {
        Self::new(NrqlSettings::default())
    }
}

super::builtin::builtin_plugin!(
    WritesPlugin,
    "writes",
    "Changes to New Relic, confirmed in two steps: alert policies and conditions, issue \
     acknowledgement and resolution, deployment markers, synthetic monitors"
);

/// Every GraphQL document the write tools send: their mutations and their read-backs.
pub(crate) fn documents() -> Vec<(&'static str, &'static str)> {
    let mut documents = Vec::new();
    documents.extend_from_slice(alert_policies::DOCUMENTS);
    documents.extend_from_slice(alert_conditions::DOCUMENTS);
    documents.extend_from_slice(issues::DOCUMENTS);
    documents.extend_from_slice(deployments::DOCUMENTS);
    documents.extend_from_slice(synthetic_monitors::DOCUMENTS);
    documents
}

/// A write tool whose input schema also lists the confirmation token. The runtime removes
/// the token from the arguments before `plan` runs, so planning is left to the inner tool.
struct ConfirmedTool {
    descriptor: ToolDescriptor,
    inner: Arc<dyn Tool>,
}

fn with_confirmation_token(inner: Arc<dyn Tool>) -> Arc<dyn Tool> {
    let mut descriptor = inner.descriptor().clone();
    let mut schema = (*descriptor.input_schema).clone();
    if let Value::Object(properties) = schema.entry("properties").or_insert_with(|| Value::Object(Map::new()))
    {
        properties.insert(
            CONFIRMATION_TOKEN_ARGUMENT.to_string(),
            json!({ "type": "string", "description": CONFIRMATION_TOKEN_DOC }),
        );
    }
    descriptor.input_schema = Arc::new(schema);
    Arc::new(ConfirmedTool { descriptor, inner })
}

impl Tool for ConfirmedTool {
    fn descriptor(&self) -> &ToolDescriptor {
        &self.descriptor
    }

    fn plan(&self, arguments: Map<String, Value>, context: &PlanContext) -> Result<Plan, PlanError> {
        self.inner.plan(arguments, context)
    }
}

/// An id given as text or as a number (New Relic's `ID` type is a string of digits here).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum NumericId {
    Number(i64),
    Text(String),
}

impl NumericId {
    /// The id as digits; refused otherwise, with where to find valid ones.
    pub(crate) fn digits(&self, argument: &str, found_by: &str) -> Result<String, PlanError> {
        let text = match self {
            NumericId::Number(n) => n.to_string(),
            NumericId::Text(t) => t.trim().to_string(),
        };
        if text.is_empty() || text.len() > 20 || !text.chars().all(|c| c.is_ascii_digit()) {
            return Err(PlanError::InvalidArguments(format!(
                "{argument} must be a numeric id such as 2000101 ({found_by} lists them)"
            )));
        }
        Ok(text)
    }
}

/// A required text argument: trimmed, not empty, at most `max_chars` characters, no
/// control characters.
pub(crate) fn required_text(argument: &str, value: &str, max_chars: usize) -> Result<String, PlanError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(PlanError::InvalidArguments(format!("{argument} must not be empty")));
    }
    checked_text(argument, trimmed, max_chars)
}

/// An optional text argument: `None` when absent or blank, otherwise as [`required_text`].
pub(crate) fn optional_text(
    argument: &str,
    value: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>, PlanError> {
    match value.map(str::trim).filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => checked_text(argument, text, max_chars).map(Some),
    }
}

fn checked_text(argument: &str, text: &str, max_chars: usize) -> Result<String, PlanError> {
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(PlanError::InvalidArguments(format!(
            "{argument} is {chars} characters long; at most {max_chars} are accepted"
        )));
    }
    // Line breaks are fine in descriptions and changelogs; other control characters are not.
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(PlanError::InvalidArguments(format!("{argument} contains control characters")));
    }
    Ok(text.to_string())
}

/// An `http` or `https` URL without spaces, at most `max_chars` long.
pub(crate) fn checked_url(argument: &str, value: &str, max_chars: usize) -> Result<String, PlanError> {
    let url = required_text(argument, value, max_chars)?;
    let lower = url.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') && !url.contains(char::is_whitespace) => {
            Ok(url)
        }
        _ => Err(PlanError::InvalidArguments(format!(
            "{argument} must be an http:// or https:// URL without spaces, e.g. https://www.example.com/health"
        ))),
    }
}

/// What a write would do, shown before anything is sent.
pub(crate) struct Preview {
    /// What is written, in a few words: `create alert policy`.
    pub action: &'static str,
    pub account: i64,
    /// One sentence a person can check: `Would create …`.
    pub summary: String,
    pub request: UpstreamRequest,
    /// Things worth a second look before confirming.
    pub warnings: Vec<String>,
}

impl Preview {
    /// The dry run's answer; the runtime adds the confirmation token and how to apply it.
    fn output(&self) -> ToolOutput {
        let variables =
            serde_json::to_string_pretty(&self.request.variables).unwrap_or_else(|_| "{}".to_string());
        let mut text = format!("DRY RUN. {}\n", self.summary);
        text.push_str(&format!(
            "NerdGraph mutation {} with variables:\n{variables}\n",
            self.request.operation
        ));
        for warning in &self.warnings {
            text.push_str(&format!("warning: {warning}\n"));
        }
        ToolOutput {
            structured: json!({
                "dry_run": true,
                "action": self.action,
                "account_id": self.account,
                "summary": self.summary,
                "operation": self.request.operation,
                "variables": self.request.variables,
                "warnings": self.warnings,
            }),
            text,
        }
    }
}

/// A write's plan: the preview, the mutation, its renderer and the read-back.
pub(crate) fn write_plan<R>(
    descriptor: &ToolDescriptor,
    preview: Preview,
    timeout: Duration,
    render: R,
    read_back: Option<ReadBack>,
) -> Plan
where
    R: Fn(UpstreamResponse) -> Result<ToolOutput, ToolError> + Send + Sync + 'static,
{
    let output = preview.output();
    let account = preview.account;
    let render: Renderer = Arc::new(render);
    Plan {
        tool: descriptor.name.clone(),
        action: PlanAction::Write(Box::new(WritePlan {
            preview: output,
            request: preview.request,
            render,
            read_back,
            accounts: vec![account],
        })),
        cache: None,
        timeout,
        nrql_accounts: NrqlAccounts::NONE,
    }
}

/// The mutation's payload at `field`, refused when it is absent or reports an error inside
/// it (`error: String` or `errors: [{description|message, type}]`), as NerdGraph mutations do.
pub(crate) fn mutation_payload(
    response: &UpstreamResponse,
    field: &str,
    action: &str,
) -> Result<Value, ToolError> {
    let payload = at(&response.data, &[field]);
    if payload.is_null() {
        let reason = if response.partial_errors.is_empty() {
            "New Relic returned no result".to_string()
        } else {
            response.partial_errors.join("; ")
        };
        return Err(ToolError::new(ToolErrorKind::BadRequest, format!("could not {action}: {reason}")));
    }
    if let Some(reason) = payload_error(payload) {
        return Err(ToolError::new(
            ToolErrorKind::BadRequest,
            format!("New Relic refused to {action}: {reason}"),
        ));
    }
    Ok(payload.clone())
}

fn payload_error(payload: &Value) -> Option<String> {
    if let Some(error) = payload.get("error").and_then(Value::as_str).filter(|e| !e.trim().is_empty()) {
        return Some(error.to_string());
    }
    let errors = payload.get("errors").and_then(Value::as_array)?;
    let messages: Vec<String> = errors
        .iter()
        .map(|error| {
            let message = error
                .get("description")
                .or_else(|| error.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("unspecified error");
            match error.get("type").and_then(Value::as_str) {
                Some(kind) => format!("{message} ({kind})"),
                None => message.to_string(),
            }
        })
        .collect();
    (!messages.is_empty()).then(|| messages.join("; "))
}

/// What a confirmed write answers before its read-back: what was done and New Relic's reply.
pub(crate) fn written(action: &str, account: i64, result: Value, text: String) -> ToolOutput {
    ToolOutput {
        structured: json!({
            "written": true,
            "action": action,
            "account_id": account,
            "result": result,
        }),
        text,
    }
}

/// The final answer: the write's answer plus the object as New Relic now has it, under
/// `readBack` (`{"found": true, "object": …}`, or `{"found": false, "note": …}` when the read
/// found nothing, `missing` saying what that means). The runtime reports a read that failed
/// under the same key, as `{"error": …}`.
pub(crate) fn with_read_back(
    write: &ToolOutput,
    object: Option<Value>,
    object_text: String,
    missing: &str,
) -> ToolOutput {
    let mut structured = match &write.structured {
        Value::Object(map) => map.clone(),
        other => {
            let mut map = Map::new();
            map.insert("result".into(), other.clone());
            map
        }
    };
    let mut text = write.text.clone();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    match object {
        Some(object) => {
            text.push_str("Read back from New Relic:\n");
            text.push_str(&object_text);
            structured.insert("readBack".into(), json!({ "found": true, "object": object }));
        }
        None => {
            text.push_str(&format!("Read back from New Relic: {missing}\n"));
            structured.insert("readBack".into(), json!({ "found": false, "note": missing }));
        }
    }
    ToolOutput { structured: Value::Object(structured), text }
}

/// The first object of the list at `path` whose `key` equals `id`.
pub(crate) fn find_by(data: &Value, path: &[&str], key: &str, id: &str) -> Option<Value> {
    at(data, path).as_array()?.iter().find(|item| id_text(at(item, &[key])) == id).cloned()
}

/// An id as text, whether New Relic sent a string or a number.
pub(crate) fn id_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// One `key: value` line per field of `object`, in `fields` order, skipping nulls.
pub(crate) fn field_lines(object: &Value, fields: &[(&str, &[&str])]) -> String {
    let mut text = String::new();
    for (label, path) in fields {
        let value = at(object, path);
        if value.is_null() {
            continue;
        }
        text.push_str(&format!("  {label}: {}\n", super::render::cell(value)));
    }
    text
}

#[cfg(test)]
pub(crate) mod test_support {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::time::Duration;

    use newrelic_mcp_actors::tool::{
        Plan, PlanAction, PlanContext, PlanError, Tool, ToolError, ToolOutput, WritePlan,
    };
    use newrelic_mcp_actors::upstream::{RequestKind, UpstreamRequest, UpstreamResponse};
    use serde_json::Value;

    use super::WritesPlugin;

    /// Noon UTC, 2024-05-15.
    pub const NOW_MS: i64 = 1_715_774_400_000;

    pub fn context() -> PlanContext {
        PlanContext {
            default_account: Some(1),
            allowed_accounts: None,
            now_epoch_ms: NOW_MS,
            default_timeout: Duration::from_secs(30),
        }
    }

    pub fn tool(name: &str) -> std::sync::Arc<dyn Tool> {
        WritesPlugin::default().tools.into_iter().find(|t| t.descriptor().name == name).unwrap()
    }

    pub fn plan_in(name: &str, arguments: Value, context: &PlanContext) -> Result<Plan, PlanError> {
        let Value::Object(arguments) = arguments else { panic!("arguments must be an object") };
        tool(name).plan(arguments, context)
    }

    pub fn plan(name: &str, arguments: Value) -> Result<Plan, PlanError> {
        plan_in(name, arguments, &context())
    }

    pub fn write(plan: &Plan) -> &WritePlan {
        match &plan.action {
            PlanAction::Write(write) => write,
            _ => panic!("expected a write plan for {}", plan.tool),
        }
    }

    pub fn write_of(name: &str, arguments: Value) -> WritePlan {
        write(&plan(name, arguments).unwrap()).clone()
    }

    pub fn response(data: Value) -> UpstreamResponse {
        UpstreamResponse { data, pages: 1, ..Default::default() }
    }

    pub fn render(write: &WritePlan, data: Value) -> Result<ToolOutput, ToolError> {
        (write.render)(response(data))
    }

    /// The read-back request for a rendered write, and its final answer for `data`.
    pub fn read_back(write: &WritePlan, written: &ToolOutput, data: Value) -> (UpstreamRequest, ToolOutput) {
        let read_back = write.read_back.as_ref().expect("the write reads back");
        let (request, render) = read_back(written).expect("a read-back request");
        assert_eq!(request.kind, RequestKind::Read, "read-backs only read");
        let output = render(response(data)).unwrap();
        (request, output)
    }

    pub fn invalid(name: &str, arguments: Value) -> String {
        match plan(name, arguments.clone()) {
            Err(PlanError::InvalidArguments(message)) => message,
            Err(PlanError::Tool(error)) => error.message,
            Ok(_) => panic!("{name} accepted {arguments}"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use newrelic_mcp_actors::tool::{ToolHints, WriteAccess};
    use newrelic_mcp_actors::upstream::RequestKind;
    use serde_json::json;

    use super::test_support::*;
    use super::*;

    #[test]
    fn every_write_tool_lists_the_confirmation_token_and_is_never_cached() {
        let plugin = WritesPlugin::default();
        let mut names: Vec<String> = Vec::new();
        for tool in plugin.tools() {
            let descriptor = tool.descriptor();
            names.push(descriptor.name.clone());
            let token = &descriptor.input_schema["properties"][CONFIRMATION_TOKEN_ARGUMENT];
            assert_eq!(token["type"], "string", "{}", descriptor.name);
            assert!(token["description"].as_str().unwrap().contains("first call"), "{}", descriptor.name);
            assert_eq!(descriptor.cache_ttl, None, "{}", descriptor.name);
            assert!(!descriptor.hints.read_only, "{}", descriptor.name);
            assert!(descriptor.input_schema["properties"].get("account_id").is_some(), "{}", descriptor.name);
        }
        names.sort();
        assert_eq!(
            names,
            [
                "acknowledge_issue",
                "create_alert_policy",
                "create_deployment_marker",
                "create_nrql_alert_condition",
                "create_synthetic_monitor",
                "delete_alert_condition",
                "delete_alert_policy",
                "resolve_issue",
            ]
        );
    }

    #[test]
    fn only_the_deletions_are_destructive() {
        for tool in WritesPlugin::default().tools() {
            let descriptor = tool.descriptor();
            let expected = if descriptor.name.starts_with("delete_") {
                ToolHints::DESTRUCTIVE
            } else {
                ToolHints::WRITE
            };
            assert_eq!(descriptor.hints, expected, "{}", descriptor.name);
            assert_eq!(
                WriteAccess::Writes.admits(descriptor.hints),
                !descriptor.name.starts_with("delete_"),
                "{}",
                descriptor.name
            );
            assert!(WriteAccess::Destructive.admits(descriptor.hints));
            assert!(!WriteAccess::ReadOnly.admits(descriptor.hints));
        }
    }

    #[test]
    fn the_categories_follow_the_read_tools_of_each_domain() {
        let cases = [
            ("create_alert_policy", "alerting"),
            ("delete_alert_policy", "alerting"),
            ("create_nrql_alert_condition", "alerting"),
            ("delete_alert_condition", "alerting"),
            ("create_synthetic_monitor", "alerting"),
            ("acknowledge_issue", "incident-response"),
            ("resolve_issue", "incident-response"),
            ("create_deployment_marker", "incident-response"),
        ];
        for (name, category) in cases {
            assert_eq!(tool(name).descriptor().category, category, "{name}");
        }
    }

    #[test]
    fn planning_the_same_arguments_again_plans_the_same_write() {
        let first = write_of("create_alert_policy", json!({"name": "checkout-prod"}));
        let mut later = context();
        later.now_epoch_ms += 60_000;
        let again =
            write(&plan_in("create_alert_policy", json!({"name": "checkout-prod"}), &later).unwrap()).clone();
        assert_eq!(first.preview, again.preview);
        assert_eq!(first.request, again.request);
        assert_eq!(first.request.kind, RequestKind::Write);
    }

    #[test]
    fn payload_errors_become_bad_request_errors_with_the_message() {
        let cases = [
            (json!({"op": {"error": "Issue 7 not found"}}), Some("Issue 7 not found")),
            (
                json!({"op": {"errors": [{"description": "Invalid period", "type": "BAD_REQUEST"}], "monitor": null}}),
                Some("Invalid period (BAD_REQUEST)"),
            ),
            (json!({"op": {"errors": [{"message": "no such policy"}]}}), Some("no such policy")),
            (json!({"op": null}), Some("New Relic returned no result")),
            (json!({"op": {"error": null, "result": {"issueId": "7"}}}), None),
            (json!({"op": {"errors": [], "monitor": {"guid": "x"}}}), None),
        ];
        for (data, expected) in cases {
            let outcome = mutation_payload(&response(data.clone()), "op", "do it");
            match expected {
                Some(message) => {
                    let error = outcome.unwrap_err();
                    assert_eq!(error.kind, ToolErrorKind::BadRequest, "{data}");
                    assert!(error.message.contains(message), "{data}: {}", error.message);
                }
                None => assert!(outcome.is_ok(), "{data}"),
            }
        }
    }

    #[test]
    fn a_missing_payload_names_the_partial_errors() {
        let response = UpstreamResponse {
            data: json!({"op": null}),
            partial_errors: vec!["Policy 9 not found".into()],
            pages: 1,
            truncated: false,
        };
        let error = mutation_payload(&response, "op", "delete alert policy 9").unwrap_err();
        assert_eq!(error.message, "could not delete alert policy 9: Policy 9 not found");
    }

    #[test]
    fn text_and_url_arguments_are_checked() {
        assert_eq!(required_text("name", "  a  ", 5).unwrap(), "a");
        assert!(required_text("name", "   ", 5).is_err());
        assert!(required_text("name", "abcdef", 5).is_err());
        assert!(required_text("name", "a\u{7}b", 5).is_err());
        assert_eq!(optional_text("d", Some("  "), 5).unwrap(), None);
        assert_eq!(optional_text("d", Some("line\nline"), 20).unwrap(), Some("line\nline".into()));
        for good in ["https://example.com/health", "http://10.0.0.1:8080/"] {
            assert!(checked_url("uri", good, 100).is_ok(), "{good}");
        }
        for bad in ["example.com", "ftp://example.com", "https://", "https:///x", "https://a b"] {
            assert!(checked_url("uri", bad, 100).is_err(), "{bad}");
        }
        assert_eq!(NumericId::Text(" 42 ".into()).digits("id", "x").unwrap(), "42");
        assert_eq!(NumericId::Number(7).digits("id", "x").unwrap(), "7");
        assert!(NumericId::Text("4a".into()).digits("id", "x").is_err());
        assert!(NumericId::Number(-1).digits("id", "x").is_err());
    }

    #[test]
    fn the_read_back_joins_the_write_and_the_object() {
        let write = written("create alert policy", 1, json!({"id": "5"}), "Created policy 5.".into());
        let found = with_read_back(&write, Some(json!({"id": "5"})), "  id: 5\n".into(), "gone");
        assert_eq!(found.structured["readBack"], json!({"found": true, "object": {"id": "5"}}));
        assert_eq!(found.structured["written"], true);
        assert!(
            found.text.starts_with("Created policy 5.\nRead back from New Relic:\n  id: 5"),
            "{}",
            found.text
        );
        let missing = with_read_back(&write, None, String::new(), "not indexed yet");
        assert_eq!(missing.structured["readBack"], json!({"found": false, "note": "not indexed yet"}));
        assert!(missing.text.contains("Read back from New Relic: not indexed yet"));
    }
}
