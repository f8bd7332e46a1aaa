//! Turns a manifest into a runtime plugin: each tool's NRQL template is parsed once here,
//! and each call fills it, checks the NRQL policy and plans the same `NrqlQuery` request
//! `execute_nrql_query` sends, so answers look alike and are cached the same way.

use std::collections::BTreeMap;
use std::sync::Arc;

use newrelic_mcp_actors::tool::{
    Plan, PlanContext, PlanError, Plugin, Tool, ToolDescriptor, ToolError, ToolErrorKind, ToolHints,
};
use newrelic_mcp_nrql::{Policy, Template, TemplateError};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::manifest::{ACCOUNT_ARGUMENT, Manifest, ManifestError, ToolManifest, parse_manifest};
use crate::tools::account::resolve_account;
use crate::tools::data_access::{MAX_QUERY_BYTES, nrql_plan};

/// A plugin made from a manifest: immutable, shared by `Arc` with the registry.
pub struct ManifestPlugin {
    name: String,
    version: String,
    description: String,
    depends_on: Vec<String>,
    tools: Vec<Arc<dyn Tool>>,
    tool_names: Vec<String>,
    /// SHA-256 of the manifest text: an unchanged file is never reloaded.
    fingerprint: [u8; 32],
}

impl ManifestPlugin {
    pub fn depends_on(&self) -> &[String] {
        &self.depends_on
    }

    pub fn tool_names(&self) -> &[String] {
        &self.tool_names
    }

    /// Whether `other` was made from the same manifest text.
    pub fn same_source(&self, other: &ManifestPlugin) -> bool {
        self.fingerprint == other.fingerprint
    }
}

impl std::fmt::Debug for ManifestPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManifestPlugin")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("depends_on", &self.depends_on)
            .field("tools", &self.tool_names)
            .finish()
    }
}

impl Plugin for ManifestPlugin {
    fn name(&self) -> &str {
        &self.name
    }
    fn version(&self) -> &str {
        &self.version
    }
    fn description(&self) -> &str {
        &self.description
    }
    fn tools(&self) -> Vec<Arc<dyn Tool>> {
        self.tools.clone()
    }
}

/// Parses, validates and compiles manifest `text`.
///
/// Every template is parsed against its declared parameters; a template whose parameters
/// all have defaults is also filled with them and checked against `policy` at
/// `now_epoch_ms`, so a tool that could only ever be refused is refused at load instead.
pub fn compile(text: &str, policy: &Arc<Policy>, now_epoch_ms: i64) -> Result<ManifestPlugin, ManifestError> {
    let manifest = parse_manifest(text)?;
    compile_manifest(manifest, text, policy, now_epoch_ms)
}

fn compile_manifest(
    manifest: Manifest,
    text: &str,
    policy: &Arc<Policy>,
    now_epoch_ms: i64,
) -> Result<ManifestPlugin, ManifestError> {
    let mut tools: Vec<Arc<dyn Tool>> = Vec::with_capacity(manifest.tools.len());
    let mut tool_names = Vec::with_capacity(manifest.tools.len());
    for tool in manifest.tools {
        tool_names.push(tool.name.clone());
        tools.push(Arc::new(compile_tool(tool, policy, now_epoch_ms)?));
    }
    Ok(ManifestPlugin {
        name: manifest.name,
        version: manifest.version,
        description: manifest.description,
        depends_on: manifest.depends_on,
        tools,
        tool_names,
        fingerprint: Sha256::digest(text.as_bytes()).into(),
    })
}

/// The line a template error belongs on: the parameter's own when it names one.
fn template_error_line(error: &TemplateError, tool: &ToolManifest) -> usize {
    let parameter = match error {
        TemplateError::UnusedParameter { name }
        | TemplateError::DuplicateParameter { name }
        | TemplateError::InvalidParameterName { name }
        | TemplateError::EmptyChoices { name }
        | TemplateError::InvalidDefault { name, .. } => Some(name),
        _ => None,
    };
    parameter
        .and_then(|name| tool.params.iter().position(|param| &param.name == name))
        .and_then(|index| tool.param_lines.get(index).copied())
        .unwrap_or(tool.nrql_line)
}

fn compile_tool(
    tool: ToolManifest,
    policy: &Arc<Policy>,
    now_epoch_ms: i64,
) -> Result<ManifestTool, ManifestError> {
    let template = Template::parse(&tool.nrql, &tool.params).map_err(|error| {
        ManifestError::at(template_error_line(&error, &tool), format!("tool '{}': {error}", tool.name))
    })?;
    if tool.params.iter().all(|param| param.default.is_some()) {
        let with_defaults = template
            .fill(&BTreeMap::new())
            .map_err(|error| ManifestError::at(tool.nrql_line, format!("tool '{}': {error}", tool.name)))?;
        policy.check(&with_defaults, now_epoch_ms).map_err(|violation| {
            ManifestError::at(
                tool.nrql_line,
                format!(
                    "tool '{}': with its defaults the query breaks this server's NRQL policy: {violation}",
                    tool.name
                ),
            )
        })?;
    }
    let mut schema = match template.input_schema() {
        Value::Object(schema) => schema,
        _ => Map::new(),
    };
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        properties.insert(
            ACCOUNT_ARGUMENT.to_string(),
            json!({
                "type": "integer",
                "description": "Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID)."
            }),
        );
    }
    let descriptor = ToolDescriptor {
        name: tool.name,
        title: tool.title,
        description: tool.description,
        category: tool.category,
        input_schema: Arc::new(schema),
        output_schema: None,
        hints: ToolHints::READ,
        cache_ttl: tool.cache_ttl,
    };
    Ok(ManifestTool { descriptor, template, policy: policy.clone() })
}

/// One manifest tool: a parsed template behind a descriptor.
struct ManifestTool {
    descriptor: ToolDescriptor,
    template: Template,
    policy: Arc<Policy>,
}

impl Tool for ManifestTool {
    fn descriptor(&self) -> &ToolDescriptor {
        &self.descriptor
    }

    fn plan(&self, mut arguments: Map<String, Value>, context: &PlanContext) -> Result<Plan, PlanError> {
        let requested_account = match arguments.remove(ACCOUNT_ARGUMENT) {
            None | Some(Value::Null) => None,
            Some(Value::Number(number)) if number.as_i64().is_some() => number.as_i64(),
            Some(other) => {
                return Err(PlanError::InvalidArguments(format!(
                    "account_id must be a whole number (an account id), not {other}"
                )));
            }
        };
        let values: BTreeMap<String, Value> = arguments.into_iter().collect();
        let query =
            self.template.fill(&values).map_err(|error| PlanError::InvalidArguments(error.to_string()))?;
        let text = newrelic_mcp_nrql::print(&query);
        if text.len() > MAX_QUERY_BYTES {
            return Err(PlanError::InvalidArguments(format!(
                "the filled query is {} bytes; New Relic accepts at most {MAX_QUERY_BYTES}: shorten the values",
                text.len()
            )));
        }
        let account = resolve_account(requested_account, context)?;
        self.policy
            .check_call(&query, &[account], context.now_epoch_ms)
            .map_err(|violation| ToolError::new(ToolErrorKind::Policy, violation.to_string()))?;
        Ok(nrql_plan(&self.descriptor, account, &query, text, None))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use std::time::Duration;

    use newrelic_mcp_actors::tool::PlanAction;

    use super::*;

    const MANIFEST: &str = r#"[plugin]
name = "logs"
version = "1.0.0"
description = "Log tools"

[[tools]]
name = "log_level_breakdown"
description = "Log lines of one level by service"
cache_ttl_seconds = 45
nrql = "SELECT count(*) FROM Log WHERE level = {{level}} FACET service SINCE {{since}} ago"

[[tools.params]]
name = "level"
type = "enum"
values = ["ERROR", "WARN", "INFO"]
default = "ERROR"

[[tools.params]]
name = "since"
type = "duration"
default = "1 hour"
"#;

    fn context() -> PlanContext {
        PlanContext {
            default_account: Some(1_000_001),
            allowed_accounts: Some(Arc::from(vec![1_000_001, 7])),
            now_epoch_ms: 1_700_000_000_000,
            default_timeout: Duration::from_secs(30),
        }
    }

    fn plugin() -> ManifestPlugin {
        compile(MANIFEST, &Arc::new(Policy::default()), 1_700_000_000_000).unwrap()
    }

    fn plan(arguments: Value) -> Result<Plan, PlanError> {
        let Value::Object(arguments) = arguments else { panic!("arguments must be an object") };
        plugin().tools()[0].plan(arguments, &context())
    }

    #[test]
    fn the_schema_has_every_parameter_and_the_account() {
        let tools = plugin().tools();
        let schema = &tools[0].descriptor().input_schema;
        let properties = schema["properties"].as_object().unwrap();
        assert_eq!(properties.keys().collect::<Vec<_>>(), ["account_id", "level", "since"]);
        assert_eq!(properties["level"]["enum"], json!(["ERROR", "WARN", "INFO"]));
        assert_eq!(schema["additionalProperties"], json!(false));
        assert_eq!(tools[0].descriptor().cache_ttl, Some(Duration::from_secs(45)));
    }

    #[test]
    fn a_call_plans_the_nrql_request_with_values_in_the_tree() {
        let planned = plan(json!({"level": "WARN", "account_id": 7})).unwrap();
        let PlanAction::Upstream { request, .. } = &planned.action else { panic!("expected upstream") };
        assert_eq!(request.operation, "NrqlQuery");
        assert_eq!(request.variables["accountId"], 7);
        let nrql = request.variables["nrql"].as_str().unwrap();
        assert!(nrql.contains("level = 'WARN'") && nrql.contains("SINCE 1 hour ago"), "{nrql}");
        assert_eq!(planned.cache.unwrap().ttl, Duration::from_secs(45));
        // The default account named or implied is one cache entry; another value is another.
        let implied = plan(json!({"level": "WARN"})).unwrap();
        let named = plan(json!({"level": "WARN", "account_id": 1_000_001, "since": "1 hour"})).unwrap();
        assert_eq!(implied.cache.unwrap().key, named.cache.unwrap().key);
        let other = plan(json!({"level": "INFO", "account_id": 7})).unwrap();
        assert_ne!(planned.cache.unwrap().key, other.cache.unwrap().key);
    }

    #[test]
    fn bad_arguments_and_policy_breaches_never_leave_the_server() {
        for arguments in [
            json!({"level": "DEBUG"}),
            json!({"level": 3}),
            json!({"colour": "red"}),
            json!({"account_id": "7"}),
            json!({"account_id": 1.5}),
            json!({"since": "x".repeat(5000)}),
        ] {
            assert!(matches!(plan(arguments.clone()), Err(PlanError::InvalidArguments(_))), "{arguments}");
        }
        match plan(json!({"account_id": 9})) {
            Err(PlanError::Tool(error)) => assert_eq!(error.kind, ToolErrorKind::Policy),
            other => panic!("expected a policy refusal, got {other:?}"),
        }
        match plan(json!({"since": "90 days"})) {
            Err(PlanError::Tool(error)) => {
                assert_eq!(error.kind, ToolErrorKind::Policy, "{}", error.message);
            }
            other => panic!("expected a policy refusal, got {other:?}"),
        }
    }

    #[test]
    fn template_errors_point_at_their_line() {
        let policy = Arc::new(Policy::default());
        let cases = [
            (MANIFEST.replace("WHERE level = {{level}}", "WHERE level = '{{level}}'"), 10, "inside"),
            (MANIFEST.replace("{{level}}", "{{lvl}}"), 10, "no declared parameter"),
            (
                MANIFEST.replace("default = \"ERROR\"", "default = \"TRACE\""),
                13,
                "default of parameter 'level'",
            ),
            (MANIFEST.replace("FACET service", "FACET service LIMIT 9000"), 10, "policy"),
            (MANIFEST.replace("SELECT count(*)", "SELECT count(*"), 10, "not valid NRQL"),
        ];
        for (text, line, needle) in cases {
            let error = compile(&text, &policy, 1_700_000_000_000).unwrap_err();
            assert_eq!(error.line, Some(line), "{error}");
            assert!(error.reason.contains(needle), "expected '{needle}' in: {error}");
            assert!(error.reason.contains("log_level_breakdown"), "{error}");
        }
    }

    #[test]
    fn the_fingerprint_follows_the_text() {
        let policy = Arc::new(Policy::default());
        let a = compile(MANIFEST, &policy, 0).unwrap();
        let b = compile(MANIFEST, &policy, 0).unwrap();
        let c = compile(&MANIFEST.replace("Log tools", "Logs"), &policy, 0).unwrap();
        assert!(a.same_source(&b));
        assert!(!a.same_source(&c));
        assert_eq!(a.depends_on(), &[] as &[String]);
        assert_eq!(a.tool_names(), ["log_level_breakdown"]);
    }
}
