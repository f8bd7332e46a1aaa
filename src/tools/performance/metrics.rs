//! `get_metric_statistics`: the distribution of one numeric attribute of an event type.

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{PlanContext, PlanError, Tool, ToolError, ToolHints, ToolOutput};
use newrelic_mcp_nrql::{ParamSpec, ParamType, Policy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, json};

use super::CATEGORY;
use crate::tools::builtin::Spec;
use crate::tools::nrql_tool::args;
use crate::tools::nrql_tool::values::{fixed, fixed_or_na, number_at, percentile_at};
use crate::tools::nrql_tool::{Condition, NrqlAnswer, NrqlCall, Shape, nrql_tool};

const DEFAULT_SINCE: &str = "1 hour";

/// Event types whose numeric attributes this tool summarises.
const EVENT_TYPES: &[&str] = &[
    "Transaction",
    "TransactionError",
    "Span",
    "PageView",
    "JavaScriptError",
    "SyntheticCheck",
    "SystemSample",
    "ProcessSample",
    "StorageSample",
    "NetworkSample",
    "ContainerSample",
    "K8sNodeSample",
    "K8sPodSample",
    "K8sContainerSample",
    "KafkaBrokerSample",
    "KafkaOffsetSample",
    "Metric",
    "Log",
];

pub(super) fn shapes() -> Vec<Shape> {
    vec![
        Shape::new(
            "statistics",
            "SELECT count({{attribute}}) AS 'count', min({{attribute}}) AS 'min', max({{attribute}}) AS 'max', \
             average({{attribute}}) AS 'average', stddev({{attribute}}) AS 'stddev', \
             percentile({{attribute}}, 50, 95, 99) AS 'percentiles' FROM {{event_type}} {where} \
             SINCE {{since}} ago",
            vec![
                ParamSpec::new("attribute", ParamType::Identifier),
                ParamSpec::new(
                    "event_type",
                    ParamType::EventType(EVENT_TYPES.iter().map(|name| name.to_string()).collect()),
                ),
                args::since_param(DEFAULT_SINCE),
            ],
        )
        .with_conditions(vec![Condition::one("app", "appName = {{app}}", ParamType::String)]),
    ]
}

pub(super) fn tools(policy: &Arc<Policy>) -> Vec<Arc<dyn Tool>> {
    vec![nrql_tool(
        Spec {
            name: "get_metric_statistics",
            title: "Get metric statistics",
            description: "Statistics of one numeric attribute of an event type over a window: count, min, max, \
                average, standard deviation and p50/p95/p99, e.g. duration of Transaction for one app, or \
                cpuPercent of SystemSample.",
            category: CATEGORY,
            hints: ToolHints::READ,
            cache_ttl: Some(Duration::from_secs(60)),
        },
        shapes(),
        policy,
        choose,
        render,
    )]
}

/// Arguments of `get_metric_statistics`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetMetricStatisticsArgs {
    /// Event type to read, e.g. `Transaction`, `SystemSample`, `PageView`, `Span`.
    pub event_type: String,
    /// Numeric attribute to summarise, e.g. `duration`, `cpuPercent`, `duration.ms`.
    pub attribute: String,
    /// Only events of this app (`appName`), for event types that carry it (Transaction,
    /// TransactionError, Span, PageView, JavaScriptError, Metric).
    pub app_name: Option<String>,
    /// How far back to look, e.g. `30 minutes`, `6 hours`, `7 days` (default `1 hour`).
    pub since: Option<String>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct Context {
    event_type: String,
    attribute: String,
    app: Option<String>,
    window: String,
}

fn choose(args: GetMetricStatisticsArgs, _: &PlanContext) -> Result<NrqlCall<Context>, PlanError> {
    let app = args::optional_name("app_name", args.app_name.as_deref())?;
    let context = Context {
        event_type: args.event_type.trim().to_string(),
        attribute: args.attribute.trim().to_string(),
        app: app.clone(),
        window: args::since_label(args.since.as_deref(), DEFAULT_SINCE),
    };
    Ok(NrqlCall::new("statistics", args.account_id, context)
        .value("event_type", args.event_type.trim())
        .value("attribute", args.attribute.trim())
        .filter("app", app)
        .value_opt("since", args.since))
}

fn render(answer: &NrqlAnswer, context: &Context) -> Result<ToolOutput, ToolError> {
    let row = answer.first();
    let count = number_at(row, "count").unwrap_or(0.0);
    let subject = match &context.app {
        Some(app) => format!("{} of {} ({app})", context.attribute, context.event_type),
        None => format!("{} of {}", context.attribute, context.event_type),
    };
    if count <= 0.0 {
        return Err(args::nothing_found(
            &format!("no numeric values of {subject} in the {}", context.window),
            &format!(
                "Check the attribute with execute_nrql_query: SELECT keyset() FROM {} SINCE 1 day ago; \
                 app_name only applies to event types with appName; or widen since.",
                context.event_type
            ),
        ));
    }
    let statistics = json!({
        "count": count,
        "min": number_at(row, "min"),
        "max": number_at(row, "max"),
        "average": number_at(row, "average"),
        "stddev": number_at(row, "stddev"),
        "p50": percentile_at(row, "percentiles", "50"),
        "p95": percentile_at(row, "percentiles", "95"),
        "p99": percentile_at(row, "percentiles", "99"),
    });
    let value = |key: &str| fixed_or_na(number_at(&statistics, key), 4);
    let mut text = format!("{subject}, {} (account {})\n", context.window, answer.account);
    text.push_str(&format!(
        "count {} | min {} | avg {} | p50 {} | p95 {} | p99 {} | max {} | stddev {}\n",
        fixed(count, 0),
        value("min"),
        value("average"),
        value("p50"),
        value("p95"),
        value("p99"),
        value("max"),
        value("stddev"),
    ));
    if let (Some(p99), Some(p50)) = (number_at(&statistics, "p99"), number_at(&statistics, "p50"))
        && p50 > 0.0
        && p99 / p50 >= 5.0
    {
        text.push_str(&format!("watch: p99 is {}× the median — a long tail\n", fixed(p99 / p50, 1)));
    }
    let mut structured = Map::new();
    structured.insert("event_type".into(), json!(context.event_type));
    structured.insert("attribute".into(), json!(context.attribute));
    structured.insert("app_name".into(), json!(context.app));
    structured.insert("window".into(), json!(context.window));
    structured.insert("statistics".into(), statistics);
    Ok(answer.output(structured, text))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use newrelic_mcp_actors::tool::ToolErrorKind;

    use super::*;
    use crate::tools::nrql_tool::testing::{answer, nrql, plan};

    fn all() -> Vec<Arc<dyn Tool>> {
        tools(&Arc::new(Policy::default()))
    }

    #[test]
    fn plans_with_typed_names_and_refuses_unknown_event_types() {
        let query = nrql(
            &plan(
                &all(),
                "get_metric_statistics",
                json!({"event_type": "Span", "attribute": "duration.ms", "app_name": "web"}),
            )
            .unwrap(),
        );
        assert_eq!(
            query,
            "SELECT count(duration.ms) AS count, min(duration.ms) AS min, max(duration.ms) AS 'max', average(duration.ms) AS average, stddev(duration.ms) AS stddev, percentile(duration.ms, 50, 95, 99) AS percentiles FROM Span WHERE appName = 'web' SINCE 1 hour ago"
        );
        for bad in [
            json!({"event_type": "Secrets", "attribute": "x"}),
            json!({"event_type": "Span", "attribute": "a` FROM `b"}),
            json!({"event_type": "Span"}),
        ] {
            assert!(matches!(
                plan(&all(), "get_metric_statistics", bad),
                Err(PlanError::InvalidArguments(_))
            ));
        }
    }

    #[test]
    fn renders_the_distribution_and_a_long_tail() {
        let rows = json!([{"count": 160, "min": 0.036, "max": 2.2, "average": 0.28, "stddev": 0.3, "percentiles": {"50": 0.15, "95": 0.93, "99": 1.18}}]);
        let output = answer(
            &all(),
            "get_metric_statistics",
            json!({"event_type": "Transaction", "attribute": "duration"}),
            rows,
        )
        .unwrap();
        assert!(output.text.starts_with("duration of Transaction, last 1 hour (account 1000001)\ncount 160 | min 0.036 | avg 0.28 | p50 0.15 | p95 0.93 | p99 1.18 | max 2.2"), "{}", output.text);
        assert!(output.text.contains("p99 is 7.9× the median"), "{}", output.text);
        assert_eq!(output.structured["statistics"]["p95"], 0.93);
        let error = answer(
            &all(),
            "get_metric_statistics",
            json!({"event_type": "Transaction", "attribute": "nope"}),
            json!([{"count": 0}]),
        )
        .unwrap_err();
        assert_eq!(error.kind, ToolErrorKind::NotFound);
        assert!(error.message.contains("SELECT keyset() FROM Transaction"));
    }
}
