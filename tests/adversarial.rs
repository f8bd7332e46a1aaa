//! Adversarial cases: what a hostile client, a hostile upstream or a careless operator tries,
//! and the refusal each one gets. One module per line of attack; each test names the hole it
//! keeps closed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mcp_process.rs"]
mod mcp_process;

/// Tool and category filters, numeric settings and their bounds, panics.
#[path = "adversarial/configuration.rs"]
mod configuration;
/// Entity GUIDs that name an account outside the allow-list, in every place a GUID can hide.
#[path = "adversarial/guids.rs"]
mod guids;
/// NerdGraph mutations classified against the real schema.
#[path = "adversarial/mutations.rs"]
mod mutations;
/// The sanitizer: secrets and the server's own paths go, customer data stays.
#[path = "adversarial/sanitizer.rs"]
mod sanitizer;
/// A client that stops reading, floods, or breaks the JSON-RPC framing.
#[path = "adversarial/stdio.rs"]
mod stdio;
/// Upstream answers of the wrong shape, NRQL policy escapes, proxies and messages.
#[path = "adversarial/upstream.rs"]
mod upstream;
