//! Infrastructure: hosts, their processes and disks, containers and Kubernetes.
//!
//! Every tool here is one NRQL query over the infrastructure agent's samples
//! (`SystemSample`, `ProcessSample`, `StorageSample`, `ContainerSample`, `K8s*Sample`) built
//! from a template ([`super::nrql_tool`]), rendered with the hot spots first: busiest hosts,
//! fullest disks, restarting containers, pods that are not ready.

mod containers;
mod hosts;

use std::sync::Arc;

use newrelic_mcp_actors::tool::{Plugin, Tool};

use super::data_access::NrqlSettings;

const CATEGORY: &str = "infrastructure";
/// Utilisation, in percent, worth calling out (CPU, memory, disk).
const HOT_PCT: f64 = 90.0;

pub struct InfrastructurePlugin {
    tools: Vec<Arc<dyn Tool>>,
}

impl InfrastructurePlugin {
    pub fn new(settings: NrqlSettings) -> Self {
        let policy = &settings.policy;
        let mut tools = hosts::tools(policy);
        tools.extend(containers::tools(policy));
        Self { tools }
    }
}

impl Default for InfrastructurePlugin {
    fn default() -> Self {
        Self::new(NrqlSettings::default())
    }
}

super::builtin::builtin_plugin!(
    InfrastructurePlugin,
    "infrastructure",
    "Hosts, processes, disks, containers and Kubernetes"
);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tools::nrql_tool::parse_all;

    #[test]
    fn every_query_shape_parses() {
        parse_all(&hosts::shapes()).unwrap();
        parse_all(&containers::shapes()).unwrap();
    }

    #[test]
    fn offers_the_hosted_servers_tool_names_in_one_category() {
        let plugin = InfrastructurePlugin::default();
        let mut names: Vec<String> = plugin.tools().iter().map(|t| t.descriptor().name.clone()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "get_container_metrics",
                "get_disk_usage",
                "get_host_metrics",
                "get_kubernetes_metrics",
                "get_process_metrics",
                "list_hosts"
            ]
        );
        for tool in plugin.tools() {
            let descriptor = tool.descriptor();
            assert_eq!(descriptor.category, CATEGORY);
            assert!(descriptor.hints.read_only && descriptor.cache_ttl.is_some(), "{}", descriptor.name);
            assert!(descriptor.input_schema["properties"].get("account_id").is_some(), "{}", descriptor.name);
        }
    }
}
