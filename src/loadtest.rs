//! `newrelic-mcp loadtest`: drives concurrent tool calls at a stdio MCP server and reports
//! throughput, latency percentiles, errors by class and, when the target is newrelic-mcp,
//! how many calls reached New Relic and how many the cache answered.
//!
//! By default the target is this executable's own `serve --sandbox`, so a load test runs on
//! a fresh machine with no account; `--target-cmd` measures any other stdio MCP server with
//! the same harness.
//!
//! A map of the module:
//!
//! - [`scenario`]: the weighted mix of calls (TOML), validated, and the weighted choice.
//! - [`target`]: which command to start.
//! - [`client`]: JSON-RPC over the target's stdio, many calls in flight.
//! - [`outcome`]: how one call ended, read from its response.
//! - [`driver`]: one phase (warm-up or measured): workers, bounds, progress.
//! - [`server_counters`]: the target's own counters, read through `get_server_status`.
//! - [`report`]: recorders, the report, its table.

pub mod client;
pub mod driver;
pub mod outcome;
pub mod report;
pub mod scenario;
pub mod server_counters;
pub mod target;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use self::client::{ConnectError, McpClient};
use self::driver::{PhasePlan, Stop, run_phase};
use self::report::{HistogramError, Report, RunFacts};
use self::scenario::{Scenario, ScenarioError};
use self::server_counters::ServerCounters;
use self::target::TargetError;
use crate::tools::server::SERVER_STATUS_TOOL;

/// Everything a load test needs to know.
#[derive(Debug, Clone)]
pub struct LoadtestOptions {
    /// A stdio MCP server's command line; `None` runs this executable's `serve --sandbox`.
    pub target_cmd: Option<String>,
    /// Extra arguments for the target.
    pub server_args: Vec<String>,
    /// A scenario file; `None` uses the built-in default mix.
    pub scenario: Option<PathBuf>,
    pub concurrency: usize,
    pub stop: Stop,
    /// Calls made, and not measured, before the measured phase (fills caches, warms pools).
    pub warmup: Duration,
    /// How long one call may take before it counts as a timeout.
    pub call_timeout: Duration,
    pub retry_read_once: bool,
    pub seed: u64,
    /// Draw progress bars on stderr (they stay hidden when stderr is not a terminal).
    pub progress: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadtestError {
    #[error("{0}")]
    InvalidOptions(String),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Histogram(#[from] HistogramError),
}

impl LoadtestError {
    /// 2 for a problem with what was asked (options, scenario), 1 when the target failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::InvalidOptions(_) | Self::Scenario(_) | Self::Target(_) => 2,
            Self::Connect(_) | Self::Histogram(_) => 1,
        }
    }
}

/// Reads `10s`, `500ms`, `2m`, `1h` or a bare number of seconds (`1.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| {
        format!("'{text}' is not a duration: write a number and a unit, like 10s, 500ms or 2m")
    })?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" | "secs" => value,
        "ms" => value / 1_000.0,
        "m" | "min" | "mins" => value * 60.0,
        "h" => value * 3_600.0,
        other => return Err(format!("'{other}' is not a duration unit: use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("'{text}' is out of range"))
}

fn validate(options: &LoadtestOptions) -> Result<(), LoadtestError> {
    let invalid = |message: &str| Err(LoadtestError::InvalidOptions(message.to_string()));
    if options.concurrency == 0 {
        return invalid("--concurrency must be at least 1");
    }
    match options.stop {
        Stop::Calls(0) => return invalid("--calls must be at least 1"),
        Stop::After(duration) if duration.is_zero() => return invalid("--duration must be longer than zero"),
        _ => {}
    }
    if options.call_timeout.is_zero() {
        return invalid("--timeout must be longer than zero");
    }
    Ok(())
}

/// Runs a load test: start the target, warm up, measure, read the target's counters, stop it.
pub async fn run(options: &LoadtestOptions) -> Result<Report, LoadtestError> {
    validate(options)?;
    let scenario = Arc::new(match &options.scenario {
        Some(path) => Scenario::load(path)?,
        None => Scenario::builtin_default()?,
    });
    let target = target::resolve(options.target_cmd.as_deref(), &options.server_args, std::env::current_exe)?;
    let (client, process, identity, tools) =
        client::connect(&target, options.call_timeout, options.concurrency).await?;
    let offered: Vec<String> = tools.iter().map(|tool| tool.name.clone()).collect();
    if let Err(error) = scenario.check_tools(&offered) {
        drop(client);
        process.stop().await;
        return Err(error.into());
    }
    let read_only: Arc<HashSet<String>> =
        Arc::new(tools.iter().filter(|tool| tool.read_only).map(|tool| tool.name.clone()).collect());
    let has_status = offered.iter().any(|name| name == SERVER_STATUS_TOOL);
    // Each phase gets its own seeds, so the measured phase does not replay the warm-up's
    // calls (which would turn "distinct" queries into cache hits).
    let plan = |stop, phase: u64| PhasePlan {
        concurrency: options.concurrency,
        stop,
        call_timeout: options.call_timeout,
        retry_read_once: options.retry_read_once,
        seed: options.seed.wrapping_add(phase << 32),
    };

    if !options.warmup.is_zero() {
        let bar = progress_bar(options.progress, Stop::After(options.warmup), "warm-up");
        run_phase(&client, &scenario, &read_only, &plan(Stop::After(options.warmup), 0), &bar).await?;
        bar.finish_and_clear();
    }
    let before = if has_status { read_counters(&client, options.call_timeout).await } else { None };
    let bar = progress_bar(options.progress, options.stop, "measuring");
    let measured = run_phase(&client, &scenario, &read_only, &plan(options.stop, 1), &bar).await?;
    bar.finish_and_clear();
    let after = if has_status && !measured.connection_lost {
        read_counters(&client, options.call_timeout).await
    } else {
        None
    };
    drop(client);
    let (exit, stderr) = process.stop().await;

    let server_counters = match (before, after) {
        (Some(before), Some(after)) => Some(server_counters::difference(&before, &after)),
        _ => None,
    };
    let connection_lost = measured.connection_lost.then(|| {
        let exit = exit.map_or_else(|| "it had to be killed".to_string(), |status| status.to_string());
        let last_words = if stderr.is_empty() {
            String::new()
        } else {
            format!("; its last words on stderr: {}", stderr.join(" | "))
        };
        format!("the target closed the connection during the measured phase ({exit}){last_words}")
    });
    let facts = RunFacts {
        target: target.display.clone(),
        server: format!("{} {}", identity.name, identity.version),
        scenario: scenario.name.clone(),
        concurrency: options.concurrency,
        warmup: options.warmup,
        elapsed: measured.elapsed,
        server_counters,
        connection_lost,
    };
    Ok(Report::new(&measured.recorder, facts))
}

async fn read_counters(client: &McpClient, timeout: Duration) -> Option<ServerCounters> {
    let response = client.call_tool(SERVER_STATUS_TOOL, json!({}), timeout).await.ok()?;
    server_counters::parse(&response)
}

fn progress_bar(enabled: bool, stop: Stop, phase: &'static str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let length = match stop {
        Stop::Calls(calls) => calls,
        Stop::After(duration) => u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
    };
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{prefix:>9} [{bar:32}] {msg} ({elapsed})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(phase);
    bar
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn durations_are_read_with_units() {
        let cases = [
            ("10s", Duration::from_secs(10)),
            ("10", Duration::from_secs(10)),
            ("1.5", Duration::from_millis(1_500)),
            ("500ms", Duration::from_millis(500)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3_600)),
            ("0s", Duration::ZERO),
            (" 3 s ", Duration::from_secs(3)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
        for (text, expected) in [
            ("", "is not a duration"),
            ("ten seconds", "is not a duration"),
            ("10 days", "'days' is not a duration unit"),
            ("-1s", "is not a duration"),
            ("1e400", "is not a duration"),
        ] {
            let error = parse_duration(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    fn options() -> LoadtestOptions {
        LoadtestOptions {
            target_cmd: None,
            server_args: Vec::new(),
            scenario: None,
            concurrency: 1,
            stop: Stop::Calls(1),
            warmup: Duration::ZERO,
            call_timeout: Duration::from_secs(1),
            retry_read_once: false,
            seed: 0,
            progress: false,
        }
    }

    #[test]
    fn nonsensical_options_are_refused_before_anything_starts() {
        let cases = [
            (LoadtestOptions { concurrency: 0, ..options() }, "--concurrency"),
            (LoadtestOptions { stop: Stop::Calls(0), ..options() }, "--calls"),
            (LoadtestOptions { stop: Stop::After(Duration::ZERO), ..options() }, "--duration"),
            (LoadtestOptions { call_timeout: Duration::ZERO, ..options() }, "--timeout"),
        ];
        for (options, flag) in cases {
            let error = validate(&options).unwrap_err();
            assert!(error.to_string().contains(flag), "{error}");
            assert_eq!(error.exit_code(), 2);
        }
        assert!(validate(&options()).is_ok());
    }
}
