//! The circuit breaker: one actor per upstream endpoint, a thin shell around the pure
//! [`policy::transition`].
//!
//! Executor workers ask it before every upstream call ([`BreakerMsg::Admit`]) and tell it how
//! the call ended ([`BreakerMsg::Record`], a cast). After enough consecutive failures that say
//! the endpoint is unhealthy it rejects calls at once, so a dead New Relic costs callers
//! microseconds instead of timeouts; after a pause it lets exactly one probe through.

pub mod policy;

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::time::Instant;

pub use self::policy::{BreakerConfig, BreakerEvent, BreakerState, Decision, transition};
use crate::call::BreakerStatus;
use crate::tool::{ToolError, ToolErrorKind};
use crate::upstream::FailureClass;

/// Whether a call may go upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead; `probe` calls decide whether a half-open breaker closes.
    Admitted {
        probe: bool,
    },
    Rejected {
        retry_in: Duration,
    },
}

pub enum BreakerMsg {
    Admit(RpcReplyPort<Admission>),
    /// How an admitted call ended. `probe` repeats what [`Admission::Admitted`] said.
    Record {
        probe: bool,
        outcome: Result<(), FailureClass>,
    },
    Status(RpcReplyPort<BreakerStatus>),
    #[cfg(feature = "chaos")]
    Crash,
}

/// The error a caller sees while the breaker is open.
pub fn unavailable_error(retry_in: Duration) -> ToolError {
    let seconds = retry_in.as_secs() + u64::from(retry_in.subsec_nanos() > 0);
    ToolError {
        kind: ToolErrorKind::Unavailable,
        message: format!("New Relic is unreachable; retrying in {} s", seconds.max(1)),
        retry_after: Some(retry_in),
        error_id: None,
    }
}

pub struct CircuitBreaker;

pub struct BreakerArgs {
    pub endpoint: String,
    pub config: BreakerConfig,
}

pub struct BreakerActorState {
    endpoint: String,
    config: BreakerConfig,
    state: BreakerState,
}

impl BreakerActorState {
    fn apply(&mut self, event: BreakerEvent) -> Option<Decision> {
        let (next, decision) = transition(&self.state, event, Instant::now(), &self.config);
        if next.name() != self.state.name() {
            match next {
                BreakerState::Open { .. } => tracing::warn!(
                    endpoint = %self.endpoint,
                    "circuit breaker opened: New Relic calls are rejected for {:?}",
                    self.config.open_for
                ),
                _ => tracing::info!(endpoint = %self.endpoint, "circuit breaker is now {}", next.name()),
            }
        }
        self.state = next;
        decision
    }

    fn status(&self) -> BreakerStatus {
        let now = Instant::now();
        let (consecutive_failures, retry_in) = match self.state {
            BreakerState::Closed { consecutive_failures } => (consecutive_failures, None),
            BreakerState::Open { until } => {
                (self.config.failure_threshold, Some(until.saturating_duration_since(now)))
            }
            BreakerState::HalfOpen { .. } => (self.config.failure_threshold, None),
        };
        BreakerStatus {
            endpoint: self.endpoint.clone(),
            state: self.state.name().to_string(),
            consecutive_failures,
            retry_in,
        }
    }
}

impl Actor for CircuitBreaker {
    type Msg = BreakerMsg;
    type State = BreakerActorState;
    type Arguments = BreakerArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: BreakerArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(BreakerActorState { endpoint: args.endpoint, config: args.config, state: BreakerState::CLOSED })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: BreakerMsg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            BreakerMsg::Admit(reply) => {
                let admission = match state.apply(BreakerEvent::Admit) {
                    Some(Decision::Reject { retry_in }) => Admission::Rejected { retry_in },
                    Some(Decision::Admit { probe }) => Admission::Admitted { probe },
                    None => Admission::Admitted { probe: false },
                };
                let _ = reply.send(admission);
            }
            BreakerMsg::Record { probe, outcome } => {
                state.apply(BreakerEvent::Outcome { probe, outcome });
            }
            BreakerMsg::Status(reply) => {
                let _ = reply.send(state.status());
            }
            #[cfg(feature = "chaos")]
            BreakerMsg::Crash => crate::chaos::crash("circuit breaker"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn unavailable_error_rounds_seconds_up_and_is_retriable() {
        let cases = [
            (Duration::from_millis(200), "retrying in 1 s"),
            (Duration::from_secs(10), "retrying in 10 s"),
            (Duration::from_millis(9_001), "retrying in 10 s"),
            (Duration::ZERO, "retrying in 1 s"),
        ];
        for (retry_in, expected) in cases {
            let error = unavailable_error(retry_in);
            assert!(error.message.ends_with(expected), "{retry_in:?}: {}", error.message);
            assert_eq!(error.kind, ToolErrorKind::Unavailable);
            assert_eq!(error.retry_after, Some(retry_in));
            assert!(error.kind.is_retriable());
        }
    }
}
