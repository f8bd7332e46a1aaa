//! The `newrelic-mcp` command line.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::Error as ClapError;
use clap::{Args, Parser, Subcommand};

use crate::config::{LogFormat, SandboxFile};

mod loadtest;
mod nrql;
mod plugins;
mod sandbox;
mod serve;

#[derive(Debug, Parser)]
#[command(name = "newrelic-mcp", version, about = "A Model Context Protocol server for New Relic")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over stdio (for Claude Desktop, Claude Code, Cursor and other MCP clients).
    // Boxed: the serve flags dwarf every other command's.
    Serve(Box<ServeArgs>),
    /// Run the built-in NerdGraph sandbox alone, printing its address and API key.
    Sandbox(SandboxArgs),
    /// Check or explain NRQL offline.
    #[command(subcommand)]
    Nrql(nrql::NrqlCommand),
    /// Check plugin manifests offline, or make a running server reload its plugins.
    #[command(subcommand)]
    Plugins(plugins::PluginsCommand),
    /// Drive concurrent tool calls at an MCP server (by default this one, on its sandbox) and
    /// report throughput, latency percentiles, errors and cache figures.
    Loadtest(loadtest::LoadtestArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Answer from the built-in sandbox's synthetic data instead of New Relic (no account needed).
    #[arg(long)]
    pub sandbox: bool,
    /// A TOML configuration file (flags and environment take precedence over it).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Account used when a tool call names none [env: NEW_RELIC_ACCOUNT_ID].
    #[arg(long)]
    pub account_id: Option<i64>,
    /// Region: US, EU or JP [env: NEW_RELIC_REGION].
    #[arg(long)]
    pub region: Option<String>,
    /// A NerdGraph URL other than the region's [env: NEW_RELIC_NERDGRAPH_URL].
    #[arg(long)]
    pub nerdgraph_url: Option<String>,
    /// Permit a loopback NerdGraph URL (a local proxy or test double).
    #[arg(long)]
    pub allow_local_endpoint: bool,
    /// Accounts tool calls may touch, comma-separated [env: NEW_RELIC_ALLOWED_ACCOUNTS].
    #[arg(long, value_delimiter = ',')]
    pub allowed_accounts: Option<Vec<i64>>,
    /// Log format on stderr.
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Cache shards, 1 to 1024 (default: number of cores).
    #[arg(long)]
    pub cache_shards: Option<usize>,
    /// NerdGraph requests in flight at most, 1 to 256 (default 20).
    #[arg(long)]
    pub executor_workers: Option<usize>,
    /// Calls that may wait for a worker before new ones are refused, 1 to 65536 (default 256).
    #[arg(long)]
    pub executor_queue: Option<usize>,
    /// NRQL queries sent per account per minute at most, 1 to 100000 (default 3000, New Relic's
    /// limit).
    #[arg(long)]
    pub nrql_per_minute: Option<u32>,
    /// Crash a random runtime component about every N milliseconds (jittered), to watch
    /// supervision at work. Exists only in builds with the `chaos` feature.
    #[cfg(feature = "chaos")]
    #[arg(long, value_name = "N")]
    pub chaos_interval_ms: Option<u64>,
    /// Only tools of these categories, comma-separated; `all` for every one. Default: discovery,
    /// data-access, alerting, incident-response, logs, server, plugins. Names are exact; an
    /// unknown one refuses start-up [env: NEW_RELIC_MCP_ENABLED_CATEGORIES].
    #[arg(long, value_delimiter = ',')]
    pub enabled_categories: Option<Vec<String>>,
    /// Only these tools, comma-separated; names are exact, an unknown one refuses start-up
    /// [env: NEW_RELIC_MCP_ENABLED_TOOLS].
    #[arg(long, value_delimiter = ',')]
    pub enabled_tools: Option<Vec<String>>,
    /// Never these tools, comma-separated; names are exact, an unknown one refuses start-up
    /// [env: NEW_RELIC_MCP_DISABLED_TOOLS].
    #[arg(long, value_delimiter = ',')]
    pub disabled_tools: Option<Vec<String>>,
    /// A directory of plugin manifests (*.toml), loaded and watched [env: NEW_RELIC_MCP_PLUGIN_DIR].
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Offer the tools that create or change things in New Relic, each confirmed in two steps
    /// [env: NEW_RELIC_MCP_ENABLE_WRITES].
    #[arg(long)]
    pub enable_writes: bool,
    /// Also offer the tools that delete things; implies --enable-writes
    /// [env: NEW_RELIC_MCP_ENABLE_DESTRUCTIVE].
    #[arg(long)]
    pub enable_destructive: bool,
    /// Also let query_nerdgraph send mutations that mint or revoke credentials and access or
    /// administer accounts, users and roles (API keys, account cancellation, user management);
    /// needs --enable-destructive as well, which it does not imply
    /// [env: NEW_RELIC_MCP_ENABLE_ADMIN_MUTATIONS].
    #[arg(long)]
    pub enable_admin_mutations: bool,
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// Fault injection for the sandbox (with `--sandbox`, or the `sandbox` command).
#[derive(Debug, Args, Default)]
pub struct FaultArgs {
    /// Latency added to every sandbox response, in milliseconds, 0 to 60000.
    #[arg(long)]
    pub sandbox_latency_ms: Option<u64>,
    /// Share of sandbox requests answered with HTTP 5xx (0 to 1).
    #[arg(long)]
    pub sandbox_5xx_rate: Option<f64>,
    /// Share of sandbox requests answered with HTTP 429 and Retry-After (0 to 1).
    #[arg(long)]
    pub sandbox_429_rate: Option<f64>,
    /// Share of sandbox requests answered with a GraphQL TIMEOUT error (0 to 1).
    #[arg(long)]
    pub sandbox_timeout_rate: Option<f64>,
    /// Seed of the sandbox's synthetic data and fault decisions.
    #[arg(long)]
    pub sandbox_seed: Option<u64>,
    /// Polls a long async NRQL query (a window over one day) needs in the sandbox before it
    /// answers, 0 to 100 (default 2; 0 answers at once).
    #[arg(long, value_name = "N")]
    pub sandbox_async_polls: Option<u32>,
    /// The retryAfter, in seconds, the sandbox asks for while an async NRQL query runs, 0 to 60
    /// (default 1).
    #[arg(long, value_name = "SECONDS")]
    pub sandbox_async_retry_after: Option<u64>,
}

impl FaultArgs {
    fn to_file(&self) -> SandboxFile {
        SandboxFile {
            latency_ms: self.sandbox_latency_ms,
            error_5xx_rate: self.sandbox_5xx_rate,
            rate_429_rate: self.sandbox_429_rate,
            graphql_timeout_rate: self.sandbox_timeout_rate,
            seed: self.sandbox_seed,
            async_polls: self.sandbox_async_polls,
            async_retry_after_seconds: self.sandbox_async_retry_after,
        }
    }
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The API key the sandbox accepts (default: a new random key).
    #[arg(long)]
    pub api_key: Option<String>,
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    crate::logging::install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return parse_failure(&error),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(1, &format!("cannot start the async runtime: {error}")),
    };
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve::serve(*args)),
        Command::Sandbox(args) => runtime.block_on(sandbox::sandbox(args)),
        Command::Nrql(command) => nrql::run(command),
        Command::Plugins(command) => plugins::run(command),
        Command::Loadtest(args) => runtime.block_on(loadtest::loadtest(args)),
    }
}

/// Help and version go to stdout as clap wrote them; a usage error goes to stderr through the
/// sanitizer, since clap quotes the offending value and that may be a key typed in the wrong
/// place.
fn parse_failure(error: &ClapError) -> ExitCode {
    let code = u8::try_from(error.exit_code()).unwrap_or(2);
    let text = error.render().to_string();
    if error.use_stderr() {
        let _ = write!(std::io::stderr(), "{}", crate::sanitize::sanitize(&text));
    } else {
        let _ = write!(std::io::stdout(), "{text}");
    }
    ExitCode::from(code)
}

pub(crate) fn fail(code: u8, message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "newrelic-mcp: {}", crate::sanitize::sanitize(message));
    ExitCode::from(code)
}
