//! One executor worker: the account's NRQL budget, breaker admission, the upstream call (all
//! pages, and every poll of an asynchronous NRQL query), the outcome sent to the breaker,
//! the render, and the answer.
//!
//! The budget is checked before the breaker: a query refused for budget never reached New
//! Relic, so it must neither take a half-open breaker's single probe nor count as a failure.

use std::sync::Arc;
use std::time::Duration;

use ractor::factory::{FactoryMessage, Job, Worker, WorkerId};
use ractor::rpc::CallResult as RpcCallResult;
use ractor::{ActorProcessingErr, ActorRef};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::async_poll::{self, PollFailure};
use super::errors::tool_error;
use super::pagination::{merge_page, with_cursor};
use super::{AsyncSlots, ExecutorMsg, UpstreamJob};
use crate::breaker::{Admission, BreakerMsg, unavailable_error};
use crate::counters::Counters;
use crate::rate_limit::NrqlRateLimiter;
use crate::tool::{ToolError, ToolErrorKind};
use crate::upstream::{FailureClass, Upstream, UpstreamError, UpstreamRequest, UpstreamResponse};

/// How long a worker waits for the breaker's admission before going ahead without it.
const ADMIT_TIMEOUT: Duration = Duration::from_secs(1);

pub struct ExecutorWorker {
    upstream: Arc<dyn Upstream>,
    counters: Arc<Counters>,
    nrql_budget: Arc<NrqlRateLimiter>,
    async_slots: AsyncSlots,
}

impl ExecutorWorker {
    pub(crate) fn new(
        upstream: Arc<dyn Upstream>,
        counters: Arc<Counters>,
        nrql_budget: Arc<NrqlRateLimiter>,
        async_slots: AsyncSlots,
    ) -> Self {
        Self { upstream, counters, nrql_budget, async_slots }
    }

    async fn run(&self, job: UpstreamJob) {
        let UpstreamJob {
            tool,
            request,
            render,
            deadline,
            timeout,
            nrql_accounts,
            cancel,
            breaker,
            mut reply,
        } = job;
        let result = async {
            if cancel.is_cancelled() {
                return Err(tool_error(&UpstreamError::new(FailureClass::Cancelled, "cancelled"), timeout));
            }
            if Instant::now() >= deadline {
                return Err(tool_error(&UpstreamError::new(FailureClass::DeadlineExceeded, "late"), timeout));
            }
            // Taken before the budget, so a query refused here spends nothing.
            let _async_slot = match request.async_poll {
                Some(_) => match self.async_slots.try_take() {
                    Some(slot) => Some(slot),
                    None => {
                        Counters::bump(&self.counters.rejected_overloaded);
                        return Err(async_busy_error(self.async_slots.limit()));
                    }
                },
                None => None,
            };
            // Every account a query reads spends its budget. When one account refuses, the
            // accounts checked before it have still spent a query: erring on the side of
            // sending less to New Relic.
            for account in nrql_accounts.iter() {
                if let Err(spent) = self.nrql_budget.check(account) {
                    Counters::bump(&self.counters.rejected_rate_limited);
                    return Err(spent.tool_error());
                }
            }
            let probe = match admit(&breaker).await {
                Some(Admission::Rejected { retry_in, cause }) => return Err(unavailable_error(retry_in, cause)),
                Some(Admission::Admitted { probe }) => probe,
                None => {
                    // A breaker that is restarting protects nothing; failing every call until
                    // it is back would turn its crash into an outage.
                    tracing::warn!(tool = %tool, "circuit breaker did not answer; calling New Relic without it");
                    false
                }
            };
            let ticket = BreakerTicket { breaker, probe, recorded: false };
            let fetched = {
                let _in_flight = self.counters.upstream_started();
                fetch_to_completion(self.upstream.as_ref(), request, deadline, &cancel).await
            };
            ticket.record(fetched.as_ref().map(|_| ()).map_err(PollFailure::class));
            let response = fetched.map_err(|failure| failure.tool_error(timeout))?;
            render(response).map(Arc::new)
        }
        .await;
        if let Err(error) = &result
            && error.kind == ToolErrorKind::Internal
        {
            tracing::error!(tool = %tool, error_id = ?error.error_id, "{}", error.message);
        }
        reply.send(result);
    }
}

fn async_busy_error(limit: usize) -> ToolError {
    ToolError {
        retry_after: Some(Duration::from_secs(5)),
        ..ToolError::new(
            ToolErrorKind::Overloaded,
            format!(
                "{limit} long-running async NRQL queries are already running, the most this server lets wait \
                 on New Relic at once; retry in a moment, or narrow SINCE so the query finishes within 120 s"
            ),
        )
    }
}

async fn admit(breaker: &ActorRef<BreakerMsg>) -> Option<Admission> {
    match breaker.call(BreakerMsg::Admit, Some(ADMIT_TIMEOUT)).await {
        Ok(RpcCallResult::Success(admission)) => Some(admission),
        _ => None,
    }
}

/// Tells the breaker how an admitted call ended, also when the worker dies first: an
/// unrecorded probe would otherwise hold a half-open breaker shut for good.
struct BreakerTicket {
    breaker: ActorRef<BreakerMsg>,
    probe: bool,
    recorded: bool,
}

impl BreakerTicket {
    fn record(mut self, outcome: Result<(), FailureClass>) {
        self.recorded = true;
        let _ = self.breaker.cast(BreakerMsg::Record { probe: self.probe, outcome });
    }
}

impl Drop for BreakerTicket {
    fn drop(&mut self) {
        if !self.recorded {
            let _ = self
                .breaker
                .cast(BreakerMsg::Record { probe: self.probe, outcome: Err(FailureClass::Cancelled) });
        }
    }
}

/// One request, raced against the deadline and the caller's cancellation.
async fn fetch_page(
    upstream: &dyn Upstream,
    request: &UpstreamRequest,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<UpstreamResponse, UpstreamError> {
    // The upstream is polled first so that, when the token fires, it gets to abandon its
    // HTTP call itself; the other branches only stop an upstream that ignores token and deadline.
    tokio::select! {
        biased;
        result = upstream.execute(request, deadline, cancel.clone()) => result,
        () = cancel.cancelled() => Err(UpstreamError::new(FailureClass::Cancelled, "cancelled by the caller")),
        () = tokio::time::sleep_until(deadline) => {
            Err(UpstreamError::new(FailureClass::DeadlineExceeded, "the call's deadline passed"))
        }
    }
}

/// The request, followed across pages when it paginates.
async fn fetch_all_pages(
    upstream: &dyn Upstream,
    mut request: UpstreamRequest,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<UpstreamResponse, UpstreamError> {
    let Some(pagination) = request.pagination.clone() else {
        let response = fetch_page(upstream, &request, deadline, cancel).await?;
        return Ok(UpstreamResponse { pages: response.pages.max(1), ..response });
    };
    let mut collected = None;
    loop {
        let page = fetch_page(upstream, &request, deadline, cancel).await?;
        let (merged, cursor) = merge_page(collected, page, &pagination);
        match cursor {
            None => return Ok(merged),
            Some(_) if merged.pages >= pagination.max_pages.max(1) => {
                return Ok(UpstreamResponse { truncated: true, ..merged });
            }
            Some(cursor) => {
                request.variables = with_cursor(&request.variables, pagination.cursor_variable, &cursor);
                collected = Some(merged);
            }
        }
    }
}

/// The request, followed across pages and, for asynchronous NRQL, polled until the query
/// completes. Polls are reads under the same deadline and cancellation as the request, and
/// spend no NRQL budget: they run no new query.
async fn fetch_to_completion(
    upstream: &dyn Upstream,
    request: UpstreamRequest,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<UpstreamResponse, PollFailure> {
    let follow_up = request.async_poll.clone().map(|poll| (poll, request.clone()));
    let first = fetch_all_pages(upstream, request, deadline, cancel).await.map_err(PollFailure::Upstream)?;
    let Some((poll, request)) = follow_up else { return Ok(first) };
    async_poll::follow(first, &request, &poll, deadline, cancel, move |poll_request| async move {
        fetch_page(upstream, &poll_request, deadline, cancel).await
    })
    .await
}

impl Worker for ExecutorWorker {
    type Key = ();
    type Message = ExecutorMsg;
    type Arguments = ();
    type State = ();

    async fn pre_start(
        &self,
        _wid: WorkerId,
        _factory: &ActorRef<FactoryMessage<(), ExecutorMsg>>,
        _args: (),
    ) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _wid: WorkerId,
        _factory: &ActorRef<FactoryMessage<(), ExecutorMsg>>,
        job: Job<(), ExecutorMsg>,
        _state: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        match job.msg {
            ExecutorMsg::Run(job) => self.run(*job).await,
            #[cfg(feature = "chaos")]
            ExecutorMsg::Crash => crate::chaos::crash("executor worker"),
        }
        Ok(())
    }
}
