//! A NerdGraph-compatible local server with deterministic synthetic telemetry and fault
//! injection.
//!
//! It lets the product run on a machine with no New Relic account and gives tests and load
//! tests a faithful upstream: it checks the API key, validates every GraphQL document
//! against a subset of the real NerdGraph schema, executes it over a generated world
//! ([`Dataset`]) and evaluates NRQL with the `newrelic-mcp-nrql` parser. Faults (latency,
//! 5xx, 429, GraphQL timeouts, malformed bodies, dropped connections, hangs) are injected
//! deterministically per seed and counted in [`SandboxStats`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), newrelic_mcp_sandbox::SandboxError> {
//! let sandbox = newrelic_mcp_sandbox::spawn(Default::default()).await?;
//! println!("NerdGraph at {} with key {}", sandbox.url(), sandbox.api_key());
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod config;
pub mod data;
mod entity_search;
mod error;
pub mod graphql;
pub mod nrql_eval;
mod resolvers;
mod server;
mod world;

pub use config::{AsyncNrqlConfig, FaultConfig, SandboxConfig, random_api_key};
pub use data::Dataset;
pub use error::SandboxError;
pub use server::{FaultCounts, SandboxHandle, SandboxStats, run, spawn};

/// The synthetic world a sandbox with this configuration serves, for tests that recompute
/// answers independently.
pub fn dataset(config: &SandboxConfig) -> Dataset {
    Dataset::generate(config.seed, config.anchor_epoch_ms())
}
