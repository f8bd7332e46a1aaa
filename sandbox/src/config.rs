//! How a sandbox is set up: its API key, the seed and anchor time of its synthetic data,
//! and the faults it injects.

use std::time::Duration;

use rand::Rng;
use rand::distr::Alphanumeric;

/// Everything a sandbox needs to start.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The only key the sandbox accepts in `API-Key`. [`SandboxConfig::default`] makes a
    /// random `NRAK-…` key; an empty key is replaced by a random one at start.
    pub api_key: String,
    /// Faults injected into responses; none by default.
    pub faults: FaultConfig,
    /// Seed of the synthetic data and of fault decisions.
    pub seed: u64,
    /// The sandbox clock in epoch milliseconds. Data covers the three days before it and
    /// NRQL's `now` is this instant. `None`: the current time rounded down to the minute.
    pub now_epoch_ms: Option<i64>,
    /// How asynchronous NRQL behaves for long queries.
    pub async_nrql: AsyncNrqlConfig,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            api_key: random_api_key(),
            faults: FaultConfig::default(),
            seed: 1,
            now_epoch_ms: None,
            async_nrql: AsyncNrqlConfig::default(),
        }
    }
}

impl SandboxConfig {
    /// The anchor time: `now_epoch_ms`, or the wall clock rounded down to the minute.
    pub fn anchor_epoch_ms(&self) -> i64 {
        self.now_epoch_ms.unwrap_or_else(|| {
            let now = chrono::Utc::now().timestamp_millis();
            now - now.rem_euclid(60_000)
        })
    }
}

/// Asynchronous NRQL (`async: true`): which queries count as long, and how many
/// `nrqlQueryProgress` polls a long one needs before its results are ready. Deterministic,
/// so that a test can make a query "run" for exactly N polls.
#[derive(Debug, Clone, PartialEq)]
pub struct AsyncNrqlConfig {
    /// Polls a long async query needs: the Nth `nrqlQueryProgress` answers its results.
    /// 0 answers every async query at once (unless injected latency makes it slow).
    pub polls: u32,
    /// The `retryAfter` the sandbox asks for while a long query runs, in seconds.
    pub retry_after_seconds: u64,
    /// A query whose time window is longer than this is long.
    pub long_window: Duration,
    /// Async queries remembered at once; past it the oldest is forgotten, and polling it
    /// answers "unknown or expired queryId".
    pub max_pending: usize,
}

impl Default for AsyncNrqlConfig {
    fn default() -> Self {
        AsyncNrqlConfig {
            polls: 2,
            retry_after_seconds: 1,
            long_window: Duration::from_secs(24 * 60 * 60),
            max_pending: 1_024,
        }
    }
}

/// A fresh user-key-shaped secret.
pub fn random_api_key() -> String {
    let suffix: String =
        rand::rng().sample_iter(&Alphanumeric).take(27).map(|c| char::from(c).to_ascii_uppercase()).collect();
    format!("NRAK-{suffix}")
}

/// Faults to inject, each as a probability per request (0.0–1.0; values outside are
/// clamped). Decisions come from the seed and the request's sequence number, so a run with
/// the same seed injects the same faults into the same requests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    /// Added to every response.
    pub latency: Duration,
    /// Up to this much more, drawn per request.
    pub latency_jitter: Duration,
    /// HTTP 500/502/503/504.
    pub error_5xx_rate: f64,
    /// HTTP 429 with `Retry-After`.
    pub rate_429_rate: f64,
    /// The `Retry-After` value of 429 answers, in seconds.
    pub retry_after_seconds: u64,
    /// HTTP 200 with a `TIMEOUT` GraphQL error on the NRQL field (or the first root field).
    pub graphql_timeout_rate: f64,
    /// HTTP 200 with a truncated JSON body.
    pub malformed_body_rate: f64,
    /// HTTP 200 with valid JSON of the wrong shape: `data.actor` is a string.
    pub wrong_shape_rate: f64,
    /// The connection is closed without a response.
    pub drop_connection_rate: f64,
    /// No response until the client goes away (or the sandbox shuts down).
    pub hang_rate: f64,
}
