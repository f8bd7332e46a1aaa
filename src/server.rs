//! Wires the parts together: sandbox (when asked), NerdGraph client, runtime, MCP front.

use std::sync::Arc;

use newrelic_mcp_actors::runtime::{Runtime, RuntimeConfig, RuntimeHandle};
use newrelic_mcp_actors::tool::{PlanContext, ToolFilter};
use newrelic_mcp_sandbox::{FaultConfig, SandboxConfig, SandboxHandle};
use secrecy::SecretString;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::{SandboxSettings, Settings, Target};
use crate::mcp::{McpFront, ServeError};
use crate::nerdgraph::endpoint::{Endpoint, LoopbackPolicy};
use crate::nerdgraph::{ClientConfig, NerdGraphClient};
use crate::tools;
use crate::tools::data_access::NrqlSettings;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("the built-in sandbox did not start: {0}")]
    Sandbox(String),
    #[error("the NerdGraph client could not be built: {0}")]
    Client(String),
    #[error("the runtime did not start: {0}")]
    Runtime(String),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(
        "a component kept failing past its restart budget; exiting so a supervisor can restart the process"
    )]
    Escalated,
}

impl ServerError {
    /// Process exit code: 70 (internal software error) for escalation, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Escalated => 70,
            _ => 1,
        }
    }
}

/// The running product: the runtime, and the sandbox it talks to when there is one.
pub struct Server {
    pub runtime: RuntimeHandle,
    sandbox: Option<SandboxHandle>,
}

/// The sandbox's fault settings as its crate spells them.
pub fn sandbox_config(settings: &SandboxSettings) -> SandboxConfig {
    let defaults = SandboxConfig::default();
    SandboxConfig {
        faults: FaultConfig {
            latency: settings.latency,
            error_5xx_rate: settings.error_5xx_rate,
            rate_429_rate: settings.rate_429_rate,
            retry_after_seconds: 1,
            graphql_timeout_rate: settings.graphql_timeout_rate,
            ..FaultConfig::default()
        },
        seed: settings.seed.unwrap_or(defaults.seed),
        ..defaults
    }
}

impl Server {
    /// Starts the sandbox (with `--sandbox`), the NerdGraph client and the supervised runtime.
    pub async fn start(settings: &Settings) -> Result<Self, ServerError> {
        let (endpoint, api_key, sandbox, default_account) = match &settings.target {
            Target::Sandbox(sandbox_settings) => {
                let handle = newrelic_mcp_sandbox::spawn(sandbox_config(sandbox_settings))
                    .await
                    .map_err(|error| ServerError::Sandbox(error.to_string()))?;
                let endpoint = Endpoint::custom(&handle.url(), LoopbackPolicy::Permit)
                    .map_err(|error| ServerError::Sandbox(error.to_string()))?;
                let key = SecretString::from(handle.api_key().to_string());
                // With no account configured, the sandbox's first account is the natural default.
                let account =
                    settings.default_account.or_else(|| handle.dataset().accounts.first().map(|a| a.id));
                (endpoint, key, Some(handle), account)
            }
            Target::NewRelic { api_key, endpoint } => {
                (endpoint.clone(), api_key.clone(), None, settings.default_account)
            }
        };
        let client = NerdGraphClient::new(ClientConfig::new(endpoint, api_key))
            .map_err(|error| ServerError::Client(error.to_string()))?;
        let config = runtime_config(settings, default_account);
        let tool_settings =
            tools::ToolSettings { nrql: NrqlSettings { policy: Arc::new(settings.nrql_policy.clone()) } };
        let runtime = Runtime::start(config, Arc::new(client), tools::builtin_plugins_with(&tool_settings))
            .await
            .map_err(|error| ServerError::Runtime(error.to_string()))?;
        Ok(Self { runtime, sandbox })
    }

    /// Serves one MCP client over `reader`/`writer` until it leaves, the runtime escalates,
    /// or `shutdown` resolves.
    pub async fn serve<R, W>(
        &self,
        reader: R,
        writer: W,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServerError>
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let front = McpFront::new(self.runtime.clone());
        tokio::select! {
            served = front.serve(reader, writer) => served.map_err(ServerError::from),
            _ = self.runtime.escalated() => Err(ServerError::Escalated),
            _ = shutdown => Ok(()),
        }
    }

    /// The in-process sandbox, when the server runs on one.
    pub fn sandbox(&self) -> Option<&SandboxHandle> {
        self.sandbox.as_ref()
    }

    pub async fn stop(self) {
        self.runtime.shutdown().await;
        if let Some(sandbox) = self.sandbox {
            sandbox.shutdown().await;
        }
    }
}

fn runtime_config(settings: &Settings, default_account: Option<i64>) -> RuntimeConfig {
    let mut config = RuntimeConfig::default();
    if let Some(shards) = settings.cache_shards {
        config.cache_shards = shards;
    }
    config.cache_capacity_bytes = settings.cache_capacity_bytes;
    config.executor_workers = settings.executor_workers;
    config.executor_queue = settings.executor_queue;
    config.plan_defaults = PlanContext {
        default_account,
        allowed_accounts: settings.allowed_accounts.as_deref().map(Arc::from),
        now_epoch_ms: 0,
        default_timeout: settings.default_timeout,
    };
    config.tool_filter = ToolFilter::default();
    config
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
