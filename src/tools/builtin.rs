//! Adapts a documented argument struct and a planning function into a runtime [`Tool`].

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{
    CacheKey, CachePolicy, NrqlAccounts, Plan, PlanAction, PlanContext, PlanError, Renderer, Tool,
    ToolDescriptor, ToolError, ToolHints, ToolOutput,
};
use newrelic_mcp_actors::upstream::{UpstreamRequest, UpstreamResponse};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Static facts about a built-in tool.
pub(crate) struct Spec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub category: &'static str,
    pub hints: ToolHints,
    pub cache_ttl: Option<Duration>,
}

type Planner<S, A> = fn(&S, A, &PlanContext, &ToolDescriptor) -> Result<Plan, PlanError>;
type StatelessPlanner<A> = fn(A, &PlanContext, &ToolDescriptor) -> Result<Plan, PlanError>;

/// A tool whose arguments deserialize into `A` and whose plan is a plain function of them,
/// the call's context and the tool's fixed settings `S`.
pub(crate) struct BuiltinTool<S, A> {
    descriptor: ToolDescriptor,
    settings: S,
    planner: Planner<S, A>,
    arguments: PhantomData<fn() -> A>,
}

impl<A> BuiltinTool<StatelessPlanner<A>, A>
where
    A: DeserializeOwned + JsonSchema + Send + 'static,
{
    /// A tool that needs nothing but its arguments and the call's context.
    pub(crate) fn shared(spec: Spec, planner: StatelessPlanner<A>) -> Arc<dyn Tool> {
        BuiltinTool::with_state(spec, planner, |planner, args, context, descriptor| {
            planner(args, context, descriptor)
        })
    }
}

impl<S, A> BuiltinTool<S, A>
where
    S: Send + Sync + 'static,
    A: DeserializeOwned + JsonSchema + Send + 'static,
{
    pub(crate) fn with_state(spec: Spec, settings: S, planner: Planner<S, A>) -> Arc<dyn Tool> {
        let descriptor = ToolDescriptor {
            name: spec.name.to_string(),
            title: spec.title.to_string(),
            description: spec.description.to_string(),
            category: spec.category.to_string(),
            input_schema: Arc::new(input_schema::<A>()),
            output_schema: None,
            hints: spec.hints,
            cache_ttl: spec.cache_ttl,
        };
        Arc::new(Self { descriptor, settings, planner, arguments: PhantomData })
    }
}

impl<S, A> Tool for BuiltinTool<S, A>
where
    S: Send + Sync + 'static,
    A: DeserializeOwned + JsonSchema + Send + 'static,
{
    fn descriptor(&self) -> &ToolDescriptor {
        &self.descriptor
    }

    fn plan(&self, arguments: Map<String, Value>, context: &PlanContext) -> Result<Plan, PlanError> {
        let parsed: A = serde_json::from_value(Value::Object(arguments))
            .map_err(|error| PlanError::InvalidArguments(error.to_string()))?;
        (self.planner)(&self.settings, parsed, context, &self.descriptor)
    }
}

/// The arguments' JSON Schema, compact: subschemas inlined, no `$schema` or `title`.
fn input_schema<A: JsonSchema>() -> Map<String, Value> {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|settings| settings.inline_subschemas = true)
        .into_generator();
    let schema = generator.into_root_schema_for::<A>();
    let mut object = match schema.to_value() {
        Value::Object(object) => object,
        _ => Map::new(),
    };
    object.remove("$schema");
    object.remove("title");
    object.entry("type").or_insert_with(|| Value::String("object".into()));
    object.entry("properties").or_insert_with(|| Value::Object(Map::new()));
    object
}

/// A plan answered by the server itself.
pub(crate) fn local_plan(descriptor: &ToolDescriptor, output: ToolOutput) -> Plan {
    Plan {
        tool: descriptor.name.clone(),
        action: PlanAction::Local(output),
        cache: None,
        timeout: Duration::from_secs(1),
        nrql_accounts: NrqlAccounts::NONE,
    }
}

/// A plan that sends one GraphQL request; cached under the tool's TTL when it has one.
pub(crate) fn upstream_plan<R>(
    descriptor: &ToolDescriptor,
    account: Option<i64>,
    normalised_arguments: &impl Serialize,
    request: UpstreamRequest,
    timeout: Duration,
    render: R,
) -> Plan
where
    R: Fn(UpstreamResponse) -> Result<ToolOutput, ToolError> + Send + Sync + 'static,
{
    let cache = descriptor.cache_ttl.map(|ttl| {
        let normalised = serde_json::to_value(normalised_arguments).unwrap_or(Value::Null);
        CachePolicy { key: CacheKey::new(&descriptor.name, account, &normalised), ttl }
    });
    let render: Renderer = Arc::new(render);
    Plan {
        tool: descriptor.name.clone(),
        action: PlanAction::Upstream { request, render },
        cache,
        timeout,
        nrql_accounts: NrqlAccounts::NONE,
    }
}

/// Implements `Plugin` for a built-in plugin: a struct whose `tools` field holds its tools,
/// versioned with the server. The calling module has `Plugin`, `Tool` and `Arc` in scope.
macro_rules! builtin_plugin {
    ($plugin:ty, $name:literal, $description:literal) => {
        impl Plugin for $plugin {
            fn name(&self) -> &str {
                $name
            }
            fn version(&self) -> &str {
                env!("CARGO_PKG_VERSION")
            }
            fn description(&self) -> &str {
                $description
            }
            fn tools(&self) -> Vec<Arc<dyn Tool>> {
                self.tools.clone()
            }
        }
    };
}
pub(crate) use builtin_plugin;
