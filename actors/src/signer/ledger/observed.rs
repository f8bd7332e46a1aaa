//! Nonces chosen by clients of signed requests: each may be seen once within the allowed
//! clock skew.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{LedgerConfigError, LedgerStats, NonceError, nonzero_capacity, window_secs};
use crate::signer::canonical::validate_nonce;
use crate::signer::clock::UnixTime;

/// A fixed-size stand-in for a client nonce, so memory per entry does not depend on what
/// clients send. 128 bits of SHA-256 make accidental collisions negligible.
type NonceKey = [u8; 16];

fn key_of(nonce: &str) -> NonceKey {
    let digest = Sha256::digest(nonce.as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// Client nonces seen recently, with the timestamps they were signed with.
///
/// A request is accepted when its timestamp is within `max_skew` of `now` and its nonce
/// has not been seen. An entry is kept while its timestamp is still acceptable; after that
/// the skew check alone refuses a replay. When full, the entry with the oldest timestamp
/// is evicted and that timestamp becomes a floor: anything signed at or before it is
/// refused, because it might be the evicted request replayed.
#[derive(Debug)]
pub struct ObservedLedger {
    max_skew_secs: u64,
    capacity: usize,
    by_nonce: HashMap<NonceKey, UnixTime>,
    by_time: BTreeSet<(UnixTime, NonceKey)>,
    evicted_floor: Option<UnixTime>,
    evicted: u64,
}

impl ObservedLedger {
    pub fn new(max_skew: Duration, capacity: usize) -> Result<Self, LedgerConfigError> {
        Ok(Self {
            max_skew_secs: window_secs("request clock skew", max_skew)?,
            capacity: nonzero_capacity("observed nonce", capacity)?,
            by_nonce: HashMap::new(),
            by_time: BTreeSet::new(),
            evicted_floor: None,
            evicted: 0,
        })
    }

    pub fn max_skew(&self) -> Duration {
        Duration::from_secs(self.max_skew_secs)
    }

    /// Checks that `timestamp` is within the allowed skew of `now`.
    pub fn check_timestamp(&self, timestamp: UnixTime, now: UnixTime) -> Result<(), NonceError> {
        let offset = i128::from(timestamp.as_secs()) - i128::from(now.as_secs());
        if offset.unsigned_abs() > u128::from(self.max_skew_secs) {
            let offset_secs = i64::try_from(offset).unwrap_or(if offset < 0 { i64::MIN } else { i64::MAX });
            return Err(NonceError::TimestampOutsideWindow {
                offset_secs,
                max_skew_secs: self.max_skew_secs,
            });
        }
        Ok(())
    }

    /// Records `nonce` signed at `timestamp`; refuses a replay, a malformed nonce, a
    /// timestamp outside the skew window, or one at or below the eviction floor.
    pub fn observe(&mut self, nonce: &str, timestamp: UnixTime, now: UnixTime) -> Result<(), NonceError> {
        validate_nonce(nonce).map_err(|_| NonceError::Malformed)?;
        self.check_timestamp(timestamp, now)?;
        self.prune(now);
        if let Some(floor) = self.evicted_floor
            && timestamp <= floor
        {
            return Err(NonceError::BelowRetainedWindow { oldest_refused: floor });
        }
        let key = key_of(nonce);
        if self.by_nonce.contains_key(&key) {
            return Err(NonceError::Replayed);
        }
        self.by_nonce.insert(key, timestamp);
        self.by_time.insert((timestamp, key));
        while self.by_nonce.len() > self.capacity {
            let Some((oldest_time, oldest_key)) = self.by_time.pop_first() else { break };
            self.by_nonce.remove(&oldest_key);
            self.evicted += 1;
            self.evicted_floor = Some(self.evicted_floor.map_or(oldest_time, |floor| floor.max(oldest_time)));
        }
        Ok(())
    }

    /// Forgets entries whose timestamps the skew check already refuses.
    pub fn prune(&mut self, now: UnixTime) {
        while let Some(&(time, key)) = self.by_time.first() {
            if time.as_secs().saturating_add(self.max_skew_secs) >= now.as_secs() {
                break;
            }
            self.by_time.pop_first();
            self.by_nonce.remove(&key);
        }
    }

    pub fn len(&self) -> usize {
        self.by_nonce.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_nonce.is_empty()
    }

    pub fn stats(&self) -> LedgerStats {
        LedgerStats { retained: self.by_nonce.len(), capacity: self.capacity, evicted: self.evicted }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const SKEW: u64 = 30;
    const NOW: u64 = 10_000;

    fn at(secs: u64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    fn nonce(n: u32) -> String {
        format!("client-nonce-{n:08}")
    }

    fn ledger(capacity: usize) -> ObservedLedger {
        ObservedLedger::new(Duration::from_secs(SKEW), capacity).unwrap()
    }

    #[test]
    fn transitions_of_observed_nonces() {
        // (what, nonce, signed at, seen at, expected); steps run in order on one ledger.
        type Step = (&'static str, String, u64, u64, Result<(), NonceError>);
        let steps: Vec<Step> = vec![
            ("first sight", nonce(1), NOW, NOW, Ok(())),
            ("replay", nonce(1), NOW, NOW + 1, Err(NonceError::Replayed)),
            ("replay with another timestamp", nonce(1), NOW + 2, NOW + 2, Err(NonceError::Replayed)),
            ("other nonce", nonce(2), NOW, NOW + 2, Ok(())),
            ("client clock slightly ahead", nonce(3), NOW + SKEW, NOW, Ok(())),
            ("client clock slightly behind", nonce(4), NOW - SKEW, NOW, Ok(())),
            (
                "too far ahead",
                nonce(5),
                NOW + SKEW + 1,
                NOW,
                Err(NonceError::TimestampOutsideWindow { offset_secs: 31, max_skew_secs: SKEW }),
            ),
            (
                "too far behind",
                nonce(6),
                NOW - SKEW - 1,
                NOW,
                Err(NonceError::TimestampOutsideWindow { offset_secs: -31, max_skew_secs: SKEW }),
            ),
            (
                "replay once the window has passed",
                nonce(1),
                NOW,
                NOW + SKEW + 1,
                Err(NonceError::TimestampOutsideWindow { offset_secs: -31, max_skew_secs: SKEW }),
            ),
            ("malformed: short", "abc".to_owned(), NOW, NOW, Err(NonceError::Malformed)),
            ("malformed: space", "client nonce 0001".to_owned(), NOW, NOW, Err(NonceError::Malformed)),
            ("refused nonces were not recorded", nonce(5), NOW, NOW, Ok(())),
        ];
        let mut ledger = ledger(64);
        for (what, nonce, signed_at, seen_at, expected) in steps {
            assert_eq!(ledger.observe(&nonce, at(signed_at), at(seen_at)), expected, "{what}");
        }
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        let ledger = ledger(4);
        assert_eq!(
            ledger.check_timestamp(at(u64::MAX), at(0)),
            Err(NonceError::TimestampOutsideWindow { offset_secs: i64::MAX, max_skew_secs: SKEW })
        );
        assert_eq!(
            ledger.check_timestamp(at(0), at(u64::MAX)),
            Err(NonceError::TimestampOutsideWindow { offset_secs: i64::MIN, max_skew_secs: SKEW })
        );
    }

    #[test]
    fn entries_leave_once_the_skew_check_covers_them() {
        let mut ledger = ledger(64);
        ledger.observe(&nonce(1), at(NOW - 10), at(NOW)).unwrap();
        ledger.observe(&nonce(2), at(NOW), at(NOW)).unwrap();
        ledger.prune(at(NOW - 10 + SKEW));
        assert_eq!(ledger.len(), 2, "still acceptable at the edge of the window");
        ledger.prune(at(NOW - 10 + SKEW + 1));
        assert_eq!(ledger.len(), 1);
        ledger.prune(at(NOW + SKEW + 1));
        assert!(ledger.is_empty());
        assert_eq!(ledger.stats().evicted, 0);
    }

    #[test]
    fn an_evicted_nonce_can_never_be_replayed() {
        let mut ledger = ledger(2);
        ledger.observe(&nonce(1), at(NOW - 5), at(NOW)).unwrap();
        ledger.observe(&nonce(2), at(NOW - 3), at(NOW)).unwrap();
        ledger.observe(&nonce(3), at(NOW), at(NOW)).unwrap();
        assert_eq!(ledger.stats(), LedgerStats { retained: 2, capacity: 2, evicted: 1 });
        // nonce 1 is forgotten, but its timestamp is at the floor.
        assert_eq!(
            ledger.observe(&nonce(1), at(NOW - 5), at(NOW + 1)),
            Err(NonceError::BelowRetainedWindow { oldest_refused: at(NOW - 5) })
        );
        // So is any other request signed that early.
        assert_eq!(
            ledger.observe(&nonce(9), at(NOW - 6), at(NOW + 1)),
            Err(NonceError::BelowRetainedWindow { oldest_refused: at(NOW - 5) })
        );
        // Newer requests are still judged by the ledger itself.
        assert_eq!(ledger.observe(&nonce(2), at(NOW - 3), at(NOW + 1)), Err(NonceError::Replayed));
        assert_eq!(ledger.observe(&nonce(4), at(NOW - 4), at(NOW + 1)), Ok(()));
    }

    #[test]
    fn a_full_ledger_that_evicts_the_newcomer_still_refuses_its_replay() {
        let mut ledger = ledger(1);
        ledger.observe(&nonce(1), at(NOW), at(NOW)).unwrap();
        // Older than everything retained: accepted, then immediately evicted.
        assert_eq!(ledger.observe(&nonce(2), at(NOW - 1), at(NOW)), Ok(()));
        assert_eq!(
            ledger.observe(&nonce(2), at(NOW - 1), at(NOW)),
            Err(NonceError::BelowRetainedWindow { oldest_refused: at(NOW - 1) })
        );
        assert_eq!(ledger.observe(&nonce(1), at(NOW), at(NOW)), Err(NonceError::Replayed));
    }

    #[test]
    fn memory_stays_within_capacity_under_a_flood() {
        let mut ledger = ledger(100);
        for n in 0..10_000u32 {
            let signed_at = NOW + u64::from(n / 1_000);
            let _ = ledger.observe(&nonce(n), at(signed_at), at(signed_at));
            assert!(ledger.len() <= 100);
        }
        assert!(ledger.stats().evicted > 0);
    }

    #[test]
    fn invalid_settings_are_refused() {
        assert!(ObservedLedger::new(Duration::from_secs(30), 0).is_err());
        assert!(ObservedLedger::new(Duration::ZERO, 4).is_err());
    }
}
