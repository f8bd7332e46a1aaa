//! The record of confirmed writes, which makes a confirmed write idempotent.
//!
//! Entries are keyed by the call's [`Binding`] (SHA-256 of the tool and its canonical
//! arguments). While a write runs, a second confirmed run of the same call is held off; once
//! it has succeeded, any repeat within the window answers with the first result, so a retry
//! after a lost reply, or a second confirmation of the same arguments, never creates a
//! duplicate. A write that failed in a way that proves nothing was applied leaves no record,
//! and the caller may confirm again; one whose outcome is unknown (a timeout or a dropped
//! answer after the mutation may have reached New Relic) is recorded as such, and repeats are
//! refused with advice to check first, until the window passes. The ledger is bounded: past its capacity the oldest finished entry is forgotten, and
//! when every entry is a write still running, a new one is refused rather than unbounded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::clock::UnixTime;
use super::confirmation::Binding;
use super::ledger::LedgerConfigError;
use crate::tool::ToolOutput;

/// How long a confirmed write's result answers repeats unless configured otherwise.
pub const DEFAULT_WRITE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// What the ledger says about a confirmed call.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteAdmission {
    /// Nothing is known of this call: run it (it is now recorded as running).
    Proceed,
    /// The same call already succeeded at `applied_at`; this is its result.
    AlreadyApplied { output: Arc<ToolOutput>, applied_at: UnixTime },
    /// The same call is running now.
    Running,
    /// The same call ended `since` without a clear outcome: it may have been applied.
    Uncertain { reason: String, since: UnixTime },
}

/// How a confirmed write ended, as the runtime reports it to the ledger.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOutcome {
    Applied(Arc<ToolOutput>),
    /// Refused or failed before anything could change: the call may be confirmed again.
    NotApplied,
    /// It may or may not have been applied (why, in words).
    Uncertain(String),
}

/// Why the ledger could not take a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WriteLedgerError {
    #[error(
        "{running} confirmed writes are running at once, the most this server tracks; retry when one has finished"
    )]
    Full { running: usize },
}

#[derive(Debug, Clone)]
enum State {
    Running,
    Applied(Arc<ToolOutput>),
    Uncertain(String),
}

#[derive(Debug, Clone)]
struct Entry {
    state: State,
    /// When the write started (running) or finished (applied).
    at: UnixTime,
}

/// Bounded record of running and recently applied writes.
#[derive(Debug)]
pub struct WriteLedger {
    window: Duration,
    capacity: usize,
    entries: HashMap<Binding, Entry>,
}

impl WriteLedger {
    pub fn new(window: Duration, capacity: usize) -> Result<Self, LedgerConfigError> {
        if capacity == 0 {
            return Err(LedgerConfigError::ZeroCapacity { ledger: "confirmed-write" });
        }
        if window.as_secs() == 0 {
            return Err(LedgerConfigError::WindowTooShort { ledger: "confirmed-write", got: window });
        }
        Ok(Self { window, capacity, entries: HashMap::new() })
    }

    /// What a call whose confirmation was just accepted should do; records it as running
    /// when the answer is [`WriteAdmission::Proceed`].
    pub fn begin(&mut self, binding: &Binding, now: UnixTime) -> Result<WriteAdmission, WriteLedgerError> {
        self.prune(now);
        if let Some(known) = self.recall(binding) {
            return Ok(known);
        }
        if self.entries.len() >= self.capacity && !self.forget_oldest_applied() {
            return Err(WriteLedgerError::Full { running: self.entries.len() });
        }
        self.entries.insert(*binding, Entry { state: State::Running, at: now });
        Ok(WriteAdmission::Proceed)
    }

    /// What is known of a call without starting it: for a token that can no longer be
    /// redeemed (already used, or forgotten), the write it confirmed may still be on record.
    pub fn lookup(&mut self, binding: &Binding, now: UnixTime) -> Option<WriteAdmission> {
        self.prune(now);
        self.recall(binding)
    }

    /// Records how a running write ended.
    pub fn finish(&mut self, binding: &Binding, outcome: WriteOutcome, now: UnixTime) {
        let state = match outcome {
            WriteOutcome::Applied(output) => State::Applied(output),
            WriteOutcome::Uncertain(reason) => State::Uncertain(reason),
            WriteOutcome::NotApplied => {
                self.entries.remove(binding);
                return;
            }
        };
        self.entries.insert(*binding, Entry { state, at: now });
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn recall(&self, binding: &Binding) -> Option<WriteAdmission> {
        self.entries.get(binding).map(|entry| match &entry.state {
            State::Running => WriteAdmission::Running,
            State::Applied(output) => {
                WriteAdmission::AlreadyApplied { output: output.clone(), applied_at: entry.at }
            }
            State::Uncertain(reason) => WriteAdmission::Uncertain { reason: reason.clone(), since: entry.at },
        })
    }

    /// Drops applied entries older than the window, and running entries twice as old (a
    /// write whose end was never reported — its task was lost — must not block the call forever).
    fn prune(&mut self, now: UnixTime) {
        let window = self.window.as_secs();
        self.entries.retain(|_, entry| {
            let age = now.saturating_secs_since(entry.at);
            match entry.state {
                State::Applied(_) | State::Uncertain(_) => age < window,
                State::Running => age < window.saturating_mul(2),
            }
        });
    }

    fn forget_oldest_applied(&mut self) -> bool {
        let oldest = self
            .entries
            .iter()
            .filter(|(_, entry)| !matches!(entry.state, State::Running))
            .min_by_key(|(_, entry)| entry.at)
            .map(|(binding, _)| *binding);
        match oldest {
            Some(binding) => self.entries.remove(&binding).is_some(),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use serde_json::json;

    use super::*;

    fn output(text: &str) -> Arc<ToolOutput> {
        Arc::new(ToolOutput { structured: json!({"text": text}), text: text.to_string() })
    }

    fn binding(n: u8) -> Binding {
        [n; 32]
    }

    fn at(secs: u64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    const WINDOW: Duration = Duration::from_secs(600);

    #[test]
    fn refuses_limits_that_cannot_work() {
        assert!(WriteLedger::new(WINDOW, 0).is_err());
        assert!(WriteLedger::new(Duration::ZERO, 4).is_err());
    }

    #[test]
    fn a_call_runs_once_and_repeats_get_its_first_result() {
        let mut ledger = WriteLedger::new(WINDOW, 8).unwrap();
        assert_eq!(ledger.begin(&binding(1), at(100)).unwrap(), WriteAdmission::Proceed);
        assert_eq!(ledger.begin(&binding(1), at(101)).unwrap(), WriteAdmission::Running);
        assert_eq!(ledger.lookup(&binding(1), at(101)), Some(WriteAdmission::Running));
        ledger.finish(&binding(1), WriteOutcome::Applied(output("created 7")), at(102));
        let repeat = WriteAdmission::AlreadyApplied { output: output("created 7"), applied_at: at(102) };
        assert_eq!(ledger.begin(&binding(1), at(103)).unwrap(), repeat);
        assert_eq!(ledger.lookup(&binding(1), at(104)), Some(repeat));
        assert_eq!(
            ledger.begin(&binding(2), at(104)).unwrap(),
            WriteAdmission::Proceed,
            "other arguments run"
        );
    }

    #[test]
    fn a_failed_write_leaves_no_record() {
        let mut ledger = WriteLedger::new(WINDOW, 8).unwrap();
        assert_eq!(ledger.begin(&binding(1), at(100)).unwrap(), WriteAdmission::Proceed);
        ledger.finish(&binding(1), WriteOutcome::NotApplied, at(101));
        assert!(ledger.is_empty());
        assert_eq!(ledger.lookup(&binding(1), at(102)), None);
        assert_eq!(ledger.begin(&binding(1), at(102)).unwrap(), WriteAdmission::Proceed);
    }

    #[test]
    fn a_write_of_unknown_outcome_holds_off_repeats_until_the_window_passes() {
        let mut ledger = WriteLedger::new(WINDOW, 8).unwrap();
        assert_eq!(ledger.begin(&binding(1), at(100)).unwrap(), WriteAdmission::Proceed);
        ledger.finish(&binding(1), WriteOutcome::Uncertain("timed out".into()), at(130));
        let uncertain = WriteAdmission::Uncertain { reason: "timed out".into(), since: at(130) };
        assert_eq!(ledger.begin(&binding(1), at(200)).unwrap(), uncertain);
        assert_eq!(ledger.lookup(&binding(1), at(200)), Some(uncertain));
        assert_eq!(ledger.begin(&binding(1), at(730)).unwrap(), WriteAdmission::Proceed, "the window passed");
    }

    #[test]
    fn entries_expire_by_state() {
        // (state after begin/finish, age in seconds, still known?)
        let cases = [(true, 599, true), (true, 600, false), (false, 1_199, true), (false, 1_200, false)];
        for (applied, age, known) in cases {
            let mut ledger = WriteLedger::new(WINDOW, 8).unwrap();
            ledger.begin(&binding(1), at(1_000)).unwrap();
            if applied {
                ledger.finish(&binding(1), WriteOutcome::Applied(output("done")), at(1_000));
            }
            assert_eq!(
                ledger.lookup(&binding(1), at(1_000 + age)).is_some(),
                known,
                "applied={applied} age={age}"
            );
        }
    }

    #[test]
    fn past_capacity_the_oldest_applied_entry_goes_and_running_ones_stay() {
        let mut ledger = WriteLedger::new(WINDOW, 3).unwrap();
        for n in 0..3 {
            ledger.begin(&binding(n), at(100 + u64::from(n))).unwrap();
            ledger.finish(&binding(n), WriteOutcome::Applied(output("done")), at(100 + u64::from(n)));
        }
        assert_eq!(ledger.begin(&binding(9), at(110)).unwrap(), WriteAdmission::Proceed);
        assert_eq!(ledger.len(), 3);
        assert_eq!(ledger.lookup(&binding(0), at(110)), None, "the oldest applied entry was forgotten");
        assert!(ledger.lookup(&binding(1), at(110)).is_some());

        let mut busy = WriteLedger::new(WINDOW, 2).unwrap();
        busy.begin(&binding(1), at(100)).unwrap();
        busy.begin(&binding(2), at(100)).unwrap();
        assert_eq!(busy.begin(&binding(3), at(100)), Err(WriteLedgerError::Full { running: 2 }));
        assert_eq!(busy.len(), 2, "the bound holds");
    }

    #[test]
    fn driven_far_past_its_bound_it_stays_bounded() {
        let mut ledger = WriteLedger::new(WINDOW, 64).unwrap();
        for n in 0..10_000u32 {
            let mut key = [0u8; 32];
            key[..4].copy_from_slice(&n.to_be_bytes());
            ledger.begin(&key, at(u64::from(n))).unwrap();
            ledger.finish(&key, WriteOutcome::Applied(output("done")), at(u64::from(n)));
            assert!(ledger.len() <= 64);
        }
    }
}
