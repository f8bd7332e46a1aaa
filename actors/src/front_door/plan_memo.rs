//! Remembered plans of cacheable reads, so that a repeated call skips planning.
//!
//! Planning a cached NRQL call (parsing the query, checking the policy, hashing the cache
//! key) cost more than the rest of a cache hit inside the runtime. A call with the same tool
//! and the same arguments plans the same way, as long as the tool is the same (same tool
//! table generation) and the clock has not moved much: plans receive the time, so an entry
//! is trusted only for [`DEFAULT_LIFETIME`]. Only plans that go to the cache are remembered:
//! their answer is already allowed to be that stale.
//!
//! The memo lives in the front door's own state (no lock) and is bounded by entry count.

use std::hash::{Hash, Hasher};
use std::time::Duration;

use quick_cache::unsync::Cache;
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::cache::FillSpec;
use crate::tool::{CachePolicy, NrqlAccounts, Renderer};
use crate::upstream::UpstreamRequest;

/// Calls remembered at most: the distinct cacheable calls a busy server repeats within a second.
pub const DEFAULT_CAPACITY: usize = 1024;
/// How long a remembered plan is trusted.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(1);
/// Calls whose arguments hold more than this are not remembered: the memo is bounded by
/// entry count, so this bounds its bytes too (a raw GraphQL document may be 64 KiB).
pub const MAX_ARGUMENT_BYTES: u64 = 4 * 1024;

/// Whether a call's arguments are small enough to remember.
pub fn worth_remembering(arguments: &Map<String, Value>) -> bool {
    let mut bytes = 0u64;
    for (key, value) in arguments {
        bytes = bytes
            .saturating_add(key.len() as u64)
            .saturating_add(crate::cache::weight::value_heap_bytes(value));
        if bytes > MAX_ARGUMENT_BYTES {
            return false;
        }
    }
    true
}

/// What a cacheable plan decided: everything the front door needs to route the call.
#[derive(Clone)]
pub struct CachedRoute {
    pub tool: String,
    pub cache: CachePolicy,
    pub request: UpstreamRequest,
    pub render: Renderer,
    /// The plan's timeout, already defaulted.
    pub timeout: Duration,
    pub nrql_accounts: NrqlAccounts,
}

impl CachedRoute {
    /// The call's cache policy, and the fill a miss would start, due `timeout` after `now`.
    pub fn fill(&self, now: Instant) -> (CachePolicy, FillSpec) {
        let fill = FillSpec {
            tool: self.tool.clone(),
            request: self.request.clone(),
            render: self.render.clone(),
            deadline: super::deadline_after(now, self.timeout),
            timeout: self.timeout,
            nrql_accounts: self.nrql_accounts,
        };
        (self.cache, fill)
    }
}

struct Memoized {
    tool: String,
    arguments: Map<String, Value>,
    generation: u64,
    planned_at: Instant,
    route: CachedRoute,
}

pub struct PlanMemo {
    entries: Cache<u64, Memoized>,
    lifetime: Duration,
}

impl PlanMemo {
    pub fn new(capacity: usize, lifetime: Duration) -> Self {
        Self { entries: Cache::new(capacity.max(1)), lifetime }
    }

    /// The route planned for exactly this call, if it is still trusted.
    pub fn get(
        &self,
        tool: &str,
        arguments: &Map<String, Value>,
        generation: u64,
        now: Instant,
    ) -> Option<&CachedRoute> {
        let found = self.entries.get(&call_hash(tool, arguments))?;
        let fresh = now.saturating_duration_since(found.planned_at) < self.lifetime;
        let same_call = found.generation == generation && found.tool == tool && &found.arguments == arguments;
        (fresh && same_call).then_some(&found.route)
    }

    /// Remembers the route planned at `now` for this call (replacing any older one).
    pub fn insert(
        &mut self,
        tool: String,
        arguments: Map<String, Value>,
        generation: u64,
        now: Instant,
        route: CachedRoute,
    ) {
        let hash = call_hash(&tool, &arguments);
        self.entries.insert(hash, Memoized { tool, arguments, generation, planned_at: now, route });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A hash of the call; equal calls hash alike (entries are compared in full on a match).
/// Object keys are hashed in the map's own order: a client that reorders them at most
/// misses the memo and plans again.
fn call_hash(tool: &str, arguments: &Map<String, Value>) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    tool.hash(&mut hasher);
    hash_map(arguments, &mut hasher);
    hasher.finish()
}

fn hash_map(map: &Map<String, Value>, hasher: &mut impl Hasher) {
    hasher.write_usize(map.len());
    for (key, value) in map {
        key.hash(hasher);
        hash_value(value, hasher);
    }
}

fn hash_value(value: &Value, hasher: &mut impl Hasher) {
    // Walks with an explicit stack: arguments come from clients and may nest deeply.
    let mut pending = vec![value];
    while let Some(current) = pending.pop() {
        match current {
            Value::Null => hasher.write_u8(0),
            Value::Bool(flag) => {
                hasher.write_u8(1);
                flag.hash(hasher);
            }
            Value::Number(number) => {
                hasher.write_u8(2);
                number.hash(hasher);
            }
            Value::String(text) => {
                hasher.write_u8(3);
                text.hash(hasher);
            }
            Value::Array(items) => {
                hasher.write_u8(4);
                hasher.write_usize(items.len());
                pending.extend(items.iter().rev());
            }
            Value::Object(map) => {
                hasher.write_u8(5);
                hasher.write_usize(map.len());
                for (key, item) in map {
                    key.hash(hasher);
                    pending.push(item);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::borrow::Cow;
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::tool::{CacheKey, ToolOutput};
    use crate::upstream::RequestKind;

    #[test]
    fn only_small_arguments_are_worth_remembering() {
        let small = json!({"nrql_query": "SELECT count(*) FROM Transaction", "account_id": 1});
        let large = json!({"query": "x".repeat(MAX_ARGUMENT_BYTES as usize)});
        let cases = [(small, true), (large, false), (json!({}), true)];
        for (arguments, expected) in cases {
            let Value::Object(arguments) = arguments else { panic!("an object") };
            assert_eq!(worth_remembering(&arguments), expected);
        }
    }

    fn route(tag: u8) -> CachedRoute {
        let render: Renderer =
            Arc::new(|response| Ok(ToolOutput { structured: response.data, text: String::new() }));
        CachedRoute {
            tool: "t".into(),
            cache: CachePolicy { key: CacheKey([tag; 32]), ttl: Duration::from_secs(60) },
            request: UpstreamRequest {
                operation: "Op",
                document: Cow::Borrowed("{ a }"),
                variables: json!({}),
                kind: RequestKind::Read,
                pagination: None,
                async_poll: None,
                experimental_opt_in: None,
            },
            render,
            timeout: Duration::from_secs(5),
            nrql_accounts: NrqlAccounts::NONE,
        }
    }

    fn arguments(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn a_remembered_plan_serves_only_the_same_call_in_the_same_table_while_fresh() {
        let t0 = Instant::now();
        let stored = arguments(json!({"nrql_query": "SELECT 1", "account_id": 1}));
        // (tool, arguments, generation, elapsed, expected hit)
        let cases: [(&str, Value, u64, Duration, bool); 8] = [
            ("nrql", json!({"nrql_query": "SELECT 1", "account_id": 1}), 7, Duration::ZERO, true),
            ("nrql", json!({"nrql_query": "SELECT 1", "account_id": 1}), 7, Duration::from_millis(999), true),
            ("nrql", json!({"nrql_query": "SELECT 1", "account_id": 1}), 7, Duration::from_secs(1), false),
            ("nrql", json!({"nrql_query": "SELECT 1", "account_id": 1}), 8, Duration::ZERO, false),
            ("other", json!({"nrql_query": "SELECT 1", "account_id": 1}), 7, Duration::ZERO, false),
            ("nrql", json!({"nrql_query": "SELECT 2", "account_id": 1}), 7, Duration::ZERO, false),
            ("nrql", json!({"nrql_query": "SELECT 1", "account_id": "1"}), 7, Duration::ZERO, false),
            ("nrql", json!({"nrql_query": "SELECT 1"}), 7, Duration::ZERO, false),
        ];
        for (tool, call, generation, elapsed, hit) in cases {
            let mut memo = PlanMemo::new(16, DEFAULT_LIFETIME);
            memo.insert("nrql".into(), stored.clone(), 7, t0, route(1));
            let found = memo.get(tool, &arguments(call.clone()), generation, t0 + elapsed);
            assert_eq!(found.is_some(), hit, "{tool} {call} gen {generation} after {elapsed:?}");
            if let Some(found) = found {
                assert_eq!(found.cache.key, CacheKey([1; 32]));
            }
        }
    }

    #[test]
    fn a_newer_plan_replaces_the_older_one() {
        let t0 = Instant::now();
        let call = arguments(json!({"q": [1, {"deep": null}]}));
        let mut memo = PlanMemo::new(16, DEFAULT_LIFETIME);
        memo.insert("t".into(), call.clone(), 1, t0, route(1));
        memo.insert("t".into(), call.clone(), 2, t0 + Duration::from_secs(5), route(2));
        assert_eq!(memo.len(), 1);
        let found = memo.get("t", &call, 2, t0 + Duration::from_secs(5)).unwrap();
        assert_eq!(found.cache.key, CacheKey([2; 32]));
    }

    #[test]
    fn the_memo_stays_within_its_capacity() {
        let t0 = Instant::now();
        let mut memo = PlanMemo::new(100, DEFAULT_LIFETIME);
        assert!(memo.is_empty());
        for n in 0..1_000 {
            memo.insert("t".into(), arguments(json!({"n": n})), 1, t0, route(1));
        }
        assert!(memo.len() <= 100, "{} entries", memo.len());
        assert!(memo.get("t", &arguments(json!({"n": 999})), 1, t0).is_some(), "the newest stays");
    }

    #[test]
    fn calls_that_differ_only_in_nesting_hash_apart() {
        let pairs = [
            (json!({"a": [1, 2]}), json!({"a": [[1], 2]})),
            (json!({"a": [1, 2]}), json!({"a": [2, 1]})),
            (json!({"a": {"b": 1}}), json!({"a": {"b": "1"}})),
            (json!({"a": null}), json!({"a": false})),
        ];
        for (left, right) in pairs {
            assert_ne!(
                call_hash("t", &arguments(left.clone())),
                call_hash("t", &arguments(right.clone())),
                "{left} vs {right}"
            );
        }
        let mut deep = json!(1);
        for _ in 0..100_000 {
            deep = Value::Array(vec![deep]);
        }
        let mut call = Map::new();
        call.insert("deep".into(), deep);
        let _ = call_hash("t", &call);
        // Dropping a deeply nested value recurses inside serde_json; unwind it by hand.
        let mut value = call.remove("deep").unwrap_or(Value::Null);
        while let Value::Array(mut items) = value {
            value = items.pop().unwrap_or(Value::Null);
        }
    }
}
