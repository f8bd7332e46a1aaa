//! The filter every outgoing text passes: tool results, tool errors, protocol error
//! messages and log lines that carry upstream text.
//!
//! Two kinds of text leave the process, and each has its own rule set:
//! - the server's own text (errors, logs, protocol messages: [`sanitize`],
//!   [`sanitize_json`]) loses credentials, the server's own file paths, source locations,
//!   panics and backtraces;
//! - upstream data (what New Relic returned: rows, entity names, log messages, process
//!   names, URIs, hosts — [`sanitize_upstream`], [`sanitize_upstream_json`], and
//!   [`sanitize_output`] for a tool's answer) loses credentials only. A path, a
//!   `file.rs:12` or a customer's own panic in telemetry is the customer's data.
//!
//! Each removal is replaced with a marker ([`REDACTED_KEY`], [`REDACTED`], [`PATH`],
//! [`BACKTRACE`]) so the reader still sees that something was there. Ordinary NRQL,
//! entity GUIDs, New Relic permalinks, numbers and JSON pass unchanged.
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
pub use json::{sanitize_json, sanitize_upstream_json};
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

/// Removes credentials, the server's own paths and backtraces from text the server
/// writes itself (see the module documentation).
pub fn sanitize(text: &str) -> Cow<'_, str> {
    apply_until_settled(rules::server_text(), text)
}

/// Removes credentials from upstream data and leaves every other value as New Relic sent it.
pub fn sanitize_upstream(text: &str) -> Cow<'_, str> {
    apply_until_settled(rules::upstream_data(), text)
}

fn apply_until_settled<'t>(rules: Option<&rules::Rules>, text: &'t str) -> Cow<'t, str> {
    let Some(rules) = rules else {
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
            assert!(matches!(sanitize_upstream(marker), Cow::Borrowed(_)), "{marker}");
        }
    }

    #[test]
    fn each_kind_of_text_gets_its_own_rules() {
        // (text, as the server's own text, as upstream data)
        let cases = [
            ("open /home/bob/x.toml", "open [path]", "open /home/bob/x.toml"),
            ("at src/main.rs:2:5", "at [path]", "at src/main.rs:2:5"),
            ("thread 'main' panicked at x", "[backtrace removed]", "thread 'main' panicked at x"),
            (r"C:\Program Files\App\a.exe ran", "[path] ran", r"C:\Program Files\App\a.exe ran"),
            (
                "key 3f9a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e",
                "key [redacted]",
                "key 3f9a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e",
            ),
            (
                "monkey 3f9a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e",
                "monkey 3f9a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e",
                "monkey 3f9a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e",
            ),
            ("shop.example.rs:443", "shop.example.rs:443", "shop.example.rs:443"),
            ("nrak-abcdefghijklmnop", "[redacted key]", "[redacted key]"),
            ("password=hunter2", "password=[redacted]", "password=[redacted]"),
            (
                "Authorization: Bearer abc123def456",
                "Authorization: Bearer [redacted]",
                "Authorization: Bearer [redacted]",
            ),
        ];
        for (text, server_text, upstream_data) in cases {
            assert_eq!(sanitize(text), server_text, "server text: {text}");
            assert_eq!(sanitize_upstream(text), upstream_data, "upstream data: {text}");
        }
    }
}
