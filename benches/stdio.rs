//! Calls per second over real stdio pipes: newrelic-mcp against a bare rmcp server.
//!
//! Spawns `newrelic-mcp serve --sandbox` and the `echo_server` example (build it first:
//! `cargo build --release --example echo_server`), completes each handshake, and keeps 32
//! calls in flight: a cached `execute_nrql_query` (filled once before measuring) and the
//! echo tool, side by side in one run. Latency percentiles and the ratio of the two are
//! printed by `cargo run --release --example stdio_compare`.

#![allow(clippy::expect_used, clippy::panic)]

#[path = "support/stdio_driver.rs"]
mod stdio_driver;

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;

use stdio_driver::{StdioServer, echo_arguments, echo_server_binary, nrql_arguments};

const IN_FLIGHT: usize = 32;
const NEWRELIC_MCP: &str = env!("CARGO_BIN_EXE_newrelic-mcp");

fn measure(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    server: &mut StdioServer,
    tool: &str,
    arguments: &Value,
) {
    // The first call fills the cache; every measured call is then a hit.
    runtime.block_on(server.run(tool, arguments, 1, 1)).expect("the first call succeeds");
    let mut group = c.benchmark_group("stdio/in_flight_32");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        b.iter_custom(|calls| {
            runtime
                .block_on(server.run(tool, arguments, calls, IN_FLIGHT))
                .expect("every call succeeds")
                .elapsed
        });
    });
    group.finish();
}

fn stdio(c: &mut Criterion) {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime starts");
    let profile_dir = Path::new(NEWRELIC_MCP).parent().expect("the binary is inside target/<profile>");
    let echo_binary = echo_server_binary(profile_dir);
    let build_newrelic = "cargo build --release --bin newrelic-mcp";
    let build_echo = "cargo build --release --example echo_server";

    let mut newrelic = runtime
        .block_on(StdioServer::start(Path::new(NEWRELIC_MCP), &["serve", "--sandbox"], build_newrelic))
        .expect("newrelic-mcp starts");
    let mut echo =
        runtime.block_on(StdioServer::start(&echo_binary, &[], build_echo)).expect("the echo server starts");

    measure(c, &runtime, "newrelic_mcp_cached_nrql", &mut newrelic, "execute_nrql_query", &nrql_arguments());
    measure(c, &runtime, "rmcp_echo", &mut echo, "echo", &echo_arguments());

    runtime.block_on(newrelic.stop());
    runtime.block_on(echo.stop());
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = stdio
}
criterion_main!(benches);
