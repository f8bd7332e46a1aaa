//! Supervision: crashes in the middle of traffic, restarts, rewiring and escalation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/support.rs"]
mod support;

use std::time::Duration;

use newrelic_mcp_actors::call::CallError;
use newrelic_mcp_actors::supervisor::RestartBudget;
use newrelic_mcp_actors::tool::ToolErrorKind;
use newrelic_mcp_actors::{ChaosTarget, RuntimeConfig, RuntimeHandle};
use support::*;

/// Sends `count` calls over a few keys of both cached and uncached tools.
fn traffic(handle: &RuntimeHandle, count: usize) -> Vec<tokio::task::JoinHandle<Result<(), String>>> {
    (0..count)
        .map(|n| {
            let handle = handle.clone();
            tokio::spawn(async move {
                let tool = if n % 2 == 0 { "query" } else { "fetch" };
                match bounded(&handle, call(tool, &format!("key-{}", n % 7))).await {
                    Ok(_) => Ok(()),
                    Err(CallError::Tool(error)) if error.kind.is_retriable() => Ok(()),
                    Err(other) => Err(format!("call {n} ended with a non-retriable error: {other:?}")),
                }
            })
        })
        .collect()
}

async fn all_answered(calls: Vec<tokio::task::JoinHandle<Result<(), String>>>) {
    for call in calls {
        call.await.expect("no call panicked or hung").expect("every call gets a result or a retriable error");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_a_shard_and_a_worker_mid_traffic_leaves_no_call_hanging() {
    let upstream = FakeUpstream::new();
    upstream.set_latency(Some(Duration::from_millis(20)));
    // A queue long enough that the crash job is not shed with the overflow.
    let handle = start(RuntimeConfig { executor_queue: 1_000, ..small_config() }, upstream.clone()).await;
    let calls = traffic(&handle, 300);
    eventually("traffic reaches upstream", || upstream.calls() >= 2).await;
    handle.crash(ChaosTarget::CacheShard(0));
    handle.crash(ChaosTarget::CacheShard(1));
    handle.crash(ChaosTarget::ExecutorWorker);
    // Two workers also die holding a call (a fill or a direct read).
    upstream.panic_next(2);
    all_answered(calls).await;
    eventually_stats(&handle, "shards and workers restarted", |s| s.restarts >= 5).await;
    upstream.set_latency(None);
    for n in 0..50 {
        let tool = if n % 2 == 0 { "query" } else { "fetch" };
        bounded(&handle, call(tool, &format!("later-{n}"))).await.expect("later calls succeed");
    }
    let stats = handle.stats().await;
    assert!(!stats.escalated);
    assert!(stats.restart_latency_max_micros > 0);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_component_comes_back_and_is_rewired() {
    let upstream = FakeUpstream::new();
    let handle = start(small_config(), upstream.clone()).await;
    let targets = [
        ChaosTarget::Breaker,
        ChaosTarget::FrontDoor,
        ChaosTarget::Registry,
        ChaosTarget::CacheShard(0),
        ChaosTarget::CacheShard(1),
        ChaosTarget::ExecutorWorker,
    ];
    for (n, target) in targets.into_iter().enumerate() {
        let before = handle.stats().await.restarts;
        handle.crash(target);
        eventually_stats(&handle, &format!("{target:?} restarted"), |s| s.restarts > before).await;
        for key in 0..4 {
            bounded(&handle, call("query", &format!("{n}-{key}"))).await.expect("cached path works");
            bounded(&handle, call("fetch", &format!("{n}-{key}"))).await.expect("uncached path works");
        }
        assert_eq!(handle.stats().await.breaker.len(), 1, "the breaker answers after {target:?}");
    }
    assert!(handle.tools().await.get("query").is_some(), "the tool table survived the restarts");
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_registry_keeps_plugins_loaded_at_run_time() {
    let handle = start(small_config(), FakeUpstream::new()).await;
    let extra = TestPlugin::shared("extra", vec![std::sync::Arc::new(EchoTool::uncached("extra_fetch"))]);
    handle.register_plugin(extra).await.unwrap();
    let generation = handle.tools().await.generation;
    handle.crash(ChaosTarget::Registry);
    eventually_stats(&handle, "registry restarted", |s| s.restarts >= 1).await;
    eventually_stats(&handle, "a newer table is published", |s| s.tool_table_generation > generation).await;
    assert_eq!(handle.unregister_plugin("extra").await, Ok(()), "the restarted registry knows the plugin");
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_lost_with_a_crashed_front_door_are_retried() {
    let upstream = FakeUpstream::gated();
    let handle = start(small_config(), upstream.clone()).await;
    let calls = traffic(&handle, 40);
    handle.crash(ChaosTarget::FrontDoor);
    upstream.open();
    all_answered(calls).await;
    bounded(&handle, call("fetch", "after")).await.expect("served by the new front door");
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausting_the_restart_budget_escalates() {
    let budget = RestartBudget {
        max_restarts: 2,
        window: Duration::from_secs(600),
        backoff_initial: Duration::from_millis(1),
        backoff_max: Duration::from_millis(5),
    };
    let handle = start(RuntimeConfig { restart_budget: budget, ..small_config() }, FakeUpstream::new()).await;
    for restarts in 1..=2 {
        handle.crash(ChaosTarget::Breaker);
        eventually_stats(&handle, "breaker restarted", |s| s.restarts == restarts && s.breaker.len() == 1)
            .await;
    }
    assert!(!handle.stats().await.escalated);
    handle.crash(ChaosTarget::Breaker);
    tokio::time::timeout(BOUND, handle.escalated()).await.expect("the supervisor escalates");
    assert!(handle.stats().await.escalated);
    let refused = bounded(&handle, call("fetch", "x")).await;
    assert_eq!(tool_error(&refused).kind, ToolErrorKind::Internal);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_budget_absorbs_steady_crashes() {
    let handle = start(small_config(), FakeUpstream::new()).await;
    let targets = [ChaosTarget::CacheShard(0), ChaosTarget::CacheShard(1), ChaosTarget::ExecutorWorker];
    for round in 0..15 {
        let target = targets[round % targets.len()];
        let before = handle.stats().await.restarts;
        handle.crash(target);
        eventually_stats(&handle, "restarted", |s| s.restarts > before).await;
    }
    assert!(!handle.stats().await.escalated);
    bounded(&handle, call("query", "still-fine")).await.unwrap();
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_signer_forgets_pending_confirmations_and_writes_go_on() {
    let upstream = FakeUpstream::new();
    let handle = start(small_config(), upstream.clone()).await;
    let preview = bounded(&handle, call("mutate", "policy-a")).await.unwrap();
    let token = preview.structured["confirmation"]["confirmation_token"].as_str().unwrap().to_string();
    handle.crash(ChaosTarget::Signer);
    eventually_stats(&handle, "signer restarted", |s| s.restarts >= 1).await;

    // The supervisor sends the front door the new address before it counts the restart, so
    // this call is routed to the new signer, which never issued the token.
    let forgotten = bounded(&handle, confirmed(call("mutate", "policy-a"), &token)).await;
    let error = tool_error(&forgotten);
    assert_eq!(error.kind, ToolErrorKind::Policy);
    assert!(error.message.contains("no longer remembers"), "{}", error.message);
    assert_eq!(upstream.calls(), 0, "nothing was written with the forgotten token");

    let preview = bounded(&handle, call("mutate", "policy-a")).await.unwrap();
    let token = preview.structured["confirmation"]["confirmation_token"].as_str().unwrap().to_string();
    bounded(&handle, confirmed(call("mutate", "policy-a"), &token)).await.expect("a new confirmation works");
    assert_eq!(upstream.received(newrelic_mcp_actors::upstream::RequestKind::Write), 1);
    handle.shutdown().await;
}
