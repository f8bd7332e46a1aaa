//! The root supervisor: starts every component linked to itself, restarts a failed one
//! under a [`RestartBudget`], tells dependents the new address, and escalates when the
//! budget is spent.
//!
//! # Why not `ractor-supervisor`
//!
//! `ractor-supervisor` 0.2 was evaluated. It offers OTP strategies, meltdown counting and
//! backoff, but its children are spawned through type-erased closures returning an
//! `ActorCell`, so after a restart there is no typed `ActorRef` to hand to dependents, and
//! it has no hook for doing so: the front door would keep a dead shard's address. Its
//! meltdown simply stops the supervisor abnormally, where this runtime needs one clear log
//! line plus a signal the binary can turn into a non-zero exit; it logs through `log`
//! rather than `tracing`; and it requires globally registered names that it derives itself.
//! What the runtime needs from it is small, so the policy lives in [`budget`] (a pure,
//! table-tested function) and this actor applies it with `spawn_linked`, an overridden
//! `handle_supervisor_evt` and `send_after` for backoff, rewiring dependents itself.
//!
//! # Who learns what after a restart
//!
//! | restarted       | told                                                      |
//! |-----------------|-----------------------------------------------------------|
//! | circuit breaker | front door and shards (jobs carry the breaker to workers)  |
//! | executor pool   | front door and shards                                     |
//! | cache shard *i* | front door                                                |
//! | front door      | registry (re-pushes its table); callers resolve it by name |
//! | registry        | starts with the latest plugin list and the front door      |
//! | signer          | front door (pending confirmations are lost: a token the new |
//! |                 | signer never issued is refused, and the caller asks again) |
//!
//! Executor workers are restarted by the pool itself (ractor's factory replaces a worker
//! that dies); the pool reports each replacement here so it counts against the budget.

pub mod budget;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ractor::rpc::CallResult as RpcCallResult;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SpawnErr, SupervisionEvent};
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use self::budget::{RestartBudget, RestartDecision, RestartLedger};
use crate::breaker::{BreakerArgs, BreakerMsg, CircuitBreaker};
use crate::cache::{CacheShard, ShardArgs, ShardLimits, ShardMsg};
use crate::counters::Counters;
use crate::executor::{self, ExecutorConfig, ExecutorRef, WorkerReplaced};
use crate::front_door::{FrontDoor, FrontDoorArgs, FrontDoorMsg};
use crate::links::Links;
use crate::names::ActorNames;
use crate::rate_limit::NrqlRateLimiter;
use crate::registry::{PluginRegistry, RegistryArgs, RegistryListener, RegistryMsg};
use crate::runtime::RuntimeConfig;
use crate::signer::{SignerArgs, SignerMsg, SignerNonceStore, SigningKey};
use crate::tool::{Plugin, ToolTable};
use crate::upstream::Upstream;

/// How long shutdown waits for the components to stop.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// A supervised component; each has its own restart ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component {
    CircuitBreaker,
    ExecutorPool,
    /// Any worker of the pool (the pool restarts them; the budget is shared).
    ExecutorWorker,
    CacheShard(usize),
    FrontDoor,
    PluginRegistry,
    SignerNonceStore,
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CircuitBreaker => f.write_str("circuit breaker"),
            Self::ExecutorPool => f.write_str("executor pool"),
            Self::ExecutorWorker => f.write_str("executor worker"),
            Self::CacheShard(index) => write!(f, "cache shard {index}"),
            Self::FrontDoor => f.write_str("front door"),
            Self::PluginRegistry => f.write_str("plugin registry"),
            Self::SignerNonceStore => f.write_str("signer"),
        }
    }
}

pub(crate) enum SupervisorMsg {
    /// Backoff elapsed: start a replacement for `component`, which failed at `failed_at`.
    Restart { component: Component, failed_at: Instant },
    /// The executor pool replaced a crashed worker.
    WorkerReplaced { at: Instant },
    /// The registry's plugins changed; kept so that a restarted registry starts with them.
    RegistryChanged { plugins: Vec<Arc<dyn Plugin>>, table: Arc<ToolTable> },
    /// Stop every component without restarting any.
    Shutdown(RpcReplyPort<()>),
}

pub(crate) struct RootSupervisor;

pub(crate) struct SupervisorArgs {
    pub names: ActorNames,
    pub config: RuntimeConfig,
    pub upstream: Arc<dyn Upstream>,
    pub plugins: Vec<Arc<dyn Plugin>>,
    pub counters: Arc<Counters>,
    /// Shared by every executor worker; outlives restarts of the pool.
    pub nrql_budget: Arc<NrqlRateLimiter>,
    pub changes: broadcast::Sender<u64>,
    /// Cancelled when the budget is spent.
    pub escalation: CancellationToken,
    /// Woken after every completed restart (callers waiting to retry).
    pub restarted: Arc<Notify>,
    /// The confirmation-token key, fixed for the process so a restarted signer keeps
    /// recognising (and refusing as forgotten, not as forged) tokens it issued before.
    pub signing_key: SigningKey,
}

pub(crate) struct SupervisorState {
    args: SupervisorArgs,
    table: Arc<ToolTable>,
    links: Links,
    front_door: ActorRef<FrontDoorMsg>,
    registry: ActorRef<RegistryMsg>,
    children: HashMap<ActorId, Component>,
    ledgers: HashMap<Component, RestartLedger>,
    stopping: bool,
}

/// Starts components linked to the supervisor, with the arguments they were first given.
struct Spawner<'a> {
    args: &'a SupervisorArgs,
    myself: &'a ActorRef<SupervisorMsg>,
}

impl Spawner<'_> {
    async fn breaker(&self) -> Result<ActorRef<BreakerMsg>, SpawnErr> {
        let args = BreakerArgs {
            endpoint: self.args.upstream.endpoint().to_string(),
            config: self.args.config.breaker,
        };
        let name = Some(self.args.names.breaker());
        Ok(Actor::spawn_linked(name, CircuitBreaker, args, self.myself.get_cell()).await?.0)
    }

    async fn executor(&self) -> Result<ExecutorRef, SpawnErr> {
        let supervisor = self.myself.clone();
        let on_replace: WorkerReplaced = Arc::new(move || {
            let _ = supervisor.cast(SupervisorMsg::WorkerReplaced { at: Instant::now() });
        });
        let config = ExecutorConfig {
            workers: self.args.config.executor_workers,
            queue: self.args.config.executor_queue,
        };
        executor::spawn_executor(
            self.args.names.executor(),
            config,
            self.args.upstream.clone(),
            self.args.counters.clone(),
            self.args.nrql_budget.clone(),
            on_replace,
            self.myself.get_cell(),
        )
        .await
    }

    async fn signer(&self) -> Result<ActorRef<SignerMsg>, SpawnErr> {
        let args = SignerArgs { key: self.args.signing_key.clone(), config: self.args.config.signer.clone() };
        let name = Some(self.args.names.signer());
        Ok(Actor::spawn_linked(name, SignerNonceStore, args, self.myself.get_cell()).await?.0)
    }

    async fn shard(&self, index: usize, links: Links) -> Result<ActorRef<ShardMsg>, SpawnErr> {
        let config = &self.args.config;
        let shards = config.cache_shards.max(1) as u64;
        let limits = ShardLimits {
            capacity_bytes: (config.cache_capacity_bytes / shards).max(1),
            max_fills: config.max_fills_per_shard,
            max_waiters_per_key: config.max_waiters_per_key,
        };
        let args = ShardArgs { index, limits, links, counters: self.args.counters.clone() };
        let name = Some(self.args.names.shard(index));
        Ok(Actor::spawn_linked(name, CacheShard, args, self.myself.get_cell()).await?.0)
    }

    async fn registry(
        &self,
        plugins: Vec<Arc<dyn Plugin>>,
        front_door: Option<ActorRef<FrontDoorMsg>>,
    ) -> Result<ActorRef<RegistryMsg>, SpawnErr> {
        let supervisor = self.myself.clone();
        let listener: RegistryListener = Arc::new(move |plugins, table| {
            let _ = supervisor.cast(SupervisorMsg::RegistryChanged { plugins, table });
        });
        let args = RegistryArgs {
            plugins,
            filter: self.args.config.tool_filter.clone(),
            front_door,
            changes: self.args.changes.clone(),
            listener,
            counters: self.args.counters.clone(),
        };
        let name = Some(self.args.names.registry());
        Ok(Actor::spawn_linked(name, PluginRegistry, args, self.myself.get_cell()).await?.0)
    }

    async fn front_door(
        &self,
        table: Arc<ToolTable>,
        links: Links,
    ) -> Result<ActorRef<FrontDoorMsg>, SpawnErr> {
        let args = FrontDoorArgs {
            table,
            links,
            plan_defaults: self.args.config.plan_defaults.clone(),
            counters: self.args.counters.clone(),
        };
        let name = Some(self.args.names.front_door());
        Ok(Actor::spawn_linked(name, FrontDoor, args, self.myself.get_cell()).await?.0)
    }
}

impl SupervisorState {
    fn spawner<'a>(&'a self, myself: &'a ActorRef<SupervisorMsg>) -> Spawner<'a> {
        Spawner { args: &self.args, myself }
    }

    /// Sends the current addresses to everyone who routes by them.
    fn rewire(&self) {
        let _ = self.front_door.cast(FrontDoorMsg::Rewire(self.links.clone()));
        for shard in self.links.shards.iter() {
            let _ = shard.cast(ShardMsg::Rewire(self.links.clone()));
        }
    }

    fn failed(&mut self, myself: &ActorRef<SupervisorMsg>, component: Component, at: Instant) {
        let ledger = self.ledgers.entry(component).or_default();
        let decision = self.args.config.restart_budget.decide(ledger, at);
        // What status reports: a component restarting in a loop loses its state (an open
        // breaker comes back closed) and would otherwise look healthy.
        let recent = u64::try_from(ledger.recent()).unwrap_or(u64::MAX);
        self.args.counters.failed(recent, self.args.config.restart_budget.window);
        match decision {
            RestartDecision::Restart { after } => {
                if component == Component::ExecutorWorker {
                    // The pool already replaced the worker; the failure only had to be counted.
                    Counters::bump(&self.args.counters.restarts);
                    self.args.restarted.notify_waiters();
                } else if after.is_zero() {
                    let _ = myself.cast(SupervisorMsg::Restart { component, failed_at: at });
                } else {
                    myself.send_after(after, move || SupervisorMsg::Restart { component, failed_at: at });
                }
            }
            RestartDecision::Escalate => {
                let restarts = ledger.recent();
                self.escalate(myself, component, restarts);
            }
        }
    }

    fn escalate(&mut self, myself: &ActorRef<SupervisorMsg>, component: Component, restarts: usize) {
        let budget = &self.args.config.restart_budget;
        tracing::error!(
            component = %component,
            restarts,
            window_seconds = budget.window.as_secs_f64(),
            "restart budget exhausted: the {component} failed again after {restarts} restarts within {:?}; \
             stopping the runtime so that the process manager restarts the server",
            budget.window
        );
        self.stopping = true;
        self.args.escalation.cancel();
        self.args.restarted.notify_waiters();
        myself.stop_children(Some("restart budget exhausted".to_string()));
        myself.stop(Some("restart budget exhausted".to_string()));
    }

    async fn restart(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        component: Component,
    ) -> Result<(), SpawnErr> {
        let id = match component {
            Component::CircuitBreaker => {
                let breaker = self.spawner(myself).breaker().await?;
                self.links.breaker = breaker.clone();
                self.rewire();
                breaker.get_id()
            }
            Component::ExecutorPool => {
                let executor = self.spawner(myself).executor().await?;
                self.links.executor = executor.clone();
                self.rewire();
                executor.get_id()
            }
            Component::CacheShard(index) => {
                let shard = self.spawner(myself).shard(index, self.links.clone()).await?;
                let mut shards = self.links.shards.to_vec();
                if let Some(slot) = shards.get_mut(index) {
                    *slot = shard.clone();
                }
                self.links.shards = shards.into();
                let _ = self.front_door.cast(FrontDoorMsg::Rewire(self.links.clone()));
                shard.get_id()
            }
            Component::FrontDoor => {
                let front_door =
                    self.spawner(myself).front_door(self.table.clone(), self.links.clone()).await?;
                let _ = self.registry.cast(RegistryMsg::AttachFrontDoor(front_door.clone()));
                self.front_door = front_door.clone();
                front_door.get_id()
            }
            Component::PluginRegistry => {
                let plugins = self.args.plugins.clone();
                let registry = self.spawner(myself).registry(plugins, Some(self.front_door.clone())).await?;
                self.registry = registry.clone();
                registry.get_id()
            }
            Component::SignerNonceStore => {
                let signer = self.spawner(myself).signer().await?;
                self.links.signer = signer.clone();
                self.rewire();
                signer.get_id()
            }
            Component::ExecutorWorker => return Ok(()),
        };
        self.children.insert(id, component);
        Ok(())
    }

    fn child_down(&mut self, myself: &ActorRef<SupervisorMsg>, id: ActorId, reason: &str) {
        let Some(component) = self.children.remove(&id) else { return };
        if self.stopping {
            return;
        }
        tracing::warn!(component = %component, "{component} stopped ({reason}); restarting it");
        self.failed(myself, component, Instant::now());
    }
}

impl Actor for RootSupervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: SupervisorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let spawner = Spawner { args: &args, myself: &myself };
        let mut children = HashMap::new();
        let breaker = spawner.breaker().await?;
        children.insert(breaker.get_id(), Component::CircuitBreaker);
        let executor = spawner.executor().await?;
        children.insert(executor.get_id(), Component::ExecutorPool);
        let signer = spawner.signer().await?;
        children.insert(signer.get_id(), Component::SignerNonceStore);
        let mut links = Links { shards: Arc::from(Vec::new()), executor, breaker, signer };
        let mut shards = Vec::with_capacity(args.config.cache_shards);
        for index in 0..args.config.cache_shards.max(1) {
            let shard = spawner.shard(index, links.clone()).await?;
            children.insert(shard.get_id(), Component::CacheShard(index));
            shards.push(shard);
        }
        links.shards = shards.into();
        let registry = spawner.registry(args.plugins.clone(), None).await?;
        children.insert(registry.get_id(), Component::PluginRegistry);
        let table = match registry.call(RegistryMsg::Snapshot, Some(SHUTDOWN_WAIT)).await? {
            RpcCallResult::Success(table) => table,
            _ => return Err("the plugin registry did not hand over its first tool table".into()),
        };
        let front_door = spawner.front_door(table.clone(), links.clone()).await?;
        children.insert(front_door.get_id(), Component::FrontDoor);
        registry.cast(RegistryMsg::AttachFrontDoor(front_door.clone()))?;
        Ok(SupervisorState {
            args,
            table,
            links,
            front_door,
            registry,
            children,
            ledgers: HashMap::new(),
            stopping: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: SupervisorMsg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SupervisorMsg::Restart { component, failed_at } => {
                if state.stopping {
                    return Ok(());
                }
                match state.restart(&myself, component).await {
                    Ok(()) => {
                        let latency = failed_at.elapsed();
                        state.args.counters.restarted(latency);
                        state.args.restarted.notify_waiters();
                        tracing::info!(component = %component, ?latency, "{component} restarted");
                    }
                    Err(error) => {
                        tracing::warn!(component = %component, "restarting the {component} failed: {error}");
                        state.failed(&myself, component, Instant::now());
                    }
                }
            }
            SupervisorMsg::WorkerReplaced { at } => {
                if !state.stopping {
                    tracing::warn!("an executor worker crashed; the pool replaced it");
                    state.failed(&myself, Component::ExecutorWorker, at);
                }
            }
            SupervisorMsg::RegistryChanged { plugins, table } => {
                state.args.plugins = plugins;
                state.table = table;
            }
            SupervisorMsg::Shutdown(reply) => {
                state.stopping = true;
                myself.stop_children_and_wait(Some("shutdown".to_string()), Some(SHUTDOWN_WAIT)).await;
                let _ = reply.send(());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(cell, error) => {
                state.child_down(&myself, cell.get_id(), &format!("failed: {error}"));
            }
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                let reason = reason.unwrap_or_else(|| "no reason given".to_string());
                state.child_down(&myself, cell.get_id(), &format!("terminated: {reason}"));
            }
            _ => {}
        }
        Ok(())
    }
}
