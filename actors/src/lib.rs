//! The supervised actor runtime of newrelic-mcp, independent of any transport.
//!
//! A map of the crate:
//!
//! - [`tool`]: what a tool is to the runtime (descriptor, pure `plan`, renderer) and the
//!   immutable [`ToolTable`](tool::ToolTable) snapshot the front door routes on.
//! - [`upstream`]: the [`Upstream`](upstream::Upstream) seam (GraphQL in, JSON out) and the
//!   failure classes that decide retries and breaker trips.
//! - [`call`]: a call entering the runtime and every way it can end.

pub mod call;
pub mod tool;
pub mod upstream;
