//! Registered actor names, unique per runtime so that several runtimes can share a process.
//!
//! Names let the runtime handle reach the current front door and registry after a restart
//! (ractor unregisters a dead actor's name before its supervisor hears of the death, so the
//! replacement can take the same name).

use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_RUNTIME: AtomicU64 = AtomicU64::new(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActorNames {
    prefix: String,
}

impl ActorNames {
    pub fn unique() -> Self {
        Self { prefix: format!("newrelic-mcp-runtime-{}", NEXT_RUNTIME.fetch_add(1, Ordering::Relaxed)) }
    }

    fn name(&self, component: &str) -> String {
        format!("{}.{component}", self.prefix)
    }

    pub fn supervisor(&self) -> String {
        self.name("supervisor")
    }

    pub fn front_door(&self) -> String {
        self.name("front-door")
    }

    pub fn registry(&self) -> String {
        self.name("plugin-registry")
    }

    pub fn breaker(&self) -> String {
        self.name("circuit-breaker")
    }

    pub fn executor(&self) -> String {
        self.name("executor-pool")
    }

    pub fn signer(&self) -> String {
        self.name("signer")
    }

    pub fn shard(&self, index: usize) -> String {
        self.name(&format!("cache-shard-{index}"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn two_runtimes_never_share_a_name() {
        let (a, b) = (ActorNames::unique(), ActorNames::unique());
        let all = |n: &ActorNames| {
            vec![
                n.supervisor(),
                n.front_door(),
                n.registry(),
                n.breaker(),
                n.executor(),
                n.shard(0),
                n.shard(1),
            ]
        };
        let names_a = all(&a);
        let mut unique = names_a.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names_a.len(), "names within a runtime are distinct");
        assert!(all(&b).iter().all(|name| !names_a.contains(name)));
    }
}
