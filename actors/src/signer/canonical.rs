//! The canonical string a signed HTTP request is signed over, and the header names that
//! carry the signature.
//!
//! ```text
//! NRMCP1-HMAC-SHA256
//! <METHOD>
//! <path and query, exactly as sent>
//! <timestamp, Unix seconds>
//! <nonce>
//! <lowercase hex SHA-256 of the body>
//! ```
//!
//! Every field is refused if it could contain the line separator, so two different
//! requests can never share a canonical string.

use sha2::{Digest, Sha256};

use super::clock::UnixTime;
use super::key::{Signature, SigningKey};

/// First line of every canonical string; also names the scheme in documentation.
pub const SIGNATURE_SCHEME: &str = "NRMCP1-HMAC-SHA256";
/// Header carrying the lowercase hex signature.
pub const SIGNATURE_HEADER: &str = "x-nrmcp-signature";
/// Header carrying the request time in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-nrmcp-timestamp";
/// Header carrying the client-chosen nonce.
pub const NONCE_HEADER: &str = "x-nrmcp-nonce";

/// Bounds of a client-chosen nonce: long enough to be unguessable, short enough to bound
/// what one request can make the server hash.
pub const MIN_NONCE_LEN: usize = 16;
pub const MAX_NONCE_LEN: usize = 128;
const MAX_METHOD_LEN: usize = 16;
const MAX_PATH_LEN: usize = 8 * 1024;

/// Why a request's parts cannot be signed or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalRequestError {
    #[error("the HTTP method must be 1 to {MAX_METHOD_LEN} uppercase ASCII letters")]
    Method,
    #[error(
        "the request path must start with '/', hold no whitespace or control characters and be at most {MAX_PATH_LEN} bytes"
    )]
    Path,
    #[error(
        "the nonce must be {MIN_NONCE_LEN} to {MAX_NONCE_LEN} characters of A-Z, a-z, 0-9, '-' or '_'; send a fresh random value per request"
    )]
    Nonce,
}

/// The signed parts of one HTTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestToSign<'a> {
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub timestamp: UnixTime,
    pub nonce: &'a str,
    pub body_sha256: [u8; 32],
}

/// SHA-256 of a request body, as the canonical string needs it.
pub fn body_digest(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

/// Checks a client-chosen nonce's shape.
pub fn validate_nonce(nonce: &str) -> Result<(), CanonicalRequestError> {
    let shape_ok = (MIN_NONCE_LEN..=MAX_NONCE_LEN).contains(&nonce.len())
        && nonce.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if shape_ok { Ok(()) } else { Err(CanonicalRequestError::Nonce) }
}

/// The canonical string of a request (see the module documentation).
pub fn canonical_request(request: &RequestToSign<'_>) -> Result<String, CanonicalRequestError> {
    let method = request.method;
    if method.is_empty()
        || method.len() > MAX_METHOD_LEN
        || !method.bytes().all(|byte| byte.is_ascii_uppercase())
    {
        return Err(CanonicalRequestError::Method);
    }
    let path = request.path_and_query;
    if !path.starts_with('/')
        || path.len() > MAX_PATH_LEN
        || path.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(CanonicalRequestError::Path);
    }
    validate_nonce(request.nonce)?;
    Ok(format!(
        "{SIGNATURE_SCHEME}\n{method}\n{path}\n{timestamp}\n{nonce}\n{body}",
        timestamp = request.timestamp,
        nonce = request.nonce,
        body = hex::encode(request.body_sha256),
    ))
}

/// Signs a request the way a client must: HMAC-SHA256 of its canonical string.
pub fn sign_request(
    key: &SigningKey,
    request: &RequestToSign<'_>,
) -> Result<Signature, CanonicalRequestError> {
    Ok(key.sign(canonical_request(request)?.as_bytes()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn request<'a>(method: &'a str, path: &'a str, nonce: &'a str) -> RequestToSign<'a> {
        RequestToSign {
            method,
            path_and_query: path,
            timestamp: UnixTime::from_secs(1_700_000_000),
            nonce,
            body_sha256: body_digest(b"{}"),
        }
    }

    const NONCE: &str = "0123456789abcdef";

    #[test]
    fn canonical_string_has_every_part_on_its_own_line() {
        let text = canonical_request(&request("POST", "/mcp?session=1", NONCE)).unwrap();
        assert_eq!(
            text,
            "NRMCP1-HMAC-SHA256\nPOST\n/mcp?session=1\n1700000000\n0123456789abcdef\n\
             44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn malformed_parts_are_refused() {
        let long_path = format!("/{}", "a".repeat(MAX_PATH_LEN));
        let long_nonce = "n".repeat(MAX_NONCE_LEN + 1);
        let cases = [
            ("lowercase method", request("post", "/mcp", NONCE), CanonicalRequestError::Method),
            ("empty method", request("", "/mcp", NONCE), CanonicalRequestError::Method),
            ("method with newline", request("GET\nX", "/mcp", NONCE), CanonicalRequestError::Method),
            ("relative path", request("GET", "mcp", NONCE), CanonicalRequestError::Path),
            ("path with newline", request("GET", "/mcp\n1", NONCE), CanonicalRequestError::Path),
            ("path with space", request("GET", "/m cp", NONCE), CanonicalRequestError::Path),
            ("huge path", request("GET", &long_path, NONCE), CanonicalRequestError::Path),
            ("short nonce", request("GET", "/mcp", "abc"), CanonicalRequestError::Nonce),
            ("long nonce", request("GET", "/mcp", &long_nonce), CanonicalRequestError::Nonce),
            (
                "nonce with newline",
                request("GET", "/mcp", "0123456789abcdef\n"),
                CanonicalRequestError::Nonce,
            ),
            ("nonce with dot", request("GET", "/mcp", "0123456789abcdef."), CanonicalRequestError::Nonce),
        ];
        for (name, parts, expected) in cases {
            assert_eq!(canonical_request(&parts), Err(expected), "{name}");
        }
    }

    #[test]
    fn every_part_changes_the_signature() {
        let key = SigningKey::new(b"request-secret").unwrap();
        let base = request("POST", "/mcp", NONCE);
        let signed = sign_request(&key, &base).unwrap();
        let variants = [
            RequestToSign { method: "PUT", ..base.clone() },
            RequestToSign { path_and_query: "/mcp?x=1", ..base.clone() },
            RequestToSign { timestamp: UnixTime::from_secs(1_700_000_001), ..base.clone() },
            RequestToSign { nonce: "0123456789abcdeF", ..base.clone() },
            RequestToSign { body_sha256: body_digest(b"{ }"), ..base.clone() },
        ];
        for variant in variants {
            assert_ne!(sign_request(&key, &variant).unwrap(), signed, "{variant:?}");
        }
        assert_eq!(sign_request(&key, &base).unwrap(), signed);
    }
}
