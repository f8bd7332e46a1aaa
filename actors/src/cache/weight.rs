//! What a cached answer really costs in memory, so that the cache's byte bound and the
//! bytes it reports match what the process holds.
//!
//! A JSON answer is mostly small allocations: every string, every array's buffer, and every
//! object, which `serde_json` keeps in a `BTreeMap` whose nodes have room for eleven
//! entries whether they hold one or eleven. Counting only the text (as a size estimate of
//! the serialised form would) undercounts a typical NRQL answer several times over. So the
//! weight walks the value as it sits in memory: each allocation's capacity, rounded up the
//! way a general-purpose allocator rounds it (a header word, 16-byte steps, 32 bytes at
//! least), and a B-tree's node count estimated from how Rust's `BTreeMap` fills its nodes.

use std::mem::size_of;

use serde_json::{Map, Value};

use crate::tool::{CacheKey, ToolOutput};

/// Entries a `BTreeMap` node holds at most (Rust's `B` is 6, so `2B - 1`).
const NODE_CAPACITY: usize = 11;
/// Entries a node holds on average once a map has split: splits leave nodes six or seven
/// full when keys arrive in order, about eight when they arrive at random.
const NODE_TYPICAL_FILL: usize = 7;
/// A leaf node: parent pointer, two `u16` indices, and room for the keys and values.
const LEAF_NODE_BYTES: usize = 8 + 2 + 2 + NODE_CAPACITY * (size_of::<String>() + size_of::<Value>());
/// An internal node adds a child pointer per edge.
const INTERNAL_NODE_BYTES: usize = LEAF_NODE_BYTES + (NODE_CAPACITY + 1) * size_of::<usize>();
/// An `Arc`'s allocation: two counters and the value.
const ARC_OUTPUT_BYTES: usize = 2 * size_of::<usize>() + size_of::<ToolOutput>();
/// What one store entry holds besides the answer: the key twice (the index and the slot),
/// the entry itself, and the cache's per-slot bookkeeping.
pub const ENTRY_OVERHEAD_BYTES: u64 = (2 * size_of::<CacheKey>() + 64 + 32) as u64;

/// Bytes an allocation of `requested` bytes takes from the allocator.
pub fn allocated(requested: usize) -> u64 {
    if requested == 0 {
        return 0;
    }
    let with_header = requested.saturating_add(size_of::<usize>());
    (with_header.saturating_add(15) & !15).max(32) as u64
}

/// Bytes held by one cached answer: the `Arc` and everything the answer owns.
pub fn output_bytes(output: &ToolOutput) -> u64 {
    allocated(ARC_OUTPUT_BYTES) + allocated(output.text.capacity()) + value_heap_bytes(&output.structured)
}

/// Bytes owned by `value` on the heap (not counting the `Value` itself, which sits in its
/// parent). Walks with an explicit stack, so deep values cannot overflow the call stack.
pub fn value_heap_bytes(value: &Value) -> u64 {
    let mut total = 0u64;
    let mut pending = vec![value];
    while let Some(current) = pending.pop() {
        match current {
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
            Value::String(text) => total += allocated(text.capacity()),
            Value::Array(items) => {
                total += allocated(items.capacity().saturating_mul(size_of::<Value>()));
                pending.extend(items.iter());
            }
            Value::Object(map) => {
                total += map_node_bytes(map);
                for (key, item) in map {
                    total += allocated(key.capacity());
                    pending.push(item);
                }
            }
        }
    }
    total
}

fn map_node_bytes(map: &Map<String, Value>) -> u64 {
    let entries = map.len();
    if entries == 0 {
        return 0;
    }
    if entries <= NODE_CAPACITY {
        return allocated(LEAF_NODE_BYTES);
    }
    let leaves = entries.div_ceil(NODE_TYPICAL_FILL);
    let mut internal = 0usize;
    let mut level = leaves;
    while level > 1 {
        level = level.div_ceil(NODE_TYPICAL_FILL + 1);
        internal += level;
    }
    leaves as u64 * allocated(LEAF_NODE_BYTES) + internal as u64 * allocated(INTERNAL_NODE_BYTES)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    /// An answer as the NerdGraph client builds it: parsed from the wire, then rendered.
    fn parsed_answer(rows: usize, columns: usize) -> Arc<ToolOutput> {
        let results: Vec<Value> = (0..rows)
            .map(|row| {
                let mut fields = Map::new();
                for column in 0..columns {
                    fields.insert(format!("column.{column}"), json!(format!("value {row}-{column}")));
                }
                fields.insert("count".into(), json!(row));
                Value::Object(fields)
            })
            .collect();
        let wire = json!({"results": results, "metadata": {"eventTypes": ["Transaction"], "messages": []}})
            .to_string();
        let structured: Value = serde_json::from_str(&wire).unwrap();
        let text = structured.to_string();
        Arc::new(ToolOutput { structured, text })
    }

    #[test]
    fn answers_weigh_more_than_their_text_and_grow_with_their_rows() {
        let cases = [(1, 1), (10, 2), (100, 3), (5, 20), (2_000, 2), (1, 200)];
        for (rows, columns) in cases {
            let answer = parsed_answer(rows, columns);
            let bytes = output_bytes(&answer);
            let text = answer.text.len() as u64;
            // The text is one of the answer's allocations; the parsed value is larger still.
            assert!(bytes > 2 * text, "{rows}×{columns}: {bytes} bytes for {text} bytes of text");
            // Every row object takes at least one B-tree node.
            assert!(bytes >= rows as u64 * allocated(LEAF_NODE_BYTES), "{rows}×{columns}: {bytes}");
            let bigger = output_bytes(&parsed_answer(rows + 1, columns));
            assert!(bigger > bytes, "{rows}×{columns}");
        }
    }

    #[test]
    fn a_small_answer_is_counted_allocation_by_allocation() {
        let answer = ToolOutput { structured: json!({"count": 3}), text: String::from("3") };
        let expected = allocated(ARC_OUTPUT_BYTES)
            + allocated(1) // the text
            + allocated(LEAF_NODE_BYTES) // the object's one node
            + allocated(5); // the key "count"
        assert_eq!(output_bytes(&answer), expected);
        let list = json!(["ab", "cd"]);
        let Value::Array(items) = &list else { unreachable!("an array") };
        assert_eq!(
            value_heap_bytes(&list),
            allocated(items.capacity() * size_of::<Value>()) + 2 * allocated(2)
        );
    }

    #[test]
    fn allocations_round_like_the_allocator() {
        let cases = [(0, 0), (1, 32), (24, 32), (25, 48), (40, 48), (41, 64), (632, 640)];
        for (requested, expected) in cases {
            assert_eq!(allocated(requested), expected, "{requested}");
        }
    }

    #[test]
    fn nodes_grow_with_entries() {
        let map_of = |entries: usize| -> Map<String, Value> {
            (0..entries).map(|n| (format!("k{n:05}"), Value::Null)).collect()
        };
        let mut previous = 0;
        for entries in [0, 1, 11, 12, 100, 10_000] {
            let bytes = map_node_bytes(&map_of(entries));
            assert!(bytes >= previous, "{entries}: {bytes} < {previous}");
            previous = bytes;
        }
        assert_eq!(map_node_bytes(&map_of(0)), 0);
        assert_eq!(map_node_bytes(&map_of(1)), map_node_bytes(&map_of(11)));
    }
}
