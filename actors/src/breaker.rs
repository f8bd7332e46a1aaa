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
        cause: OpenCause,
    },
}

/// Why the breaker stopped admitting calls: what the caller is told depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpenCause {
    /// Server errors, timeouts, refused connections.
    #[default]
    Unhealthy,
    /// New Relic answered 429 (or `TOO_MANY_REQUESTS`): it throttles this key.
    RateLimited,
}

impl OpenCause {
    fn of(class: FailureClass) -> Self {
        if class == FailureClass::RateLimited { Self::RateLimited } else { Self::Unhealthy }
    }
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
pub fn unavailable_error(retry_in: Duration, cause: OpenCause) -> ToolError {
    let seconds = (retry_in.as_secs() + u64::from(retry_in.subsec_nanos() > 0)).max(1);
    let message = match cause {
        OpenCause::Unhealthy => format!("New Relic is unreachable; retrying in {seconds} s"),
        OpenCause::RateLimited => format!(
            "New Relic is rate limiting this API key (too many concurrent requests or NRQL queries per \
             minute); retry in {seconds} s"
        ),
    };
    ToolError { kind: ToolErrorKind::Unavailable, message, retry_after: Some(retry_in), error_id: None }
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
    /// The latest failure that counted towards opening: it names why the breaker is open.
    cause: OpenCause,
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
        Ok(BreakerActorState {
            endpoint: args.endpoint,
            config: args.config,
            state: BreakerState::CLOSED,
            cause: OpenCause::default(),
        })
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
                    Some(Decision::Reject { retry_in }) => {
                        Admission::Rejected { retry_in, cause: state.cause }
                    }
                    Some(Decision::Admit { probe }) => Admission::Admitted { probe },
                    None => Admission::Admitted { probe: false },
                };
                let _ = reply.send(admission);
            }
            BreakerMsg::Record { probe, outcome } => {
                if let Err(class) = outcome
                    && class.trips_breaker()
                    && !matches!(state.state, BreakerState::Open { .. })
                {
                    state.cause = OpenCause::of(class);
                }
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
            let error = unavailable_error(retry_in, OpenCause::Unhealthy);
            assert!(error.message.ends_with(expected), "{retry_in:?}: {}", error.message);
            assert_eq!(error.kind, ToolErrorKind::Unavailable);
            assert_eq!(error.retry_after, Some(retry_in));
            assert!(error.kind.is_retriable());
        }
    }

    #[test]
    fn a_breaker_opened_by_rate_limits_says_new_relic_is_rate_limiting() {
        let error = unavailable_error(Duration::from_millis(2_500), OpenCause::RateLimited);
        assert!(error.message.contains("rate limiting"), "{}", error.message);
        assert!(error.message.ends_with("retry in 3 s"), "{}", error.message);
        assert!(!error.message.contains("unreachable"), "{}", error.message);
    }

    #[tokio::test]
    async fn the_breaker_remembers_why_it_opened() {
        let cases = [
            (FailureClass::RateLimited, OpenCause::RateLimited),
            (FailureClass::Transient, OpenCause::Unhealthy),
            (FailureClass::Unreachable, OpenCause::Unhealthy),
        ];
        for (class, expected) in cases {
            let config = BreakerConfig { failure_threshold: 2, ..BreakerConfig::default() };
            let (breaker, handle) =
                Actor::spawn(None, CircuitBreaker, BreakerArgs { endpoint: "test".into(), config })
                    .await
                    .unwrap();
            for _ in 0..2 {
                breaker.cast(BreakerMsg::Record { probe: false, outcome: Err(class) }).unwrap();
            }
            let admission = breaker.call(BreakerMsg::Admit, None).await.unwrap().success_or(()).unwrap();
            let Admission::Rejected { cause, .. } = admission else { panic!("{class:?}: {admission:?}") };
            assert_eq!(cause, expected, "{class:?}");
            breaker.stop(None);
            handle.await.unwrap();
        }
    }
}
