//! The front door round trip through the runtime, with the real built-in tools.
//!
//! Every call goes `RuntimeHandle::call` → front door (resolve, plan) → its destination →
//! reply, against an in-memory upstream that answers at once, so the figures are the
//! runtime's own cost per call:
//!
//! - `cache_hit`: `execute_nrql_query` whose answer is already in its cache shard;
//! - `local_plan`: `convert_time_period_to_epoch_ms`, answered by the front door itself;
//! - `uncached_executor`: a never-cached lookup through the executor pool;
//! - `cache_miss_fill`: `execute_nrql_query` with a new query each call (shard, executor, fill, render).
//!
//! Each is measured one call at a time (latency) and with 32 calls in flight (throughput).

#![allow(clippy::expect_used, clippy::panic)]

#[path = "support/fixtures.rs"]
mod fixtures;

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use newrelic_mcp_actors::call::ToolCall;
use newrelic_mcp_actors::tool::Plugin;
use serde_json::json;

use fixtures::{CannedUpstream, UNCACHED_TOOL, arguments, call_ok, drive_blocking, lookup, nrql_response};

const IN_FLIGHT: usize = 32;
const CACHED_QUERY: &str =
    "SELECT average(duration), count(*) FROM Transaction FACET appName SINCE 1 hour ago";

fn nrql_call(query: &str) -> ToolCall {
    ToolCall::new("execute_nrql_query", arguments(json!({ "nrql_query": query })))
}

fn front_door(c: &mut Criterion) {
    let runtime = fixtures::tokio_runtime();
    let upstream = CannedUpstream::new(nrql_response(10), Duration::ZERO);
    let mut plugins: Vec<Arc<dyn Plugin>> = newrelic_mcp::tools::builtin_plugins();
    plugins.extend(fixtures::bench_plugins());
    let handle = runtime.block_on(fixtures::start(fixtures::runtime_config(20), upstream.clone(), plugins));

    // Fill the cache once, and check that the calls below hit it and the local tool stays local.
    runtime.block_on(call_ok(&handle, nrql_call(CACHED_QUERY)));
    let fills = upstream.calls();
    runtime.block_on(call_ok(&handle, nrql_call(CACHED_QUERY)));
    let local = json!({"time_period": "last 30 minutes"});
    runtime.block_on(call_ok(
        &handle,
        ToolCall::new("convert_time_period_to_epoch_ms", arguments(local.clone())),
    ));
    assert_eq!(upstream.calls(), fills, "a cache hit or a local plan reached the upstream");

    let mut group = c.benchmark_group("front_door");
    group.throughput(Throughput::Elements(1));
    for in_flight in [1, IN_FLIGHT] {
        group.bench_function(format!("cache_hit/in_flight_{in_flight}"), |b| {
            b.iter_custom(|calls| {
                drive_blocking(&runtime, &handle, calls, in_flight, |_| nrql_call(CACHED_QUERY))
            });
        });
        group.bench_function(format!("local_plan/in_flight_{in_flight}"), |b| {
            let local = local.clone();
            b.iter_custom(|calls| {
                let local = local.clone();
                drive_blocking(&runtime, &handle, calls, in_flight, move |_| {
                    ToolCall::new("convert_time_period_to_epoch_ms", arguments(local.clone()))
                })
            });
        });
        group.bench_function(format!("uncached_executor/in_flight_{in_flight}"), |b| {
            b.iter_custom(|calls| {
                drive_blocking(&runtime, &handle, calls, in_flight, |_| lookup(UNCACHED_TOOL, "k"))
            });
        });
        group.bench_function(format!("cache_miss_fill/in_flight_{in_flight}"), |b| {
            let mut batch = 0u64;
            b.iter_custom(|calls| {
                batch += 1;
                let prefix = format!("SELECT count(*) FROM Transaction WHERE batch = {batch} AND call = ");
                drive_blocking(&runtime, &handle, calls, in_flight, move |index| {
                    nrql_call(&format!("{prefix}{index} SINCE 1 hour ago"))
                })
            });
        });
    }
    group.finish();
    runtime.block_on(handle.shutdown());
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = front_door
}
criterion_main!(benches);
