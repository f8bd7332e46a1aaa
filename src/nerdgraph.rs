//! The NerdGraph client: the server's implementation of the runtime's
//! [`Upstream`](newrelic_mcp_actors::upstream::Upstream) seam over HTTPS.
//!
//! - [`endpoint`]: regions and the rules a custom NerdGraph URL must pass.
//! - [`classify`]: what an HTTP answer means (success, partial data, or a failure class).
//! - [`retry`]: whether and when to try again.
//! - [`shape`]: whether an answer's `data` has the shape its document asked for.
//! - [`client`]: the pooled reqwest client and the attempt loop.

pub mod classify;
pub mod client;
pub mod endpoint;
pub mod retry;
pub mod shape;

pub use classify::{classify, parse_retry_after};
pub use client::{ClientConfig, ClientError, NerdGraphClient};
pub use endpoint::{Endpoint, EndpointError, LoopbackPolicy, Region, RegionError, validate_endpoint};
pub use retry::{Delivery, RetryPolicy, retry_permitted};
