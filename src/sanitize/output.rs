//! Sanitizing a tool's answer once, however often it is served.
//!
//! A cached answer reaches the MCP front as the same `Arc<ToolOutput>` on every hit, and
//! scanning every string of it again on each hit cost more than the rest of the hit path.
//! So the sanitized form of a shared answer is kept beside it, keyed by the answer's
//! identity (its address). The memo holds a strong reference to the original, so the
//! address cannot be reused by another answer while the entry lives; an `Arc`'s content
//! cannot change while it is shared, so the same address always means the same text.
//!
//! The memo is per thread, so the hit path takes no lock: each runtime thread sanitizes a
//! shared answer at most once while it stays memoized. It is small and bounded by bytes; an
//! answer nobody else holds (not cached, so never served again) skips it altogether.

use std::cell::RefCell;
use std::sync::Arc;

use newrelic_mcp_actors::cache::weight::output_bytes;
use newrelic_mcp_actors::tool::ToolOutput;

use super::{sanitize_upstream, sanitize_upstream_json};

/// Slots of one thread's memo: enough for the answers a burst of clients repeats.
const SLOTS: usize = 256;
/// Bytes of answers (as the cache weighs them: what they hold) one thread's memo may keep alive.
const BUDGET_BYTES: u64 = 4 * 1024 * 1024;

/// `output` with every string passed through the upstream-data rules (its text renders New
/// Relic's rows; its structured content is them); the same `Arc` when nothing needed removing.
pub fn sanitize_output(output: &Arc<ToolOutput>) -> Arc<ToolOutput> {
    // Only the caller holds it: nobody will ask for this answer again.
    if Arc::strong_count(output) == 1 {
        return sanitize_fresh(output);
    }
    MEMO.with(|memo| match memo.try_borrow_mut() {
        Ok(mut memo) => memo.get_or_insert(output),
        Err(_) => sanitize_fresh(output),
    })
}

thread_local! {
    static MEMO: RefCell<OutputMemo> = RefCell::new(OutputMemo::new(SLOTS, BUDGET_BYTES));
}

fn sanitize_fresh(output: &Arc<ToolOutput>) -> Arc<ToolOutput> {
    let text = sanitize_upstream(&output.text);
    let mut structured = output.structured.clone();
    sanitize_upstream_json(&mut structured);
    if matches!(text, std::borrow::Cow::Borrowed(_)) && structured == output.structured {
        return output.clone();
    }
    Arc::new(ToolOutput { structured, text: text.into_owned() })
}

struct Memoized {
    original: Arc<ToolOutput>,
    sanitized: Arc<ToolOutput>,
    /// Bytes this entry keeps alive: the original, plus the sanitized copy when it differs.
    weight: u64,
}

/// A direct-mapped table from an answer's address to its sanitized form: a lookup is one
/// index and one pointer comparison; a colliding answer replaces the slot's occupant.
struct OutputMemo {
    slots: Vec<Option<Memoized>>,
    budget: u64,
    held: u64,
}

impl OutputMemo {
    fn new(slots: usize, budget: u64) -> Self {
        Self { slots: (0..slots.max(1)).map(|_| None).collect(), budget, held: 0 }
    }

    fn slot_of(&self, output: &Arc<ToolOutput>) -> usize {
        // Allocations are at least 8-byte aligned; the low bits carry no information.
        let address = Arc::as_ptr(output) as usize >> 4;
        address.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize) % self.slots.len()
    }

    fn get_or_insert(&mut self, output: &Arc<ToolOutput>) -> Arc<ToolOutput> {
        let index = self.slot_of(output);
        if let Some(Some(found)) = self.slots.get(index)
            && Arc::ptr_eq(&found.original, output)
        {
            return found.sanitized.clone();
        }
        let sanitized = sanitize_fresh(output);
        let weight = if Arc::ptr_eq(&sanitized, output) {
            output_bytes(output)
        } else {
            output_bytes(output).saturating_add(output_bytes(&sanitized))
        };
        if let Some(slot) = self.slots.get_mut(index) {
            if let Some(evicted) = slot.take() {
                self.held = self.held.saturating_sub(evicted.weight);
            }
            if self.held.saturating_add(weight) <= self.budget {
                self.held += weight;
                *slot = Some(Memoized { original: output.clone(), sanitized: sanitized.clone(), weight });
            }
        }
        sanitized
    }

    #[cfg(test)]
    fn entries(&self) -> usize {
        self.slots.iter().flatten().count()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use serde_json::json;

    use super::*;

    const KEY: &str = "NRAK-ABCDEFGHIJKLMNOPQRSTUVWXYZ1";

    fn answer(text: &str, structured: serde_json::Value) -> Arc<ToolOutput> {
        Arc::new(ToolOutput { structured, text: text.to_string() })
    }

    fn leaks(output: &ToolOutput) -> bool {
        output.text.contains(KEY) || output.structured.to_string().contains(KEY)
    }

    #[test]
    fn every_answer_comes_back_sanitized() {
        let cases = [
            ("clean", answer("3 rows", json!({"results": [{"count": 3}]})), false),
            ("key in text", answer(&format!("key {KEY}"), json!({})), true),
            ("key in a value", answer("ok", json!({"results": [{"note": KEY}]})), true),
            ("key under a credential name", answer("ok", json!({"apiKey": "short"})), true),
        ];
        for (label, output, changes) in cases {
            for shared in [false, true] {
                let held_elsewhere = shared.then(|| output.clone());
                let mut memo = OutputMemo::new(8, 1 << 20);
                for _ in 0..2 {
                    let served = if shared { memo.get_or_insert(&output) } else { sanitize_output(&output) };
                    assert!(!leaks(&served), "{label}: {served:?}");
                    assert_eq!(!Arc::ptr_eq(&served, &output), changes, "{label}");
                }
                drop(held_elsewhere);
            }
        }
    }

    #[test]
    fn a_shared_answer_is_sanitized_once_and_then_served_from_the_memo() {
        let output = answer(&format!("key {KEY}"), json!({"note": KEY}));
        let mut memo = OutputMemo::new(8, 1 << 20);
        let first = memo.get_or_insert(&output);
        let second = memo.get_or_insert(&output);
        assert!(Arc::ptr_eq(&first, &second), "the second hit reuses the sanitized form");
        assert!(!leaks(&second));
        assert_eq!(memo.entries(), 1);
    }

    #[test]
    fn answers_with_equal_content_but_other_identity_are_sanitized_on_their_own() {
        let mut memo = OutputMemo::new(1, 1 << 20);
        let clean = answer("fine", json!({"n": 1}));
        let dirty = answer(&format!("key {KEY}"), json!({"n": 1}));
        assert!(Arc::ptr_eq(&memo.get_or_insert(&clean), &clean));
        // One slot: the second answer collides and must not be served the first one's form.
        assert!(!leaks(&memo.get_or_insert(&dirty)));
        assert!(Arc::ptr_eq(&memo.get_or_insert(&clean), &clean));
    }

    #[test]
    fn the_memo_keeps_no_more_bytes_than_its_budget() {
        let big = "x".repeat(10_000);
        let outputs: Vec<_> = (0..50).map(|n| answer(&format!("{n}{big}"), json!({}))).collect();
        let budget = 35_000;
        let mut memo = OutputMemo::new(64, budget);
        for output in &outputs {
            memo.get_or_insert(output);
            assert!(memo.held <= budget, "held {}", memo.held);
        }
        assert!(memo.entries() <= 3, "{} entries", memo.entries());
        assert!(memo.entries() >= 1);
    }
}
