//! The shared HMAC-SHA256 secret: signing, and verification in constant time.
//!
//! The raw secret is consumed when the key is built: only the keyed HMAC state is kept,
//! and neither `Debug` nor any error message ever shows it.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of an HMAC-SHA256 tag in bytes.
pub const SIGNATURE_LEN: usize = 32;

/// Why a secret cannot become a signing key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the signing secret is empty; configure a shared secret of at least 32 random bytes")]
    Empty,
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error(
        "the signature is not {SIGNATURE_LEN} bytes of hex; send the HMAC-SHA256 digest as 64 hex characters"
    )]
    Malformed,
    #[error(
        "the signature does not match; sign the canonical string with the shared secret and send it unmodified"
    )]
    Mismatch,
}

/// An HMAC-SHA256 key built from a non-empty shared secret.
#[derive(Clone)]
pub struct SigningKey {
    keyed: HmacSha256,
}

impl SigningKey {
    /// Builds a key from the secret's bytes; an empty secret is refused because it would
    /// let anyone compute valid signatures.
    pub fn new(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.is_empty() {
            return Err(KeyError::Empty);
        }
        // HMAC accepts keys of any length, so the only failure left is the one refused above.
        let keyed = HmacSha256::new_from_slice(secret).map_err(|_| KeyError::Empty)?;
        Ok(Self { keyed })
    }

    /// The HMAC-SHA256 tag of `parts`, fed in order as one message.
    pub fn sign_parts(&self, parts: &[&[u8]]) -> Signature {
        let mut mac = self.keyed.clone();
        for part in parts {
            mac.update(part);
        }
        Signature(mac.finalize().into_bytes().into())
    }

    pub fn sign(&self, message: &[u8]) -> Signature {
        self.sign_parts(&[message])
    }

    /// Checks `tag` against the tag of `parts` in constant time.
    pub fn verify_parts(&self, parts: &[&[u8]], tag: &[u8]) -> Result<(), SignatureError> {
        if tag.len() != SIGNATURE_LEN {
            return Err(SignatureError::Malformed);
        }
        let mut mac = self.keyed.clone();
        for part in parts {
            mac.update(part);
        }
        mac.verify_slice(tag).map_err(|_| SignatureError::Mismatch)
    }

    pub fn verify(&self, message: &[u8], tag: &[u8]) -> Result<(), SignatureError> {
        self.verify_parts(&[message], tag)
    }

    /// Checks a hex-encoded signature (either case) against `message` in constant time.
    pub fn verify_hex(&self, message: &[u8], signature_hex: &str) -> Result<(), SignatureError> {
        let signature = Signature::from_hex(signature_hex)?;
        self.verify(message, signature.as_bytes())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

/// An HMAC-SHA256 tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; SIGNATURE_LEN]);

impl Signature {
    pub const fn from_bytes(bytes: [u8; SIGNATURE_LEN]) -> Self {
        Self(bytes)
    }

    /// Parses 64 hex characters (either case), surrounding whitespace ignored.
    pub fn from_hex(text: &str) -> Result<Self, SignatureError> {
        let mut bytes = [0u8; SIGNATURE_LEN];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| SignatureError::Malformed)?;
        Ok(Self(bytes))
    }

    pub const fn as_bytes(&self) -> &[u8; SIGNATURE_LEN] {
        &self.0
    }

    /// Lowercase hex, the form sent on the wire.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn key(secret: &str) -> SigningKey {
        SigningKey::new(secret.as_bytes()).unwrap()
    }

    #[test]
    fn empty_secret_is_refused() {
        assert_eq!(SigningKey::new(b"").err(), Some(KeyError::Empty));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let shown = format!("{:?}", key("hunter2-correct-horse"));
        assert_eq!(shown, "SigningKey([redacted])");
    }

    #[test]
    fn matches_rfc_4231_test_case_2() {
        let signature = key("Jefe").sign(b"what do ya want for nothing?");
        assert_eq!(signature.to_hex(), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn sign_parts_equals_signing_the_concatenation() {
        let key = key("parts");
        assert_eq!(key.sign_parts(&[b"ab", b"", b"cd"]), key.sign(b"abcd"));
    }

    #[test]
    fn verification_table() {
        let signer = key("shared-secret");
        let other = key("another-secret");
        let good = signer.sign(b"payload");
        let mut flipped = *good.as_bytes();
        flipped[31] ^= 0x01;
        type Case<'a> = (&'a str, &'a SigningKey, &'a [u8], Vec<u8>, Result<(), SignatureError>);
        let cases: Vec<Case<'_>> = vec![
            ("valid", &signer, b"payload", good.as_bytes().to_vec(), Ok(())),
            ("other message", &signer, b"payload!", good.as_bytes().to_vec(), Err(SignatureError::Mismatch)),
            ("other key", &other, b"payload", good.as_bytes().to_vec(), Err(SignatureError::Mismatch)),
            ("one bit flipped", &signer, b"payload", flipped.to_vec(), Err(SignatureError::Mismatch)),
            (
                "truncated",
                &signer,
                b"payload",
                good.as_bytes()[..16].to_vec(),
                Err(SignatureError::Malformed),
            ),
            ("empty", &signer, b"payload", Vec::new(), Err(SignatureError::Malformed)),
        ];
        for (name, key, message, tag, expected) in cases {
            assert_eq!(key.verify(message, &tag), expected, "{name}");
        }
    }

    #[test]
    fn hex_signatures_parse_in_either_case_and_refuse_garbage() {
        let signer = key("hex");
        let signature = signer.sign(b"m");
        let cases = [
            (signature.to_hex(), Ok(())),
            (signature.to_hex().to_uppercase(), Ok(())),
            (format!("  {}\n", signature.to_hex()), Ok(())),
            (signature.to_hex()[..62].to_owned(), Err(SignatureError::Malformed)),
            (format!("{}00", signature.to_hex()), Err(SignatureError::Malformed)),
            ("zz".repeat(32), Err(SignatureError::Malformed)),
            (String::new(), Err(SignatureError::Malformed)),
        ];
        for (text, expected) in cases {
            assert_eq!(signer.verify_hex(b"m", &text), expected, "{text:?}");
        }
    }
}
