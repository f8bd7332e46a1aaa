//! The front door and the plugin registry: resolution, planning errors, local answers,
//! tool-table snapshots and plugin changes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::call::{CallError, ToolCall};
use newrelic_mcp_actors::tool::{ToolErrorKind, ToolFilter, WriteAccess};
use newrelic_mcp_actors::{RegistryError, Runtime, RuntimeConfig, StartError};
use serde_json::Map;
use support::*;

#[tokio::test]
async fn an_unknown_tool_is_named_with_the_known_ones() {
    let handle = start(small_config(), FakeUpstream::new()).await;
    match bounded(&handle, call("qeury", "x")).await {
        Err(CallError::UnknownTool { name, known }) => {
            assert_eq!(name, "qeury");
            assert_eq!(known, ["fetch", "list", "mutate", "query", "server_clock"]);
        }
        other => panic!("expected UnknownTool, got {other:?}"),
    }
    handle.shutdown().await;
}

#[tokio::test]
async fn plan_errors_become_the_right_kind_of_error() {
    let upstream = FakeUpstream::new();
    let handle = start(small_config(), upstream.clone()).await;
    match bounded(&handle, ToolCall::new("query", Map::new())).await {
        Err(CallError::InvalidArguments { tool, reason }) => {
            assert_eq!(tool, "query");
            assert_eq!(reason, "'q' must be a string");
        }
        other => panic!("expected InvalidArguments, got {other:?}"),
    }
    let refused = bounded(&handle, call("query", "refuse")).await;
    assert_eq!(tool_error(&refused).kind, ToolErrorKind::Policy);
    assert_eq!(upstream.calls(), 0, "nothing left the server");
    handle.shutdown().await;
}

#[tokio::test]
async fn local_tools_are_answered_without_upstream_and_see_the_current_time() {
    let upstream = FakeUpstream::new();
    let handle = start(small_config(), upstream.clone()).await;
    let output = bounded(&handle, call("server_clock", "")).await.unwrap();
    let now_ms = output.structured["now_epoch_ms"].as_i64().unwrap();
    assert!(now_ms > 1_600_000_000_000, "the plan context carries the wall clock: {now_ms}");
    assert_eq!(upstream.calls(), 0);
    assert_eq!(handle.stats().await.calls, 1);
    handle.shutdown().await;
}

#[tokio::test]
async fn the_tool_filter_shapes_the_table() {
    let config = RuntimeConfig {
        tool_filter: ToolFilter {
            enabled_categories: Some(vec!["data-access".to_string()]),
            enabled_tools: None,
            disabled_tools: vec!["mutate".to_string()],
            write_access: WriteAccess::Destructive,
        },
        ..small_config()
    };
    let handle = Runtime::start(config, FakeUpstream::new(), vec![standard_plugin()]).await.unwrap();
    let names: Vec<String> = handle.tools().await.iter().map(|tool| tool.descriptor().name.clone()).collect();
    assert_eq!(names, ["fetch", "list", "query"]);
    assert!(matches!(bounded(&handle, call("mutate", "x")).await, Err(CallError::UnknownTool { .. })));
    handle.shutdown().await;
}

#[tokio::test]
async fn plugins_can_be_loaded_and_unloaded_at_run_time() {
    let handle = start(small_config(), FakeUpstream::new()).await;
    let mut changes = handle.subscribe_tool_changes();
    let first_generation = handle.tools().await.generation;

    let extra =
        TestPlugin::shared("extra", vec![Arc::new(EchoTool::cached("extra_query", Duration::from_secs(5)))]);
    handle.register_plugin(extra.clone()).await.unwrap();
    let announced = tokio::time::timeout(BOUND, changes.recv()).await.unwrap().unwrap();
    assert!(announced > first_generation);
    let table = handle.tools().await;
    assert_eq!(table.generation, announced);
    assert!(table.get("extra_query").is_some());
    assert_eq!(table.plugins().iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["test", "extra"]);
    bounded(&handle, call("extra_query", "x")).await.expect("the new tool is callable");

    assert_eq!(
        handle.register_plugin(extra).await,
        Err(RegistryError::DuplicatePlugin { name: "extra".to_string() })
    );
    let clash = TestPlugin::shared("clash", vec![Arc::new(EchoTool::uncached("query"))]);
    match handle.register_plugin(clash).await {
        Err(RegistryError::DuplicateTool(duplicate)) => {
            assert_eq!(
                (duplicate.tool.as_str(), duplicate.first.as_str(), duplicate.second.as_str()),
                ("query", "test", "clash")
            );
        }
        other => panic!("expected DuplicateTool, got {other:?}"),
    }
    assert_eq!(handle.tools().await.generation, announced, "refused changes publish nothing");

    handle.unregister_plugin("extra").await.unwrap();
    let after = tokio::time::timeout(BOUND, changes.recv()).await.unwrap().unwrap();
    assert!(after > announced);
    assert!(matches!(bounded(&handle, call("extra_query", "x")).await, Err(CallError::UnknownTool { .. })));
    assert_eq!(
        handle.unregister_plugin("extra").await,
        Err(RegistryError::UnknownPlugin { name: "extra".to_string(), known: vec!["test".to_string()] })
    );
    assert_eq!(handle.stats().await.tool_table_generation, after);
    handle.shutdown().await;
}

#[tokio::test]
async fn duplicate_tools_and_bad_configs_refuse_to_start() {
    let twin = TestPlugin::shared("twin", vec![Arc::new(EchoTool::uncached("query"))]);
    let result = Runtime::start(small_config(), FakeUpstream::new(), vec![standard_plugin(), twin]).await;
    assert!(matches!(result, Err(StartError::DuplicateTool(_))), "{:?}", result.err());
    let bad = RuntimeConfig { executor_workers: 0, ..small_config() };
    match Runtime::start(bad, FakeUpstream::new(), vec![]).await {
        Err(StartError::InvalidConfig(reason)) => assert!(reason.contains("executor_workers")),
        other => panic!("expected InvalidConfig, got {:?}", other.err()),
    }
}

#[tokio::test]
async fn several_runtimes_share_a_process_without_colliding() {
    let (first_upstream, second_upstream) = (FakeUpstream::new(), FakeUpstream::new());
    let first = start(small_config(), first_upstream.clone()).await;
    let second = start(small_config(), second_upstream.clone()).await;
    bounded(&first, call("fetch", "a")).await.unwrap();
    bounded(&second, call("fetch", "b")).await.unwrap();
    bounded(&second, call("fetch", "c")).await.unwrap();
    assert_eq!((first_upstream.calls(), second_upstream.calls()), (1, 2));
    first.shutdown().await;
    bounded(&second, call("fetch", "d")).await.expect("the other runtime is unaffected");
    second.shutdown().await;
}

#[tokio::test]
async fn a_cancelled_call_is_answered_at_once() {
    let upstream = FakeUpstream::gated();
    let handle = start(small_config(), upstream.clone()).await;
    let request = call("fetch", "slow");
    let cancel = request.cancel.clone();
    let pending = tokio::spawn({
        let handle = handle.clone();
        async move { bounded(&handle, request).await }
    });
    eventually("the call reaches upstream", || upstream.calls() == 1).await;
    cancel.cancel();
    assert_eq!(tool_error(&pending.await.unwrap()).kind, ToolErrorKind::Cancelled);
    eventually("the upstream call is abandoned", || upstream.cancels_seen() == 1).await;
    handle.shutdown().await;
}

#[tokio::test]
async fn a_repeated_cacheable_call_is_not_planned_again_until_the_table_changes() {
    let query = EchoTool::cached("query", Duration::from_secs(60));
    let fetch = EchoTool::uncached("fetch");
    let (query_plans, fetch_plans) = (query.plans(), fetch.plans());
    let plugin = TestPlugin::shared("test", vec![Arc::new(query), Arc::new(fetch)]);
    let upstream = FakeUpstream::new();
    let handle = Runtime::start(small_config(), upstream.clone(), vec![plugin]).await.unwrap();
    let plans = |counter: &std::sync::atomic::AtomicUsize| counter.load(std::sync::atomic::Ordering::SeqCst);

    for _ in 0..5 {
        bounded(&handle, call("query", "same")).await.unwrap();
        bounded(&handle, call("fetch", "same")).await.unwrap();
    }
    assert_eq!(plans(&query_plans), 1, "the cacheable call was planned once");
    assert_eq!(plans(&fetch_plans), 5, "uncached calls are planned every time");
    assert_eq!(upstream.calls(), 1 + 5);

    bounded(&handle, call("query", "other")).await.unwrap();
    assert_eq!(plans(&query_plans), 2, "other arguments are planned");

    // A new tool table (a plugin loaded) may change any tool: plans made before it are not reused.
    handle
        .register_plugin(TestPlugin::shared("extra", vec![Arc::new(EchoTool::uncached("extra"))]))
        .await
        .unwrap();
    bounded(&handle, call("query", "same")).await.unwrap();
    assert_eq!(plans(&query_plans), 3);
    assert_eq!(upstream.calls(), 1 + 5 + 1, "the replanned call was still a cache hit");
    handle.shutdown().await;
}
