//! The runtime's live figures: gathered for [`RuntimeHandle::stats`](crate::RuntimeHandle::stats)
//! and for tools that report on the server itself.
//!
//! Counters are atomics read without asking anyone; only the breaker's state needs a message.
//! A tool call that asks for them is answered from a short task of its own, so the front door
//! never waits on the breaker.

use std::sync::Arc;
use std::time::Duration;

use ractor::ActorRef;
use ractor::RpcReplyPort;
use ractor::rpc::CallResult as RpcCallResult;

use crate::breaker::BreakerMsg;
use crate::call::{CallError, CallResult, RuntimeStats};
use crate::counters::Counters;
use crate::tool::{RuntimeView, StatusRenderer, ToolTable};

/// How long a status call waits for the breaker before reporting without it.
const BREAKER_STATUS_TIMEOUT: Duration = Duration::from_secs(1);

/// The counters, plus the breaker's state when it answers within `breaker_timeout`.
pub(crate) async fn collect(
    counters: &Counters,
    breaker: Option<ActorRef<BreakerMsg>>,
    breaker_timeout: Duration,
    escalated: bool,
) -> RuntimeStats {
    let read = Counters::read;
    let breaker = match breaker {
        Some(breaker) => match breaker.call(BreakerMsg::Status, Some(breaker_timeout)).await {
            Ok(RpcCallResult::Success(status)) => vec![status],
            _ => Vec::new(),
        },
        None => Vec::new(),
    };
    RuntimeStats {
        calls: read(&counters.calls),
        cache_hits: read(&counters.cache_hits),
        cache_misses: read(&counters.cache_misses),
        coalesced: read(&counters.coalesced),
        cache_entries: counters.shard_entries.iter().map(read).sum(),
        cache_bytes: counters.shard_bytes.iter().map(read).sum(),
        upstream_calls: read(&counters.upstream_calls),
        upstream_in_flight: read(&counters.upstream_in_flight),
        upstream_in_flight_high_water: read(&counters.upstream_in_flight_high_water),
        rejected_overloaded: read(&counters.rejected_overloaded),
        rejected_rate_limited: read(&counters.rejected_rate_limited),
        breaker,
        restarts: read(&counters.restarts),
        tool_table_generation: read(&counters.tool_table_generation),
        restart_latency_last_micros: read(&counters.restart_latency_last_micros),
        restart_latency_max_micros: read(&counters.restart_latency_max_micros),
        restart_latency_p50_micros: counters.restart_latency_quantile(0.5),
        restart_latency_p99_micros: counters.restart_latency_quantile(0.99),
        recent_restarts: counters.recent_restarts(),
        escalated,
    }
}

/// Answers a status call from its own task: the figures, rendered, go to `reply`.
///
/// `escalated` is false here: a front door that still routes calls belongs to a runtime
/// that has not given up.
pub(crate) fn answer(
    counters: Arc<Counters>,
    breaker: ActorRef<BreakerMsg>,
    table: Arc<ToolTable>,
    render: StatusRenderer,
    reply: RpcReplyPort<CallResult>,
) {
    tokio::spawn(async move {
        let stats = collect(&counters, Some(breaker), BREAKER_STATUS_TIMEOUT, false).await;
        let view = RuntimeView { stats, table };
        let _ = reply.send(render(&view).map(Arc::new).map_err(CallError::Tool));
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use serde_json::{Map, Value, json};
    use tokio::time::Instant;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::call::ToolCall;
    use crate::runtime::{Runtime, RuntimeConfig};
    use crate::tool::{
        Plan, PlanContext, PlanError, Plugin, Tool, ToolDescriptor, ToolError, ToolErrorKind, ToolHints,
        ToolOutput,
    };
    use futures::future::BoxFuture;

    use crate::upstream::{FailureClass, Upstream, UpstreamError, UpstreamRequest, UpstreamResponse};

    struct NoUpstream;

    impl Upstream for NoUpstream {
        fn endpoint(&self) -> &str {
            "test://nowhere"
        }

        fn execute<'a>(
            &'a self,
            _request: &'a UpstreamRequest,
            _deadline: Instant,
            _cancel: CancellationToken,
        ) -> BoxFuture<'a, Result<UpstreamResponse, UpstreamError>> {
            Box::pin(async { Err(UpstreamError::new(FailureClass::Unreachable, "none")) })
        }
    }

    /// Reports the call counter and the tool names it was routed with; refuses any argument.
    struct StatusTool(ToolDescriptor);

    impl Tool for StatusTool {
        fn descriptor(&self) -> &ToolDescriptor {
            &self.0
        }

        fn plan(&self, _arguments: Map<String, Value>, _context: &PlanContext) -> Result<Plan, PlanError> {
            Err(PlanError::Tool(ToolError::new(ToolErrorKind::Internal, "planned instead of viewed")))
        }

        fn runtime_view(&self, arguments: &Map<String, Value>) -> Option<Result<StatusRenderer, PlanError>> {
            if let Some(name) = arguments.keys().next() {
                return Some(Err(PlanError::InvalidArguments(format!("unknown argument '{name}'"))));
            }
            let render: StatusRenderer = Arc::new(|view: &RuntimeView| {
                let tools: Vec<String> = view.table.iter().map(|t| t.descriptor().name.clone()).collect();
                Ok(ToolOutput {
                    structured: json!({
                        "calls": view.stats.calls,
                        "tools": tools,
                        "breakers": view.stats.breaker.len(),
                    }),
                    text: String::new(),
                })
            });
            Some(Ok(render))
        }
    }

    struct StatusPlugin;

    impl Plugin for StatusPlugin {
        fn name(&self) -> &str {
            "status"
        }

        fn version(&self) -> &str {
            "1"
        }

        fn description(&self) -> &str {
            "reports on the runtime"
        }

        fn tools(&self) -> Vec<Arc<dyn Tool>> {
            vec![Arc::new(StatusTool(ToolDescriptor {
                name: "status".into(),
                title: "Status".into(),
                description: "runtime status".into(),
                category: "server".into(),
                input_schema: Arc::new(Map::new()),
                output_schema: None,
                hints: ToolHints::LOCAL,
                cache_ttl: None,
            }))]
        }
    }

    #[tokio::test]
    async fn a_status_tool_is_answered_from_the_live_runtime_not_from_its_plan() {
        let config = RuntimeConfig { cache_shards: 1, executor_workers: 1, ..RuntimeConfig::default() };
        let runtime =
            Runtime::start(config, Arc::new(NoUpstream), vec![Arc::new(StatusPlugin)]).await.unwrap();

        let first = runtime.call(ToolCall::new("status", Map::new())).await.unwrap();
        let second = runtime.call(ToolCall::new("status", Map::new())).await.unwrap();
        assert_eq!(first.structured["calls"], 1);
        assert_eq!(second.structured["calls"], 2);
        assert_eq!(second.structured["tools"], json!(["status"]));
        assert_eq!(second.structured["breakers"], 1, "the breaker answered: {}", second.structured);

        let mut arguments = Map::new();
        arguments.insert("verbose".into(), json!(true));
        let refused = runtime.call(ToolCall::new("status", arguments)).await.unwrap_err();
        assert!(
            matches!(&refused, CallError::InvalidArguments { tool, reason } if tool == "status" && reason.contains("verbose")),
            "{refused:?}"
        );
        runtime.shutdown().await;
    }

    #[tokio::test]
    async fn a_component_that_keeps_restarting_shows_in_the_figures() {
        use crate::chaos::ChaosTarget;

        let config = RuntimeConfig { cache_shards: 1, executor_workers: 1, ..RuntimeConfig::default() };
        let runtime =
            Runtime::start(config, Arc::new(NoUpstream), vec![Arc::new(StatusPlugin)]).await.unwrap();
        assert_eq!(runtime.stats().await.recent_restarts, 0);
        for crash in 1..=3u64 {
            runtime.crash(ChaosTarget::Breaker);
            let restarted = tokio::time::timeout(Duration::from_secs(10), async {
                while runtime.stats().await.restarts < crash {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await;
            assert!(restarted.is_ok(), "the breaker was not restarted after crash {crash}");
        }
        let stats = runtime.stats().await;
        assert_eq!(stats.recent_restarts, 3, "{stats:?}");
        assert_eq!(stats.breaker.first().map(|b| b.state.as_str()), Some("closed"));
        runtime.shutdown().await;
    }
}
