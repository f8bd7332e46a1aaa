//! Short random ids that tie an internal failure shown to a client to the log line that
//! holds its details.

use std::fmt;

/// An id like `E-7F3A9C21`: `E-` and 8 uppercase hex digits (32 random bits, plenty to
/// find one log line among a day's failures).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ErrorId(String);

impl ErrorId {
    /// A fresh random id.
    pub fn new() -> Self {
        Self(format!("E-{:08X}", rand::random::<u32>()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ErrorId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ErrorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A fresh error id as a string.
pub fn new_error_id() -> String {
    ErrorId::new().0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_documented_shape() {
        for _ in 0..100 {
            let id = new_error_id();
            assert_eq!(id.len(), 10, "{id}");
            assert!(id.starts_with("E-"), "{id}");
            assert!(id[2..].bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)), "{id}");
        }
    }

    #[test]
    fn ids_differ_and_survive_the_sanitizer() {
        let first = ErrorId::new();
        let second = ErrorId::new();
        assert_ne!(first, second);
        let message = format!("internal error (id {first}); the details are in the server log");
        assert_eq!(crate::sanitize::sanitize(&message), message);
    }
}
