//! The `SignerNonceStore` actor through its public messages: signing, signed-request
//! verification, nonces, confirmation tokens, crashes and restarts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use newrelic_mcp_actors::signer::canonical::CanonicalRequestError;
use newrelic_mcp_actors::signer::{
    ConfirmationError, ManualClock, NonceError, SignatureError, SignedRequest, SignerConfig, SignerError,
    SignerHandle, SignerMsg, SigningKey, UnixTime, binding_for_call, body_digest, sign_request, spawn_signer,
    spawn_signer_linked,
};
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

const START: u64 = 1_700_000_000;
const SECRET: &[u8] = b"integration-test-shared-secret";

fn key() -> SigningKey {
    SigningKey::new(SECRET).unwrap()
}

fn config(clock: &Arc<ManualClock>) -> SignerConfig {
    SignerConfig {
        max_clock_skew: Duration::from_secs(60),
        confirmation_ttl: Duration::from_secs(300),
        clock: clock.clone(),
        ..SignerConfig::default()
    }
}

async fn start() -> (SignerHandle, Arc<ManualClock>, tokio::task::JoinHandle<()>) {
    let clock = Arc::new(ManualClock::new(UnixTime::from_secs(START)));
    let (actor, join) = spawn_signer(key(), config(&clock)).await.unwrap();
    (SignerHandle::new(actor), clock, join)
}

fn arguments(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn signed_request(secret: &[u8], timestamp: u64, nonce: &str, body: &[u8]) -> SignedRequest {
    let mut request = SignedRequest {
        method: "POST".to_owned(),
        path_and_query: "/mcp".to_owned(),
        timestamp: UnixTime::from_secs(timestamp),
        nonce: nonce.to_owned(),
        body_sha256: body_digest(body),
        signature: String::new(),
    };
    request.signature = sign_request(&SigningKey::new(secret).unwrap(), &request.parts()).unwrap().to_hex();
    request
}

#[tokio::test]
async fn signs_and_verifies_with_the_shared_secret() {
    let (signer, _clock, _join) = start().await;
    let signature = signer.sign(b"payload".to_vec()).await.unwrap();
    assert_eq!(signature, key().sign(b"payload"), "the actor signs exactly like the pure key");
    assert_eq!(signer.verify(b"payload".to_vec(), signature.to_hex()).await, Ok(()));
    assert_eq!(
        signer.verify(b"payload?".to_vec(), signature.to_hex()).await,
        Err(SignerError::Signature(SignatureError::Mismatch))
    );
    assert_eq!(
        signer.verify(b"payload".to_vec(), "abc".to_owned()).await,
        Err(SignerError::Signature(SignatureError::Malformed))
    );
}

#[tokio::test]
async fn signed_requests_are_accepted_once_and_only_when_fresh() {
    let (signer, clock, _join) = start().await;
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let request = signed_request(SECRET, START, "request-nonce-0001", body);
    assert_eq!(signer.verify_request(request.clone()).await, Ok(()));
    assert_eq!(signer.verify_request(request).await, Err(SignerError::Nonce(NonceError::Replayed)));

    let forged = signed_request(b"not-the-secret", START, "request-nonce-0002", body);
    assert_eq!(signer.verify_request(forged).await, Err(SignerError::Signature(SignatureError::Mismatch)));
    // The forged attempt did not burn the nonce for the genuine client.
    let genuine = signed_request(SECRET, START, "request-nonce-0002", body);
    assert_eq!(signer.verify_request(genuine).await, Ok(()));

    let mut bad_path = signed_request(SECRET, START, "request-nonce-0003", body);
    bad_path.path_and_query = "mcp".to_owned();
    assert_eq!(signer.verify_request(bad_path).await, Err(SignerError::Request(CanonicalRequestError::Path)));

    let late = signed_request(SECRET, START, "request-nonce-0004", body);
    clock.advance(Duration::from_secs(61));
    assert_eq!(
        signer.verify_request(late).await,
        Err(SignerError::Nonce(NonceError::TimestampOutsideWindow { offset_secs: -61, max_skew_secs: 60 }))
    );
}

#[tokio::test]
async fn observed_client_nonces_detect_replays() {
    let (signer, _clock, _join) = start().await;
    let at = UnixTime::from_secs(START);
    assert_eq!(signer.observe_nonce("client-nonce-000001".to_owned(), at).await, Ok(()));
    assert_eq!(
        signer.observe_nonce("client-nonce-000001".to_owned(), at).await,
        Err(SignerError::Nonce(NonceError::Replayed))
    );
    assert_eq!(
        signer.observe_nonce("short".to_owned(), at).await,
        Err(SignerError::Nonce(NonceError::Malformed))
    );
}

#[tokio::test]
async fn issued_nonces_are_single_use_and_expire() {
    let (signer, clock, _join) = start().await;
    let first = signer.issue_nonce().await.unwrap();
    assert_eq!(first.expires_at, UnixTime::from_secs(START + 300));
    assert_eq!(signer.consume_nonce(first.nonce.clone()).await, Ok(()));
    assert_eq!(signer.consume_nonce(first.nonce).await, Err(SignerError::Nonce(NonceError::Replayed)));
    assert_eq!(
        signer.consume_nonce("00000000000000000000000000000000".to_owned()).await,
        Err(SignerError::Nonce(NonceError::Unknown))
    );
    let second = signer.issue_nonce().await.unwrap();
    clock.advance(Duration::from_secs(301));
    assert_eq!(
        signer.consume_nonce(second.nonce).await,
        Err(SignerError::Nonce(NonceError::Expired { expired_secs_ago: 1 }))
    );
}

#[tokio::test]
async fn confirmation_tokens_confirm_exactly_one_identical_call() {
    let (signer, clock, _join) = start().await;
    let delete_42 =
        binding_for_call("delete_dashboard", &arguments(json!({"guid": "MXxWSVp8REFTSEJPQVJEfDQy"})));
    let delete_43 =
        binding_for_call("delete_dashboard", &arguments(json!({"guid": "MXxWSVp8REFTSEJPQVJEfDQz"})));

    let issued = signer.issue_confirmation(delete_42).await.unwrap();
    assert_eq!(issued.expires_at, UnixTime::from_secs(START + 300));
    assert_eq!(
        signer.redeem_confirmation(issued.token.clone(), delete_43).await,
        Err(SignerError::Confirmation(ConfirmationError::ArgumentsChanged))
    );
    assert_eq!(signer.redeem_confirmation(issued.token.clone(), delete_42).await, Ok(()));
    assert_eq!(
        signer.redeem_confirmation(issued.token, delete_42).await,
        Err(SignerError::Confirmation(ConfirmationError::Replayed))
    );

    let stale = signer.issue_confirmation(delete_42).await.unwrap();
    clock.advance(Duration::from_secs(300));
    assert_eq!(
        signer.redeem_confirmation(stale.token, delete_42).await,
        Err(SignerError::Confirmation(ConfirmationError::Expired { expired_secs_ago: 0 }))
    );

    let stats = signer.stats().await.unwrap();
    assert_eq!(stats.confirmations.retained, 2);
    assert_eq!(stats.confirmations.evicted, 0);
}

#[tokio::test]
async fn concurrent_redemptions_of_one_token_succeed_exactly_once() {
    let (signer, _clock, _join) = start().await;
    let binding = binding_for_call("create_deployment", &arguments(json!({"version": "1.2.3"})));
    let token = signer.issue_confirmation(binding).await.unwrap().token;
    let attempts: Vec<_> = (0..32)
        .map(|_| {
            let signer = signer.clone();
            let token = token.clone();
            tokio::spawn(async move { signer.redeem_confirmation(token, binding).await })
        })
        .collect();
    let mut accepted = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(()) => accepted += 1,
            Err(refusal) => {
                assert_eq!(refusal, SignerError::Confirmation(ConfirmationError::Replayed));
            }
        }
    }
    assert_eq!(accepted, 1);
}

#[tokio::test]
async fn bad_limits_are_reported_before_starting() {
    let clock = Arc::new(ManualClock::new(UnixTime::from_secs(START)));
    let config = SignerConfig { observed_nonce_capacity: 0, ..config(&clock) };
    let refusal = spawn_signer(key(), config).await.err().unwrap();
    assert!(matches!(refusal, SignerError::Config(_)), "{refusal:?}");
    assert!(refusal.to_string().contains("capacity must be at least 1"), "{refusal}");
}

#[tokio::test]
async fn a_crashed_signer_answers_unavailable_and_a_restart_forgets_pending_confirmations() {
    let clock = Arc::new(ManualClock::new(UnixTime::from_secs(START)));
    let (actor, join) = spawn_signer(key(), config(&clock)).await.unwrap();
    let signer = SignerHandle::new(actor.clone());
    let binding = binding_for_call("delete_alert_policy", &arguments(json!({"id": 7})));
    let pending = signer.issue_confirmation(binding).await.unwrap().token;

    actor.cast(SignerMsg::Crash).unwrap();
    tokio::time::timeout(Duration::from_secs(10), join).await.unwrap().unwrap();
    assert!(matches!(signer.sign(b"x".to_vec()).await, Err(SignerError::Unavailable { .. })));

    // Restarted with the same arguments: the secret is the same, the ledger is new, so a
    // token from before the crash is refused instead of possibly being used twice.
    let (restarted, _join) = spawn_signer(key(), config(&clock)).await.unwrap();
    let restarted = SignerHandle::new(restarted);
    assert_eq!(
        restarted.redeem_confirmation(pending, binding).await,
        Err(SignerError::Confirmation(ConfirmationError::Forgotten))
    );
    let fresh = restarted.issue_confirmation(binding).await.unwrap().token;
    assert_eq!(restarted.redeem_confirmation(fresh, binding).await, Ok(()));
}

/// Forwards every supervision event it receives.
struct Watcher;

impl Actor for Watcher {
    type Msg = ();
    type State = mpsc::UnboundedSender<String>;
    type Arguments = mpsc::UnboundedSender<String>;

    async fn pre_start(
        &self,
        _myself: ActorRef<()>,
        events: mpsc::UnboundedSender<String>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(events)
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<()>,
        event: SupervisionEvent,
        events: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let summary = match event {
            SupervisionEvent::ActorFailed(cell, reason) => format!("failed {} {reason}", cell.get_id()),
            SupervisionEvent::ActorTerminated(cell, _, _) => format!("terminated {}", cell.get_id()),
            _ => return Ok(()),
        };
        let _ = events.send(summary);
        Ok(())
    }
}

#[tokio::test]
async fn a_crash_is_reported_to_the_supervisor() {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (watcher, watcher_join) = Actor::spawn(None, Watcher, events_tx).await.unwrap();
    let clock = Arc::new(ManualClock::new(UnixTime::from_secs(START)));
    let (signer, _join) = spawn_signer_linked(None, key(), config(&clock), watcher.get_cell()).await.unwrap();

    signer.cast(SignerMsg::Crash).unwrap();
    let event = tokio::time::timeout(Duration::from_secs(10), events.recv()).await.unwrap().unwrap();
    assert!(event.starts_with(&format!("failed {}", signer.get_id())), "{event}");
    assert!(event.contains("chaos"), "{event}");

    watcher.stop(None);
    watcher_join.await.unwrap();
}
