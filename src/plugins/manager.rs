//! The plugin manager: one task that owns what is loaded from the plugin directory and
//! brings the runtime in line with the directory whenever a reload is asked for.
//!
//! A reload rescans every manifest, compiles it, settles names and dependencies
//! ([`assemble`]) and applies the difference through the runtime's plugin registry
//! ([`plan_changes`]). A manifest that breaks while its plugin is loaded keeps the last good
//! version running (and says so in the log) rather than taking working tools away
//! mid-edit; a removed file unloads its plugin.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use newrelic_mcp_actors::RegistryError;
use newrelic_mcp_actors::runtime::RuntimeHandle;
use newrelic_mcp_actors::tool::Plugin;
use newrelic_mcp_nrql::Policy;
use notify_debouncer_mini::Debouncer;
use notify_debouncer_mini::notify::RecommendedWatcher;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::compile::ManifestPlugin;
use super::loader::{Candidate, Problem, Reserved, assemble, compile_sources, read_sources};
use super::reload::{Change, plan_changes};
use super::watcher::{Cause, RequestReload, on_hangup, watch};

/// Reload requests that may wait; past that, one already queued covers the next.
const QUEUED_RELOADS: usize = 4;

/// What manifest tools are compiled against.
#[derive(Debug, Clone, Default)]
pub struct PluginEnv {
    /// Checked on every call, and on each template filled with its defaults at load.
    pub policy: Arc<Policy>,
    /// Built-in plugin and tool names no manifest may take.
    pub reserved: Reserved,
}

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("the plugin directory {dir} is not a readable directory: {reason}")]
    Directory { dir: String, reason: String },
    #[error("the plugin manager has stopped")]
    Stopped,
}

/// What one reload did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    pub loaded: Vec<String>,
    pub reloaded: Vec<String>,
    pub unloaded: Vec<String>,
    /// Plugins whose manifest broke and whose last good version stays loaded.
    pub kept: Vec<String>,
    /// Every manifest that did not load, and every registry refusal.
    pub problems: Vec<Problem>,
}

impl ReloadReport {
    pub fn changed(&self) -> bool {
        !(self.loaded.is_empty() && self.reloaded.is_empty() && self.unloaded.is_empty())
    }
}

struct Request {
    cause: Cause,
    reply: Option<oneshot::Sender<ReloadReport>>,
}

/// Manifest plugins of the plugin directory, kept in line with it; and the SIGHUP handler.
pub struct PluginManager {
    requests: Option<mpsc::Sender<Request>>,
    task: Option<JoinHandle<()>>,
    hangups: Option<JoinHandle<()>>,
    /// Held so the watch lasts as long as the manager.
    watcher: Option<Debouncer<RecommendedWatcher>>,
}

impl PluginManager {
    /// Loads the manifests of `dir` into `runtime`, then watches the directory and listens
    /// for SIGHUP. Broken manifests are reported, never fatal; a missing or unreadable
    /// directory is. With no directory, only installs a SIGHUP handler that says so.
    pub async fn start(
        dir: Option<&Path>,
        runtime: RuntimeHandle,
        env: PluginEnv,
    ) -> Result<(Self, ReloadReport), PluginError> {
        let Some(dir) = dir else {
            let hangups = on_hangup(None);
            let manager = Self { requests: None, task: None, hangups, watcher: None };
            return Ok((manager, ReloadReport::default()));
        };
        if let Err(error) = std::fs::read_dir(dir) {
            return Err(PluginError::Directory { dir: dir.display().to_string(), reason: error.to_string() });
        }
        let mut state = ManagerState {
            dir: dir.to_path_buf(),
            runtime,
            env,
            loaded: Vec::new(),
            last_good: BTreeMap::new(),
            reported: BTreeSet::new(),
        };
        let first = state.reload(Cause::Start).await;
        let (sender, mut receiver) = mpsc::channel::<Request>(QUEUED_RELOADS);
        let task = tokio::spawn(async move {
            while let Some(request) = receiver.recv().await {
                let report = state.reload(request.cause).await;
                if let Some(reply) = request.reply {
                    let _ = reply.send(report);
                }
            }
        });
        let request: RequestReload = {
            let sender = sender.clone();
            Arc::new(move |cause| {
                let _ = sender.try_send(Request { cause, reply: None });
            })
        };
        let watcher = match watch(dir, request.clone()) {
            Ok(watcher) => Some(watcher),
            Err(error) => {
                tracing::warn!("cannot watch the plugin directory ({error}); send SIGHUP to reload plugins");
                None
            }
        };
        let hangups = on_hangup(Some(request));
        let manager = Self { requests: Some(sender), task: Some(task), hangups, watcher };
        Ok((manager, first))
    }

    /// Rescans the directory now and applies what changed; resolves when done.
    pub async fn reload(&self) -> Result<ReloadReport, PluginError> {
        let Some(requests) = &self.requests else { return Ok(ReloadReport::default()) };
        let (reply, answer) = oneshot::channel();
        requests
            .send(Request { cause: Cause::Asked, reply: Some(reply) })
            .await
            .map_err(|_| PluginError::Stopped)?;
        answer.await.map_err(|_| PluginError::Stopped)
    }

    /// Stops watching and listening; loaded plugins stay in the runtime.
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        self.watcher = None;
        self.requests = None;
        if let Some(hangups) = self.hangups.take() {
            hangups.abort();
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for PluginManager {
    fn drop(&mut self) {
        self.shut();
    }
}

/// Why one registry operation did not happen.
enum ApplyError {
    Registry(RegistryError),
    DependencyFailed(String),
}

struct ManagerState {
    dir: PathBuf,
    runtime: RuntimeHandle,
    env: PluginEnv,
    /// What the registry holds from this directory, in load order.
    loaded: Vec<Arc<ManifestPlugin>>,
    /// The last version of each file that compiled.
    last_good: BTreeMap<String, Arc<ManifestPlugin>>,
    /// Problems the last reload logged.
    reported: BTreeSet<String>,
}

fn now_epoch_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64)
}

impl ManagerState {
    async fn reload(&mut self, cause: Cause) -> ReloadReport {
        let mut report = ReloadReport::default();
        let sources = match read_sources(&self.dir) {
            Ok(sources) => sources,
            Err(error) => {
                tracing::warn!("plugin reload skipped, loaded plugins stay: {error}");
                report.problems.push(Problem { file: ".".into(), line: None, reason: error.to_string() });
                return report;
            }
        };
        let files: BTreeSet<String> = sources.iter().map(|source| source.file.clone()).collect();
        self.last_good.retain(|file, _| files.contains(file));
        let loaded_names: BTreeSet<String> = self.loaded.iter().map(|p| p.name().to_string()).collect();

        let mut candidates = Vec::new();
        for candidate in compile_sources(sources, &self.env.policy, now_epoch_ms()) {
            candidates.push(match candidate.plugin {
                Ok(plugin) => {
                    self.last_good.insert(candidate.file.clone(), plugin.clone());
                    Candidate { file: candidate.file, plugin: Ok(plugin) }
                }
                Err(error) => match self.last_good.get(&candidate.file) {
                    Some(previous) if loaded_names.contains(previous.name()) => {
                        let reason = format!(
                            "{}; plugin '{}' {} stays loaded as it was",
                            error.reason,
                            previous.name(),
                            previous.version()
                        );
                        report.kept.push(previous.name().to_string());
                        report.problems.push(Problem {
                            file: candidate.file.clone(),
                            line: error.line,
                            reason,
                        });
                        Candidate { file: candidate.file, plugin: Ok(previous.clone()) }
                    }
                    _ => Candidate { file: candidate.file, plugin: Err(error) },
                },
            });
        }
        let assembly = assemble(candidates, &self.env.reserved, &loaded_names);
        report.problems.extend(assembly.problems().cloned());
        self.apply(plan_changes(&self.loaded, &assembly.plugins), &assembly.plugins, &mut report).await;
        // File events log only what is new; an explicit reload reports everything again.
        let problems: BTreeSet<String> = report.problems.iter().map(ToString::to_string).collect();
        for problem in &problems {
            if cause != Cause::Files || !self.reported.contains(problem) {
                tracing::warn!("plugin manifest {problem}");
            }
        }
        self.reported = problems;
        if report.changed() {
            tracing::info!(
                cause = ?cause,
                loaded = ?report.loaded,
                reloaded = ?report.reloaded,
                unloaded = ?report.unloaded,
                "plugins reloaded"
            );
        }
        report
    }

    /// Applies `changes`; one whose tool name is freed by a later change is tried again
    /// after the others, and a plugin whose dependency failed is not loaded.
    async fn apply(
        &mut self,
        changes: Vec<Change>,
        desired: &[Arc<ManifestPlugin>],
        report: &mut ReloadReport,
    ) {
        let mut failed: BTreeSet<String> = BTreeSet::new();
        let mut retry: Vec<Change> = Vec::new();
        for change in changes {
            match self.apply_one(&change, &failed, report).await {
                Ok(()) => {}
                Err(ApplyError::Registry(RegistryError::DuplicateTool(_))) => retry.push(change),
                Err(error) => {
                    self.refused(&change, &error, report);
                    failed.insert(change.plugin_name().to_string());
                }
            }
        }
        for change in retry {
            if let Err(error) = self.apply_one(&change, &failed, report).await {
                self.refused(&change, &error, report);
                failed.insert(change.plugin_name().to_string());
            }
        }
        // Keep load order as the directory's dependency order, for the next diff.
        let position =
            |name: &str| desired.iter().position(|wanted| wanted.name() == name).unwrap_or(usize::MAX);
        self.loaded.sort_by_key(|plugin| position(plugin.name()));
    }

    async fn apply_one(
        &mut self,
        change: &Change,
        failed: &BTreeSet<String>,
        report: &mut ReloadReport,
    ) -> Result<(), ApplyError> {
        if let Change::Load(plugin) | Change::Replace(plugin) = change
            && let Some(dependency) =
                plugin.depends_on().iter().find(|dependency| failed.contains(*dependency))
        {
            return Err(ApplyError::DependencyFailed(dependency.clone()));
        }
        match change {
            Change::Unload(name) => {
                match self.runtime.unregister_plugin(name).await {
                    // Already gone (a registry restart lost it) is as good as unloaded.
                    Ok(()) | Err(RegistryError::UnknownPlugin { .. }) => {}
                    Err(error) => return Err(ApplyError::Registry(error)),
                }
                self.loaded.retain(|loaded| loaded.name() != name);
                report.unloaded.push(name.clone());
            }
            Change::Load(plugin) => {
                self.runtime
                    .register_plugin(plugin.clone() as Arc<dyn Plugin>)
                    .await
                    .map_err(ApplyError::Registry)?;
                self.loaded.push(plugin.clone());
                report.loaded.push(plugin.name().to_string());
            }
            Change::Replace(plugin) => {
                self.runtime
                    .replace_plugin(plugin.clone() as Arc<dyn Plugin>)
                    .await
                    .map_err(ApplyError::Registry)?;
                self.loaded.retain(|loaded| loaded.name() != plugin.name());
                self.loaded.push(plugin.clone());
                report.reloaded.push(plugin.name().to_string());
            }
        }
        Ok(())
    }

    fn refused(&self, change: &Change, error: &ApplyError, report: &mut ReloadReport) {
        let name = change.plugin_name();
        let file = self
            .last_good
            .iter()
            .find(|(_, plugin)| plugin.name() == name)
            .map_or_else(|| name.to_string(), |(file, _)| file.clone());
        let reason = match (change, error) {
            (_, ApplyError::DependencyFailed(dependency)) => {
                format!("plugin '{name}' depends on '{dependency}', which did not load")
            }
            (Change::Unload(_), ApplyError::Registry(error)) => {
                format!("plugin '{name}' could not be unloaded: {error}")
            }
            (Change::Replace(_), ApplyError::Registry(error)) => {
                format!("the new version of plugin '{name}' was refused, the old one stays: {error}")
            }
            (Change::Load(_), ApplyError::Registry(error)) => format!("plugin '{name}' was refused: {error}"),
        };
        report.problems.push(Problem { file, line: None, reason });
    }
}
