//! The target's own counters, read through its `get_server_status` tool before and after
//! the measured phase, so the report can say how many calls reached New Relic, how many
//! the cache answered, and how much the cache held at the end.

use serde::Serialize;
use serde_json::Value;

/// The figures of one `get_server_status` answer that a load test compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerCounters {
    pub upstream_calls: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub coalesced: u64,
    pub rejected_overloaded: u64,
    /// Entries the cache held when the status was read.
    pub cache_entries: u64,
    /// Bytes the cache's own accounting says those entries take.
    pub cache_bytes: u64,
}

/// How the counters moved over the measured phase.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ServerDelta {
    pub upstream_calls: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub coalesced: u64,
    pub rejected_overloaded: u64,
    /// Hits over all cache lookups (hits, misses, coalesced); `None` without lookups.
    pub cache_hit_ratio: Option<f64>,
    /// What the cache held at the end of the phase (a level, not a difference).
    pub cache_entries_at_end: u64,
    pub cache_bytes_at_end: u64,
}

/// Reads the counters from a `get_server_status` response; `None` when it is not one.
pub fn parse(response: &Value) -> Option<ServerCounters> {
    let result = response.get("result")?;
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    let content = result.get("structuredContent")?;
    let figure = |section: &str, name: &str| content.get(section)?.get(name)?.as_u64();
    Some(ServerCounters {
        upstream_calls: figure("pool", "upstream_calls")?,
        cache_hits: figure("cache", "hits")?,
        cache_misses: figure("cache", "misses")?,
        coalesced: figure("cache", "coalesced")?,
        rejected_overloaded: figure("pool", "rejected_overloaded")?,
        cache_entries: figure("cache", "entries")?,
        cache_bytes: figure("cache", "bytes")?,
    })
}

/// `after - before`, figure by figure (never negative).
pub fn difference(before: &ServerCounters, after: &ServerCounters) -> ServerDelta {
    let cache_hits = after.cache_hits.saturating_sub(before.cache_hits);
    let cache_misses = after.cache_misses.saturating_sub(before.cache_misses);
    let coalesced = after.coalesced.saturating_sub(before.coalesced);
    let lookups = cache_hits + cache_misses + coalesced;
    ServerDelta {
        upstream_calls: after.upstream_calls.saturating_sub(before.upstream_calls),
        cache_hits,
        cache_misses,
        coalesced,
        rejected_overloaded: after.rejected_overloaded.saturating_sub(before.rejected_overloaded),
        cache_hit_ratio: (lookups > 0).then(|| cache_hits as f64 / lookups as f64),
        cache_entries_at_end: after.cache_entries,
        cache_bytes_at_end: after.cache_bytes,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use serde_json::json;

    use super::*;

    fn status(upstream: u64, hits: u64, misses: u64, coalesced: u64) -> Value {
        json!({"jsonrpc": "2.0", "id": 3, "result": {
            "content": [{"type": "text", "text": "…"}],
            "structuredContent": {
                "health": "healthy",
                "cache": {"hits": hits, "misses": misses, "coalesced": coalesced, "entries": 1, "bytes": 10},
                "pool": {"upstream_calls": upstream, "in_flight": 0, "rejected_overloaded": 2},
            }
        }})
    }

    #[test]
    fn counters_are_read_from_a_status_answer_only() {
        let parsed = parse(&status(5, 10, 2, 1)).unwrap();
        assert_eq!(
            parsed,
            ServerCounters {
                upstream_calls: 5,
                cache_hits: 10,
                cache_misses: 2,
                coalesced: 1,
                rejected_overloaded: 2,
                cache_entries: 1,
                cache_bytes: 10,
            }
        );
        let cases = [
            json!({"id": 3, "error": {"code": -32602, "message": "unknown tool"}}),
            json!({"id": 3, "result": {"isError": true, "structuredContent": {"error": {"kind": "Internal"}}}}),
            json!({"id": 3, "result": {"structuredContent": {"cache": {"hits": 1}}}}),
            json!({"id": 3, "result": {"content": []}}),
        ];
        for response in cases {
            assert_eq!(parse(&response), None, "{response}");
        }
    }

    #[test]
    fn differences_cover_the_measured_phase() {
        let cases = [
            ((5, 10, 2, 1), (7, 100, 4, 1), (2, 90, 2, 0, Some(90.0 / 92.0))),
            ((5, 10, 2, 1), (5, 10, 2, 1), (0, 0, 0, 0, None)),
            // A restarted target's counters start again from zero: no negative figures.
            ((50, 10, 2, 1), (3, 4, 1, 0), (0, 0, 0, 0, None)),
        ];
        for ((u0, h0, m0, c0), (u1, h1, m1, c1), (u, h, m, c, ratio)) in cases {
            let before = parse(&status(u0, h0, m0, c0)).unwrap();
            let after = parse(&status(u1, h1, m1, c1)).unwrap();
            let delta = difference(&before, &after);
            assert_eq!(
                (delta.upstream_calls, delta.cache_hits, delta.cache_misses, delta.coalesced),
                (u, h, m, c)
            );
            assert_eq!(delta.cache_hit_ratio, ratio);
            assert_eq!(delta.rejected_overloaded, 0);
            assert_eq!(
                (delta.cache_entries_at_end, delta.cache_bytes_at_end),
                (1, 10),
                "levels, not differences"
            );
        }
    }
}
