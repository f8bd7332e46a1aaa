//! newrelic-mcp against a bare rmcp server, over real stdio pipes, side by side.
//!
//! Starts `newrelic-mcp serve --sandbox` and the `echo_server` example, and drives both the
//! way an MCP client does with a fixed number of calls in flight: a cached
//! `execute_nrql_query` (filled once before measuring) and the `echo` tool. Rounds alternate
//! between the two servers so that drift in the machine's load touches both alike. Prints
//! calls per second, latency percentiles, the throughput ratio and the p99 difference.
//!
//! ```sh
//! cargo build --release --bin newrelic-mcp --example echo_server --example stdio_compare
//! target/release/examples/stdio_compare --calls 20000 --rounds 5
//! ```

#[path = "../benches/support/stdio_driver.rs"]
mod stdio_driver;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use serde_json::Value;

use stdio_driver::{
    RunReport, StdioServer, echo_arguments, echo_server_binary, newrelic_mcp_binary, nrql_arguments,
};

#[derive(Debug, Parser)]
#[command(about = "Compare newrelic-mcp's cached NRQL calls with a bare rmcp echo server over stdio")]
struct Args {
    /// The newrelic-mcp binary (default: beside this example's directory).
    #[arg(long)]
    newrelic_mcp: Option<PathBuf>,
    /// The echo_server example binary (default: beside this example).
    #[arg(long)]
    echo_server: Option<PathBuf>,
    /// Calls per measured round, per server.
    #[arg(long, default_value_t = 20_000)]
    calls: u64,
    /// Measured rounds per server, alternating between the servers.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Calls kept in flight.
    #[arg(long, default_value_t = 32)]
    in_flight: usize,
    /// Unmeasured calls per server before the first round.
    #[arg(long, default_value_t = 2_000)]
    warm_up: u64,
}

/// What newrelic-mcp should reach, relative to the echo baseline.
const TARGET_RATIO: f64 = 0.90;
const TARGET_P99_EXTRA: Duration = Duration::from_micros(500);

struct Contender {
    label: &'static str,
    server: StdioServer,
    tool: &'static str,
    arguments: Value,
    rounds: Vec<RunReport>,
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn describe(
    out: &mut impl Write,
    label: &str,
    report: &RunReport,
    rounds: &[RunReport],
) -> std::io::Result<()> {
    let per_round: Vec<String> = rounds.iter().map(|r| format!("{:.0}", r.calls_per_second())).collect();
    writeln!(
        out,
        "{label:<28} {:>9.0} calls/s  p50 {:>7.1} µs  p90 {:>7.1} µs  p99 {:>7.1} µs  max {:>8.1} µs  {:>5} B/response  rounds [{}]",
        report.calls_per_second(),
        micros(report.percentile(0.50)),
        micros(report.percentile(0.90)),
        micros(report.percentile(0.99)),
        micros(report.percentile(1.0)),
        report.mean_response_bytes(),
        per_round.join(", "),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let here = std::env::current_exe().context("cannot locate this example's binary")?;
    let examples_dir = here.parent().context("this example's binary has no directory")?;
    let profile_dir = examples_dir.parent().context("the examples directory has no parent")?;
    let newrelic_binary = args.newrelic_mcp.clone().unwrap_or_else(|| newrelic_mcp_binary(profile_dir));
    let echo_binary = args.echo_server.clone().unwrap_or_else(|| echo_server_binary(profile_dir));

    let newrelic = StdioServer::start(
        &newrelic_binary,
        &["serve", "--sandbox"],
        "cargo build --release --bin newrelic-mcp",
    )
    .await
    .context("newrelic-mcp did not start")?;
    let echo = StdioServer::start(&echo_binary, &[], "cargo build --release --example echo_server")
        .await
        .context("the echo server did not start")?;
    let mut contenders = [
        Contender {
            label: "newrelic-mcp cached NRQL",
            server: newrelic,
            tool: "execute_nrql_query",
            arguments: nrql_arguments(),
            rounds: Vec::new(),
        },
        Contender {
            label: "rmcp echo",
            server: echo,
            tool: "echo",
            arguments: echo_arguments(),
            rounds: Vec::new(),
        },
    ];

    for contender in &mut contenders {
        contender
            .server
            .run(contender.tool, &contender.arguments, args.warm_up.max(1), args.in_flight)
            .await
            .with_context(|| format!("{}: warm-up failed", contender.label))?;
    }
    for _ in 0..args.rounds.max(1) {
        for contender in &mut contenders {
            let report = contender
                .server
                .run(contender.tool, &contender.arguments, args.calls, args.in_flight)
                .await
                .with_context(|| format!("{}: a measured call failed", contender.label))?;
            contender.rounds.push(report);
        }
    }

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} calls × {} rounds per server, {} in flight, after {} warm-up calls",
        args.calls,
        args.rounds.max(1),
        args.in_flight,
        args.warm_up
    )?;
    let merged: Vec<RunReport> = contenders.iter().map(|c| RunReport::merge(&c.rounds)).collect();
    for (contender, report) in contenders.iter().zip(&merged) {
        describe(&mut out, contender.label, report, &contender.rounds)?;
    }
    let (newrelic, echo) = (&merged[0], &merged[1]);
    let ratio = newrelic.calls_per_second() / echo.calls_per_second().max(f64::MIN_POSITIVE);
    let p99_extra = micros(newrelic.percentile(0.99)) - micros(echo.percentile(0.99));
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    writeln!(
        out,
        "throughput ratio {:.1} % of echo (target ≥ {:.0} %: {})",
        ratio * 100.0,
        TARGET_RATIO * 100.0,
        verdict(ratio >= TARGET_RATIO)
    )?;
    writeln!(
        out,
        "p99 difference {p99_extra:+.1} µs (target ≤ +{:.0} µs: {})",
        micros(TARGET_P99_EXTRA),
        verdict(p99_extra <= micros(TARGET_P99_EXTRA))
    )?;
    drop(out);
    for contender in contenders {
        contender.server.stop().await;
    }
    Ok(())
}
