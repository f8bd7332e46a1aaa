//! What a load test measured: a recorder per worker, merged into one report, printed as a
//! table or JSON.
//!
//! Latency is recorded, in microseconds, for every call that got an answer (success, tool
//! error or protocol error). Timeouts and transport failures are counted but not timed:
//! their "latency" is the timeout, or nothing at all.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::outcome::{ErrorClass, Outcome};
use super::server_counters::ServerDelta;

/// Longest latency the histograms track exactly (one hour); longer ones are clamped.
const MAX_TRACKED_MICROS: u64 = 3_600_000_000;
/// Significant decimal digits of the histograms.
const SIGNIFICANT_DIGITS: u8 = 3;

#[derive(Debug, thiserror::Error)]
#[error("cannot create a latency histogram: {0}")]
pub struct HistogramError(String);

fn histogram() -> Result<Histogram<u64>, HistogramError> {
    Histogram::new_with_bounds(1, MAX_TRACKED_MICROS, SIGNIFICANT_DIGITS)
        .map_err(|error| HistogramError(format!("{error:?}")))
}

fn micros(latency: Duration) -> u64 {
    u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).clamp(1, MAX_TRACKED_MICROS)
}

#[derive(Debug, Clone)]
struct ToolRecord {
    calls: u64,
    errors: u64,
    latency: Histogram<u64>,
}

/// Everything one worker saw; merged with the others' at the end.
#[derive(Debug, Clone)]
pub struct Recorder {
    calls: u64,
    successes: u64,
    retries: u64,
    latency: Histogram<u64>,
    errors: BTreeMap<ErrorClass, u64>,
    tools: BTreeMap<String, ToolRecord>,
}

impl Recorder {
    pub fn new() -> Result<Self, HistogramError> {
        Ok(Self {
            calls: 0,
            successes: 0,
            retries: 0,
            latency: histogram()?,
            errors: BTreeMap::new(),
            tools: BTreeMap::new(),
        })
    }

    /// One call's final outcome; `latency` covers every attempt; `retried` when it took two.
    pub fn record(
        &mut self,
        tool: &str,
        outcome: &Outcome,
        latency: Duration,
        retried: bool,
    ) -> Result<(), HistogramError> {
        self.calls += 1;
        self.retries += u64::from(retried);
        if !self.tools.contains_key(tool) {
            self.tools.insert(tool.to_string(), ToolRecord { calls: 0, errors: 0, latency: histogram()? });
        }
        let timed = !matches!(outcome.error_class(), Some(ErrorClass::Timeout | ErrorClass::Transport));
        if let Some(record) = self.tools.get_mut(tool) {
            record.calls += 1;
            record.errors += u64::from(!outcome.is_success());
            if timed {
                record.latency.saturating_record(micros(latency));
            }
        }
        if timed {
            self.latency.saturating_record(micros(latency));
        }
        match outcome.error_class() {
            None => self.successes += 1,
            Some(class) => *self.errors.entry(class.clone()).or_insert(0) += 1,
        }
        Ok(())
    }

    pub fn merge(&mut self, other: Recorder) -> Result<(), HistogramError> {
        self.calls += other.calls;
        self.successes += other.successes;
        self.retries += other.retries;
        self.latency.add(&other.latency).map_err(|error| HistogramError(format!("{error:?}")))?;
        for (class, count) in other.errors {
            *self.errors.entry(class).or_insert(0) += count;
        }
        for (tool, record) in other.tools {
            match self.tools.get_mut(&tool) {
                Some(mine) => {
                    mine.calls += record.calls;
                    mine.errors += record.errors;
                    mine.latency
                        .add(&record.latency)
                        .map_err(|error| HistogramError(format!("{error:?}")))?;
                }
                None => {
                    self.tools.insert(tool, record);
                }
            }
        }
        Ok(())
    }

    pub fn calls(&self) -> u64 {
        self.calls
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p99_9: u64,
    pub max: u64,
    pub mean: f64,
}

impl Percentiles {
    fn of(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self { p50: 0, p90: 0, p99: 0, p99_9: 0, max: 0, mean: 0.0 };
        }
        Self {
            p50: histogram.value_at_quantile(0.5),
            p90: histogram.value_at_quantile(0.9),
            p99: histogram.value_at_quantile(0.99),
            p99_9: histogram.value_at_quantile(0.999),
            max: histogram.max(),
            mean: histogram.mean(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSummary {
    pub calls: u64,
    pub errors: u64,
    pub p50_us: u64,
    pub p99_us: u64,
}

/// The outcome of a load test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The command that served the calls.
    pub target: String,
    /// `name version` from the target's handshake.
    pub server: String,
    pub scenario: String,
    pub concurrency: usize,
    pub warmup_seconds: f64,
    /// Length of the measured phase, from its first call to its last answer.
    pub elapsed_seconds: f64,
    pub calls: u64,
    pub successes: u64,
    pub errors: u64,
    /// Calls that succeeded or failed only on their second attempt (`--retry-read-once`).
    pub retries: u64,
    pub calls_per_second: f64,
    pub latency_us: Percentiles,
    /// Failures by class key (`tool:Overloaded`, `protocol:-32602`, `timeout`, `transport`).
    pub errors_by_class: BTreeMap<String, u64>,
    /// The same failures in words, most frequent first, for the table.
    #[serde(skip)]
    pub errors_in_words: Vec<(String, u64)>,
    pub tools: BTreeMap<String, ToolSummary>,
    /// The target's own counters over the measured phase, when it is newrelic-mcp.
    pub server_counters: Option<ServerDelta>,
    /// Set when the target went away during the measured phase, saying how.
    pub connection_lost: Option<String>,
}

/// Facts about the run that the recorder does not know.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFacts {
    pub target: String,
    pub server: String,
    pub scenario: String,
    pub concurrency: usize,
    pub warmup: Duration,
    pub elapsed: Duration,
    pub server_counters: Option<ServerDelta>,
    pub connection_lost: Option<String>,
}

impl Report {
    pub fn new(recorder: &Recorder, facts: RunFacts) -> Self {
        let elapsed = facts.elapsed.as_secs_f64();
        let calls_per_second = if elapsed > 0.0 { recorder.calls as f64 / elapsed } else { 0.0 };
        let tools = recorder
            .tools
            .iter()
            .map(|(tool, record)| {
                let latency = Percentiles::of(&record.latency);
                let summary = ToolSummary {
                    calls: record.calls,
                    errors: record.errors,
                    p50_us: latency.p50,
                    p99_us: latency.p99,
                };
                (tool.clone(), summary)
            })
            .collect();
        Self {
            target: facts.target,
            server: facts.server,
            scenario: facts.scenario,
            concurrency: facts.concurrency,
            warmup_seconds: facts.warmup.as_secs_f64(),
            elapsed_seconds: elapsed,
            calls: recorder.calls,
            successes: recorder.successes,
            errors: recorder.calls - recorder.successes,
            retries: recorder.retries,
            calls_per_second,
            latency_us: Percentiles::of(&recorder.latency),
            errors_by_class: recorder.errors.iter().map(|(class, count)| (class.key(), *count)).collect(),
            errors_in_words: errors_in_words(recorder),
            tools,
            server_counters: facts.server_counters,
            connection_lost: facts.connection_lost,
        }
    }

    /// The report as a human reads it.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "target      {} ({})", self.target, self.server);
        let _ = writeln!(out, "scenario    {}", self.scenario);
        let _ = writeln!(
            out,
            "load        {} concurrent, {:.1} s measured after {:.1} s warm-up",
            self.concurrency, self.elapsed_seconds, self.warmup_seconds
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "calls       {}  ({:.1} calls/s)", self.calls, self.calls_per_second);
        let _ = writeln!(
            out,
            "succeeded   {}    failed {}    retried {}",
            self.successes, self.errors, self.retries
        );
        let l = &self.latency_us;
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "latency     p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {}",
            format_micros(l.p50),
            format_micros(l.p90),
            format_micros(l.p99),
            format_micros(l.p99_9),
            format_micros(l.max),
            format_micros(l.mean.round() as u64)
        );
        if !self.errors_in_words.is_empty() {
            let _ = writeln!(out);
            let _ = writeln!(out, "errors");
            for (class, count) in &self.errors_in_words {
                let _ = writeln!(out, "  {count:>8}  {class}");
            }
        }
        if !self.tools.is_empty() {
            let width = self.tools.keys().map(String::len).max().unwrap_or(4).max(4);
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "{:<width$}  {:>8}  {:>7}  {:>9}  {:>9}",
                "tool", "calls", "errors", "p50", "p99"
            );
            for (tool, summary) in &self.tools {
                let _ = writeln!(
                    out,
                    "{tool:<width$}  {:>8}  {:>7}  {:>9}  {:>9}",
                    summary.calls,
                    summary.errors,
                    format_micros(summary.p50_us),
                    format_micros(summary.p99_us)
                );
            }
        }
        let _ = writeln!(out);
        match &self.server_counters {
            Some(server) => {
                let ratio = server
                    .cache_hit_ratio
                    .map_or_else(|| "no cache lookups".to_string(), |r| format!("{:.1}%", r * 100.0));
                let _ = writeln!(
                    out,
                    "server      {} New Relic calls for {} tool calls; cache hit ratio {ratio} \
                     ({} hits, {} misses, {} coalesced); {} rejected as overloaded",
                    server.upstream_calls,
                    self.calls,
                    server.cache_hits,
                    server.cache_misses,
                    server.coalesced,
                    server.rejected_overloaded
                );
                let _ = writeln!(
                    out,
                    "cache       {} entries, {} bytes by its own accounting ({:.1} MiB) at the end",
                    server.cache_entries_at_end,
                    server.cache_bytes_at_end,
                    server.cache_bytes_at_end as f64 / (1024.0 * 1024.0)
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "server      counters unavailable (the target offers no get_server_status, or it did not answer)"
                );
            }
        }
        if let Some(lost) = &self.connection_lost {
            let _ = writeln!(out);
            let _ = writeln!(out, "WARNING     {lost}");
        }
        out
    }
}

/// `850µs`, `12.3ms`, `1.20s`.
pub fn format_micros(micros: u64) -> String {
    match micros {
        0..1_000 => format!("{micros}µs"),
        1_000..1_000_000 => format!("{:.1}ms", micros as f64 / 1_000.0),
        _ => format!("{:.2}s", micros as f64 / 1_000_000.0),
    }
}

/// Error classes in words, most frequent first.
fn errors_in_words(recorder: &Recorder) -> Vec<(String, u64)> {
    let mut errors: Vec<(String, u64)> =
        recorder.errors.iter().map(|(class, count)| (class.to_string(), *count)).collect();
    errors.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    errors
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn facts(elapsed: Duration) -> RunFacts {
        RunFacts {
            target: "newrelic-mcp serve --sandbox".into(),
            server: "newrelic-mcp 0.1.0".into(),
            scenario: "cached-nrql".into(),
            concurrency: 4,
            warmup: Duration::from_secs(2),
            elapsed,
            server_counters: None,
            connection_lost: None,
        }
    }

    fn failed(class: ErrorClass) -> Outcome {
        Outcome::failed(class)
    }

    #[test]
    fn durations_read_at_a_glance() {
        let cases = [(0, "0µs"), (999, "999µs"), (1_000, "1.0ms"), (12_345, "12.3ms"), (1_200_000, "1.20s")];
        for (value, expected) in cases {
            assert_eq!(format_micros(value), expected);
        }
    }

    #[test]
    fn merged_recorders_count_every_call_and_time_only_answered_ones() {
        let mut first = Recorder::new().unwrap();
        for millis in 1..=100 {
            first.record("a", &Outcome::Success, Duration::from_millis(millis), false).unwrap();
        }
        let mut second = Recorder::new().unwrap();
        second
            .record("b", &failed(ErrorClass::Tool("Overloaded".into())), Duration::from_millis(500), true)
            .unwrap();
        second.record("b", &failed(ErrorClass::Timeout), Duration::from_secs(30), false).unwrap();
        second.record("a", &failed(ErrorClass::Transport), Duration::from_secs(1), false).unwrap();
        second.record("a", &failed(ErrorClass::Protocol(-32602)), Duration::from_millis(2), false).unwrap();
        first.merge(second).unwrap();

        let report = Report::new(&first, facts(Duration::from_secs(2)));
        assert_eq!((report.calls, report.successes, report.errors, report.retries), (104, 100, 4, 1));
        assert_eq!(report.calls_per_second, 52.0);
        let expected: BTreeMap<String, u64> =
            [("protocol:-32602", 1), ("timeout", 1), ("tool:Overloaded", 1), ("transport", 1)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
        assert_eq!(report.errors_by_class, expected);
        let l = report.latency_us;
        assert!(l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p99_9 && l.p99_9 <= l.max, "{l:?}");
        assert!((49_000..=51_000).contains(&l.p50), "{l:?}");
        // The 30 s timeout is not a latency; the 500 ms tool error is.
        assert!((499_000..=501_000).contains(&l.max), "{l:?}");
        assert_eq!(report.tools["a"].calls, 102);
        assert_eq!(report.tools["a"].errors, 2);
        assert_eq!(report.tools["b"].calls, 2);
        assert_eq!(report.tools["b"].errors, 2);
    }

    #[test]
    fn an_empty_run_reports_zeros_not_nonsense() {
        let report = Report::new(&Recorder::new().unwrap(), facts(Duration::ZERO));
        assert_eq!(report.calls, 0);
        assert_eq!(report.calls_per_second, 0.0);
        assert_eq!(report.latency_us.max, 0);
        assert!(report.table().contains("calls       0"));
    }

    #[test]
    fn the_table_shows_throughput_latency_errors_tools_and_server_figures() {
        let mut recorder = Recorder::new().unwrap();
        recorder.record("execute_nrql_query", &Outcome::Success, Duration::from_micros(800), false).unwrap();
        recorder
            .record("execute_nrql_query", &failed(ErrorClass::Timeout), Duration::from_secs(30), false)
            .unwrap();
        let mut facts = facts(Duration::from_secs(1));
        facts.server_counters = Some(ServerDelta {
            upstream_calls: 1,
            cache_hits: 9,
            cache_misses: 1,
            coalesced: 0,
            rejected_overloaded: 0,
            cache_hit_ratio: Some(0.9),
            cache_entries_at_end: 3,
            cache_bytes_at_end: 3 * 1024 * 1024,
        });
        let report = Report::new(&recorder, facts);
        let table = report.table();
        for expected in [
            "target      newrelic-mcp serve --sandbox (newrelic-mcp 0.1.0)",
            "calls       2  (2.0 calls/s)",
            "succeeded   1    failed 1    retried 0",
            "p50 800µs",
            "       1  timeout",
            "execute_nrql_query         2        1",
            "1 New Relic calls for 2 tool calls; cache hit ratio 90.0% (9 hits, 1 misses, 0 coalesced)",
            "cache       3 entries, 3145728 bytes by its own accounting (3.0 MiB) at the end",
        ] {
            assert!(table.contains(expected), "missing {expected:?} in\n{table}");
        }
        let without = Report { server_counters: None, ..report };
        assert!(without.table().contains("counters unavailable"));
    }

    #[test]
    fn errors_in_words_are_most_frequent_first() {
        let mut recorder = Recorder::new().unwrap();
        for _ in 0..2 {
            recorder.record("a", &failed(ErrorClass::Transport), Duration::ZERO, false).unwrap();
        }
        recorder.record("a", &failed(ErrorClass::Protocol(-32602)), Duration::ZERO, false).unwrap();
        assert_eq!(
            errors_in_words(&recorder),
            vec![
                ("transport failure".to_string(), 2),
                ("protocol error -32602 (invalid params)".to_string(), 1)
            ]
        );
    }
}
