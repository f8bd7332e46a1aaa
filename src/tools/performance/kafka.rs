//! `analyze_kafka_metrics`: consumer lag by group and topic, or broker throughput.
//!
//! Lag (KafkaOffsetSample) and broker rates (KafkaBrokerSample) are different event types
//! with different facets, which one NRQL query cannot return side by side; the `view`
//! argument picks one, lag by default since it is what an incident asks first.

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::tool::{PlanContext, PlanError, Tool, ToolError, ToolHints, ToolOutput};
use newrelic_mcp_nrql::{ParamSpec, ParamType, Policy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::CATEGORY;
use crate::tools::builtin::Spec;
use crate::tools::nrql_tool::args;
use crate::tools::nrql_tool::values::{bytes, facets, fixed, fixed_or_na, number_at};
use crate::tools::nrql_tool::{Condition, NrqlAnswer, NrqlCall, Shape, nrql_tool};
use crate::tools::render::{Capped, MAX_ROWS};

const DEFAULT_SINCE: &str = "30 minutes";
const LIMIT: i64 = 100;

/// What to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KafkaView {
    /// Consumer lag per consumer group and topic (KafkaOffsetSample).
    ConsumerLag,
    /// Throughput per broker (KafkaBrokerSample).
    Brokers,
}

pub(super) fn shapes() -> Vec<Shape> {
    let cluster = || Condition::one("cluster", "clusterName = {{cluster}}", ParamType::String);
    vec![
        Shape::new(
            "consumer_lag",
            "SELECT max(consumer.lag) AS 'max_lag', latest(consumer.lag) AS 'latest_lag', \
             average(consumer.lag) AS 'avg_lag', uniqueCount(partition) AS 'partitions' FROM KafkaOffsetSample \
             {where} FACET clusterName, consumerGroup, topic SINCE {{since}} ago LIMIT {{limit}}",
            vec![args::since_param(DEFAULT_SINCE), ParamSpec::new("limit", ParamType::Int)],
        )
        .with_conditions(vec![
            cluster(),
            Condition::one("group", "consumerGroup = {{group}}", ParamType::String),
            Condition::one("topic", "topic = {{topic}}", ParamType::String),
        ]),
        Shape::new(
            "brokers",
            "SELECT average(broker.bytesInPerSecond) AS 'bytes_in_per_s', average(broker.bytesOutPerSecond) AS \
             'bytes_out_per_s', average(broker.messagesInPerSecond) AS 'messages_in_per_s', \
             average(request.produceRequestsPerSecond) AS 'produce_requests_per_s', \
             max(broker.messagesInPerSecond) AS 'peak_messages_in_per_s' FROM KafkaBrokerSample {where} \
             FACET clusterName, broker.id SINCE {{since}} ago LIMIT {{limit}}",
            vec![args::since_param(DEFAULT_SINCE), ParamSpec::new("limit", ParamType::Int)],
        )
        .with_conditions(vec![cluster()]),
    ]
}

pub(super) fn tools(policy: &Arc<Policy>) -> Vec<Arc<dyn Tool>> {
    vec![nrql_tool(
        Spec {
            name: "analyze_kafka_metrics",
            title: "Analyze Kafka metrics",
            description: "Kafka health from the infrastructure integration: consumer lag per consumer group and \
                topic, worst first (default), or with view=brokers, bytes and messages in/out and produce \
                requests per broker. Optionally one cluster, group or topic.",
            category: CATEGORY,
            hints: ToolHints::READ,
            cache_ttl: Some(Duration::from_secs(30)),
        },
        shapes(),
        policy,
        choose,
        render,
    )]
}

/// Arguments of `analyze_kafka_metrics`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeKafkaMetricsArgs {
    /// `consumer_lag` (default) or `brokers`.
    pub view: Option<KafkaView>,
    /// Only this Kafka cluster (`clusterName`).
    pub cluster_name: Option<String>,
    /// Only this consumer group (consumer_lag view).
    pub consumer_group: Option<String>,
    /// Only this topic (consumer_lag view).
    pub topic: Option<String>,
    /// How far back to look, e.g. `15 minutes`, `6 hours` (default `30 minutes`).
    pub since: Option<String>,
    /// Account to query; defaults to the configured account (NEW_RELIC_ACCOUNT_ID).
    pub account_id: Option<i64>,
}

#[derive(Debug, Serialize)]
struct Context {
    view: KafkaView,
    window: String,
}

fn choose(args: AnalyzeKafkaMetricsArgs, _: &PlanContext) -> Result<NrqlCall<Context>, PlanError> {
    let view = args.view.unwrap_or(KafkaView::ConsumerLag);
    let cluster = args::optional_name("cluster_name", args.cluster_name.as_deref())?;
    let group = args::optional_name("consumer_group", args.consumer_group.as_deref())?;
    let topic = args::optional_name("topic", args.topic.as_deref())?;
    let context = Context { view, window: args::since_label(args.since.as_deref(), DEFAULT_SINCE) };
    let call = match view {
        KafkaView::ConsumerLag => NrqlCall::new("consumer_lag", args.account_id, context)
            .filter("group", group)
            .filter("topic", topic),
        KafkaView::Brokers => {
            if group.is_some() || topic.is_some() {
                return Err(PlanError::InvalidArguments(
                    "consumer_group and topic apply to the consumer_lag view; drop them for view=brokers"
                        .into(),
                ));
            }
            NrqlCall::new("brokers", args.account_id, context)
        }
    };
    Ok(call.filter("cluster", cluster).value("limit", LIMIT).value_opt("since", args.since))
}

fn render(answer: &NrqlAnswer, context: &Context) -> Result<ToolOutput, ToolError> {
    if answer.rows.is_empty() {
        return Err(args::nothing_found(
            &format!("no Kafka samples in the {}", context.window),
            "Kafka data comes from the New Relic Kafka integration (KafkaBrokerSample, KafkaOffsetSample); \
             check cluster, group and topic names, or widen since.",
        ));
    }
    match context.view {
        KafkaView::ConsumerLag => Ok(render_lag(answer, context)),
        KafkaView::Brokers => Ok(render_brokers(answer, context)),
    }
}

fn render_lag(answer: &NrqlAnswer, context: &Context) -> ToolOutput {
    let mut groups: Vec<Value> = answer
        .rows
        .iter()
        .map(|row| {
            let facets = facets(row);
            json!({
                "cluster": facets.first(),
                "consumer_group": facets.get(1),
                "topic": facets.get(2),
                "max_lag": number_at(row, "max_lag"),
                "latest_lag": number_at(row, "latest_lag"),
                "avg_lag": number_at(row, "avg_lag"),
                "partitions": number_at(row, "partitions"),
            })
        })
        .collect();
    groups.sort_by(|a, b| {
        let key = |v: &Value| number_at(v, "latest_lag").unwrap_or(0.0);
        key(b).total_cmp(&key(a))
    });
    let total_lag: f64 = groups.iter().filter_map(|g| number_at(g, "latest_lag")).sum();
    let capped = Capped::new(groups, MAX_ROWS);
    let mut text = format!(
        "Kafka consumer lag — {}, total {} messages behind, {} (account {}); worst first\n",
        capped.heading("group/topic", "groups/topics"),
        fixed(total_lag, 0),
        context.window,
        answer.account
    );
    for group in &capped.rows {
        text.push_str(&format!(
            "{} / {} on {}: lag {} now (avg {}, peak {}) across {} partitions\n",
            group["consumer_group"].as_str().unwrap_or("?"),
            group["topic"].as_str().unwrap_or("?"),
            group["cluster"].as_str().unwrap_or("?"),
            fixed_or_na(number_at(group, "latest_lag"), 0),
            fixed_or_na(number_at(group, "avg_lag"), 1),
            fixed_or_na(number_at(group, "max_lag"), 0),
            fixed_or_na(number_at(group, "partitions"), 0),
        ));
    }
    text.push_str("(broker throughput: view=brokers)\n");
    let mut structured = Map::new();
    structured.insert("view".into(), json!(context.view));
    structured.insert("window".into(), json!(context.window));
    structured.insert("total_latest_lag".into(), json!(total_lag));
    structured.extend(capped.counts());
    structured.insert("consumer_groups".into(), Value::Array(capped.rows));
    answer.output(structured, text)
}

fn render_brokers(answer: &NrqlAnswer, context: &Context) -> ToolOutput {
    let brokers: Vec<Value> = answer
        .rows
        .iter()
        .map(|row| {
            let facets = facets(row);
            json!({
                "cluster": facets.first(),
                "broker_id": facets.get(1),
                "bytes_in_per_s": number_at(row, "bytes_in_per_s"),
                "bytes_out_per_s": number_at(row, "bytes_out_per_s"),
                "messages_in_per_s": number_at(row, "messages_in_per_s"),
                "peak_messages_in_per_s": number_at(row, "peak_messages_in_per_s"),
                "produce_requests_per_s": number_at(row, "produce_requests_per_s"),
            })
        })
        .collect();
    let sum = |key: &str| brokers.iter().filter_map(|b| number_at(b, key)).sum::<f64>();
    let capped = Capped::new(brokers.clone(), MAX_ROWS);
    let mut text = format!(
        "Kafka brokers — {}, {} (account {})\ncluster totals: in {}/s, out {}/s, {} messages/s\n",
        capped.heading("broker", "brokers"),
        context.window,
        answer.account,
        bytes(sum("bytes_in_per_s")),
        bytes(sum("bytes_out_per_s")),
        fixed(sum("messages_in_per_s"), 1),
    );
    for broker in &capped.rows {
        text.push_str(&format!(
            "broker {} on {}: in {}/s, out {}/s, {} messages/s (peak {}), {} produce requests/s\n",
            broker["broker_id"].as_str().unwrap_or("?"),
            broker["cluster"].as_str().unwrap_or("?"),
            bytes(number_at(broker, "bytes_in_per_s").unwrap_or(0.0)),
            bytes(number_at(broker, "bytes_out_per_s").unwrap_or(0.0)),
            fixed_or_na(number_at(broker, "messages_in_per_s"), 1),
            fixed_or_na(number_at(broker, "peak_messages_in_per_s"), 1),
            fixed_or_na(number_at(broker, "produce_requests_per_s"), 1),
        ));
    }
    text.push_str("(consumer lag: view=consumer_lag)\n");
    let mut structured = Map::new();
    structured.insert("view".into(), json!(context.view));
    structured.insert("window".into(), json!(context.window));
    structured.extend(capped.counts());
    structured.insert("brokers".into(), Value::Array(capped.rows));
    answer.output(structured, text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tools::nrql_tool::testing::{answer, nrql, plan};

    fn all() -> Vec<Arc<dyn Tool>> {
        tools(&Arc::new(Policy::default()))
    }

    #[test]
    fn plans_either_view_with_its_filters() {
        let lag = nrql(
            &plan(&all(), "analyze_kafka_metrics", json!({"topic": "orders", "cluster_name": "acme-kafka"}))
                .unwrap(),
        );
        assert!(lag.contains("FROM KafkaOffsetSample WHERE clusterName = 'acme-kafka' AND topic = 'orders' FACET clusterName, consumerGroup, topic LIMIT 100 SINCE 30 minutes ago"), "{lag}");
        let brokers = nrql(&plan(&all(), "analyze_kafka_metrics", json!({"view": "brokers"})).unwrap());
        assert!(brokers.contains("FROM KafkaBrokerSample FACET clusterName, broker.id"), "{brokers}");
        for bad in [json!({"view": "brokers", "topic": "orders"}), json!({"view": "zookeeper"})] {
            assert!(matches!(
                plan(&all(), "analyze_kafka_metrics", bad),
                Err(PlanError::InvalidArguments(_))
            ));
        }
    }

    #[test]
    fn renders_lag_worst_first_and_broker_totals() {
        let rows = json!([
            {"facet": ["acme-kafka", "billing", "orders"], "max_lag": 50, "latest_lag": 20, "avg_lag": 10, "partitions": 3},
            {"facet": ["acme-kafka", "shipping", "orders"], "max_lag": 9000, "latest_lag": 8000, "avg_lag": 4000.5, "partitions": 3}
        ]);
        let output = answer(&all(), "analyze_kafka_metrics", json!({}), rows).unwrap();
        assert!(output.text.contains("total 8020 messages behind"), "{}", output.text);
        let shipping = output
            .text
            .find("shipping / orders on acme-kafka: lag 8000 now (avg 4000.5, peak 9000) across 3 partitions")
            .unwrap();
        assert!(shipping < output.text.find("billing").unwrap());
        let rows = json!([
            {"facet": ["acme-kafka", "1"], "bytes_in_per_s": 1048576, "bytes_out_per_s": 2097152, "messages_in_per_s": 100, "peak_messages_in_per_s": 150, "produce_requests_per_s": 20},
            {"facet": ["acme-kafka", "2"], "bytes_in_per_s": 1048576, "bytes_out_per_s": 0, "messages_in_per_s": 50, "peak_messages_in_per_s": 60, "produce_requests_per_s": 10}
        ]);
        let output = answer(&all(), "analyze_kafka_metrics", json!({"view": "brokers"}), rows).unwrap();
        assert!(
            output.text.contains("cluster totals: in 2 MiB/s, out 2 MiB/s, 150 messages/s"),
            "{}",
            output.text
        );
        assert_eq!(output.structured["brokers"][0]["broker_id"], "1");
    }
}
