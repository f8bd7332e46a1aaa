//! What asks for a reload: file events in the plugin directory (debounced) and SIGHUP.
//!
//! Both only call a `request` function that queues a reload for the manager, which
//! rescans the whole directory: a burst of events (an editor's write-rename dance, a
//! `git checkout`) costs one rescan, and a request dropped because one is already queued
//! loses nothing.

use std::path::Path;
use std::time::Duration;

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};
use tokio::task::JoinHandle;

use super::loader::is_manifest_path;

/// Quiet time after the last file event before a reload starts.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// Why a reload was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The first load, as the server starts.
    Start,
    /// A manifest in the directory appeared, changed or went away.
    Files,
    /// The process received SIGHUP.
    Hangup,
    /// A caller of [`PluginManager::reload`](super::PluginManager::reload).
    Asked,
}

/// Asks the manager for a reload; never blocks.
pub type RequestReload = std::sync::Arc<dyn Fn(Cause) + Send + Sync>;

/// Watches `dir` (not its subfolders); every debounced batch that touches a manifest asks
/// for a reload. Dropping the returned debouncer stops the watch.
pub fn watch(dir: &Path, request: RequestReload) -> Result<Debouncer<RecommendedWatcher>, String> {
    let mut debouncer = new_debouncer(DEBOUNCE, move |result: DebounceEventResult| match result {
        Ok(events) => {
            if events.iter().any(|event| is_manifest_path(&event.path)) {
                request(Cause::Files);
            }
        }
        Err(error) => tracing::warn!("watching the plugin directory failed: {error}"),
    })
    .map_err(|error| error.to_string())?;
    debouncer.watcher().watch(dir, RecursiveMode::NonRecursive).map_err(|error| error.to_string())?;
    Ok(debouncer)
}

/// Asks for a reload on every SIGHUP, or only logs it when `request` is `None` (no plugin
/// directory), so a reload request never kills the server. `None` where the platform has
/// no SIGHUP or the handler cannot be installed.
pub fn on_hangup(request: Option<RequestReload>) -> Option<JoinHandle<()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(error) => {
                tracing::warn!("cannot listen for SIGHUP, plugin reloads on signal are off: {error}");
                return None;
            }
        };
        Some(tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match &request {
                    Some(request) => {
                        tracing::info!("SIGHUP: reloading plugins");
                        request(Cause::Hangup);
                    }
                    None => {
                        tracing::info!("SIGHUP ignored: no plugin directory is configured (--plugin-dir)")
                    }
                }
            }
        }))
    }
    #[cfg(not(unix))]
    {
        let _ = request;
        None
    }
}
