//! The addresses components use to reach each other.
//!
//! The supervisor owns the authoritative copy and sends a fresh one to every dependent
//! whenever a restart replaces an actor, so nobody keeps talking to a dead address.

use std::sync::Arc;

use ractor::ActorRef;

use crate::breaker::BreakerMsg;
use crate::cache::ShardMsg;
use crate::executor::ExecutorRef;
use crate::signer::SignerMsg;

#[derive(Clone)]
pub struct Links {
    /// Cache shards by index: a key's shard is `key.shard(shards.len())`.
    pub shards: Arc<[ActorRef<ShardMsg>]>,
    pub executor: ExecutorRef,
    pub breaker: ActorRef<BreakerMsg>,
    /// Issues and redeems write confirmations and keeps the record of confirmed writes.
    pub signer: ActorRef<SignerMsg>,
}
