//! The executor pool: a ractor factory of workers that make the upstream calls.
//!
//! Jobs arrive from the front door (uncached calls) and from cache shards (fills). The
//! factory queues them in one bounded queue (`DiscardMode::Newest`): a job past the bound
//! is answered at once through [`ExecutorDiscards`] with an "overloaded" tool error, so no
//! caller waits on a queue that cannot drain. Each job carries a TTL equal to its remaining
//! deadline, so a job that waited too long is answered with a timeout instead of running.
//!
//! Worker crashes: ractor's factory replaces a worker that panics or errors by itself (see
//! `Factory::handle_supervisor_evt`), re-running the [`WorkerBuilder`], and keeps serving.
//! The job that was running is dropped with the worker; its [`Responder`] turns that drop
//! into a signal the caller understands (see below). The builder counts replacements and
//! reports them to the root supervisor, so worker crashes count against the restart budget.

pub mod async_poll;
pub mod errors;
pub mod pagination;
pub mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ractor::factory::queues::DefaultQueue;
use ractor::factory::routing::QueuerRouting;
use ractor::factory::{
    DiscardHandler, DiscardMode, DiscardReason, DiscardSettings, Factory, FactoryArguments, FactoryMessage,
    Job, JobOptions, WorkerBuilder, WorkerId,
};
use ractor::{Actor, ActorCell, ActorRef, MessagingErr, RpcReplyPort, SpawnErr};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use self::worker::ExecutorWorker;
use crate::breaker::BreakerMsg;
use crate::cache::ShardMsg;
use crate::call::{CallError, CallResult};
use crate::counters::Counters;
use crate::rate_limit::NrqlRateLimiter;
use crate::tool::{CacheKey, NrqlAccounts, Renderer, ToolError, ToolErrorKind, ToolOutput};
use crate::upstream::{Upstream, UpstreamRequest};

/// Address of the executor pool.
pub type ExecutorRef = ActorRef<FactoryMessage<(), ExecutorMsg>>;

type ExecutorFactory = Factory<
    (),
    ExecutorMsg,
    (),
    ExecutorWorker,
    QueuerRouting<(), ExecutorMsg>,
    DefaultQueue<(), ExecutorMsg>,
>;

/// A job for the pool.
pub enum ExecutorMsg {
    Run(Box<UpstreamJob>),
    /// Panics whichever worker picks it up.
    #[cfg(feature = "chaos")]
    Crash,
}

impl ExecutorMsg {
    fn upstream_job(&mut self) -> Option<&mut UpstreamJob> {
        match self {
            Self::Run(job) => Some(job),
            #[cfg(feature = "chaos")]
            Self::Crash => None,
        }
    }
}

/// One upstream call to make, and where its result goes.
pub struct UpstreamJob {
    pub tool: String,
    pub request: UpstreamRequest,
    pub render: Renderer,
    pub deadline: Instant,
    /// The call's whole budget, quoted in timeout messages.
    pub timeout: Duration,
    /// The account whose NRQL budget the request spends, when it runs NRQL.
    pub nrql_accounts: NrqlAccounts,
    pub cancel: CancellationToken,
    /// The breaker to consult; travels with the job so that a restarted breaker is picked up
    /// by the next job without the workers holding any shared, mutable reference.
    pub breaker: ActorRef<BreakerMsg>,
    pub reply: Responder,
}

enum ReplyTarget {
    Caller(RpcReplyPort<CallResult>),
    Fill { shard: ActorRef<ShardMsg>, key: CacheKey, fill_id: u64 },
}

/// Where a job's result goes: the caller's reply port, or the cache shard that asked for a fill.
///
/// Dropped without an answer (the worker crashed, the pool restarted), it tells the shard
/// that the fill is lost; a caller's port simply closes, which the runtime handle reads as
/// "a component crashed" and retries once.
pub struct Responder {
    target: Option<ReplyTarget>,
}

impl Responder {
    pub fn caller(reply: RpcReplyPort<CallResult>) -> Self {
        Self { target: Some(ReplyTarget::Caller(reply)) }
    }

    pub fn fill(shard: ActorRef<ShardMsg>, key: CacheKey, fill_id: u64) -> Self {
        Self { target: Some(ReplyTarget::Fill { shard, key, fill_id }) }
    }

    /// Delivers the result; later calls do nothing.
    pub fn send(&mut self, result: Result<Arc<ToolOutput>, ToolError>) {
        match self.target.take() {
            Some(ReplyTarget::Caller(reply)) => {
                let _ = reply.send(result.map_err(CallError::Tool));
            }
            Some(ReplyTarget::Fill { shard, key, fill_id }) => {
                let _ = shard.cast(ShardMsg::FillDone { key, fill_id, result });
            }
            None => {}
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if let Some(ReplyTarget::Fill { shard, key, fill_id }) = self.target.take() {
            let _ = shard.cast(ShardMsg::FillLost { key, fill_id });
        }
    }
}

/// Sizing of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutorConfig {
    pub workers: usize,
    /// Jobs that may wait for a worker; one more is refused at once.
    pub queue: usize,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self { workers: 20, queue: 256 }
    }
}

pub fn overloaded_error() -> ToolError {
    ToolError {
        kind: ToolErrorKind::Overloaded,
        message: "server overloaded, retry in a moment".to_string(),
        retry_after: Some(Duration::from_secs(1)),
        error_id: None,
    }
}

/// Answers every job the factory drops, so that no caller is left waiting.
pub struct ExecutorDiscards {
    counters: Arc<Counters>,
}

impl DiscardHandler<(), ExecutorMsg> for ExecutorDiscards {
    fn discard(&self, reason: DiscardReason, job: &mut Job<(), ExecutorMsg>) {
        let Some(job) = job.msg.upstream_job() else { return };
        let error = match reason {
            DiscardReason::Loadshed | DiscardReason::RateLimited => {
                Counters::bump(&self.counters.rejected_overloaded);
                overloaded_error()
            }
            DiscardReason::TtlExpired => ToolError::new(
                ToolErrorKind::Timeout,
                format!(
                    "the call waited for a free worker past its {} s deadline: the server is busy; retry, \
                     or narrow the query",
                    job.timeout.as_secs().max(1)
                ),
            ),
            DiscardReason::Shutdown => ToolError {
                retry_after: Some(Duration::from_secs(1)),
                ..ToolError::new(
                    ToolErrorKind::Restarted,
                    "the executor pool stopped before running the call; retry in a moment",
                )
            },
        };
        job.reply.send(Err(error));
    }
}

/// How many workers may be held by asynchronous NRQL at once. Such a query keeps its worker
/// while it waits between polls (up to minutes), so without a bound a burst of long queries
/// would occupy the whole pool and stall every other call; half the pool stays for the rest.
#[derive(Clone)]
pub(crate) struct AsyncSlots {
    slots: Arc<tokio::sync::Semaphore>,
    limit: usize,
}

impl AsyncSlots {
    pub(crate) fn for_workers(workers: usize) -> Self {
        let limit = (workers / 2).max(1);
        Self { slots: Arc::new(tokio::sync::Semaphore::new(limit)), limit }
    }

    /// A slot for one asynchronous query, held until it is dropped; `None` when all are taken.
    pub(crate) fn try_take(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.slots.try_acquire().ok()
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }
}

/// Called by the worker builder each time the factory replaces a crashed worker.
pub type WorkerReplaced = Arc<dyn Fn() + Send + Sync>;

struct ExecutorWorkerBuilder {
    upstream: Arc<dyn Upstream>,
    counters: Arc<Counters>,
    nrql_budget: Arc<NrqlRateLimiter>,
    async_slots: AsyncSlots,
    initial: usize,
    built: Arc<AtomicUsize>,
    on_replace: WorkerReplaced,
}

impl WorkerBuilder<ExecutorWorker, ()> for ExecutorWorkerBuilder {
    fn build(&mut self, _wid: WorkerId) -> (ExecutorWorker, ()) {
        if self.built.fetch_add(1, Ordering::Relaxed) >= self.initial {
            (self.on_replace)();
        }
        let worker = ExecutorWorker::new(
            self.upstream.clone(),
            self.counters.clone(),
            self.nrql_budget.clone(),
            self.async_slots.clone(),
        );
        (worker, ())
    }
}

/// Starts the pool under `supervisor`. `nrql_budget` is shared by every worker and outlives
/// the pool, so a restart does not hand any account a fresh budget.
pub(crate) async fn spawn_executor(
    name: String,
    config: ExecutorConfig,
    upstream: Arc<dyn Upstream>,
    counters: Arc<Counters>,
    nrql_budget: Arc<NrqlRateLimiter>,
    on_replace: WorkerReplaced,
    supervisor: ActorCell,
) -> Result<ExecutorRef, SpawnErr> {
    let workers = config.workers.max(1);
    let builder = ExecutorWorkerBuilder {
        upstream,
        counters: counters.clone(),
        nrql_budget,
        async_slots: AsyncSlots::for_workers(workers),
        initial: workers,
        built: Arc::new(AtomicUsize::new(0)),
        on_replace,
    };
    let arguments = FactoryArguments {
        worker_builder: Box::new(builder),
        num_initial_workers: workers,
        router: QueuerRouting::default(),
        queue: DefaultQueue::default(),
        discard_handler: Some(Arc::new(ExecutorDiscards { counters })),
        discard_settings: DiscardSettings::Static { limit: config.queue, mode: DiscardMode::Newest },
        dead_mans_switch: None,
        capacity_controller: None,
        lifecycle_hooks: None,
        stats: None,
    };
    let (executor, _) =
        Actor::spawn_linked(Some(name), ExecutorFactory::default(), arguments, supervisor).await?;
    Ok(executor)
}

/// Hands a job to the pool. When the pool is gone the job comes back, still unanswered.
pub(crate) fn dispatch(executor: &ExecutorRef, job: UpstreamJob) -> Result<(), Box<UpstreamJob>> {
    let ttl = job.deadline.saturating_duration_since(Instant::now());
    let options = JobOptions::new(Some(ttl));
    match executor.dispatch_with_options((), ExecutorMsg::Run(Box::new(job)), options) {
        Ok(()) => Ok(()),
        Err(error) => match *error {
            MessagingErr::SendErr(FactoryMessage::Dispatch(Job { msg: ExecutorMsg::Run(job), .. })) => {
                Err(job)
            }
            // Any other failure already dropped the job, and its responder spoke for it.
            _ => Ok(()),
        },
    }
}

/// Sends a job that panics the worker that runs it.
#[cfg(feature = "chaos")]
pub(crate) fn crash_a_worker(executor: &ExecutorRef) {
    let _ = executor.dispatch((), ExecutorMsg::Crash);
}
