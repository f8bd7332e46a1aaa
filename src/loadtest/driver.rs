//! One phase of a load test: `concurrency` workers calling tools from the scenario until
//! the phase's bound (a call count or a duration) is reached.
//!
//! Every loop is bounded: a worker takes a ticket (or checks the deadline) before each call,
//! every call has a timeout, and all workers stop as soon as the connection to the target
//! breaks. Each worker owns its recorder; they are merged when the phase ends.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use indicatif::ProgressBar;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::client::{McpClient, RequestFailure};
use super::outcome::{ErrorClass, Outcome, classify};
use super::report::{HistogramError, Recorder};
use super::scenario::Scenario;

/// How often the progress bar is redrawn.
const PROGRESS_TICK: Duration = Duration::from_millis(100);

/// When a phase ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// No call starts after this long; calls in flight finish (within their timeout).
    After(Duration),
    /// Exactly this many calls are made.
    Calls(u64),
}

#[derive(Debug, Clone)]
pub struct PhasePlan {
    pub concurrency: usize,
    pub stop: Stop,
    pub call_timeout: Duration,
    /// Try a read-only tool once more when it fails with an error the server calls retriable.
    pub retry_read_once: bool,
    /// Seeds each worker's random choices (worker `i` uses `seed + i`).
    pub seed: u64,
}

/// What a phase measured.
pub struct PhaseResult {
    pub recorder: Recorder,
    /// From the first call to the last answer.
    pub elapsed: Duration,
    /// Set when the connection to the target broke and the phase stopped early.
    pub connection_lost: bool,
}

/// Shared by a phase's workers: bounds and progress, all atomics.
struct PhaseState {
    stop: Stop,
    deadline: Instant,
    tickets: AtomicU64,
    done: AtomicU64,
    failed: AtomicU64,
    connection_lost: AtomicBool,
}

impl PhaseState {
    /// Whether the worker may start one more call.
    fn take_turn(&self) -> bool {
        if self.connection_lost.load(Ordering::Relaxed) {
            return false;
        }
        match self.stop {
            Stop::Calls(calls) => self.tickets.fetch_add(1, Ordering::Relaxed) < calls,
            Stop::After(_) => Instant::now() < self.deadline,
        }
    }
}

/// Runs one phase against `client`.
pub async fn run_phase(
    client: &McpClient,
    scenario: &Arc<Scenario>,
    read_only: &Arc<HashSet<String>>,
    plan: &PhasePlan,
    progress: &ProgressBar,
) -> Result<PhaseResult, HistogramError> {
    let started = Instant::now();
    let state = Arc::new(PhaseState {
        stop: plan.stop,
        deadline: started
            + match plan.stop {
                Stop::After(duration) => duration,
                Stop::Calls(_) => Duration::ZERO,
            },
        tickets: AtomicU64::new(0),
        done: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        connection_lost: AtomicBool::new(false),
    });
    let ticking = CancellationToken::new();
    if !progress.is_hidden() {
        tokio::spawn(show_progress(progress.clone(), state.clone(), started, ticking.clone()));
    }
    let mut workers = Vec::with_capacity(plan.concurrency);
    for index in 0..plan.concurrency.max(1) {
        let worker = Worker {
            client: client.clone(),
            scenario: scenario.clone(),
            read_only: read_only.clone(),
            state: state.clone(),
            call_timeout: plan.call_timeout,
            retry_read_once: plan.retry_read_once,
            rng: StdRng::seed_from_u64(plan.seed.wrapping_add(index as u64)),
        };
        workers.push(tokio::spawn(worker.run()));
    }
    let mut recorder = Recorder::new()?;
    for worker in workers {
        match worker.await {
            Ok(result) => recorder.merge(result?)?,
            // A worker task cannot panic by construction; if it did, its calls are lost,
            // and the connection is treated as unreliable.
            Err(_) => state.connection_lost.store(true, Ordering::Relaxed),
        }
    }
    let elapsed = started.elapsed();
    ticking.cancel();
    Ok(PhaseResult { recorder, elapsed, connection_lost: state.connection_lost.load(Ordering::Relaxed) })
}

struct Worker {
    client: McpClient,
    scenario: Arc<Scenario>,
    read_only: Arc<HashSet<String>>,
    state: Arc<PhaseState>,
    call_timeout: Duration,
    retry_read_once: bool,
    rng: StdRng,
}

impl Worker {
    async fn run(mut self) -> Result<Recorder, HistogramError> {
        let mut recorder = Recorder::new()?;
        while self.state.take_turn() {
            let Some((entry, arguments)) = self.scenario.pick(&mut self.rng) else { break };
            let tool = entry.tool.clone();
            let arguments = Value::Object(arguments);
            let started = Instant::now();
            let mut outcome = self.call(&tool, arguments.clone()).await;
            let retry = self.retry_read_once && outcome.is_retriable() && self.read_only.contains(&tool);
            if retry {
                outcome = self.call(&tool, arguments).await;
            }
            recorder.record(&tool, &outcome, started.elapsed(), retry)?;
            self.state.done.fetch_add(1, Ordering::Relaxed);
            if !outcome.is_success() {
                self.state.failed.fetch_add(1, Ordering::Relaxed);
            }
            if outcome.error_class() == Some(&ErrorClass::Transport) {
                self.state.connection_lost.store(true, Ordering::Relaxed);
            }
        }
        Ok(recorder)
    }

    async fn call(&self, tool: &str, arguments: Value) -> Outcome {
        match self.client.call_tool(tool, arguments, self.call_timeout).await {
            Ok(response) => classify(&response),
            Err(RequestFailure::Timeout) => Outcome::failed(ErrorClass::Timeout),
            Err(RequestFailure::Transport) => Outcome::failed(ErrorClass::Transport),
        }
    }
}

async fn show_progress(bar: ProgressBar, state: Arc<PhaseState>, started: Instant, done: CancellationToken) {
    let mut ticks = tokio::time::interval(PROGRESS_TICK);
    loop {
        tokio::select! {
            () = done.cancelled() => return,
            _ = ticks.tick() => {
                let calls = state.done.load(Ordering::Relaxed);
                let failed = state.failed.load(Ordering::Relaxed);
                let position = match state.stop {
                    Stop::Calls(_) => calls,
                    Stop::After(_) => u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                };
                bar.set_position(position);
                bar.set_message(format!("{calls} calls, {failed} failed"));
            }
        }
    }
}
