//! The built-in tools, one file per New Relic domain, each a plugin of the runtime.
//!
//! A tool here is two pure functions around a documented argument struct: `plan` turns
//! validated arguments into a GraphQL request (or a local answer), `render` turns the
//! response into structured content plus a compact text, capped so a large result cannot
//! flood a model's context. Names and arguments follow New Relic's hosted MCP server so
//! prompts written for it work here.

pub(crate) mod account;
mod builtin;
mod embedded_nrql;
mod entity_ref;
mod nrql_tool;
mod render;
mod time_buckets;

pub mod alerting;
pub mod changes;
pub mod dashboards;
pub mod data_access;
pub mod discovery;
pub mod errors;
pub mod incidents;
pub mod infrastructure;
pub mod logs;
pub mod performance;
pub mod raw;
pub mod relationships;
pub mod reports;
pub mod server;
pub mod synthetics;
pub mod time_period;
pub mod writes;

use std::sync::Arc;

use newrelic_mcp_actors::tool::{Plugin, WriteAccess};

/// Settings the built-in tools are made with.
#[derive(Debug, Clone, Default)]
pub struct ToolSettings {
    pub nrql: data_access::NrqlSettings,
    /// Whether `query_nerdgraph` may run mutations (and its hints say so).
    pub write_access: WriteAccess,
    /// The configured accounts, which the server tools report and check `account_id` against.
    pub accounts: server::AccountScope,
}

/// The built-in plugins with default settings, in load order.
pub fn builtin_plugins() -> Vec<Arc<dyn Plugin>> {
    builtin_plugins_with(&ToolSettings::default())
}

/// The built-in plugins, in load order.
pub fn builtin_plugins_with(settings: &ToolSettings) -> Vec<Arc<dyn Plugin>> {
    vec![
        Arc::new(discovery::DiscoveryPlugin::new()),
        Arc::new(data_access::DataAccessPlugin::new(settings.nrql.clone())),
        Arc::new(alerting::AlertingPlugin::new()),
        Arc::new(performance::PerformancePlugin::new(settings.nrql.clone())),
        Arc::new(infrastructure::InfrastructurePlugin::new(settings.nrql.clone())),
        Arc::new(logs::LogsPlugin::new(settings.nrql.clone())),
        Arc::new(dashboards::DashboardsPlugin::new()),
        Arc::new(relationships::RelationshipsPlugin::new(settings.nrql.clone())),
        Arc::new(synthetics::SyntheticsPlugin::new(settings.nrql.clone())),
        Arc::new(incidents::IncidentsPlugin::new()),
        Arc::new(changes::ChangesPlugin::new(settings.nrql.clone())),
        Arc::new(errors::ErrorsPlugin::new(settings.nrql.clone())),
        Arc::new(reports::ReportsPlugin::new(settings.nrql.clone())),
        Arc::new(server::ServerPlugin::with_accounts(settings.accounts.clone())),
        Arc::new(raw::RawPlugin::new(settings.write_access)),
        Arc::new(writes::WritesPlugin::new(settings.nrql.clone())),
    ]
}

/// Every GraphQL document a built-in tool can send, by operation name, for the contract test.
pub fn graphql_documents() -> Vec<(&'static str, &'static str)> {
    let mut documents = Vec::new();
    documents.extend_from_slice(discovery::DOCUMENTS);
    documents.extend_from_slice(data_access::DOCUMENTS);
    documents.extend_from_slice(alerting::DOCUMENTS);
    documents.extend_from_slice(dashboards::DOCUMENTS);
    documents.extend_from_slice(relationships::DOCUMENTS);
    documents.extend_from_slice(synthetics::DOCUMENTS);
    documents.extend_from_slice(incidents::DOCUMENTS);
    documents.extend_from_slice(changes::DOCUMENTS);
    documents.extend_from_slice(reports::DOCUMENTS);
    documents.extend(writes::documents());
    documents
}
