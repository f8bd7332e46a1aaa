//! The supervised actor runtime of newrelic-mcp, independent of any transport.
//!
//! A map of the crate:
//!
//! - [`tool`]: what a tool is to the runtime (descriptor, pure `plan`, renderer) and the
//!   immutable [`ToolTable`](tool::ToolTable) snapshot the front door routes on.
//! - [`upstream`]: the [`Upstream`](upstream::Upstream) seam (GraphQL in, JSON out) and the
//!   failure classes that decide retries and breaker trips.
//! - [`call`]: a call entering the runtime and every way it can end.
//! - [`runtime`]: the entry point — [`Runtime::start`](runtime::Runtime::start) and the
//!   [`RuntimeHandle`](runtime::RuntimeHandle) the MCP front calls through.
//! - [`front_door`]: resolves, plans and routes each call without ever waiting on it.
//! - [`cache`]: cache shards with per-entry TTL and coalescing of concurrent misses.
//! - [`executor`]: the bounded pool (a ractor factory) that makes upstream calls, follows
//!   pagination and sheds load with an immediate "overloaded" error.
//! - [`breaker`]: the circuit breaker per upstream endpoint and its pure state machine.
//! - [`rate_limit`]: the per-account NRQL budget that keeps this server under New Relic's
//!   limit of NRQL queries per account per minute.
//! - [`registry`]: loaded plugins and the tool-table snapshots they produce.
//! - [`supervisor`]: the root supervisor and its restart budget.
//! - `status`: the runtime's live figures, for [`RuntimeHandle::stats`](runtime::RuntimeHandle::stats)
//!   and for tools that report on the server itself.
//! - [`links`]: the addresses components reach each other by, replaced after restarts.
//! - [`signer`]: HMAC request signatures, the replay ledger, single-use confirmation
//!   tokens for write tools and the record that makes a confirmed write idempotent.
//! - [`writes`]: the two-step protocol every write goes through (preview and token, then
//!   apply once and read back).
//! - `chaos` (feature `chaos`): deliberate crashes for tests and load tests.

pub mod breaker;
pub mod cache;
pub mod call;
#[cfg(feature = "chaos")]
pub mod chaos;
mod counters;
pub mod executor;
pub mod front_door;
pub mod links;
mod names;
pub mod rate_limit;
pub mod registry;
pub mod runtime;
pub mod signer;
mod status;
pub mod supervisor;
pub mod tool;
pub mod upstream;
pub mod writes;

#[cfg(feature = "chaos")]
pub use chaos::ChaosTarget;
pub use registry::RegistryError;
pub use runtime::{Runtime, RuntimeConfig, RuntimeHandle, StartError};
