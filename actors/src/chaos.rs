//! Deliberate crashes, for tests and the load-test harness (feature `chaos` only).
//!
//! Every actor's message enum has a `Crash` variant under this feature; its handler calls
//! [`crash`], which panics inside the actor so that supervision is exercised exactly as a
//! real bug would exercise it.

/// Which component [`RuntimeHandle::crash`](crate::runtime::RuntimeHandle::crash) brings down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChaosTarget {
    /// The cache shard with this index (modulo the shard count).
    CacheShard(usize),
    /// Whichever executor worker picks up the crash job next.
    ExecutorWorker,
    Breaker,
    Registry,
    FrontDoor,
    /// The signer and nonce store (pending write confirmations are lost with it).
    Signer,
}

/// Panics on purpose, naming the component.
#[allow(clippy::panic)]
pub(crate) fn crash(component: &str) -> ! {
    panic!("chaos: {component} crashed on purpose")
}
