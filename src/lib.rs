//! newrelic-mcp: a Model Context Protocol server for New Relic.
//!
//! A map of the crate (the runtime itself lives in `newrelic-mcp-actors`):
//!
//! - [`config`]: configuration from flags, environment and TOML, in that precedence.
//! - [`nerdgraph`]: the pooled NerdGraph client, endpoint rules and outcome classes.
//! - [`sanitize`]: the filter every outgoing text passes (keys, tokens, paths, backtraces).
//! - [`tools`]: the built-in tools, one file per New Relic domain: pure plan and render.
//! - [`plugins`]: tools declared in TOML manifests, loaded from a directory and hot-reloaded.
//! - [`mcp`]: the MCP front (rmcp), the only module that sees rmcp types.
//! - [`server`]: wires config, sandbox, NerdGraph client and runtime; serves one client.
//! - [`logging`]: stderr logs, sanitized.
//! - [`loadtest`]: the `loadtest` harness: concurrent tool calls at a stdio MCP server, and a report.
//! - [`cli`]: the `newrelic-mcp` command line.
//! - `chaos` (feature `chaos` only): deliberate crashes of runtime components.

#[cfg(feature = "chaos")]
pub mod chaos;
pub mod cli;
pub mod config;
pub mod loadtest;
pub mod logging;
pub mod mcp;
pub mod nerdgraph;
pub mod plugins;
pub mod sanitize;
pub mod server;
pub mod tools;
