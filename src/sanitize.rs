//! The filter every outgoing text passes: tool results, tool errors, protocol error
//! messages and log lines that carry upstream text.
//!
//! It removes what must never leave the process — New Relic keys and other credentials,
//! absolute file paths, Rust panics and backtraces — and replaces each with a marker
//! ([`REDACTED_KEY`], [`REDACTED`], [`PATH`], [`BACKTRACE`]) so the reader still sees
//! that something was there. Ordinary NRQL, entity GUIDs, New Relic permalinks, numbers
//! and JSON pass unchanged.
//!
//! Text with nothing to remove is returned borrowed, without allocating: one combined
//! scan decides that, so the common case costs a single pass.
//!
//! A tool's answer is sanitized by [`sanitize_output`], which remembers the sanitized form of
//! an answer served many times (a cache hit), so each is scanned once.
//!
//! Internal failures are reported with an [`ErrorId`] that also appears in the log line
//! holding the details, so the two can be matched without showing the details.

mod error_id;
mod json;
mod output;
mod rules;

use std::borrow::Cow;

pub use error_id::{ErrorId, new_error_id};
pub use json::sanitize_json;
pub use output::sanitize_output;

/// Replaces a New Relic key or another key with a recognisable shape.
pub const REDACTED_KEY: &str = "[redacted key]";
/// Replaces a credential recognised by what precedes it (`password=…`, `Bearer …`).
pub const REDACTED: &str = "[redacted]";
/// Replaces an absolute file path or a source location.
pub const PATH: &str = "[path]";
/// Replaces a backtrace, a panic location or a hint to enable backtraces.
pub const BACKTRACE: &str = "[backtrace removed]";
/// Shown instead of the text if the rules could not be built: fail closed.
const WITHHELD: &str = "[output withheld: the sanitizer is unavailable]";

/// Rules are ordered so that one pass normally settles the text; passes repeat until
/// nothing changes (within this bound) so that sanitizing stays idempotent even where a
/// replacement completes another rule's input.
const MAX_PASSES: usize = 3;

/// Removes secrets, paths and backtraces from `text` (see the module documentation).
pub fn sanitize(text: &str) -> Cow<'_, str> {
    let Some(rules) = rules::compiled() else {
        return Cow::Borrowed(WITHHELD);
    };
    let mut current = match rules.apply(text) {
        Cow::Borrowed(_) => return Cow::Borrowed(text),
        Cow::Owned(changed) => changed,
    };
    for _ in 1..MAX_PASSES {
        match rules.apply(&current) {
            Cow::Borrowed(_) => break,
            Cow::Owned(changed) => current = changed,
        }
    }
    Cow::Owned(current)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn untouched_text_is_borrowed() {
        let text = "SELECT count(*) FROM Transaction SINCE 1 hour ago";
        assert!(matches!(sanitize(text), Cow::Borrowed(_)));
    }

    #[test]
    fn markers_are_stable() {
        for marker in [REDACTED_KEY, REDACTED, PATH, BACKTRACE] {
            assert!(matches!(sanitize(marker), Cow::Borrowed(_)), "{marker}");
        }
    }
}
