//! The `newrelic-mcp` command line.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, LogFormat, Overrides, SandboxFile, SandboxSettings};
use crate::logging;
use crate::server::{self, Server};

#[derive(Debug, Parser)]
#[command(name = "newrelic-mcp", version, about = "A Model Context Protocol server for New Relic")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over stdio (for Claude Desktop, Claude Code, Cursor and other MCP clients).
    Serve(ServeArgs),
    /// Run the built-in NerdGraph sandbox alone, printing its address and API key.
    Sandbox(SandboxArgs),
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
    /// Cache shards (default: number of cores).
    #[arg(long)]
    pub cache_shards: Option<usize>,
    /// NerdGraph requests in flight at most (default 20).
    #[arg(long)]
    pub executor_workers: Option<usize>,
    /// Calls that may wait for a worker before new ones are refused (default 256).
    #[arg(long)]
    pub executor_queue: Option<usize>,
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// Fault injection for the sandbox (with `--sandbox`, or the `sandbox` command).
#[derive(Debug, Args, Default)]
pub struct FaultArgs {
    /// Latency added to every sandbox response, in milliseconds.
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
}

impl FaultArgs {
    fn to_file(&self) -> SandboxFile {
        SandboxFile {
            latency_ms: self.sandbox_latency_ms,
            error_5xx_rate: self.sandbox_5xx_rate,
            rate_429_rate: self.sandbox_429_rate,
            graphql_timeout_rate: self.sandbox_timeout_rate,
            seed: self.sandbox_seed,
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
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(1, &format!("cannot start the async runtime: {error}")),
    };
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
        Command::Sandbox(args) => runtime.block_on(sandbox(args)),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "newrelic-mcp: {}", crate::sanitize::sanitize(message));
    ExitCode::from(code)
}

async fn serve(args: ServeArgs) -> ExitCode {
    let overrides = Overrides {
        config_file: args.config.clone(),
        sandbox: args.sandbox,
        account_id: args.account_id,
        region: args.region,
        nerdgraph_url: args.nerdgraph_url,
        allow_local_endpoint: args.allow_local_endpoint,
        allowed_accounts: args.allowed_accounts,
        log_format: args.log_format,
        cache_shards: args.cache_shards,
        executor_workers: args.executor_workers,
        executor_queue: args.executor_queue,
        sandbox_faults: args.faults.to_file(),
    };
    let file = match &overrides.config_file {
        Some(path) => match config::read_file(path) {
            Ok(file) => Some(file),
            Err(error) => return fail(error.exit_code(), &error.to_string()),
        },
        None => None,
    };
    let settings = match config::resolve(&overrides, &|name| std::env::var(name).ok(), file) {
        Ok(settings) => settings,
        Err(error) => return fail(error.exit_code(), &error.to_string()),
    };
    logging::init(settings.log_format);
    let server = match Server::start(&settings).await {
        Ok(server) => server,
        Err(error) => return fail(error.exit_code(), &error.to_string()),
    };
    tracing::info!(sandbox = args.sandbox, "newrelic-mcp serving MCP on stdio");
    let (reader, writer) = crate::mcp::stdio_transport();
    let outcome = server.serve(reader, writer, server::shutdown_signal()).await;
    server.stop().await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            fail(error.exit_code(), &error.to_string())
        }
    }
}

async fn sandbox(args: SandboxArgs) -> ExitCode {
    logging::init(LogFormat::Text);
    let faults = args.faults.to_file();
    let settings = SandboxSettings {
        latency: std::time::Duration::from_millis(faults.latency_ms.unwrap_or(0)),
        error_5xx_rate: faults.error_5xx_rate.unwrap_or(0.0),
        rate_429_rate: faults.rate_429_rate.unwrap_or(0.0),
        graphql_timeout_rate: faults.graphql_timeout_rate.unwrap_or(0.0),
        seed: faults.seed,
    };
    let mut config = server::sandbox_config(&settings);
    if let Some(key) = args.api_key {
        config.api_key = key;
    }
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(error) => return fail(1, &format!("cannot listen on {}: {error}", args.listen)),
    };
    let address = match listener.local_addr() {
        Ok(address) => address,
        Err(error) => return fail(1, &format!("cannot read the listening address: {error}")),
    };
    let url = format!("http://{address}/graphql");
    // The key is printed on purpose: it is the sandbox's own, and the user needs it.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "sandbox NerdGraph listening on {url}");
    let _ = writeln!(out, "API key: {}", config.api_key);
    let _ = writeln!(
        out,
        "use it with: NEW_RELIC_API_KEY={} NEW_RELIC_NERDGRAPH_URL={url} newrelic-mcp serve --allow-local-endpoint",
        config.api_key
    );
    let _ = out.flush();
    drop(out);
    match newrelic_mcp_sandbox::run(listener, config, server::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(1, &error.to_string()),
    }
}
