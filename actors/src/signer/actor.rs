//! The `SignerNonceStore` actor: owns the signing key, the replay ledgers and the
//! confirmation book, and answers one message at a time, so no ledger needs a lock.
//!
//! Callers on the request path should forward a reply port (`call_and_forward`) rather
//! than await; callers that may wait (HTTP middleware, tests) use [`SignerHandle`].

use std::sync::Arc;
use std::time::Duration;

use ractor::concurrency::JoinHandle;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, rpc::CallResult};

use super::SignerError;
use super::canonical::{RequestToSign, canonical_request};
use super::clock::{Clock, SystemClock, UnixTime};
use super::confirmation::{
    Binding, ConfirmationBook, ConfirmationError, ConfirmationToken, DEFAULT_CONFIRMATION_TTL,
};
use super::key::{Signature, SigningKey};
use super::ledger::{IssuedLedger, LedgerStats, ObservedLedger};
use super::writes::{DEFAULT_WRITE_WINDOW, WriteAdmission, WriteLedger, WriteOutcome};

/// How long [`SignerHandle`] waits for an answer before calling the signer unavailable.
/// Every operation is microseconds of work, so reaching this means the actor is stuck.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Limits of the signer's ledgers and the clock it reads.
#[derive(Debug, Clone)]
pub struct SignerConfig {
    /// How far a signed request's timestamp may be from server time, either way.
    pub max_clock_skew: Duration,
    /// Client nonces remembered at once; past it the oldest are evicted (see [`ObservedLedger`]).
    pub observed_nonce_capacity: usize,
    /// Lifetime of a nonce issued by [`SignerMsg::IssueNonce`].
    pub issued_nonce_ttl: Duration,
    pub issued_nonce_capacity: usize,
    /// Lifetime of a confirmation token.
    pub confirmation_ttl: Duration,
    /// Confirmations pending at once; past it the oldest are forgotten and then refused.
    pub confirmation_capacity: usize,
    /// How long a confirmed write's result answers a repeat of the same call.
    pub write_window: Duration,
    /// Confirmed writes remembered at once (running or applied).
    pub write_capacity: usize,
    pub clock: Arc<dyn Clock>,
}

impl Default for SignerConfig {
    fn default() -> Self {
        Self {
            max_clock_skew: Duration::from_secs(5 * 60),
            observed_nonce_capacity: 100_000,
            issued_nonce_ttl: Duration::from_secs(5 * 60),
            issued_nonce_capacity: 10_000,
            confirmation_ttl: DEFAULT_CONFIRMATION_TTL,
            confirmation_capacity: 10_000,
            write_window: DEFAULT_WRITE_WINDOW,
            write_capacity: 1_024,
            clock: Arc::new(SystemClock),
        }
    }
}

/// What the actor is started with; cloneable so a supervisor can restart it as it was.
#[derive(Debug, Clone)]
pub struct SignerArgs {
    pub key: SigningKey,
    pub config: SignerConfig,
}

/// A signed HTTP request as received: the signed parts and the signature header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub method: String,
    pub path_and_query: String,
    pub timestamp: UnixTime,
    pub nonce: String,
    pub body_sha256: [u8; 32],
    /// Hex signature as sent by the client.
    pub signature: String,
}

impl SignedRequest {
    pub fn parts(&self) -> RequestToSign<'_> {
        RequestToSign {
            method: &self.method,
            path_and_query: &self.path_and_query,
            timestamp: self.timestamp,
            nonce: &self.nonce,
            body_sha256: self.body_sha256,
        }
    }
}

/// A nonce issued by [`SignerMsg::IssueNonce`], in wire form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedNonce {
    pub nonce: String,
    pub expires_at: UnixTime,
}

/// Occupancy of the signer's ledgers, for status reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SignerStats {
    pub observed_nonces: LedgerStats,
    pub issued_nonces: LedgerStats,
    pub confirmations: LedgerStats,
}

/// Messages the signer answers.
pub enum SignerMsg {
    /// HMAC-SHA256 of `payload`.
    Sign {
        payload: Vec<u8>,
        reply: RpcReplyPort<Signature>,
    },
    /// Checks a hex `signature` over `payload` in constant time.
    Verify {
        payload: Vec<u8>,
        signature: String,
        reply: RpcReplyPort<Result<(), SignerError>>,
    },
    /// Full check of a signed HTTP request: well-formed parts, timestamp within the skew,
    /// valid signature, and a nonce not seen before (recorded only once all else passed).
    VerifyRequest {
        request: SignedRequest,
        reply: RpcReplyPort<Result<(), SignerError>>,
    },
    /// Records a client nonce signed at `timestamp`; refuses replays and stale timestamps.
    ObserveNonce {
        nonce: String,
        timestamp: UnixTime,
        reply: RpcReplyPort<Result<(), SignerError>>,
    },
    /// A fresh single-use nonce (a challenge for a client to echo back).
    IssueNonce {
        reply: RpcReplyPort<IssuedNonce>,
    },
    /// Uses up a nonce issued by `IssueNonce`.
    ConsumeNonce {
        nonce: String,
        reply: RpcReplyPort<Result<(), SignerError>>,
    },
    /// A confirmation token for the call `binding` identifies.
    IssueConfirmation {
        binding: Binding,
        reply: RpcReplyPort<ConfirmationToken>,
    },
    /// Accepts a confirmation token for the call `binding` identifies, once.
    RedeemConfirmation {
        token: String,
        binding: Binding,
        reply: RpcReplyPort<Result<(), SignerError>>,
    },
    /// Redeems the token of a confirmed write and says whether to run it: a call already
    /// applied (or running) with these exact arguments is not run again, and a token that was
    /// already used still finds the result of the write it confirmed.
    BeginWrite {
        token: String,
        binding: Binding,
        reply: RpcReplyPort<Result<WriteAdmission, SignerError>>,
    },
    /// How a write admitted by `BeginWrite` ended.
    FinishWrite {
        binding: Binding,
        outcome: WriteOutcome,
    },
    Stats {
        reply: RpcReplyPort<SignerStats>,
    },
    /// Panics inside the handler, to exercise supervision.
    #[cfg(feature = "chaos")]
    Crash,
}

/// The state the actor owns.
#[derive(Debug)]
pub struct SignerState {
    key: SigningKey,
    observed: ObservedLedger,
    issued: IssuedLedger<()>,
    confirmations: ConfirmationBook,
    writes: WriteLedger,
    clock: Arc<dyn Clock>,
}

impl SignerState {
    /// Builds the state, refusing limits that cannot work.
    pub fn new(args: SignerArgs) -> Result<Self, SignerError> {
        let SignerArgs { key, config } = args;
        Ok(Self {
            observed: ObservedLedger::new(config.max_clock_skew, config.observed_nonce_capacity)?,
            issued: IssuedLedger::new(config.issued_nonce_ttl, config.issued_nonce_capacity)?,
            confirmations: ConfirmationBook::new(
                key.clone(),
                config.confirmation_ttl,
                config.confirmation_capacity,
            )?,
            writes: WriteLedger::new(config.write_window, config.write_capacity)?,
            key,
            clock: config.clock,
        })
    }

    pub fn verify_request(&mut self, request: &SignedRequest) -> Result<(), SignerError> {
        let now = self.clock.now();
        let canonical = canonical_request(&request.parts())?;
        // Cheap refusals first; the nonce is recorded last so that unsigned or mis-signed
        // requests can never fill the ledger.
        self.observed.check_timestamp(request.timestamp, now)?;
        self.key.verify_hex(canonical.as_bytes(), &request.signature)?;
        self.observed.observe(&request.nonce, request.timestamp, now)?;
        Ok(())
    }

    pub fn begin_write(&mut self, token: &str, binding: &Binding) -> Result<WriteAdmission, SignerError> {
        let now = self.clock.now();
        match self.confirmations.redeem(token, binding, now) {
            Ok(()) => Ok(self.writes.begin(binding, now)?),
            // A used, forgotten or expired (but authentic) token whose write is on record is a
            // repeat of that write: answering its result is what makes sending a confirmed
            // write twice harmless.
            Err(
                refusal @ (ConfirmationError::Replayed
                | ConfirmationError::Forgotten
                | ConfirmationError::Expired { .. }),
            ) => self.writes.lookup(binding, now).ok_or(SignerError::Confirmation(refusal)),
            Err(refusal) => Err(refusal.into()),
        }
    }

    pub fn finish_write(&mut self, binding: &Binding, outcome: WriteOutcome) {
        let now = self.clock.now();
        self.writes.finish(binding, outcome, now);
    }

    pub fn stats(&self) -> SignerStats {
        SignerStats {
            observed_nonces: self.observed.stats(),
            issued_nonces: self.issued.stats(),
            confirmations: self.confirmations.stats(),
        }
    }
}

/// The signer actor. Start it with [`spawn_signer`] or, under a supervisor, with
/// [`spawn_signer_linked`] (or `Actor::spawn_linked` with [`SignerArgs`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SignerNonceStore;

impl Actor for SignerNonceStore {
    type Msg = SignerMsg;
    type State = SignerState;
    type Arguments = SignerArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<SignerMsg>,
        args: SignerArgs,
    ) -> Result<SignerState, ActorProcessingErr> {
        Ok(SignerState::new(args)?)
    }

    async fn handle(
        &self,
        _myself: ActorRef<SignerMsg>,
        message: SignerMsg,
        state: &mut SignerState,
    ) -> Result<(), ActorProcessingErr> {
        // A failed send only means the caller stopped waiting; there is no one to tell.
        match message {
            SignerMsg::Sign { payload, reply } => {
                let _ = reply.send(state.key.sign(&payload));
            }
            SignerMsg::Verify { payload, signature, reply } => {
                let _ = reply.send(state.key.verify_hex(&payload, &signature).map_err(SignerError::from));
            }
            SignerMsg::VerifyRequest { request, reply } => {
                let outcome = state.verify_request(&request);
                if let Err(refusal) = &outcome {
                    tracing::debug!(%refusal, method = %request.method, "signed request refused");
                }
                let _ = reply.send(outcome);
            }
            SignerMsg::ObserveNonce { nonce, timestamp, reply } => {
                let now = state.clock.now();
                let _ = reply.send(state.observed.observe(&nonce, timestamp, now).map_err(SignerError::from));
            }
            SignerMsg::IssueNonce { reply } => {
                let (nonce, expires_at) = state.issued.issue((), state.clock.now());
                let _ = reply.send(IssuedNonce { nonce: nonce.to_hex(), expires_at });
            }
            SignerMsg::ConsumeNonce { nonce, reply } => {
                let now = state.clock.now();
                let _ = reply.send(state.issued.consume_str(&nonce, now).map_err(SignerError::from));
            }
            SignerMsg::IssueConfirmation { binding, reply } => {
                let now = state.clock.now();
                let _ = reply.send(state.confirmations.issue(&binding, now));
            }
            SignerMsg::RedeemConfirmation { token, binding, reply } => {
                let now = state.clock.now();
                let outcome = state.confirmations.redeem(&token, &binding, now).map_err(SignerError::from);
                if let Err(refusal) = &outcome {
                    tracing::debug!(%refusal, "confirmation refused");
                }
                let _ = reply.send(outcome);
            }
            SignerMsg::BeginWrite { token, binding, reply } => {
                let outcome = state.begin_write(&token, &binding);
                if let Err(refusal) = &outcome {
                    tracing::debug!(%refusal, "confirmed write refused");
                }
                let _ = reply.send(outcome);
            }
            SignerMsg::FinishWrite { binding, outcome } => state.finish_write(&binding, outcome),
            SignerMsg::Stats { reply } => {
                let _ = reply.send(state.stats());
            }
            #[cfg(feature = "chaos")]
            SignerMsg::Crash => {
                #[allow(clippy::panic)]
                {
                    panic!("chaos: SignerNonceStore crashed on request");
                }
            }
        }
        Ok(())
    }
}

/// Starts an unsupervised signer. The configuration is checked first, so a bad limit is
/// reported precisely instead of as a failed start. The join handle completes when the
/// actor stops.
pub async fn spawn_signer(
    key: SigningKey,
    config: SignerConfig,
) -> Result<(ActorRef<SignerMsg>, JoinHandle<()>), SignerError> {
    let args = SignerArgs { key, config };
    SignerState::new(args.clone())?;
    Actor::spawn(None, SignerNonceStore, args)
        .await
        .map_err(|error| SignerError::Spawn { reason: error.to_string() })
}

/// Starts a signer supervised by `supervisor`, optionally under a registry `name`.
pub async fn spawn_signer_linked(
    name: Option<String>,
    key: SigningKey,
    config: SignerConfig,
    supervisor: ActorCell,
) -> Result<(ActorRef<SignerMsg>, JoinHandle<()>), SignerError> {
    let args = SignerArgs { key, config };
    SignerState::new(args.clone())?;
    Actor::spawn_linked(name, SignerNonceStore, args, supervisor)
        .await
        .map_err(|error| SignerError::Spawn { reason: error.to_string() })
}

/// Awaiting access to a signer, for callers that may wait (HTTP middleware, tools that
/// must confirm before writing, tests). Every failure to get an answer — the actor is
/// stopped, restarting or stuck — is [`SignerError::Unavailable`].
#[derive(Debug, Clone)]
pub struct SignerHandle {
    actor: ActorRef<SignerMsg>,
}

impl SignerHandle {
    pub fn new(actor: ActorRef<SignerMsg>) -> Self {
        Self { actor }
    }

    pub fn actor(&self) -> &ActorRef<SignerMsg> {
        &self.actor
    }

    async fn ask<T: Send + 'static>(
        &self,
        message: impl FnOnce(RpcReplyPort<T>) -> SignerMsg,
    ) -> Result<T, SignerError> {
        match self.actor.call(message, Some(CALL_TIMEOUT)).await {
            Ok(CallResult::Success(answer)) => Ok(answer),
            Ok(CallResult::Timeout) => Err(SignerError::Unavailable {
                reason: format!("no answer within {} s", CALL_TIMEOUT.as_secs()),
            }),
            Ok(CallResult::SenderError) => {
                Err(SignerError::Unavailable { reason: "it stopped before answering".to_owned() })
            }
            Err(error) => Err(SignerError::Unavailable { reason: error.to_string() }),
        }
    }

    pub async fn sign(&self, payload: Vec<u8>) -> Result<Signature, SignerError> {
        self.ask(|reply| SignerMsg::Sign { payload, reply }).await
    }

    pub async fn verify(&self, payload: Vec<u8>, signature: String) -> Result<(), SignerError> {
        self.ask(|reply| SignerMsg::Verify { payload, signature, reply }).await?
    }

    pub async fn verify_request(&self, request: SignedRequest) -> Result<(), SignerError> {
        self.ask(|reply| SignerMsg::VerifyRequest { request, reply }).await?
    }

    pub async fn observe_nonce(&self, nonce: String, timestamp: UnixTime) -> Result<(), SignerError> {
        self.ask(|reply| SignerMsg::ObserveNonce { nonce, timestamp, reply }).await?
    }

    pub async fn issue_nonce(&self) -> Result<IssuedNonce, SignerError> {
        self.ask(|reply| SignerMsg::IssueNonce { reply }).await
    }

    pub async fn consume_nonce(&self, nonce: String) -> Result<(), SignerError> {
        self.ask(|reply| SignerMsg::ConsumeNonce { nonce, reply }).await?
    }

    pub async fn issue_confirmation(&self, binding: Binding) -> Result<ConfirmationToken, SignerError> {
        self.ask(|reply| SignerMsg::IssueConfirmation { binding, reply }).await
    }

    pub async fn redeem_confirmation(&self, token: String, binding: Binding) -> Result<(), SignerError> {
        self.ask(|reply| SignerMsg::RedeemConfirmation { token, binding, reply }).await?
    }

    pub async fn begin_write(&self, token: String, binding: Binding) -> Result<WriteAdmission, SignerError> {
        self.ask(|reply| SignerMsg::BeginWrite { token, binding, reply }).await?
    }

    pub async fn stats(&self) -> Result<SignerStats, SignerError> {
        self.ask(|reply| SignerMsg::Stats { reply }).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::super::canonical::{CanonicalRequestError, body_digest, sign_request};
    use super::super::clock::ManualClock;
    use super::super::key::SignatureError;
    use super::super::ledger::NonceError;
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn state() -> (SignerState, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(UnixTime::from_secs(NOW)));
        let config = SignerConfig {
            max_clock_skew: Duration::from_secs(60),
            clock: clock.clone(),
            ..Default::default()
        };
        let key = SigningKey::new(b"state-secret").unwrap();
        (SignerState::new(SignerArgs { key, config }).unwrap(), clock)
    }

    fn signed(key: &[u8], timestamp: u64, nonce: &str) -> SignedRequest {
        let mut request = SignedRequest {
            method: "POST".to_owned(),
            path_and_query: "/mcp".to_owned(),
            timestamp: UnixTime::from_secs(timestamp),
            nonce: nonce.to_owned(),
            body_sha256: body_digest(br#"{"jsonrpc":"2.0"}"#),
            signature: String::new(),
        };
        let key = SigningKey::new(key).unwrap();
        request.signature = sign_request(&key, &request.parts()).unwrap().to_hex();
        request
    }

    #[test]
    fn signed_request_verification_table() {
        let good_nonce = "nonce-000000000001";
        let mut tampered_body = signed(b"state-secret", NOW, "nonce-000000000009");
        tampered_body.body_sha256 = body_digest(b"{}");
        let mut bad_method = signed(b"state-secret", NOW, "nonce-000000000010");
        bad_method.method = "post".to_owned();
        let mut garbage_signature = signed(b"state-secret", NOW, "nonce-000000000011");
        garbage_signature.signature = "not hex".to_owned();
        let cases: Vec<(&str, SignedRequest, Result<(), SignerError>)> = vec![
            ("valid", signed(b"state-secret", NOW, good_nonce), Ok(())),
            ("replayed", signed(b"state-secret", NOW, good_nonce), Err(NonceError::Replayed.into())),
            (
                "wrong secret",
                signed(b"other-secret", NOW, "nonce-000000000002"),
                Err(SignatureError::Mismatch.into()),
            ),
            ("altered body", tampered_body, Err(SignatureError::Mismatch.into())),
            ("garbage signature", garbage_signature, Err(SignatureError::Malformed.into())),
            ("lowercase method", bad_method, Err(CanonicalRequestError::Method.into())),
            (
                "stale timestamp",
                signed(b"state-secret", NOW - 61, "nonce-000000000003"),
                Err(NonceError::TimestampOutsideWindow { offset_secs: -61, max_skew_secs: 60 }.into()),
            ),
            ("skewed within limits", signed(b"state-secret", NOW + 60, "nonce-000000000004"), Ok(())),
        ];
        let (mut state, _clock) = state();
        for (name, request, expected) in cases {
            assert_eq!(state.verify_request(&request), expected, "{name}");
        }
    }

    #[test]
    fn refused_requests_do_not_burn_their_nonce() {
        let (mut state, _clock) = state();
        let nonce = "nonce-000000000005";
        let forged = signed(b"attacker-secret", NOW, nonce);
        assert!(state.verify_request(&forged).is_err());
        assert_eq!(state.stats().observed_nonces.retained, 0);
        assert_eq!(state.verify_request(&signed(b"state-secret", NOW, nonce)), Ok(()));
    }

    #[test]
    fn the_clock_drives_the_skew_check() {
        let (mut state, clock) = state();
        let request = signed(b"state-secret", NOW, "nonce-000000000006");
        clock.advance(Duration::from_secs(61));
        assert!(matches!(
            state.verify_request(&request),
            Err(SignerError::Nonce(NonceError::TimestampOutsideWindow { .. }))
        ));
    }

    #[test]
    fn limits_that_cannot_work_are_refused() {
        let key = SigningKey::new(b"k").unwrap();
        let configs = [
            SignerConfig { observed_nonce_capacity: 0, ..Default::default() },
            SignerConfig { issued_nonce_capacity: 0, ..Default::default() },
            SignerConfig { confirmation_capacity: 0, ..Default::default() },
            SignerConfig { max_clock_skew: Duration::ZERO, ..Default::default() },
            SignerConfig { issued_nonce_ttl: Duration::from_millis(500), ..Default::default() },
            SignerConfig { confirmation_ttl: Duration::ZERO, ..Default::default() },
        ];
        for config in configs {
            let shown = format!("{config:?}");
            assert!(
                matches!(
                    SignerState::new(SignerArgs { key: key.clone(), config }),
                    Err(SignerError::Config(_))
                ),
                "{shown}"
            );
        }
    }
}
