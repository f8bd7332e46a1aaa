//! The in-flight table of one shard: which keys are being filled and who waits on each.
//!
//! Pure bookkeeping, generic over the waiter (a reply port in the shard) and per-fill data
//! (cancellation tokens in the shard), so that coalescing can be tested without actors.
//! Both the number of fills and the waiters per fill are bounded.

use std::collections::HashMap;

use crate::tool::CacheKey;

struct Fill<W, F> {
    id: u64,
    data: F,
    waiters: Vec<(u64, W)>,
}

/// The outcome of [`InFlightTable::join`].
#[derive(Debug, PartialEq, Eq)]
pub enum Joined<W> {
    /// No fill was running: the caller must start one.
    Leader { fill_id: u64, waiter_id: u64 },
    /// A fill was running: the caller waits on it.
    Follower { fill_id: u64, waiter_id: u64 },
    /// The fill already has the maximum number of waiters.
    TooManyWaiters(W),
    /// The shard already runs the maximum number of fills.
    TooManyFills(W),
}

/// The outcome of [`InFlightTable::leave`].
#[derive(Debug, PartialEq, Eq)]
pub enum Left<W, F> {
    /// Others still wait on the fill.
    Others(W),
    /// That was the last waiter: the fill is abandoned and removed.
    Last(W, F),
    /// No such fill or waiter (already answered).
    Unknown,
}

pub struct InFlightTable<W, F> {
    fills: HashMap<CacheKey, Fill<W, F>>,
    max_fills: usize,
    max_waiters: usize,
    next_id: u64,
}

impl<W, F> InFlightTable<W, F> {
    pub fn new(max_fills: usize, max_waiters: usize) -> Self {
        Self {
            fills: HashMap::new(),
            max_fills: max_fills.max(1),
            max_waiters: max_waiters.max(1),
            next_id: 0,
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Adds `waiter` to the fill of `key`, starting one (with `start()`'s data) if none runs.
    pub fn join(&mut self, key: CacheKey, waiter: W, start: impl FnOnce() -> F) -> Joined<W> {
        let waiter_id = self.next_id();
        if let Some(fill) = self.fills.get_mut(&key) {
            if fill.waiters.len() >= self.max_waiters {
                return Joined::TooManyWaiters(waiter);
            }
            fill.waiters.push((waiter_id, waiter));
            return Joined::Follower { fill_id: fill.id, waiter_id };
        }
        if self.fills.len() >= self.max_fills {
            return Joined::TooManyFills(waiter);
        }
        let fill_id = self.next_id();
        self.fills.insert(key, Fill { id: fill_id, data: start(), waiters: vec![(waiter_id, waiter)] });
        Joined::Leader { fill_id, waiter_id }
    }

    /// The data of the running fill of `key`, if it is `fill_id`.
    pub fn data(&self, key: &CacheKey, fill_id: u64) -> Option<&F> {
        self.fills.get(key).filter(|fill| fill.id == fill_id).map(|fill| &fill.data)
    }

    /// Ends fill `fill_id` of `key`, handing back its data and every waiter. A stale id
    /// (the fill was abandoned and maybe replaced) returns `None`.
    pub fn complete(&mut self, key: &CacheKey, fill_id: u64) -> Option<(F, Vec<W>)> {
        if self.fills.get(key)?.id != fill_id {
            return None;
        }
        let fill = self.fills.remove(key)?;
        Some((fill.data, fill.waiters.into_iter().map(|(_, waiter)| waiter).collect()))
    }

    /// Removes one waiter (it cancelled).
    pub fn leave(&mut self, key: &CacheKey, fill_id: u64, waiter_id: u64) -> Left<W, F> {
        let Some(fill) = self.fills.get_mut(key).filter(|fill| fill.id == fill_id) else {
            return Left::Unknown;
        };
        let Some(position) = fill.waiters.iter().position(|(id, _)| *id == waiter_id) else {
            return Left::Unknown;
        };
        let (_, waiter) = fill.waiters.swap_remove(position);
        if !fill.waiters.is_empty() {
            return Left::Others(waiter);
        }
        match self.fills.remove(key) {
            Some(fill) => Left::Last(waiter, fill.data),
            None => Left::Unknown,
        }
    }

    /// Fills running.
    pub fn len(&self) -> usize {
        self.fills.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fills.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn key(n: u8) -> CacheKey {
        CacheKey([n; 32])
    }

    #[test]
    fn first_caller_leads_and_the_rest_follow() {
        let mut table: InFlightTable<&str, &str> = InFlightTable::new(10, 10);
        let mut started = 0;
        let Joined::Leader { fill_id, .. } = table.join(key(1), "a", || {
            started += 1;
            "fill"
        }) else {
            panic!("first caller must lead")
        };
        for waiter in ["b", "c"] {
            match table.join(key(1), waiter, || unreachable!("a second fill must not start")) {
                Joined::Follower { fill_id: id, .. } => assert_eq!(id, fill_id),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(started, 1);
        assert_eq!(table.data(&key(1), fill_id), Some(&"fill"));
        let (data, waiters) = table.complete(&key(1), fill_id).unwrap();
        assert_eq!(data, "fill");
        assert_eq!(waiters, ["a", "b", "c"]);
        assert!(table.is_empty());
    }

    #[test]
    fn bounds_refuse_with_the_waiter_handed_back() {
        let mut table: InFlightTable<u32, ()> = InFlightTable::new(1, 2);
        assert!(matches!(table.join(key(1), 1, || ()), Joined::Leader { .. }));
        assert!(matches!(table.join(key(1), 2, || ()), Joined::Follower { .. }));
        assert_eq!(table.join(key(1), 3, || ()), Joined::TooManyWaiters(3));
        assert_eq!(table.join(key(2), 4, || ()), Joined::TooManyFills(4));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn leaving_removes_the_fill_only_with_the_last_waiter() {
        let mut table: InFlightTable<&str, &str> = InFlightTable::new(10, 10);
        let Joined::Leader { fill_id, waiter_id: a } = table.join(key(1), "a", || "fill") else { panic!() };
        let Joined::Follower { waiter_id: b, .. } = table.join(key(1), "b", || "other") else { panic!() };
        assert_eq!(table.leave(&key(1), fill_id, a), Left::Others("a"));
        assert_eq!(table.leave(&key(1), fill_id, a), Left::Unknown, "already gone");
        assert_eq!(table.leave(&key(1), fill_id + 100, b), Left::Unknown, "stale fill");
        assert_eq!(table.leave(&key(1), fill_id, b), Left::Last("b", "fill"));
        assert!(table.is_empty());
    }

    #[test]
    fn a_stale_completion_does_not_end_a_newer_fill() {
        let mut table: InFlightTable<&str, u8> = InFlightTable::new(10, 10);
        let Joined::Leader { fill_id: old, waiter_id } = table.join(key(1), "a", || 1) else { panic!() };
        assert_eq!(table.leave(&key(1), old, waiter_id), Left::Last("a", 1));
        let Joined::Leader { fill_id: new, .. } = table.join(key(1), "b", || 2) else { panic!() };
        assert_ne!(old, new);
        assert!(table.complete(&key(1), old).is_none());
        assert_eq!(table.complete(&key(1), new), Some((2, vec!["b"])));
    }
}
