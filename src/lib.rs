//! newrelic-mcp: a Model Context Protocol server for New Relic.
//!
//! A map of the crate (the runtime itself lives in `newrelic-mcp-actors`):
//!
//! - [`config`]: configuration from flags, environment and TOML, in that precedence.
//! - [`nerdgraph`]: the pooled NerdGraph client, endpoint rules and outcome classes.
//! - [`sanitize`]: the filter every outgoing text passes (keys, tokens, paths, backtraces).
//! - [`tools`]: the built-in tools, one file per New Relic domain: pure plan and render.
//! - [`mcp`]: the MCP front (rmcp), the only module that sees rmcp types.
//! - [`server`]: wires config, sandbox, NerdGraph client and runtime; serves one client.
//! - [`logging`]: stderr logs, sanitized.
//! - [`cli`]: the `newrelic-mcp` command line.

pub mod cli;
pub mod config;
pub mod logging;
pub mod mcp;
pub mod nerdgraph;
pub mod sanitize;
pub mod server;
pub mod tools;
