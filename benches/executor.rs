//! Executor pool latency against pool size, under a fixed concurrent load.
//!
//! 32 never-cached calls are kept in flight against an upstream that takes 1 ms (a tokio
//! sleep, so really 1 ms to about 2 ms), with 1, 5 and 20 workers. Criterion reports the
//! time per completed call, the inverse of the pool's throughput; by Little's law the mean
//! latency of a call is 32 times that. The ideal is `1 ms / workers` per call.

#![allow(clippy::expect_used, clippy::panic)]

#[path = "support/fixtures.rs"]
mod fixtures;

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use fixtures::{CannedUpstream, UNCACHED_TOOL, drive_blocking, lookup, lookup_response};

const IN_FLIGHT: usize = 32;
const UPSTREAM_LATENCY: Duration = Duration::from_millis(1);

fn executor(c: &mut Criterion) {
    let runtime = fixtures::tokio_runtime();
    let mut group = c.benchmark_group("executor/in_flight_32_upstream_1ms");
    group.throughput(Throughput::Elements(1));
    for workers in [1usize, 5, 20] {
        let upstream = CannedUpstream::new(lookup_response(), UPSTREAM_LATENCY);
        let handle = runtime.block_on(fixtures::start(
            fixtures::runtime_config(workers),
            upstream.clone(),
            fixtures::bench_plugins(),
        ));
        let mut calls_made = 0u64;
        group.bench_with_input(BenchmarkId::new("workers", workers), &workers, |b, _| {
            b.iter_custom(|calls| {
                calls_made += calls;
                drive_blocking(&runtime, &handle, calls, IN_FLIGHT, |_| lookup(UNCACHED_TOOL, "k"))
            });
        });
        assert_eq!(upstream.calls(), calls_made, "every uncached call reaches the upstream once");
        runtime.block_on(handle.shutdown());
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = executor
}
criterion_main!(benches);
