//! Single-use confirmation tokens for write tools.
//!
//! A write tool first answers with a token bound to its exact arguments; the caller
//! repeats the call with that token to go ahead. The token is
//! `nrcfm1_` + hex(nonce ‖ expiry ‖ HMAC(nonce ‖ expiry ‖ binding)), where the binding is
//! the SHA-256 of the tool name and its canonical arguments. The MAC makes a token
//! unforgeable and ties it to one set of arguments; the issued-nonce ledger makes it
//! single-use. A token the ledger no longer remembers (evicted, or issued before a
//! restart) is refused: a confirmation is cheap to ask for again, a repeated write is not.

use std::time::Duration;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::clock::UnixTime;
use super::key::{SIGNATURE_LEN, SigningKey};
use super::ledger::{IssuedLedger, LedgerConfigError, LedgerStats, NONCE_LEN, Nonce, NonceError};

/// SHA-256 of a tool name and its canonical arguments.
pub type Binding = [u8; 32];

/// How long a confirmation token stays valid unless configured otherwise.
pub const DEFAULT_CONFIRMATION_TTL: Duration = Duration::from_secs(5 * 60);

const TOKEN_PREFIX: &str = "nrcfm1_";
const EXPIRY_LEN: usize = 8;
const TOKEN_RAW_LEN: usize = NONCE_LEN + EXPIRY_LEN + SIGNATURE_LEN;
/// Separates confirmation MACs from every other use of the shared secret.
const MAC_DOMAIN: &[u8] = b"newrelic-mcp confirmation v1\0";
const BINDING_DOMAIN: &[u8] = b"newrelic-mcp confirmation binding v1\0";

/// Why a confirmation token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfirmationError {
    #[error(
        "the confirmation token is not in the form this server issues; pass the token exactly as returned, \
         or call the tool without one to get a new token"
    )]
    Malformed,
    #[error(
        "the confirmation token was altered or was not issued by this server; pass the token exactly as returned, \
         or call the tool without one to get a new token"
    )]
    Tampered,
    #[error(
        "the confirmation token was issued for different arguments; call the tool without a token to confirm \
         these arguments"
    )]
    ArgumentsChanged,
    #[error(
        "the confirmation token expired {expired_secs_ago} s ago; call the tool without a token to get a new one"
    )]
    Expired { expired_secs_ago: u64 },
    #[error("the confirmation token was already used; each token confirms one call, request a new one")]
    Replayed,
    #[error(
        "the server no longer remembers this confirmation token (it restarted or too many confirmations are \
         pending); call the tool without a token to get a new one"
    )]
    Forgotten,
}

/// A token to hand back to the caller, and when it stops being accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmationToken {
    pub token: String,
    pub expires_at: UnixTime,
}

/// The binding of a tool call: SHA-256 over the tool name and its arguments in a
/// canonical, unambiguous encoding (object keys sorted; every value tagged and
/// length-prefixed), so the same call always binds the same way regardless of key order.
pub fn binding_for_call(tool: &str, arguments: &Map<String, Value>) -> Binding {
    let mut hasher = Sha256::new();
    hasher.update(BINDING_DOMAIN);
    hash_str(&mut hasher, tool);
    hash_object(&mut hasher, arguments);
    hasher.finalize().into()
}

fn hash_len(hasher: &mut Sha256, len: usize) {
    hasher.update((len as u64).to_be_bytes());
}

fn hash_str(hasher: &mut Sha256, text: &str) {
    hash_len(hasher, text.len());
    hasher.update(text.as_bytes());
}

fn hash_object(hasher: &mut Sha256, object: &Map<String, Value>) {
    let mut entries: Vec<(&String, &Value)> = object.iter().collect();
    entries.sort_unstable_by(|left, right| left.0.cmp(right.0));
    hasher.update(b"{");
    hash_len(hasher, entries.len());
    for (key, value) in entries {
        hash_str(hasher, key);
        hash_value(hasher, value);
    }
}

fn hash_value(hasher: &mut Sha256, value: &Value) {
    match value {
        Value::Null => hasher.update(b"n"),
        Value::Bool(true) => hasher.update(b"t"),
        Value::Bool(false) => hasher.update(b"f"),
        Value::Number(number) => {
            hasher.update(b"#");
            hash_str(hasher, &number.to_string());
        }
        Value::String(text) => {
            hasher.update(b"s");
            hash_str(hasher, text);
        }
        Value::Array(items) => {
            hasher.update(b"[");
            hash_len(hasher, items.len());
            for item in items {
                hash_value(hasher, item);
            }
        }
        Value::Object(object) => hash_object(hasher, object),
    }
}

struct ParsedToken {
    nonce: Nonce,
    expires_at: UnixTime,
    mac: [u8; SIGNATURE_LEN],
}

fn parse_token(token: &str) -> Result<ParsedToken, ConfirmationError> {
    let body = token.trim().strip_prefix(TOKEN_PREFIX).ok_or(ConfirmationError::Malformed)?;
    let lowercase_hex = body.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if body.len() != TOKEN_RAW_LEN * 2 || !lowercase_hex {
        return Err(ConfirmationError::Malformed);
    }
    let mut raw = [0u8; TOKEN_RAW_LEN];
    hex::decode_to_slice(body, &mut raw).map_err(|_| ConfirmationError::Malformed)?;
    let (nonce, rest) = raw.split_at(NONCE_LEN);
    let (expiry, mac) = rest.split_at(EXPIRY_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| ConfirmationError::Malformed)?;
    let expiry: [u8; EXPIRY_LEN] = expiry.try_into().map_err(|_| ConfirmationError::Malformed)?;
    let mac: [u8; SIGNATURE_LEN] = mac.try_into().map_err(|_| ConfirmationError::Malformed)?;
    Ok(ParsedToken {
        nonce: Nonce::from_bytes(nonce),
        expires_at: UnixTime::from_secs(u64::from_be_bytes(expiry)),
        mac,
    })
}

/// Issues and redeems confirmation tokens.
#[derive(Debug)]
pub struct ConfirmationBook {
    key: SigningKey,
    ledger: IssuedLedger<Binding>,
}

impl ConfirmationBook {
    /// `capacity` bounds how many confirmations may be pending at once; past it the oldest
    /// are forgotten (and then refused).
    pub fn new(key: SigningKey, ttl: Duration, capacity: usize) -> Result<Self, LedgerConfigError> {
        Ok(Self { key, ledger: IssuedLedger::new(ttl, capacity)? })
    }

    fn mac_parts<'a>(nonce: &'a Nonce, expiry: &'a [u8; EXPIRY_LEN], binding: &'a Binding) -> [&'a [u8]; 4] {
        [MAC_DOMAIN, nonce.as_bytes(), expiry, binding]
    }

    /// A fresh token for the call `binding` identifies.
    pub fn issue(&mut self, binding: &Binding, now: UnixTime) -> ConfirmationToken {
        let (nonce, expires_at) = self.ledger.issue(*binding, now);
        let expiry = expires_at.as_secs().to_be_bytes();
        let mac = self.key.sign_parts(&Self::mac_parts(&nonce, &expiry, binding));
        let mut raw = Vec::with_capacity(TOKEN_RAW_LEN);
        raw.extend_from_slice(nonce.as_bytes());
        raw.extend_from_slice(&expiry);
        raw.extend_from_slice(mac.as_bytes());
        ConfirmationToken { token: format!("{TOKEN_PREFIX}{}", hex::encode(raw)), expires_at }
    }

    /// Accepts `token` for the call `binding` identifies, once.
    pub fn redeem(&mut self, token: &str, binding: &Binding, now: UnixTime) -> Result<(), ConfirmationError> {
        let parsed = parse_token(token)?;
        let expiry = parsed.expires_at.as_secs().to_be_bytes();
        let verified = self.key.verify_parts(&Self::mac_parts(&parsed.nonce, &expiry, binding), &parsed.mac);
        if verified.is_err() {
            return Err(self.diagnose_mismatch(&parsed, &expiry, binding));
        }
        if now >= parsed.expires_at {
            return Err(ConfirmationError::Expired {
                expired_secs_ago: now.saturating_secs_since(parsed.expires_at),
            });
        }
        self.ledger.consume(&parsed.nonce, now).map_err(|refusal| match refusal {
            NonceError::Replayed => ConfirmationError::Replayed,
            NonceError::Expired { expired_secs_ago } => ConfirmationError::Expired { expired_secs_ago },
            _ => ConfirmationError::Forgotten,
        })
    }

    /// A MAC that does not verify is either a token for other arguments (it verifies with
    /// the binding it was issued for) or an altered one.
    fn diagnose_mismatch(
        &self,
        parsed: &ParsedToken,
        expiry: &[u8; EXPIRY_LEN],
        binding: &Binding,
    ) -> ConfirmationError {
        match self.ledger.payload(&parsed.nonce) {
            Some(issued_for)
                if issued_for != binding
                    && self
                        .key
                        .verify_parts(&Self::mac_parts(&parsed.nonce, expiry, issued_for), &parsed.mac)
                        .is_ok() =>
            {
                ConfirmationError::ArgumentsChanged
            }
            _ => ConfirmationError::Tampered,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ledger.ttl()
    }

    pub fn stats(&self) -> LedgerStats {
        self.ledger.stats()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn at(offset: u64) -> UnixTime {
        UnixTime::from_secs(NOW + offset)
    }

    fn book(capacity: usize) -> ConfirmationBook {
        let key = SigningKey::new(b"confirmation-secret").unwrap();
        ConfirmationBook::new(key, DEFAULT_CONFIRMATION_TTL, capacity).unwrap()
    }

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn binding(dashboard: u64) -> Binding {
        binding_for_call("delete_dashboard", &object(json!({ "guid": format!("dash-{dashboard}") })))
    }

    #[test]
    fn binding_ignores_key_order_and_sees_every_difference() {
        let base = binding_for_call("t", &object(json!({"a": 1, "b": [true, null, "x"], "c": {"d": 2.5}})));
        let reordered =
            binding_for_call("t", &object(json!({"c": {"d": 2.5}, "b": [true, null, "x"], "a": 1})));
        assert_eq!(base, reordered);
        let different = [
            binding_for_call("u", &object(json!({"a": 1, "b": [true, null, "x"], "c": {"d": 2.5}}))),
            binding_for_call("t", &object(json!({"a": 2, "b": [true, null, "x"], "c": {"d": 2.5}}))),
            binding_for_call("t", &object(json!({"a": "1", "b": [true, null, "x"], "c": {"d": 2.5}}))),
            binding_for_call("t", &object(json!({"a": 1, "b": [null, true, "x"], "c": {"d": 2.5}}))),
            binding_for_call(
                "t",
                &object(json!({"a": 1, "b": [true, null, "x"], "c": {"d": 2.5, "e": null}})),
            ),
            binding_for_call("t", &object(json!({"a": 1, "b": [true, null, "x"]}))),
        ];
        for (index, other) in different.iter().enumerate() {
            assert_ne!(&base, other, "variant {index}");
        }
        // Length prefixes keep neighbouring strings from running into each other.
        assert_ne!(
            binding_for_call("t", &object(json!({"a": "bc"}))),
            binding_for_call("t", &object(json!({"ab": "c"})))
        );
        assert_ne!(binding_for_call("ta", &Map::new()), binding_for_call("t", &object(json!({"a": null}))));
    }

    #[test]
    fn token_shape() {
        let mut book = book(8);
        let issued = book.issue(&binding(1), at(0));
        assert!(issued.token.starts_with(TOKEN_PREFIX));
        assert_eq!(issued.token.len(), TOKEN_PREFIX.len() + 2 * TOKEN_RAW_LEN);
        assert_eq!(issued.expires_at, at(300));
        assert_ne!(book.issue(&binding(1), at(0)).token, issued.token, "tokens are unique");
    }

    #[test]
    fn redemption_transitions() {
        // Each scenario: a token issued for dashboard 1 at t=0, then redemptions in order.
        type Attempt = (&'static str, fn(&str) -> String, u64, u64, Result<(), ConfirmationError>);
        let same: fn(&str) -> String = |token| token.to_owned();
        let scenarios: Vec<(&str, Vec<Attempt>)> = vec![
            (
                "used once",
                vec![
                    ("redeem", same, 1, 10, Ok(())),
                    ("again", same, 1, 11, Err(ConfirmationError::Replayed)),
                    (
                        "again after expiry",
                        same,
                        1,
                        400,
                        Err(ConfirmationError::Expired { expired_secs_ago: 100 }),
                    ),
                ],
            ),
            (
                "other arguments do not use it up",
                vec![
                    ("other args", same, 2, 10, Err(ConfirmationError::ArgumentsChanged)),
                    ("right args", same, 1, 11, Ok(())),
                ],
            ),
            ("expired", vec![("last valid second", same, 1, 299, Ok(()))]),
            (
                "expired at the deadline",
                vec![("at expiry", same, 1, 300, Err(ConfirmationError::Expired { expired_secs_ago: 0 }))],
            ),
            (
                "altered",
                vec![
                    (
                        "last hex digit changed",
                        |token| {
                            let mut text = token.to_owned();
                            let last = text.pop().unwrap();
                            text.push(if last == '0' { '1' } else { '0' });
                            text
                        },
                        1,
                        10,
                        Err(ConfirmationError::Tampered),
                    ),
                    ("uppercased", |token| token.to_uppercase(), 1, 10, Err(ConfirmationError::Malformed)),
                    (
                        "truncated",
                        |token| token[..token.len() - 2].to_owned(),
                        1,
                        10,
                        Err(ConfirmationError::Malformed),
                    ),
                    (
                        "no prefix",
                        |token| token[TOKEN_PREFIX.len()..].to_owned(),
                        1,
                        10,
                        Err(ConfirmationError::Malformed),
                    ),
                    ("surrounding whitespace is forgiven", |token| format!(" {token}\n"), 1, 10, Ok(())),
                ],
            ),
        ];
        for (scenario, attempts) in scenarios {
            let mut book = book(8);
            let token = book.issue(&binding(1), at(0)).token;
            for (what, alter, dashboard, offset, expected) in attempts {
                assert_eq!(
                    book.redeem(&alter(&token), &binding(dashboard), at(offset)),
                    expected,
                    "{scenario}: {what}"
                );
            }
        }
    }

    #[test]
    fn an_extended_expiry_is_detected_as_tampering() {
        let mut book = book(8);
        let token = book.issue(&binding(1), at(0)).token;
        let mut raw = hex::decode(&token[TOKEN_PREFIX.len()..]).unwrap();
        let expiry_at = NONCE_LEN + EXPIRY_LEN - 1;
        raw[expiry_at] = raw[expiry_at].wrapping_add(100);
        let forged = format!("{TOKEN_PREFIX}{}", hex::encode(raw));
        assert_eq!(book.redeem(&forged, &binding(1), at(10)), Err(ConfirmationError::Tampered));
        assert_eq!(book.redeem(&token, &binding(1), at(10)), Ok(()));
    }

    #[test]
    fn forgotten_tokens_are_refused_even_with_a_valid_mac() {
        let mut book = book(1);
        let first = book.issue(&binding(1), at(0)).token;
        let second = book.issue(&binding(2), at(1)).token;
        assert_eq!(book.redeem(&first, &binding(1), at(2)), Err(ConfirmationError::Forgotten));
        assert_eq!(book.redeem(&second, &binding(2), at(2)), Ok(()));
        assert_eq!(book.stats().evicted, 1);
    }

    #[test]
    fn tokens_from_another_secret_are_refused() {
        let mut ours = book(4);
        let mut theirs =
            ConfirmationBook::new(SigningKey::new(b"other").unwrap(), DEFAULT_CONFIRMATION_TTL, 4).unwrap();
        let foreign = theirs.issue(&binding(1), at(0)).token;
        assert_eq!(ours.redeem(&foreign, &binding(1), at(1)), Err(ConfirmationError::Tampered));
    }

    proptest! {
        #[test]
        fn any_single_altered_byte_is_refused(position in 0usize..1_000, replacement in any::<u8>()) {
            let mut book = book(4);
            let token = book.issue(&binding(1), at(0)).token;
            let mut bytes = token.clone().into_bytes();
            let position = position % bytes.len();
            prop_assume!(bytes[position] != replacement);
            bytes[position] = replacement;
            let altered = String::from_utf8_lossy(&bytes).into_owned();
            prop_assert!(book.redeem(&altered, &binding(1), at(1)).is_err(), "accepted {altered:?}");
            // The genuine token is still good: a refused attempt does not use it up.
            prop_assert_eq!(book.redeem(&token, &binding(1), at(1)), Ok(()));
        }
    }
}
