//! The plugin registry: owns the loaded plugins and publishes immutable tool-table snapshots.
//!
//! Every change builds a new [`ToolTable`] with a higher generation, pushes it to the front
//! door, announces the generation on a broadcast channel (MCP sessions turn that into
//! `notifications/tools/list_changed`, off the request path) and reports the plugin list to
//! the supervisor, which re-spawns a crashed registry with it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::broadcast;

use crate::counters::Counters;
use crate::front_door::FrontDoorMsg;
use crate::tool::{DuplicateTool, Plugin, ToolFilter, ToolTable};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("a plugin named '{name}' is already loaded; unregister it first to replace it")]
    DuplicatePlugin { name: String },
    #[error(transparent)]
    DuplicateTool(#[from] DuplicateTool),
    #[error("no plugin named '{name}' is loaded (loaded: {})", known.join(", "))]
    UnknownPlugin { name: String, known: Vec<String> },
    #[error("the plugin registry is restarting; retry in a moment")]
    Unavailable,
}

pub enum RegistryMsg {
    Register(Arc<dyn Plugin>, RpcReplyPort<Result<(), RegistryError>>),
    Unregister(String, RpcReplyPort<Result<(), RegistryError>>),
    /// Swaps a loaded plugin for a new version of the same name in one snapshot, so clients
    /// never see its tools missing; on any error the old version stays.
    Replace(Arc<dyn Plugin>, RpcReplyPort<Result<(), RegistryError>>),
    Snapshot(RpcReplyPort<Arc<ToolTable>>),
    /// The front door to push snapshots to (a new one after a restart); gets the current one at once.
    AttachFrontDoor(ActorRef<FrontDoorMsg>),
    #[cfg(feature = "chaos")]
    Crash,
}

/// Told the plugin list and the table after every change.
pub type RegistryListener = Arc<dyn Fn(Vec<Arc<dyn Plugin>>, Arc<ToolTable>) + Send + Sync>;

pub struct PluginRegistry;

pub struct RegistryArgs {
    pub plugins: Vec<Arc<dyn Plugin>>,
    pub filter: ToolFilter,
    pub front_door: Option<ActorRef<FrontDoorMsg>>,
    pub changes: broadcast::Sender<u64>,
    pub listener: RegistryListener,
    /// Holds the last published generation, so generations keep rising across restarts.
    pub(crate) counters: Arc<Counters>,
}

pub struct RegistryState {
    plugins: Vec<Arc<dyn Plugin>>,
    filter: ToolFilter,
    table: Arc<ToolTable>,
    front_door: Option<ActorRef<FrontDoorMsg>>,
    changes: broadcast::Sender<u64>,
    listener: RegistryListener,
    counters: Arc<Counters>,
}

/// Builds the next snapshot; the generation is spent only when the build succeeds.
fn build_next(
    plugins: &[Arc<dyn Plugin>],
    filter: &ToolFilter,
    counters: &Counters,
) -> Result<ToolTable, DuplicateTool> {
    let generation = counters.tool_table_generation.load(Ordering::Relaxed) + 1;
    let table = ToolTable::build(plugins, filter, generation)?;
    counters.tool_table_generation.store(generation, Ordering::Relaxed);
    Ok(table)
}

impl RegistryState {
    /// Builds and publishes a table for `plugins`; on a duplicate tool nothing changes.
    fn replace_plugins(&mut self, plugins: Vec<Arc<dyn Plugin>>) -> Result<(), RegistryError> {
        let table = build_next(&plugins, &self.filter, &self.counters)?;
        self.plugins = plugins;
        self.table = Arc::new(table);
        self.push_to_front_door();
        let _ = self.changes.send(self.table.generation);
        (self.listener)(self.plugins.clone(), self.table.clone());
        Ok(())
    }

    fn push_to_front_door(&self) {
        if let Some(front_door) = &self.front_door {
            let _ = front_door.cast(FrontDoorMsg::Table(self.table.clone()));
        }
    }

    fn register(&mut self, plugin: Arc<dyn Plugin>) -> Result<(), RegistryError> {
        if self.plugins.iter().any(|loaded| loaded.name() == plugin.name()) {
            return Err(RegistryError::DuplicatePlugin { name: plugin.name().to_string() });
        }
        let mut plugins = self.plugins.clone();
        plugins.push(plugin);
        self.replace_plugins(plugins)
    }

    fn replace(&mut self, plugin: Arc<dyn Plugin>) -> Result<(), RegistryError> {
        let Some(position) = self.plugins.iter().position(|loaded| loaded.name() == plugin.name()) else {
            let known = self.plugins.iter().map(|loaded| loaded.name().to_string()).collect();
            return Err(RegistryError::UnknownPlugin { name: plugin.name().to_string(), known });
        };
        let mut plugins = self.plugins.clone();
        plugins[position] = plugin;
        self.replace_plugins(plugins)
    }

    fn unregister(&mut self, name: &str) -> Result<(), RegistryError> {
        if !self.plugins.iter().any(|loaded| loaded.name() == name) {
            let known = self.plugins.iter().map(|plugin| plugin.name().to_string()).collect();
            return Err(RegistryError::UnknownPlugin { name: name.to_string(), known });
        }
        let plugins = self.plugins.iter().filter(|plugin| plugin.name() != name).cloned().collect();
        self.replace_plugins(plugins)
    }
}

impl Actor for PluginRegistry {
    type Msg = RegistryMsg;
    type State = RegistryState;
    type Arguments = RegistryArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: RegistryArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let table = build_next(&args.plugins, &args.filter, &args.counters)?;
        let state = RegistryState {
            plugins: args.plugins,
            filter: args.filter,
            table: Arc::new(table),
            front_door: args.front_door,
            changes: args.changes,
            listener: args.listener,
            counters: args.counters,
        };
        state.push_to_front_door();
        Ok(state)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: RegistryMsg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RegistryMsg::Register(plugin, reply) => {
                let name = plugin.name().to_string();
                let result = state.register(plugin);
                match &result {
                    Ok(()) => {
                        tracing::info!(plugin = %name, generation = state.table.generation, "plugin loaded")
                    }
                    Err(error) => tracing::warn!(plugin = %name, "plugin refused: {error}"),
                }
                let _ = reply.send(result);
            }
            RegistryMsg::Unregister(name, reply) => {
                let result = state.unregister(&name);
                if result.is_ok() {
                    tracing::info!(plugin = %name, generation = state.table.generation, "plugin unloaded");
                }
                let _ = reply.send(result);
            }
            RegistryMsg::Replace(plugin, reply) => {
                let name = plugin.name().to_string();
                let result = state.replace(plugin);
                match &result {
                    Ok(()) => {
                        tracing::info!(plugin = %name, generation = state.table.generation, "plugin reloaded")
                    }
                    Err(error) => tracing::warn!(plugin = %name, "new version refused: {error}"),
                }
                let _ = reply.send(result);
            }
            RegistryMsg::Snapshot(reply) => {
                let _ = reply.send(state.table.clone());
            }
            RegistryMsg::AttachFrontDoor(front_door) => {
                state.front_door = Some(front_door);
                state.push_to_front_door();
            }
            #[cfg(feature = "chaos")]
            RegistryMsg::Crash => crate::chaos::crash("plugin registry"),
        }
        Ok(())
    }
}
