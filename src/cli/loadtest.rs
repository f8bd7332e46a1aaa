//! `newrelic-mcp loadtest`: concurrent tool calls at a stdio MCP server, and a report.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::fail;
use crate::loadtest::driver::Stop;
use crate::loadtest::{self, LoadtestOptions, parse_duration};

#[derive(Debug, Args)]
pub struct LoadtestArgs {
    /// Calls in flight at once.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// How long to measure (10s, 500ms, 2m); the default when --calls is not given is 10s.
    #[arg(long, value_parser = parse_duration, conflicts_with = "calls")]
    pub duration: Option<Duration>,
    /// Measure exactly this many calls instead of a duration.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub calls: Option<u64>,
    /// Calls made before measuring, to fill caches and warm connections (0s to skip).
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub warmup: Duration,
    /// A scenario file: weighted tool calls in TOML (default: a built-in mix of the common tools).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Print the report as JSON on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Any stdio MCP server's command line, split like a shell would (default: this
    /// executable's `serve --sandbox`).
    #[arg(long, value_name = "COMMAND")]
    pub target_cmd: Option<String>,
    /// An extra argument for the target, e.g. `--server-arg=--sandbox-5xx-rate --server-arg=0.2` (repeatable).
    #[arg(long = "server-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub server_args: Vec<String>,
    /// Try a read-only tool once more when it fails with an error the server calls retriable.
    #[arg(long)]
    pub retry_read_once: bool,
    /// How long one call may take before it counts as a timeout.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub timeout: Duration,
    /// Seed of the scenario's random choices, to repeat a run's call sequence (default: random).
    #[arg(long)]
    pub seed: Option<u64>,
}

pub(super) async fn loadtest(args: LoadtestArgs) -> ExitCode {
    let options = LoadtestOptions {
        target_cmd: args.target_cmd,
        server_args: args.server_args,
        scenario: args.scenario,
        concurrency: usize::from(args.concurrency),
        stop: match (args.calls, args.duration) {
            (Some(calls), _) => Stop::Calls(calls),
            (None, Some(duration)) => Stop::After(duration),
            (None, None) => Stop::After(Duration::from_secs(10)),
        },
        warmup: args.warmup,
        call_timeout: args.timeout,
        retry_read_once: args.retry_read_once,
        seed: args.seed.unwrap_or_else(rand::random),
        progress: true,
    };
    let report = match loadtest::run(&options).await {
        Ok(report) => report,
        Err(error) => return fail(error.exit_code(), &error.to_string()),
    };
    let printed = if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => writeln!(std::io::stdout(), "{json}"),
            Err(error) => return fail(1, &format!("cannot write the report as JSON: {error}")),
        }
    } else {
        write!(std::io::stdout(), "{}", report.table())
    };
    if let Err(error) = printed {
        return fail(1, &format!("cannot write the report: {error}"));
    }
    match &report.connection_lost {
        Some(lost) => fail(1, lost),
        None => ExitCode::SUCCESS,
    }
}
