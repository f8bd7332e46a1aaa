//! The public entry point: configure, start, call, observe, stop.
//!
//! [`Runtime::start`] spawns the root supervisor, which starts every component. The
//! [`RuntimeHandle`] is what the MCP front holds: cheap to clone, and its [`call`] never
//! hangs. When a component crashes mid-call the caller's reply port is dropped; the handle
//! then waits (briefly) for the restart and sends the call once more, as attempt 2, which
//! the front door re-executes only for read-only tools.
//!
//! [`call`]: RuntimeHandle::call

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use ractor::rpc::CallResult as RpcCallResult;
use ractor::{Actor, ActorRef};
use tokio::sync::{Notify, broadcast, oneshot};
use tokio_util::sync::CancellationToken;

use crate::breaker::{BreakerConfig, BreakerMsg};
use crate::call::{CallError, CallResult, RuntimeStats, ToolCall};
use crate::counters::Counters;
use crate::front_door::FrontDoorMsg;
use crate::names::ActorNames;
use crate::rate_limit::{NEW_RELIC_NRQL_PER_MINUTE, NrqlRateLimiter};
use crate::registry::{RegistryError, RegistryMsg};
use crate::signer::actor::SignerState;
use crate::signer::{SignerArgs, SignerConfig, SigningKey};
use crate::supervisor::{RestartBudget, RootSupervisor, SupervisorArgs, SupervisorMsg};
use crate::tool::{DuplicateTool, PlanContext, Plugin, ToolError, ToolErrorKind, ToolFilter, ToolTable};
use crate::upstream::Upstream;

/// How long management requests (tool list, plugin changes, stats) wait for an actor.
const MANAGEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Capacity of the tool-list-changed channel; a subscriber that lags only misses generations.
const TOOL_CHANGES_CAPACITY: usize = 64;

#[derive(Clone)]
pub struct RuntimeConfig {
    /// Cache shards (actors); a key's shard is fixed by its hash.
    pub cache_shards: usize,
    /// Bytes the whole cache may hold, split evenly across shards.
    pub cache_capacity_bytes: u64,
    /// Callers that may wait on one in-flight fill; the next gets an "overloaded" error.
    pub max_waiters_per_key: usize,
    /// Fills one shard may run at once; the next miss gets an "overloaded" error.
    pub max_fills_per_shard: usize,
    /// Upstream calls in flight at most.
    pub executor_workers: usize,
    /// Calls that may wait for a worker; the next gets an "overloaded" error at once.
    pub executor_queue: usize,
    /// NRQL queries one account may send upstream per minute (bursts up to the same
    /// number); past it a query is refused with a `RateLimited` error. Cache hits are free.
    pub nrql_per_minute: u32,
    pub breaker: BreakerConfig,
    pub restart_budget: RestartBudget,
    /// Plan context template; `now_epoch_ms` is ignored and read per call.
    pub plan_defaults: PlanContext,
    pub tool_filter: ToolFilter,
    /// Lifetimes and bounds of write confirmations and of the confirmed-write record.
    pub signer: SignerConfig,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            cache_shards: std::thread::available_parallelism().map_or(1, usize::from),
            cache_capacity_bytes: 64 * 1024 * 1024,
            max_waiters_per_key: 10_000,
            max_fills_per_shard: 10_000,
            executor_workers: 20,
            executor_queue: 256,
            nrql_per_minute: NEW_RELIC_NRQL_PER_MINUTE,
            breaker: BreakerConfig::default(),
            restart_budget: RestartBudget::default(),
            plan_defaults: PlanContext {
                default_account: None,
                allowed_accounts: None,
                now_epoch_ms: 0,
                default_timeout: Duration::from_secs(30),
            },
            tool_filter: ToolFilter::default(),
            signer: SignerConfig::default(),
        }
    }
}

impl RuntimeConfig {
    fn validate(&self) -> Result<(), StartError> {
        let checks = [
            (self.cache_shards == 0, "cache_shards must be at least 1"),
            (self.executor_workers == 0, "executor_workers must be at least 1"),
            (self.max_waiters_per_key == 0, "max_waiters_per_key must be at least 1"),
            (self.max_fills_per_shard == 0, "max_fills_per_shard must be at least 1"),
            (self.nrql_per_minute == 0, "nrql_per_minute must be at least 1"),
            (self.breaker.failure_threshold == 0, "breaker.failure_threshold must be at least 1"),
            (self.plan_defaults.default_timeout.is_zero(), "plan_defaults.default_timeout must be positive"),
        ];
        match checks.into_iter().find(|(failed, _)| *failed) {
            Some((_, message)) => Err(StartError::InvalidConfig(message.to_string())),
            None => Ok(()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid runtime configuration: {0}")]
    InvalidConfig(String),
    #[error("cannot build the tool table: {0}")]
    DuplicateTool(#[from] DuplicateTool),
    #[error("the actor runtime failed to start: {0}")]
    Spawn(String),
}

pub struct Runtime;

/// A random key for this process's confirmation tokens. Tokens never outlive the process,
/// so nothing needs it to be configured or stored.
fn fresh_signing_key() -> Result<SigningKey, StartError> {
    let secret: [u8; 32] = rand::random();
    SigningKey::new(&secret).map_err(|error| StartError::InvalidConfig(error.to_string()))
}

impl Runtime {
    /// Starts every component under the root supervisor.
    pub async fn start(
        config: RuntimeConfig,
        upstream: Arc<dyn Upstream>,
        plugins: Vec<Arc<dyn Plugin>>,
    ) -> Result<RuntimeHandle, StartError> {
        config.validate()?;
        let nrql_per_minute = NonZeroU32::new(config.nrql_per_minute)
            .ok_or_else(|| StartError::InvalidConfig("nrql_per_minute must be at least 1".to_string()))?;
        ToolTable::build(&plugins, &config.tool_filter, 0)?;
        let signing_key = fresh_signing_key()?;
        SignerState::new(SignerArgs { key: signing_key.clone(), config: config.signer.clone() })
            .map_err(|error| StartError::InvalidConfig(error.to_string()))?;
        let names = ActorNames::unique();
        let counters = Arc::new(Counters::new(config.cache_shards));
        let (changes, _) = broadcast::channel(TOOL_CHANGES_CAPACITY);
        let escalation = CancellationToken::new();
        let restarted = Arc::new(Notify::new());
        let retry_grace = (config.restart_budget.backoff_max * 2).max(Duration::from_millis(200));
        let args = SupervisorArgs {
            names: names.clone(),
            config,
            upstream,
            plugins,
            counters: counters.clone(),
            nrql_budget: Arc::new(NrqlRateLimiter::per_minute(nrql_per_minute)),
            changes: changes.clone(),
            escalation: escalation.clone(),
            restarted: restarted.clone(),
            signing_key: signing_key.clone(),
        };
        let (supervisor, join) = Actor::spawn(Some(names.supervisor()), RootSupervisor, args)
            .await
            .map_err(|error| StartError::Spawn(error.to_string()))?;
        let stopped = CancellationToken::new();
        {
            // The supervisor is the one actor nobody supervises: if it dies for any reason
            // other than shutdown, that is an escalation too.
            let escalation = escalation.clone();
            let stopped = stopped.clone();
            tokio::spawn(async move {
                let _ = join.await;
                if !stopped.is_cancelled() && !escalation.is_cancelled() {
                    tracing::error!("the root supervisor stopped unexpectedly; the runtime cannot recover");
                    escalation.cancel();
                }
                stopped.cancel();
            });
        }
        Ok(RuntimeHandle {
            inner: Arc::new(HandleInner {
                names,
                counters,
                supervisor,
                changes,
                escalation,
                restarted,
                retry_grace,
                shutting_down: CancellationToken::new(),
                stopped,
            }),
        })
    }
}

struct HandleInner {
    names: ActorNames,
    counters: Arc<Counters>,
    supervisor: ActorRef<SupervisorMsg>,
    changes: broadcast::Sender<u64>,
    escalation: CancellationToken,
    restarted: Arc<Notify>,
    /// Longest a lost call waits for a restart before its retry.
    retry_grace: Duration,
    shutting_down: CancellationToken,
    /// Cancelled once the supervisor has stopped.
    stopped: CancellationToken,
}

/// How one attempt of a call ended.
enum Attempt {
    Answered(CallResult),
    /// The front door was not there (restarting): the call never entered the runtime.
    NotDelivered,
    /// The reply port was dropped: a component crashed holding the call, which may have run.
    Lost,
}

fn cancelled() -> CallResult {
    Err(CallError::Tool(ToolError::new(ToolErrorKind::Cancelled, "the call was cancelled")))
}

fn stopped_error() -> ToolError {
    ToolError::new(
        ToolErrorKind::Internal,
        "the server's runtime stopped after repeated component failures; the server is restarting",
    )
}

fn lost_twice_error(tool: &str) -> ToolError {
    ToolError {
        retry_after: Some(Duration::from_secs(1)),
        ..ToolError::new(
            ToolErrorKind::Restarted,
            format!(
                "server components were restarting and '{tool}' could not be completed; retry in a moment"
            ),
        )
    }
}

#[derive(Clone)]
pub struct RuntimeHandle {
    inner: Arc<HandleInner>,
}

impl RuntimeHandle {
    /// Runs one call. Never hangs: a call lost to a crash is retried once (attempt 2) and
    /// then answered with a retriable `Restarted` error; cancellation answers at once.
    pub async fn call(&self, call: ToolCall) -> CallResult {
        let restarts_before = Counters::read(&self.inner.counters.restarts);
        let retry = call.clone();
        let attempt = match self.attempt(call).await {
            Attempt::Answered(result) => return result,
            // Never delivered, so nothing ran: the retry is still a first attempt.
            Attempt::NotDelivered => retry.attempt,
            Attempt::Lost => retry.attempt.saturating_add(1).max(2),
        };
        self.await_restart(restarts_before, &retry.cancel).await;
        let tool = retry.tool.clone();
        match self.attempt(ToolCall { attempt, ..retry }).await {
            Attempt::Answered(result) => result,
            _ if self.inner.escalation.is_cancelled() => Err(CallError::Tool(stopped_error())),
            Attempt::NotDelivered | Attempt::Lost => Err(CallError::Tool(lost_twice_error(&tool))),
        }
    }

    async fn attempt(&self, call: ToolCall) -> Attempt {
        if self.inner.escalation.is_cancelled() {
            return Attempt::Answered(Err(CallError::Tool(stopped_error())));
        }
        if call.cancel.is_cancelled() {
            return Attempt::Answered(cancelled());
        }
        if self.inner.shutting_down.is_cancelled() {
            return Attempt::Answered(Err(CallError::Tool(ToolError::new(
                ToolErrorKind::Restarted,
                "the server is shutting down; retry once it is back",
            ))));
        }
        let Some(front_door) = self.front_door() else { return Attempt::NotDelivered };
        let cancel = call.cancel.clone();
        let (reply, answer) = oneshot::channel();
        if front_door.cast(FrontDoorMsg::Call(call, reply.into())).is_err() {
            return Attempt::NotDelivered;
        }
        tokio::select! {
            answer = answer => match answer {
                Ok(result) => Attempt::Answered(result),
                Err(_) => Attempt::Lost,
            },
            () = cancel.cancelled() => Attempt::Answered(cancelled()),
        }
    }

    /// Waits until a restart has completed since `restarts_before` and the front door is
    /// there to take the retry, or the grace passes.
    ///
    /// Any component's restart wakes the wait, so the condition is checked again each time:
    /// under repeated crashes another component may finish restarting while the front door
    /// is still in its backoff, and a retry sent then would be lost for nothing.
    async fn await_restart(&self, restarts_before: u64, cancel: &CancellationToken) {
        let give_up = tokio::time::Instant::now() + self.inner.retry_grace;
        loop {
            let notified = self.inner.restarted.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if Counters::read(&self.inner.counters.restarts) != restarts_before && self.front_door().is_some()
            {
                return;
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(give_up) => return,
                () = cancel.cancelled() => return,
                () = self.inner.escalation.cancelled() => return,
            }
        }
    }

    fn front_door(&self) -> Option<ActorRef<FrontDoorMsg>> {
        ActorRef::where_is(self.inner.names.front_door())
    }

    fn registry(&self) -> Option<ActorRef<RegistryMsg>> {
        ActorRef::where_is(self.inner.names.registry())
    }

    /// The current tool table (empty only while the runtime is down).
    pub async fn tools(&self) -> Arc<ToolTable> {
        if let Some(front_door) = self.front_door()
            && let Ok(RpcCallResult::Success(table)) =
                front_door.call(FrontDoorMsg::ListTools, Some(MANAGEMENT_TIMEOUT)).await
        {
            return table;
        }
        if let Some(registry) = self.registry()
            && let Ok(RpcCallResult::Success(table)) =
                registry.call(RegistryMsg::Snapshot, Some(MANAGEMENT_TIMEOUT)).await
        {
            return table;
        }
        Arc::new(ToolTable::default())
    }

    /// Generations of new tool tables, as they are published.
    pub fn subscribe_tool_changes(&self) -> broadcast::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    pub async fn register_plugin(&self, plugin: Arc<dyn Plugin>) -> Result<(), RegistryError> {
        let registry = self.registry().ok_or(RegistryError::Unavailable)?;
        match registry.call(|reply| RegistryMsg::Register(plugin, reply), Some(MANAGEMENT_TIMEOUT)).await {
            Ok(RpcCallResult::Success(result)) => result,
            _ => Err(RegistryError::Unavailable),
        }
    }

    pub async fn unregister_plugin(&self, name: &str) -> Result<(), RegistryError> {
        let registry = self.registry().ok_or(RegistryError::Unavailable)?;
        let name = name.to_string();
        match registry.call(|reply| RegistryMsg::Unregister(name, reply), Some(MANAGEMENT_TIMEOUT)).await {
            Ok(RpcCallResult::Success(result)) => result,
            _ => Err(RegistryError::Unavailable),
        }
    }

    /// Swaps the loaded plugin of the same name for `plugin` in one tool-table change.
    pub async fn replace_plugin(&self, plugin: Arc<dyn Plugin>) -> Result<(), RegistryError> {
        let registry = self.registry().ok_or(RegistryError::Unavailable)?;
        match registry.call(|reply| RegistryMsg::Replace(plugin, reply), Some(MANAGEMENT_TIMEOUT)).await {
            Ok(RpcCallResult::Success(result)) => result,
            _ => Err(RegistryError::Unavailable),
        }
    }

    /// Counters, plus the breaker's state when it answers.
    pub async fn stats(&self) -> RuntimeStats {
        let breaker = ActorRef::<BreakerMsg>::where_is(self.inner.names.breaker());
        let escalated = self.inner.escalation.is_cancelled();
        crate::status::collect(&self.inner.counters, breaker, MANAGEMENT_TIMEOUT, escalated).await
    }

    /// Resolves when the supervisor has given up (the process should exit non-zero).
    pub async fn escalated(&self) {
        self.inner.escalation.cancelled().await;
    }

    /// Stops every component and the supervisor.
    pub async fn shutdown(self) {
        self.inner.shutting_down.cancel();
        let supervisor = &self.inner.supervisor;
        let _ = supervisor.call(SupervisorMsg::Shutdown, Some(MANAGEMENT_TIMEOUT)).await;
        // Mark the stop as expected before the supervisor's task ends.
        self.inner.stopped.cancel();
        let _ = supervisor.stop_and_wait(Some("shutdown".to_string()), Some(MANAGEMENT_TIMEOUT)).await;
    }

    /// Crashes a component on purpose (a no-op while that component is being restarted).
    #[cfg(feature = "chaos")]
    pub fn crash(&self, target: crate::chaos::ChaosTarget) {
        use crate::chaos::ChaosTarget;
        let names = &self.inner.names;
        match target {
            ChaosTarget::CacheShard(index) => {
                let shards = self.inner.counters.shard_entries.len().max(1);
                if let Some(shard) = ActorRef::<crate::cache::ShardMsg>::where_is(names.shard(index % shards))
                {
                    let _ = shard.cast(crate::cache::ShardMsg::Crash);
                }
            }
            ChaosTarget::ExecutorWorker => {
                if let Some(executor) = ActorRef::where_is(names.executor()) {
                    crate::executor::crash_a_worker(&executor);
                }
            }
            ChaosTarget::Breaker => {
                if let Some(breaker) = ActorRef::<BreakerMsg>::where_is(names.breaker()) {
                    let _ = breaker.cast(BreakerMsg::Crash);
                }
            }
            ChaosTarget::Registry => {
                if let Some(registry) = self.registry() {
                    let _ = registry.cast(RegistryMsg::Crash);
                }
            }
            ChaosTarget::FrontDoor => {
                if let Some(front_door) = self.front_door() {
                    let _ = front_door.cast(FrontDoorMsg::Crash);
                }
            }
            ChaosTarget::Signer => {
                if let Some(signer) = ActorRef::<crate::signer::SignerMsg>::where_is(names.signer()) {
                    let _ = signer.cast(crate::signer::SignerMsg::Crash);
                }
            }
        }
    }
}
