//! Wires the parts together: sandbox (when asked), NerdGraph client, runtime, manifest
//! plugins (loaded, watched, reloaded on SIGHUP), MCP front.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use newrelic_mcp_actors::runtime::{Runtime, RuntimeConfig, RuntimeHandle};
use newrelic_mcp_actors::tool::{PlanContext, Plugin};
use newrelic_mcp_sandbox::{AsyncNrqlConfig, FaultConfig, SandboxConfig, SandboxHandle};
use secrecy::SecretString;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::{ConfigError, KnownNames, SandboxSettings, Settings, Target, tool_names};
use crate::mcp::{McpFront, ServeError};
use crate::nerdgraph::endpoint::{Endpoint, LoopbackPolicy};
use crate::nerdgraph::{ClientConfig, NerdGraphClient};
use crate::plugins::{PluginEnv, PluginError, PluginManager, Reserved, load_dir};
use crate::tools;
use crate::tools::data_access::NrqlSettings;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the built-in sandbox did not start: {0}")]
    Sandbox(String),
    #[error("the NerdGraph client could not be built: {0}")]
    Client(String),
    #[error("the runtime did not start: {0}")]
    Runtime(String),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(transparent)]
    Plugins(#[from] PluginError),
    #[error(
        "a component kept failing past its restart budget; exiting so a supervisor can restart the process"
    )]
    Escalated,
}

impl ServerError {
    /// Process exit code: 70 (internal software error) for escalation, the configuration's
    /// own code (2) for a bad setting, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Escalated => 70,
            Self::Config(error) => error.exit_code(),
            _ => 1,
        }
    }
}

/// The running product: the runtime, and the sandbox it talks to when there is one.
pub struct Server {
    pub runtime: RuntimeHandle,
    sandbox: Option<SandboxHandle>,
    plugins: PluginManager,
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
        async_nrql: AsyncNrqlConfig {
            polls: settings.async_polls.unwrap_or(defaults.async_nrql.polls),
            retry_after_seconds: settings
                .async_retry_after_seconds
                .unwrap_or(defaults.async_nrql.retry_after_seconds),
            ..defaults.async_nrql.clone()
        },
        ..defaults
    }
}

impl Server {
    /// Starts the sandbox (with `--sandbox`), the NerdGraph client and the supervised runtime.
    pub async fn start(settings: &Settings) -> Result<Self, ServerError> {
        check_tool_selection(settings)?;
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
        let mut client_config = ClientConfig::new(endpoint, api_key);
        client_config.retry.max_attempts = settings.upstream_attempts;
        let client =
            NerdGraphClient::new(client_config).map_err(|error| ServerError::Client(error.to_string()))?;
        let config = runtime_config(settings, default_account);
        let tool_settings = tools::ToolSettings {
            nrql: NrqlSettings { policy: Arc::new(settings.nrql_policy.clone()) },
            write_access: settings.tool_filter.write_access,
            accounts: tools::server::AccountScope {
                default_account,
                allowed_accounts: settings.allowed_accounts.as_deref().map(Arc::from),
            },
        };
        let builtins = tools::builtin_plugins_with(&tool_settings);
        let plugin_env =
            PluginEnv { policy: Arc::new(settings.nrql_policy.clone()), reserved: Reserved::of(&builtins) };
        let runtime = Runtime::start(config, Arc::new(client), builtins)
            .await
            .map_err(|error| ServerError::Runtime(error.to_string()))?;
        let plugin_dir = settings.plugin_dir.as_deref();
        let plugins = match PluginManager::start(plugin_dir, runtime.clone(), plugin_env).await {
            Ok((plugins, _)) => plugins,
            Err(error) => {
                runtime.shutdown().await;
                if let Some(sandbox) = sandbox {
                    sandbox.shutdown().await;
                }
                return Err(error.into());
            }
        };
        Ok(Self { runtime, sandbox, plugins })
    }

    /// The manifest plugins of the plugin directory.
    pub fn plugins(&self) -> &PluginManager {
        &self.plugins
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
        self.plugins.stop();
        self.runtime.shutdown().await;
        if let Some(sandbox) = self.sandbox {
            sandbox.shutdown().await;
        }
    }
}

/// Refuses a tool-selection list that names a tool or category neither a built-in plugin nor a
/// manifest of the plugin directory has, before anything starts. Manifests are read here the
/// way `plugins check` reads them; the filter itself applies to every later tool table too,
/// so a tool a reload brings under a disabled name stays hidden.
fn check_tool_selection(settings: &Settings) -> Result<(), ServerError> {
    let mut known = KnownNames::new();
    known.add(&tools::builtin_plugins());
    if let Some(dir) = settings.plugin_dir.as_deref() {
        let builtins = tools::builtin_plugins();
        let policy = Arc::new(settings.nrql_policy.clone());
        let now_epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX));
        let assembly = load_dir(dir, &policy, &Reserved::of(&builtins), now_epoch_ms)
            .map_err(|error| PluginError::Directory { dir: error.dir, reason: error.reason })?;
        let manifests: Vec<Arc<dyn Plugin>> =
            assembly.plugins.iter().map(|plugin| plugin.clone() as Arc<dyn Plugin>).collect();
        known.add(&manifests);
    }
    tool_names::check(&settings.tool_selection, &known).map_err(|error| ConfigError::from(error).into())
}

fn runtime_config(settings: &Settings, default_account: Option<i64>) -> RuntimeConfig {
    let mut config = RuntimeConfig::default();
    if let Some(shards) = settings.cache_shards {
        config.cache_shards = shards;
    }
    config.cache_capacity_bytes = settings.cache_capacity_bytes;
    config.executor_workers = settings.executor_workers;
    config.executor_queue = settings.executor_queue;
    config.nrql_per_minute = settings.nrql_per_minute;
    config.breaker.failure_threshold = settings.breaker_failure_threshold;
    config.breaker.open_for = settings.breaker_open_for;
    config.plan_defaults = PlanContext {
        default_account,
        allowed_accounts: settings.allowed_accounts.as_deref().map(Arc::from),
        now_epoch_ms: 0,
        default_timeout: settings.default_timeout,
    };
    config.tool_filter = settings.tool_filter.clone();
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
