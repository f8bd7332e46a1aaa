//! `newrelic-mcp plugins check` and `plugins reload`: manifests validated offline, and a
//! running server asked to reload its plugin directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use newrelic_mcp_actors::tool::Plugin;
use newrelic_mcp_nrql::Policy;

use super::fail;
use crate::plugins::{Assembly, FileOutcome, Reserved, load_dir};
use crate::sanitize::sanitize;

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Validate every manifest (*.toml) of DIR as the server would load it (with the default
    /// NRQL policy): one line per file. Exits 0 when all load, 1 when any does not, 2 when
    /// DIR cannot be read.
    Check {
        /// The plugin directory.
        dir: PathBuf,
    },
    /// Make a running `newrelic-mcp serve` reload its plugin directory (sends it SIGHUP).
    Reload {
        /// Process id of the server.
        #[arg(long)]
        pid: i32,
        /// Send the signal even when the process does not look like newrelic-mcp.
        #[arg(long)]
        force: bool,
    },
}

pub(super) fn run(command: PluginsCommand) -> ExitCode {
    match command {
        PluginsCommand::Check { dir } => check(&dir),
        PluginsCommand::Reload { pid, force } => reload(pid, force),
    }
}

fn check(dir: &Path) -> ExitCode {
    let now_epoch_ms =
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64);
    let reserved = Reserved::of(&crate::tools::builtin_plugins());
    let assembly = match load_dir(dir, &Arc::new(Policy::default()), &reserved, now_epoch_ms) {
        Ok(assembly) => assembly,
        Err(error) => return fail(2, &error.to_string()),
    };
    if assembly.outcomes.is_empty() {
        let message = format!("no plugin manifests (*.toml) in {}", dir.display());
        let _ = writeln!(std::io::stderr(), "newrelic-mcp: {}", sanitize(&message));
        return ExitCode::SUCCESS;
    }
    // File names and manifest text are the operator's and may hold a key put there by mistake.
    let mut out = std::io::stdout().lock();
    for line in report_lines(&assembly) {
        let _ = writeln!(out, "{}", sanitize(&line));
    }
    if assembly.problems().next().is_some() { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// One line per manifest file, in file order.
pub fn report_lines(assembly: &Assembly) -> Vec<String> {
    assembly
        .outcomes
        .iter()
        .map(|outcome| match outcome {
            FileOutcome::Loaded { file, plugin } => {
                let after = if plugin.depends_on().is_empty() {
                    String::new()
                } else {
                    format!(" (after {})", plugin.depends_on().join(", "))
                };
                format!(
                    "ok {file}: plugin '{}' {}{after}, tools: {}",
                    plugin.name(),
                    plugin.version(),
                    plugin.tool_names().join(", ")
                )
            }
            FileOutcome::Refused(problem) => format!("error {problem}"),
        })
        .collect()
}

/// What `/proc` says the process is called, where there is a `/proc`.
fn process_name(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|name| name.trim().to_string())
}

/// Whether a process called `name` is this program (SIGHUP would end most others).
fn looks_like_server(name: &str) -> bool {
    name.starts_with("newrelic-mcp")
}

#[cfg(unix)]
fn reload(pid: i32, force: bool) -> ExitCode {
    use rustix::process::{Pid, Signal, kill_process};

    let Some(target) = Pid::from_raw(pid).filter(|_| pid > 0) else {
        return fail(2, &format!("--pid {pid} is not a process id"));
    };
    if !force
        && let Some(name) = process_name(pid)
        && !looks_like_server(&name)
    {
        return fail(
            1,
            &format!(
                "process {pid} is '{name}', not newrelic-mcp; SIGHUP would likely end it (pass --force to send it anyway)"
            ),
        );
    }
    match kill_process(target, Signal::HUP) {
        Ok(()) => {
            let _ = writeln!(std::io::stderr(), "newrelic-mcp: asked process {pid} to reload its plugins");
            ExitCode::SUCCESS
        }
        Err(error) => fail(1, &format!("cannot signal process {pid}: {error}")),
    }
}

#[cfg(not(unix))]
fn reload(pid: i32, force: bool) -> ExitCode {
    let _ = (pid, force, process_name, looks_like_server);
    fail(
        2,
        "plugins reload sends SIGHUP, which this platform does not have; the server reloads \
         its plugin directory by itself when a manifest changes",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_program_is_signalled_without_force() {
        for (name, expected) in
            [("newrelic-mcp", true), ("newrelic-mcp-de", true), ("bash", false), ("", false)]
        {
            assert_eq!(looks_like_server(name), expected, "{name}");
        }
    }
}
