//! Performance analytics: golden signals, transactions, logs of an entity, metric
//! statistics, JVM threads and garbage collection, Kafka, and distributed traces.
//!
//! Every tool here is one NRQL query built from a template ([`super::nrql_tool`]), so it
//! answers from New Relic's own data with the server's NRQL policy applied, and renders the
//! numbers an SRE looks at first: rates, latencies, the worst offenders.

mod golden;
mod jvm;
mod kafka;
mod logs;
mod metrics;
mod traces;
mod transactions;

use std::sync::Arc;

use newrelic_mcp_actors::tool::{Plugin, Tool};

use super::data_access::NrqlSettings;

const CATEGORY: &str = "performance-analytics";

pub struct PerformancePlugin {
    tools: Vec<Arc<dyn Tool>>,
}

impl PerformancePlugin {
    pub fn new(settings: NrqlSettings) -> Self {
        let policy = &settings.policy;
        let mut tools = Vec::new();
        tools.extend(golden::tools(policy));
        tools.extend(transactions::tools(policy));
        tools.extend(logs::tools(policy));
        tools.extend(metrics::tools(policy));
        tools.extend(jvm::tools(policy));
        tools.extend(kafka::tools(policy));
        tools.extend(traces::tools(policy));
        Self { tools }
    }
}

impl Default for PerformancePlugin {
    fn default() -> Self {
        Self::new(NrqlSettings::default())
    }
}

super::builtin::builtin_plugin!(
    PerformancePlugin,
    "performance-analytics",
    "Golden signals, transactions, entity logs, metric statistics, JVM, Kafka and traces"
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tools::nrql_tool::parse_all;

    #[test]
    fn every_query_shape_parses() {
        for shapes in [
            golden::shapes(),
            transactions::shapes(),
            logs::shapes(),
            metrics::shapes(),
            jvm::shapes(),
            kafka::shapes(),
            traces::shapes(),
        ] {
            parse_all(&shapes).unwrap();
        }
    }

    #[test]
    fn offers_the_hosted_servers_tool_names_in_one_category() {
        let plugin = PerformancePlugin::default();
        let mut names: Vec<String> = plugin.tools().iter().map(|t| t.descriptor().name.clone()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "analyze_entity_logs",
                "analyze_golden_metrics",
                "analyze_kafka_metrics",
                "analyze_service_dependencies",
                "analyze_threads",
                "analyze_transactions",
                "get_distributed_trace_details",
                "get_log_statistics",
                "get_metric_statistics",
                "list_garbage_collection_metrics",
                "list_recent_logs",
                "search_traces",
            ]
        );
        for tool in plugin.tools() {
            let descriptor = tool.descriptor();
            assert_eq!(descriptor.category, CATEGORY);
            assert!(descriptor.hints.read_only, "{}", descriptor.name);
            assert!(descriptor.cache_ttl.is_some(), "{}", descriptor.name);
            assert!(descriptor.input_schema["properties"].get("account_id").is_some(), "{}", descriptor.name);
            assert_eq!(descriptor.input_schema["additionalProperties"], false, "{}", descriptor.name);
        }
    }
}
