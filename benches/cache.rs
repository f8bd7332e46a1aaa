//! Cache throughput: reads (hits) and writes (fills) per second, and coalescing.
//!
//! - `store`: one shard's store alone (quick_cache with TTLs), single-threaded as a shard
//!   owns it: the ceiling of what a shard can do.
//! - `shard`: through the runtime (front door → shard → reply) with 64 calls in flight:
//!   `get_hit` reads a key that is cached; `put_fill` reads a new key each call, so every
//!   call is a miss that the executor fills (in-memory upstream, instant) and the shard stores.
//! - `coalescing`: N concurrent identical misses on a new key, with an upstream that takes
//!   1 ms; the bench checks that each batch made exactly one upstream call.

#![allow(clippy::expect_used, clippy::panic)]

#[path = "support/fixtures.rs"]
mod fixtures;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use newrelic_mcp_actors::cache::store::TtlStore;
use newrelic_mcp_actors::tool::{CacheKey, ToolOutput};
use serde_json::{Value, json};

use fixtures::{CACHED_TOOL, CannedUpstream, call_ok, drive_blocking, lookup, lookup_response};

const IN_FLIGHT: usize = 64;
const STORE_KEYS: usize = 10_000;
const TTL: Duration = Duration::from_secs(3600);

fn key(index: usize) -> CacheKey {
    CacheKey::new(CACHED_TOOL, None, &Value::from(index))
}

/// An output of about 1 KiB, like a small NRQL answer.
fn output() -> Arc<ToolOutput> {
    let rows: Vec<Value> =
        (0..10).map(|row| json!({"appName": format!("service-{row}"), "count": row})).collect();
    let text = rows.iter().map(Value::to_string).collect::<Vec<_>>().join("\n");
    Arc::new(ToolOutput { structured: json!({ "results": rows }), text })
}

fn store(c: &mut Criterion) {
    let keys: Vec<CacheKey> = (0..STORE_KEYS).map(key).collect();
    let output = output();
    let mut group = c.benchmark_group("cache/store");
    group.throughput(Throughput::Elements(STORE_KEYS as u64));
    group.bench_function("get_hit", |b| {
        let mut store = TtlStore::new(64 * 1024 * 1024);
        let now = tokio::time::Instant::now();
        for key in &keys {
            store.insert(*key, output.clone(), TTL, now);
        }
        b.iter(|| {
            for key in &keys {
                black_box(store.get(key, now));
            }
        });
    });
    group.bench_function("put_fill", |b| {
        b.iter_batched_ref(
            || TtlStore::new(64 * 1024 * 1024),
            |store| {
                let now = tokio::time::Instant::now();
                for key in &keys {
                    store.insert(*key, output.clone(), TTL, now);
                }
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

fn shard(c: &mut Criterion) {
    let runtime = fixtures::tokio_runtime();
    let upstream = CannedUpstream::new(lookup_response(), Duration::ZERO);
    let handle = runtime.block_on(fixtures::start(
        fixtures::runtime_config(20),
        upstream.clone(),
        fixtures::bench_plugins(),
    ));
    runtime.block_on(call_ok(&handle, lookup(CACHED_TOOL, "hot")));
    let fills = upstream.calls();

    let mut group = c.benchmark_group("cache/shard");
    group.throughput(Throughput::Elements(1));
    group.bench_function("get_hit", |b| {
        b.iter_custom(|calls| {
            drive_blocking(&runtime, &handle, calls, IN_FLIGHT, |_| lookup(CACHED_TOOL, "hot"))
        });
    });
    assert_eq!(upstream.calls(), fills, "reads of a cached key reached the upstream");

    let mut batch = 0u64;
    let mut writes = 0u64;
    group.bench_function("put_fill", |b| {
        b.iter_custom(|calls| {
            batch += 1;
            writes += calls;
            drive_blocking(&runtime, &handle, calls, IN_FLIGHT, move |index| {
                lookup(CACHED_TOOL, &format!("fill-{batch}-{index}"))
            })
        });
    });
    assert_eq!(upstream.calls(), fills + writes, "every new key is filled exactly once");
    group.finish();
    runtime.block_on(handle.shutdown());
}

fn coalescing(c: &mut Criterion) {
    let runtime = fixtures::tokio_runtime();
    let upstream = CannedUpstream::new(lookup_response(), Duration::from_millis(1));
    let handle = runtime.block_on(fixtures::start(
        fixtures::runtime_config(20),
        upstream.clone(),
        fixtures::bench_plugins(),
    ));

    let mut group = c.benchmark_group("cache/coalescing");
    let mut batches = 0u64;
    for waiters in [32usize, 256, 1024] {
        group.throughput(Throughput::Elements(waiters as u64));
        group.bench_with_input(BenchmarkId::from_parameter(waiters), &waiters, |b, &waiters| {
            b.iter_custom(|iterations| {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iterations {
                    batches += 1;
                    let key = format!("coalesce-{batches}");
                    elapsed += drive_blocking(&runtime, &handle, waiters as u64, waiters, move |_| {
                        lookup(CACHED_TOOL, &key)
                    });
                }
                elapsed
            });
        });
    }
    group.finish();
    assert_eq!(upstream.calls(), batches, "concurrent identical misses made more than one upstream call");
    runtime.block_on(handle.shutdown());
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = store, shard, coalescing
}
criterion_main!(benches);
