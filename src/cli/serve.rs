//! `newrelic-mcp serve`: MCP over stdio.

use std::process::ExitCode;

use super::{ServeArgs, fail};
use crate::config::{self, Overrides};
use crate::logging;
use crate::server::{self, Server};

pub(super) async fn serve(args: ServeArgs) -> ExitCode {
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
        nrql_per_minute: args.nrql_per_minute,
        sandbox_faults: args.faults.to_file(),
        enabled_categories: args.enabled_categories,
        enabled_tools: args.enabled_tools,
        disabled_tools: args.disabled_tools,
        plugin_dir: args.plugin_dir,
        enable_writes: args.enable_writes,
        enable_destructive: args.enable_destructive,
        enable_admin_mutations: args.enable_admin_mutations,
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
    #[cfg(feature = "chaos")]
    let chaos = args.chaos_interval_ms.map(|every| {
        tracing::warn!(
            interval_ms = every,
            "chaos mode: a random component will crash about every {every} ms"
        );
        crate::chaos::start(server.runtime.clone(), std::time::Duration::from_millis(every), None)
    });
    let (reader, writer) = crate::mcp::stdio_transport();
    let outcome = server.serve(reader, writer, server::shutdown_signal()).await;
    #[cfg(feature = "chaos")]
    if let Some(chaos) = chaos {
        let crashes = chaos.stop().await;
        tracing::info!(crashes, "chaos mode stopped");
    }
    server.stop().await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            fail(error.exit_code(), &error.to_string())
        }
    }
}
