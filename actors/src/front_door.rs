//! The front door: where every call enters the actor runtime.
//!
//! It resolves the tool in its copy of the tool table, plans the call (pure), and forwards
//! the caller's reply port: local answers go back at once, cacheable calls to their cache
//! shard, the rest to the executor pool; tools that report on the server itself are
//! answered from a short task that reads the runtime's figures, and writes go to a task of
//! their own that runs the two-step confirmation ([`writes`](crate::writes)). It never awaits
//! a downstream reply, so one slow query cannot stall routing.

mod plan_memo;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ractor::{Actor, ActorProcessingErr, ActorRef, MessagingErr, RpcReplyPort};
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::cache::{CacheRequest, FillSpec, ShardMsg};
use crate::call::{CallError, CallResult, ToolCall};
use crate::counters::Counters;
use crate::executor::{self, Responder, UpstreamJob};
use crate::links::Links;
use crate::signer::binding_for_call;
use crate::status;
use crate::tool::{
    CONFIRMATION_TOKEN_ARGUMENT, CachePolicy, PlanAction, PlanContext, PlanError, ToolError, ToolErrorKind,
    ToolTable,
};
use crate::upstream::RequestKind;
use crate::writes::{self, WriteCall};

use self::plan_memo::{CachedRoute, PlanMemo};

pub enum FrontDoorMsg {
    Call(ToolCall, RpcReplyPort<CallResult>),
    ListTools(RpcReplyPort<Arc<ToolTable>>),
    /// A new snapshot from the plugin registry; older generations are ignored.
    Table(Arc<ToolTable>),
    /// New addresses after a restart elsewhere.
    Rewire(Links),
    #[cfg(feature = "chaos")]
    Crash,
}

pub struct FrontDoor;

pub struct FrontDoorArgs {
    pub table: Arc<ToolTable>,
    pub links: Links,
    /// Template for every call's plan context; `now_epoch_ms` is read per call.
    pub plan_defaults: PlanContext,
    pub(crate) counters: Arc<Counters>,
}

pub struct FrontDoorState {
    table: Arc<ToolTable>,
    links: Links,
    plan_defaults: PlanContext,
    counters: Arc<Counters>,
    /// Recent plans of cacheable calls, so that a repeated call skips planning.
    plan_memo: PlanMemo,
}

fn now_epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Longest a call may wait, whatever a plan asks for: past any timeout a tool offers, and far
/// from where `Instant` arithmetic could overflow.
const MAX_CALL_WAIT: Duration = Duration::from_secs(86_400);

/// When a call started at `now` that may take `timeout` must have its answer; never a panic.
fn deadline_after(now: Instant, timeout: Duration) -> Instant {
    now.checked_add(timeout.min(MAX_CALL_WAIT)).unwrap_or(now)
}

/// The answer to a retried call of a tool that may have written something.
pub fn write_restarted_error(tool: &str) -> ToolError {
    ToolError::new(
        ToolErrorKind::Restarted,
        format!(
            "a server component restarted while '{tool}' was running; the write may or may not have been \
             applied; check before retrying"
        ),
    )
}

/// A tool tried to send a mutation without the two-step confirmation: a bug in the tool,
/// refused so that no tool can change New Relic unconfirmed.
fn unconfirmed_write_error(tool: &str) -> ToolError {
    ToolError::new(
        ToolErrorKind::Internal,
        format!("'{tool}' tried to change New Relic without the two-step confirmation; nothing was sent"),
    )
}

/// Takes the confirmation token out of the arguments: the runtime, not the tool, handles it.
fn take_confirmation_token(arguments: &mut Map<String, Value>) -> Result<Option<String>, String> {
    match arguments.remove(CONFIRMATION_TOKEN_ARGUMENT) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(token)) => Ok(Some(token)),
        Some(_) => Err(format!(
            "{CONFIRMATION_TOKEN_ARGUMENT} must be the string an earlier call of this tool returned"
        )),
    }
}

fn plan_error(tool: String, error: PlanError) -> CallError {
    match error {
        PlanError::InvalidArguments(reason) => CallError::InvalidArguments { tool, reason },
        PlanError::Tool(error) => CallError::Tool(error),
    }
}

fn executor_restarting_error() -> ToolError {
    ToolError {
        retry_after: Some(Duration::from_secs(1)),
        ..ToolError::new(ToolErrorKind::Restarted, "the executor pool is restarting; retry in a moment")
    }
}

impl FrontDoorState {
    fn call(&mut self, call: ToolCall, reply: RpcReplyPort<CallResult>) {
        if call.attempt <= 1 {
            Counters::bump(&self.counters.calls);
        }
        let ToolCall { tool: name, mut arguments, cancel, attempt } = call;
        let now = Instant::now();
        if let Some(route) = self.plan_memo.get(&name, &arguments, self.table.generation, now) {
            let (policy, fill) = route.fill(now);
            self.route_cacheable(policy, fill, cancel, reply);
            return;
        }
        let Some(tool) = self.table.get(&name) else {
            let known = self.table.iter().map(|tool| tool.descriptor().name.clone()).collect();
            let _ = reply.send(Err(CallError::UnknownTool { name, known }));
            return;
        };
        let descriptor = tool.descriptor();
        if attempt > 1 && !descriptor.hints.read_only {
            let _ = reply.send(Err(CallError::Tool(write_restarted_error(&name))));
            return;
        }
        match tool.runtime_view(&arguments) {
            Some(Ok(render)) => {
                let breaker = self.links.breaker.clone();
                status::answer(self.counters.clone(), breaker, self.table.clone(), render, reply);
                return;
            }
            Some(Err(error)) => {
                let _ = reply.send(Err(plan_error(name, error)));
                return;
            }
            None => {}
        }
        // Kept for tools that may cache, to remember their plan below.
        let remembered = (descriptor.cache_ttl.is_some() && plan_memo::worth_remembering(&arguments))
            .then(|| arguments.clone());
        let token = match take_confirmation_token(&mut arguments) {
            Ok(token) => token,
            Err(reason) => {
                let _ = reply.send(Err(CallError::InvalidArguments { tool: name, reason }));
                return;
            }
        };
        // Bound before `plan` consumes the arguments; only tools that may write pay for it.
        let binding = (!descriptor.hints.read_only).then(|| binding_for_call(&name, &arguments));
        let context = PlanContext { now_epoch_ms: now_epoch_ms(), ..self.plan_defaults.clone() };
        let plan = match tool.plan(arguments, &context) {
            Ok(plan) => plan,
            Err(error) => {
                let _ = reply.send(Err(plan_error(name, error)));
                return;
            }
        };
        let timeout = if plan.timeout.is_zero() { self.plan_defaults.default_timeout } else { plan.timeout };
        let (request, render) = match (plan.action, binding, token) {
            (PlanAction::Local(output), _, None) => {
                let _ = reply.send(Ok(Arc::new(output)));
                return;
            }
            (PlanAction::Upstream { request, .. }, _, _) if request.kind == RequestKind::Write => {
                let _ = reply.send(Err(CallError::Tool(unconfirmed_write_error(&name))));
                return;
            }
            (PlanAction::Upstream { request, render }, _, None) => (request, render),
            (PlanAction::Write(plan), Some(binding), token) => {
                let call = WriteCall {
                    tool: name,
                    binding,
                    token,
                    plan: *plan,
                    allowed_accounts: context.allowed_accounts.clone(),
                    deadline: deadline_after(Instant::now(), timeout),
                    timeout,
                    cancel,
                };
                writes::route(call, self.links.clone(), reply);
                return;
            }
            (PlanAction::Write(_), None, _) => {
                let _ = reply.send(Err(CallError::Tool(unconfirmed_write_error(&name))));
                return;
            }
            (PlanAction::Local(_) | PlanAction::Upstream { .. }, _, Some(_)) => {
                let reason = format!(
                    "this call changes nothing, so it takes no {CONFIRMATION_TOKEN_ARGUMENT}; call it without one"
                );
                let _ = reply.send(Err(CallError::InvalidArguments { tool: name, reason }));
                return;
            }
        };
        if let (Some(cache), Some(arguments)) = (plan.cache, remembered) {
            let route = CachedRoute {
                tool: plan.tool.clone(),
                cache,
                request: request.clone(),
                render: render.clone(),
                timeout,
                nrql_accounts: plan.nrql_accounts,
            };
            self.plan_memo.insert(name, arguments, self.table.generation, now, route);
        }
        let fill = FillSpec {
            tool: plan.tool,
            request,
            render,
            deadline: deadline_after(now, timeout),
            timeout,
            nrql_accounts: plan.nrql_accounts,
        };
        match plan.cache {
            Some(policy) => self.route_cacheable(policy, fill, cancel, reply),
            None => self.execute(fill, cancel, reply),
        }
    }

    /// Sends a cacheable call to its shard; serves it uncached while no shard can take it.
    fn route_cacheable(
        &self,
        policy: CachePolicy,
        fill: FillSpec,
        cancel: tokio_util::sync::CancellationToken,
        reply: RpcReplyPort<CallResult>,
    ) {
        if self.links.shards.is_empty() {
            self.execute(fill, cancel, reply);
            return;
        }
        let shard = &self.links.shards[policy.key.shard(self.links.shards.len())];
        let request = CacheRequest { key: policy.key, ttl: policy.ttl, fill, cancel, reply };
        if let Err(MessagingErr::SendErr(ShardMsg::Get(request))) = shard.cast(ShardMsg::Get(request)) {
            // The shard is restarting: serve the call uncached rather than fail it.
            self.execute(request.fill, request.cancel, request.reply);
        }
    }

    fn execute(
        &self,
        fill: FillSpec,
        cancel: tokio_util::sync::CancellationToken,
        reply: RpcReplyPort<CallResult>,
    ) {
        let job = UpstreamJob {
            tool: fill.tool,
            request: fill.request,
            render: fill.render,
            deadline: fill.deadline,
            timeout: fill.timeout,
            nrql_accounts: fill.nrql_accounts,
            cancel,
            breaker: self.links.breaker.clone(),
            reply: Responder::caller(reply),
        };
        if let Err(mut job) = executor::dispatch(&self.links.executor, job) {
            job.reply.send(Err(executor_restarting_error()));
        }
    }
}

impl Actor for FrontDoor {
    type Msg = FrontDoorMsg;
    type State = FrontDoorState;
    type Arguments = FrontDoorArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: FrontDoorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(FrontDoorState {
            table: args.table,
            links: args.links,
            plan_defaults: args.plan_defaults,
            counters: args.counters,
            plan_memo: PlanMemo::new(plan_memo::DEFAULT_CAPACITY, plan_memo::DEFAULT_LIFETIME),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: FrontDoorMsg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            FrontDoorMsg::Call(call, reply) => state.call(call, reply),
            FrontDoorMsg::ListTools(reply) => {
                let _ = reply.send(state.table.clone());
            }
            FrontDoorMsg::Table(table) => {
                if table.generation >= state.table.generation {
                    state.table = table;
                }
            }
            FrontDoorMsg::Rewire(links) => state.links = links,
            #[cfg(feature = "chaos")]
            FrontDoorMsg::Crash => crate::chaos::crash("front door"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_is_never_a_panic_whatever_the_timeout() {
        let now = Instant::now();
        let cases = [
            (Duration::ZERO, Some(now)),
            (Duration::from_secs(5), now.checked_add(Duration::from_secs(5))),
            (MAX_CALL_WAIT, now.checked_add(MAX_CALL_WAIT)),
            (Duration::from_secs(u64::MAX), now.checked_add(MAX_CALL_WAIT)),
            (Duration::MAX, now.checked_add(MAX_CALL_WAIT)),
        ];
        for (timeout, expected) in cases {
            assert_eq!(Some(deadline_after(now, timeout)), expected, "{timeout:?}");
        }
    }
}
