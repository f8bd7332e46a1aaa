//! The signer and nonce store: HMAC-SHA256 request signatures, a replay ledger for
//! signed requests, and single-use confirmation tokens for write tools.
//!
//! The pure parts live in submodules and are usable without the actor:
//!
//! - [`key`]: the shared secret ([`SigningKey`]), signing and constant-time verification.
//! - [`canonical`]: the canonical string a signed HTTP request is signed over.
//! - [`ledger`]: bounded ledgers of issued and observed nonces.
//! - [`confirmation`]: confirmation tokens bound to a tool call's arguments.
//! - [`writes`]: the record of confirmed writes that makes repeating one harmless.
//! - [`clock`]: wall-clock seconds, injectable for tests.
//! - [`actor`]: the [`SignerNonceStore`] actor that owns one of each, and [`SignerHandle`]
//!   for callers that may await its answers.

pub mod actor;
pub mod canonical;
pub mod clock;
pub mod confirmation;
pub mod key;
pub mod ledger;
pub mod writes;

pub use actor::{
    IssuedNonce, SignedRequest, SignerArgs, SignerConfig, SignerHandle, SignerMsg, SignerNonceStore,
    SignerStats, spawn_signer, spawn_signer_linked,
};
pub use canonical::{RequestToSign, body_digest, canonical_request, sign_request};
pub use clock::{Clock, ManualClock, SystemClock, UnixTime};
pub use confirmation::{Binding, ConfirmationError, ConfirmationToken, binding_for_call};
pub use key::{KeyError, Signature, SignatureError, SigningKey};
pub use ledger::{LedgerConfigError, Nonce, NonceError};
pub use writes::{WriteAdmission, WriteLedgerError, WriteOutcome};

use canonical::CanonicalRequestError;

/// Every way the signer refuses or fails a request. Each message says what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error(transparent)]
    Request(#[from] CanonicalRequestError),
    #[error(transparent)]
    Nonce(#[from] NonceError),
    #[error(transparent)]
    Confirmation(#[from] ConfirmationError),
    #[error(transparent)]
    Writes(#[from] WriteLedgerError),
    #[error("invalid signer configuration: {0}")]
    Config(#[from] LedgerConfigError),
    #[error("the signer could not start ({reason}); check the signer configuration")]
    Spawn { reason: String },
    #[error("the signer is unavailable ({reason}); retry the request")]
    Unavailable { reason: String },
}
