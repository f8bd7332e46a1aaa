//! Memory-bounded nonce ledgers: which single-use values were issued or seen, and when.
//!
//! Two ledgers with different trust models:
//!
//! - [`IssuedLedger`]: nonces this process issued (confirmation tokens, challenges). Only
//!   a nonce the ledger still remembers can be consumed, so a nonce evicted under memory
//!   pressure becomes unusable rather than reusable.
//! - [`ObservedLedger`]: nonces chosen by clients of signed requests. They cannot be
//!   refused for being unknown, so the ledger remembers the newest timestamp it has ever
//!   evicted and refuses anything at or below it.
//!
//! Both are plain data structures driven by an explicit `now`; the signer actor owns them.

mod issued;
mod observed;

use std::fmt;
use std::time::Duration;

pub use issued::IssuedLedger;
pub use observed::ObservedLedger;

use super::clock::UnixTime;

/// Length of an issued nonce in bytes (128 bits of randomness).
pub const NONCE_LEN: usize = 16;

/// A random 128-bit value issued by this process, shown as 32 lowercase hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce([u8; NONCE_LEN]);

impl Nonce {
    /// A fresh value from the thread-local cryptographic generator.
    pub fn random() -> Self {
        Self(rand::random())
    }

    pub const fn from_bytes(bytes: [u8; NONCE_LEN]) -> Self {
        Self(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; NONCE_LEN] {
        &self.0
    }

    /// Parses the exact wire form: 32 lowercase hex characters, nothing else.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != NONCE_LEN * 2
            || !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        let mut bytes = [0u8; NONCE_LEN];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Why a nonce was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NonceError {
    #[error("the nonce was not issued by this server or is no longer remembered; request a new one")]
    Unknown,
    #[error("the nonce was already used; every nonce is single-use, request a new one")]
    Replayed,
    #[error("the nonce expired {expired_secs_ago} s ago; request a new one")]
    Expired { expired_secs_ago: u64 },
    #[error(
        "the request timestamp is {offset_secs} s from server time, beyond the allowed ±{max_skew_secs} s; \
         sync the client clock and sign the request again"
    )]
    TimestampOutsideWindow { offset_secs: i64, max_skew_secs: u64 },
    #[error(
        "the replay ledger is at capacity and no longer remembers requests timestamped at or before {oldest_refused}; \
         sign the request again with the current time"
    )]
    BelowRetainedWindow { oldest_refused: UnixTime },
    #[error(
        "the nonce must be {min} to {max} characters of A-Z, a-z, 0-9, '-' or '_'; send a fresh random value per request",
        min = super::canonical::MIN_NONCE_LEN,
        max = super::canonical::MAX_NONCE_LEN
    )]
    Malformed,
}

/// A ledger setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerConfigError {
    #[error("the {ledger} capacity must be at least 1 entry")]
    ZeroCapacity { ledger: &'static str },
    #[error("the {ledger} window must be at least 1 second, got {got:?}")]
    WindowTooShort { ledger: &'static str, got: Duration },
}

/// Whole seconds of a window, refusing windows that would round down to nothing.
fn window_secs(ledger: &'static str, window: Duration) -> Result<u64, LedgerConfigError> {
    match window.as_secs() {
        0 => Err(LedgerConfigError::WindowTooShort { ledger, got: window }),
        secs => Ok(secs),
    }
}

fn nonzero_capacity(ledger: &'static str, capacity: usize) -> Result<usize, LedgerConfigError> {
    if capacity == 0 { Err(LedgerConfigError::ZeroCapacity { ledger }) } else { Ok(capacity) }
}

/// Occupancy and eviction counters of one ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LedgerStats {
    pub retained: usize,
    pub capacity: usize,
    /// Entries dropped to make room before they expired.
    pub evicted: u64,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn nonce_wire_form_is_strict() {
        let nonce = Nonce::random();
        assert_eq!(Nonce::parse(&nonce.to_hex()), Some(nonce));
        let cases = [
            nonce.to_hex().to_uppercase(),
            format!("{} ", nonce.to_hex()),
            nonce.to_hex()[..31].to_owned(),
            format!("{}0", nonce.to_hex()),
            "g".repeat(32),
            String::new(),
        ];
        for text in cases {
            if text != nonce.to_hex() {
                assert_eq!(Nonce::parse(&text), None, "{text:?}");
            }
        }
    }

    #[test]
    fn random_nonces_differ() {
        assert_ne!(Nonce::random(), Nonce::random());
    }

    #[test]
    fn settings_that_cannot_work_are_refused() {
        assert_eq!(
            window_secs("test", Duration::from_millis(999)),
            Err(LedgerConfigError::WindowTooShort { ledger: "test", got: Duration::from_millis(999) })
        );
        assert_eq!(window_secs("test", Duration::from_millis(1_500)), Ok(1));
        assert_eq!(nonzero_capacity("test", 0), Err(LedgerConfigError::ZeroCapacity { ledger: "test" }));
        assert_eq!(nonzero_capacity("test", 3), Ok(3));
    }
}
