//! `newrelic-mcp sandbox`: the built-in NerdGraph alone.

use std::io::Write;
use std::process::ExitCode;

use super::{SandboxArgs, fail};
use crate::config::{self, LogFormat};
use crate::logging;
use crate::server;

pub(super) async fn sandbox(args: SandboxArgs) -> ExitCode {
    logging::init(LogFormat::Text);
    let settings = match config::sandbox_settings(&args.faults.to_file(), None) {
        Ok(settings) => settings,
        Err(error) => return fail(error.exit_code(), &error.to_string()),
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
