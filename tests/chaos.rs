//! Chaos, in-process on the sandbox: a random component crashes about every 100 ms for about
//! three seconds under concurrent load. Every call is answered (a result or a retriable tool
//! error), none hangs, read-only calls succeed at least 99% of the time thanks to the one
//! transparent retry, and the restart budget never escalates.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use newrelic_mcp::chaos;
use newrelic_mcp::config::{self, Overrides, SandboxFile};
use newrelic_mcp::server::Server;
use newrelic_mcp_actors::call::{CallError, ToolCall};
use serde_json::{Value, json};

/// Longest any single call may take before the test fails instead of hanging.
const BOUND: Duration = Duration::from_secs(30);
const CHAOS_FOR: Duration = Duration::from_secs(3);
const CLIENTS: usize = 8;

fn nrql(query: String) -> ToolCall {
    let Value::Object(arguments) = json!({ "nrql_query": query }) else { unreachable!() };
    ToolCall::new("execute_nrql_query", arguments)
}

#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    retriable: AtomicUsize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_keeps_answering_while_components_crash() {
    let overrides = Overrides {
        sandbox: true,
        sandbox_faults: SandboxFile { latency_ms: Some(2), seed: Some(5), ..Default::default() },
        ..Default::default()
    };
    let settings = config::resolve(&overrides, &|_| None, None).unwrap();
    let server = Arc::new(Server::start(&settings).await.unwrap());
    let monkey = chaos::start(server.runtime.clone(), Duration::from_millis(100), Some(17));
    let tally = Arc::new(Tally::default());
    let until = Instant::now() + CHAOS_FOR;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (server, tally) = (server.clone(), tally.clone());
            tokio::spawn(async move {
                let mut n = 0usize;
                while Instant::now() < until {
                    n += 1;
                    // Half the queries repeat (cache hits and coalescing), half are new (fills).
                    let query = match n % 2 {
                        0 => format!("SELECT count(*) FROM Transaction WHERE appName != 'shared-{}'", n % 10),
                        _ => format!("SELECT count(*) FROM Transaction WHERE appName != 'c{client}-{n}'"),
                    };
                    let answer = tokio::time::timeout(BOUND, server.runtime.call(nrql(query)))
                        .await
                        .unwrap_or_else(|_| panic!("client {client}: call {n} hung"));
                    match answer {
                        Ok(_) => tally.ok.fetch_add(1, Ordering::Relaxed),
                        Err(CallError::Tool(error)) if error.kind.is_retriable() => {
                            eprintln!("retriable: {:?} {}", error.kind, error.message);
                            tally.retriable.fetch_add(1, Ordering::Relaxed)
                        }
                        Err(other) => panic!("client {client}: call {n} failed for good: {other:?}"),
                    };
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    let crashes = monkey.stop().await;
    let stats = server.runtime.stats().await;
    let (ok, retriable) = (tally.ok.load(Ordering::Relaxed), tally.retriable.load(Ordering::Relaxed));
    let total = ok + retriable;
    eprintln!(
        "{crashes} crashes, {} restarts; {ok} of {total} calls succeeded, {retriable} retriable errors; \
         restart latency p50 {} µs, p99 {} µs, max {} µs",
        stats.restarts,
        stats.restart_latency_p50_micros,
        stats.restart_latency_p99_micros,
        stats.restart_latency_max_micros
    );
    assert!(crashes >= 15, "about one crash per 100 ms: {crashes}");
    assert!(stats.restarts >= crashes / 2, "crashes were restarted: {stats:?}");
    assert!(!stats.escalated, "the restart budget escalated");
    assert!(total >= 100, "the load was real: {total} calls");
    assert!(ok * 100 >= total * 99, "only {ok} of {total} calls succeeded");
    assert!(stats.restart_latency_p99_micros > 0, "restart latencies were recorded");
    assert!(stats.restart_latency_p99_micros < 2_000_000, "a restart took too long: {stats:?}");
    // After the storm the runtime serves as before.
    let after =
        tokio::time::timeout(BOUND, server.runtime.call(nrql("SELECT count(*) FROM Log".into()))).await;
    after.unwrap().expect("the runtime recovered");
    match Arc::try_unwrap(server) {
        Ok(server) => server.stop().await,
        Err(_) => panic!("a task still holds the server"),
    }
}
