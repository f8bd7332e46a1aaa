//! Cache shards: each owns a slice of the cache and coalesces concurrent misses.
//!
//! A key lives in shard `key.shard(N)`. A hit is answered at once. The first miss on a key
//! starts one fill (a job for the executor pool, which answers this shard with
//! [`ShardMsg::FillDone`]); every later caller of the same key joins the fill's waiter list
//! and gets the same result, success or error. Only successes are stored.
//!
//! Cancellation: every waiter brings its call's `CancellationToken`. A small watcher task per
//! waiter casts [`ShardMsg::WaiterGone`] when that token fires (and stops when the fill
//! completes); the upstream call itself is cancelled only when no waiter is left.
//!
//! Both the in-flight table and each waiter list are bounded; past a bound the caller gets
//! an "overloaded" tool error instead of queueing without limit.

pub mod inflight;
pub mod store;
pub mod weight;

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

use self::inflight::{InFlightTable, Joined, Left};
use self::store::TtlStore;
use crate::call::{CallError, CallResult};
use crate::counters::Counters;
use crate::executor::{self, Responder, UpstreamJob, overloaded_error};
use crate::links::Links;
use crate::tool::{CacheKey, NrqlAccounts, Renderer, ToolError, ToolErrorKind, ToolOutput};
use crate::upstream::UpstreamRequest;

/// What a shard needs to start a fill if the key is missing.
pub struct FillSpec {
    pub tool: String,
    pub request: UpstreamRequest,
    pub render: Renderer,
    pub deadline: Instant,
    pub timeout: Duration,
    /// The account whose NRQL budget the request spends, when it runs NRQL.
    pub nrql_accounts: NrqlAccounts,
}

/// A cacheable call routed to its shard.
pub struct CacheRequest {
    pub key: CacheKey,
    pub ttl: Duration,
    pub fill: FillSpec,
    pub cancel: CancellationToken,
    pub reply: RpcReplyPort<CallResult>,
}

// `Get` is by far the most frequent message: boxing it to shrink the others would cost an
// allocation on every call, where the size difference costs only a larger move.
#[allow(clippy::large_enum_variant)]
pub enum ShardMsg {
    Get(CacheRequest),
    /// The executor finished fill `fill_id` of `key`.
    FillDone {
        key: CacheKey,
        fill_id: u64,
        result: Result<Arc<ToolOutput>, ToolError>,
    },
    /// Fill `fill_id` died with its worker: its waiters' ports are dropped so that each
    /// caller's handle retries.
    FillLost {
        key: CacheKey,
        fill_id: u64,
    },
    /// A waiter's call was cancelled.
    WaiterGone {
        key: CacheKey,
        fill_id: u64,
        waiter_id: u64,
    },
    /// New addresses after a restart elsewhere.
    Rewire(Links),
    #[cfg(feature = "chaos")]
    Crash,
}

/// Bounds of one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardLimits {
    pub capacity_bytes: u64,
    pub max_fills: usize,
    pub max_waiters_per_key: usize,
}

pub struct CacheShard;

pub struct ShardArgs {
    pub index: usize,
    pub limits: ShardLimits,
    pub links: Links,
    pub(crate) counters: Arc<Counters>,
}

/// Cancellation handles of one running fill.
pub struct FillTokens {
    /// Cancels the upstream call (when every waiter has gone).
    upstream: CancellationToken,
    /// Stops the waiters' watcher tasks (when the fill ends either way).
    watchers: CancellationToken,
    ttl: Duration,
}

impl FillTokens {
    fn end(&self) {
        self.watchers.cancel();
    }
}

pub struct ShardState {
    index: usize,
    store: TtlStore,
    in_flight: InFlightTable<RpcReplyPort<CallResult>, FillTokens>,
    links: Links,
    counters: Arc<Counters>,
    /// Cancels every fill and watcher of this shard when its state is dropped (a crash).
    lifetime: CancellationToken,
    _lifetime_guard: DropGuard,
}

fn cancelled_error() -> ToolError {
    ToolError::new(ToolErrorKind::Cancelled, "the call was cancelled before New Relic answered")
}

fn executor_restarting_error() -> ToolError {
    ToolError {
        retry_after: Some(Duration::from_secs(1)),
        ..ToolError::new(ToolErrorKind::Restarted, "the executor pool is restarting; retry in a moment")
    }
}

impl ShardState {
    fn publish_usage(&self) {
        self.counters.set_shard_usage(self.index, self.store.len() as u64, self.store.weight());
    }

    fn get(&mut self, myself: &ActorRef<ShardMsg>, request: CacheRequest) {
        let CacheRequest { key, ttl, fill, cancel, reply } = request;
        if let Some(output) = self.store.get(&key, Instant::now()) {
            Counters::bump(&self.counters.cache_hits);
            let _ = reply.send(Ok(output));
            return;
        }
        let lifetime = &self.lifetime;
        let joined = self.in_flight.join(key, reply, || FillTokens {
            upstream: lifetime.child_token(),
            watchers: lifetime.child_token(),
            ttl,
        });
        match joined {
            Joined::Leader { fill_id, waiter_id } => {
                Counters::bump(&self.counters.cache_misses);
                let Some(tokens) = self.in_flight.data(&key, fill_id) else { return };
                watch_waiter(myself.clone(), key, fill_id, waiter_id, cancel, tokens.watchers.clone());
                let job = UpstreamJob {
                    tool: fill.tool,
                    request: fill.request,
                    render: fill.render,
                    deadline: fill.deadline,
                    timeout: fill.timeout,
                    nrql_accounts: fill.nrql_accounts,
                    cancel: tokens.upstream.clone(),
                    breaker: self.links.breaker.clone(),
                    reply: Responder::fill(myself.clone(), key, fill_id),
                };
                if let Err(mut job) = executor::dispatch(&self.links.executor, job) {
                    // Answer before the responder's drop reports the fill as lost.
                    job.reply.send(Err(executor_restarting_error()));
                }
            }
            Joined::Follower { fill_id, waiter_id } => {
                Counters::bump(&self.counters.coalesced);
                if let Some(tokens) = self.in_flight.data(&key, fill_id) {
                    watch_waiter(myself.clone(), key, fill_id, waiter_id, cancel, tokens.watchers.clone());
                }
            }
            Joined::TooManyWaiters(reply) | Joined::TooManyFills(reply) => {
                Counters::bump(&self.counters.rejected_overloaded);
                let _ = reply.send(Err(CallError::Tool(overloaded_error())));
            }
        }
    }

    fn fill_done(&mut self, key: CacheKey, fill_id: u64, result: Result<Arc<ToolOutput>, ToolError>) {
        let Some((tokens, waiters)) = self.in_flight.complete(&key, fill_id) else { return };
        tokens.end();
        if let Ok(output) = &result {
            self.store.insert(key, output.clone(), tokens.ttl, Instant::now());
            self.publish_usage();
        }
        let answer = result.map_err(CallError::Tool);
        for waiter in waiters {
            let _ = waiter.send(answer.clone());
        }
    }

    fn fill_lost(&mut self, key: CacheKey, fill_id: u64) {
        if let Some((tokens, waiters)) = self.in_flight.complete(&key, fill_id) {
            tokens.end();
            tracing::warn!(shard = self.index, waiters = waiters.len(), "a cache fill died with its worker");
            drop(waiters);
        }
    }

    fn waiter_gone(&mut self, key: CacheKey, fill_id: u64, waiter_id: u64) {
        match self.in_flight.leave(&key, fill_id, waiter_id) {
            Left::Others(waiter) => {
                let _ = waiter.send(Err(CallError::Tool(cancelled_error())));
            }
            Left::Last(waiter, tokens) => {
                tokens.upstream.cancel();
                tokens.end();
                let _ = waiter.send(Err(CallError::Tool(cancelled_error())));
            }
            Left::Unknown => {}
        }
    }
}

/// Watches one waiter's cancellation until the fill ends.
fn watch_waiter(
    shard: ActorRef<ShardMsg>,
    key: CacheKey,
    fill_id: u64,
    waiter_id: u64,
    caller: CancellationToken,
    fill_ended: CancellationToken,
) {
    tokio::spawn(async move {
        tokio::select! {
            biased;
            () = fill_ended.cancelled() => {}
            () = caller.cancelled() => {
                let _ = shard.cast(ShardMsg::WaiterGone { key, fill_id, waiter_id });
            }
        }
    });
}

impl Actor for CacheShard {
    type Msg = ShardMsg;
    type State = ShardState;
    type Arguments = ShardArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: ShardArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let lifetime = CancellationToken::new();
        let state = ShardState {
            index: args.index,
            store: TtlStore::new(args.limits.capacity_bytes),
            in_flight: InFlightTable::new(args.limits.max_fills, args.limits.max_waiters_per_key),
            links: args.links,
            counters: args.counters,
            _lifetime_guard: lifetime.clone().drop_guard(),
            lifetime,
        };
        state.publish_usage();
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: ShardMsg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ShardMsg::Get(request) => state.get(&myself, request),
            ShardMsg::FillDone { key, fill_id, result } => state.fill_done(key, fill_id, result),
            ShardMsg::FillLost { key, fill_id } => state.fill_lost(key, fill_id),
            ShardMsg::WaiterGone { key, fill_id, waiter_id } => state.waiter_gone(key, fill_id, waiter_id),
            ShardMsg::Rewire(links) => state.links = links,
            #[cfg(feature = "chaos")]
            ShardMsg::Crash => crate::chaos::crash("cache shard"),
        }
        Ok(())
    }
}
