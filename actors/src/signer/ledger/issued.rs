//! Nonces this process issued: each may be consumed once before it expires.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use super::{LedgerConfigError, LedgerStats, Nonce, NonceError, nonzero_capacity, window_secs};
use crate::signer::clock::UnixTime;

#[derive(Debug)]
struct Issued<T> {
    expires_at: UnixTime,
    consumed: bool,
    payload: T,
}

/// Issued nonces with what each was issued for (`payload`).
///
/// An entry is remembered for one lifetime after it expires, so a late caller learns it
/// expired rather than that it never existed; after that, or once evicted to stay within
/// capacity, the nonce is unknown and refused. Nothing unknown is ever accepted, which is
/// what makes eviction safe.
#[derive(Debug)]
pub struct IssuedLedger<T> {
    ttl_secs: u64,
    capacity: usize,
    entries: HashMap<Nonce, Issued<T>>,
    /// Issue order, oldest first; holds exactly the keys of `entries`.
    order: VecDeque<Nonce>,
    evicted: u64,
}

impl<T> IssuedLedger<T> {
    pub fn new(ttl: Duration, capacity: usize) -> Result<Self, LedgerConfigError> {
        Ok(Self {
            ttl_secs: window_secs("issued nonce", ttl)?,
            capacity: nonzero_capacity("issued nonce", capacity)?,
            entries: HashMap::new(),
            order: VecDeque::new(),
            evicted: 0,
        })
    }

    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.ttl_secs)
    }

    /// Issues a fresh nonce for `payload`, valid until the returned expiry.
    pub fn issue(&mut self, payload: T, now: UnixTime) -> (Nonce, UnixTime) {
        self.prune(now);
        while self.entries.len() >= self.capacity {
            let Some(oldest) = self.order.pop_front() else { break };
            self.entries.remove(&oldest);
            self.evicted += 1;
        }
        let mut nonce = Nonce::random();
        while self.entries.contains_key(&nonce) {
            nonce = Nonce::random();
        }
        let expires_at = UnixTime::from_secs(now.as_secs().saturating_add(self.ttl_secs));
        self.entries.insert(nonce, Issued { expires_at, consumed: false, payload });
        self.order.push_back(nonce);
        (nonce, expires_at)
    }

    /// Consumes `nonce`: succeeds once, while it is valid and remembered.
    pub fn consume(&mut self, nonce: &Nonce, now: UnixTime) -> Result<(), NonceError> {
        self.prune(now);
        let Entry::Occupied(mut entry) = self.entries.entry(*nonce) else {
            return Err(NonceError::Unknown);
        };
        let issued = entry.get_mut();
        if issued.consumed {
            return Err(NonceError::Replayed);
        }
        if now >= issued.expires_at {
            return Err(NonceError::Expired {
                expired_secs_ago: now.saturating_secs_since(issued.expires_at),
            });
        }
        issued.consumed = true;
        Ok(())
    }

    /// Consumes the wire form of a nonce; anything that is not one of ours is unknown.
    pub fn consume_str(&mut self, nonce: &str, now: UnixTime) -> Result<(), NonceError> {
        match Nonce::parse(nonce) {
            Some(nonce) => self.consume(&nonce, now),
            None => Err(NonceError::Unknown),
        }
    }

    /// What `nonce` was issued for, if it is still remembered (consumed or not).
    pub fn payload(&self, nonce: &Nonce) -> Option<&T> {
        self.entries.get(nonce).map(|issued| &issued.payload)
    }

    /// Forgets entries whose expiry lies more than one lifetime in the past.
    pub fn prune(&mut self, now: UnixTime) {
        while let Some(oldest) = self.order.front() {
            let forget = match self.entries.get(oldest) {
                Some(issued) => issued.expires_at.as_secs().saturating_add(self.ttl_secs) <= now.as_secs(),
                None => true,
            };
            if !forget {
                break;
            }
            if let Some(oldest) = self.order.pop_front() {
                self.entries.remove(&oldest);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn stats(&self) -> LedgerStats {
        LedgerStats { retained: self.entries.len(), capacity: self.capacity, evicted: self.evicted }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const TTL: u64 = 60;

    fn at(secs: u64) -> UnixTime {
        UnixTime::from_secs(1_000 + secs)
    }

    fn ledger(capacity: usize) -> IssuedLedger<()> {
        IssuedLedger::new(Duration::from_secs(TTL), capacity).unwrap()
    }

    /// One step of a scenario: consume the nonce issued at step `issued` at `secs`.
    struct Step {
        name: &'static str,
        consume_at: u64,
        expected: Result<(), NonceError>,
    }

    #[test]
    fn transitions_of_one_nonce() {
        let scenarios: [(&str, Vec<Step>); 4] = [
            (
                "fresh, then replayed",
                vec![
                    Step { name: "first use", consume_at: 1, expected: Ok(()) },
                    Step { name: "second use", consume_at: 2, expected: Err(NonceError::Replayed) },
                    Step { name: "after expiry", consume_at: TTL + 5, expected: Err(NonceError::Replayed) },
                    Step { name: "after grace", consume_at: 2 * TTL, expected: Err(NonceError::Unknown) },
                ],
            ),
            (
                "valid until the last second",
                vec![Step { name: "last second", consume_at: TTL - 1, expected: Ok(()) }],
            ),
            (
                "expired, stays expired, then forgotten",
                vec![
                    Step {
                        name: "at expiry",
                        consume_at: TTL,
                        expected: Err(NonceError::Expired { expired_secs_ago: 0 }),
                    },
                    Step {
                        name: "later",
                        consume_at: TTL + 30,
                        expected: Err(NonceError::Expired { expired_secs_ago: 30 }),
                    },
                    Step { name: "forgotten", consume_at: 2 * TTL, expected: Err(NonceError::Unknown) },
                ],
            ),
            ("consumed at once", vec![Step { name: "same second", consume_at: 0, expected: Ok(()) }]),
        ];
        for (scenario, steps) in scenarios {
            let mut ledger = ledger(8);
            let (nonce, expires_at) = ledger.issue((), at(0));
            assert_eq!(expires_at, at(TTL), "{scenario}");
            for step in steps {
                assert_eq!(
                    ledger.consume(&nonce, at(step.consume_at)),
                    step.expected,
                    "{scenario}: {}",
                    step.name
                );
            }
        }
    }

    #[test]
    fn nonces_never_issued_are_unknown() {
        let mut ledger = ledger(8);
        let (issued, _) = ledger.issue((), at(0));
        let cases = [
            ("random", Nonce::random().to_hex()),
            ("uppercase copy", issued.to_hex().to_uppercase()),
            ("truncated", issued.to_hex()[..30].to_owned()),
            ("empty", String::new()),
            ("garbage", "not a nonce".to_owned()),
        ];
        for (name, text) in cases {
            if text == issued.to_hex() {
                continue;
            }
            assert_eq!(ledger.consume_str(&text, at(1)), Err(NonceError::Unknown), "{name}");
        }
        assert_eq!(ledger.consume_str(&issued.to_hex(), at(1)), Ok(()));
    }

    #[test]
    fn eviction_makes_a_valid_nonce_unusable_never_reusable() {
        let mut ledger = ledger(2);
        let (first, _) = ledger.issue((), at(0));
        let (second, _) = ledger.issue((), at(1));
        let (third, _) = ledger.issue((), at(2));
        assert_eq!(ledger.len(), 2);
        assert_eq!(ledger.stats().evicted, 1);
        assert_eq!(ledger.consume(&first, at(3)), Err(NonceError::Unknown));
        assert_eq!(ledger.consume(&first, at(3)), Err(NonceError::Unknown));
        assert_eq!(ledger.consume(&second, at(3)), Ok(()));
        assert_eq!(ledger.consume(&third, at(3)), Ok(()));
        assert_eq!(ledger.consume(&third, at(4)), Err(NonceError::Replayed));
    }

    #[test]
    fn consumed_tombstones_also_count_against_capacity_and_are_evicted_oldest_first() {
        let mut ledger = ledger(2);
        let (first, _) = ledger.issue((), at(0));
        ledger.consume(&first, at(0)).unwrap();
        let (second, _) = ledger.issue((), at(1));
        let _third = ledger.issue((), at(2));
        assert_eq!(ledger.consume(&first, at(3)), Err(NonceError::Unknown));
        assert_eq!(ledger.consume(&second, at(3)), Ok(()));
    }

    #[test]
    fn expired_entries_are_pruned() {
        let mut ledger = ledger(100);
        for second in 0..10 {
            ledger.issue((), at(second));
        }
        assert_eq!(ledger.len(), 10);
        ledger.prune(at(2 * TTL + 4));
        assert_eq!(ledger.len(), 5, "entries issued at 0..=4 are past their grace");
        ledger.prune(at(10 * TTL));
        assert!(ledger.is_empty());
        assert_eq!(ledger.stats().evicted, 0, "pruning is not eviction");
    }

    #[test]
    fn payload_is_kept_until_forgotten() {
        let mut ledger = IssuedLedger::new(Duration::from_secs(TTL), 4).unwrap();
        let (nonce, _) = ledger.issue("drop dashboard 42", at(0));
        assert_eq!(ledger.payload(&nonce), Some(&"drop dashboard 42"));
        ledger.consume(&nonce, at(1)).unwrap();
        assert_eq!(ledger.payload(&nonce), Some(&"drop dashboard 42"));
        ledger.prune(at(2 * TTL));
        assert_eq!(ledger.payload(&nonce), None);
    }

    #[test]
    fn invalid_settings_are_refused() {
        assert!(IssuedLedger::<()>::new(Duration::from_secs(60), 0).is_err());
        assert!(IssuedLedger::<()>::new(Duration::from_millis(10), 4).is_err());
    }
}
