//! Sums of TIMESERIES rows over a stretch of time.
//!
//! Where the instant that matters (an issue's start, the latest deployment) is only known
//! from the same response, a tool asks for summable values per interval (counts and sums,
//! never averages or percentiles) and adds up the intervals on either side afterwards.
//! Counts and sums add up exactly; the split is as fine as the interval.

use serde_json::Value;

use super::nrql_tool::values::number_at;

/// The intervals of one stretch of time, added up.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stretch {
    /// Intervals inside the stretch.
    pub intervals: usize,
    /// Start of the first interval and end of the last, epoch ms (0 when none).
    pub begin_ms: i64,
    pub end_ms: i64,
    /// The sum of each requested key, in request order (missing values count as 0).
    pub sums: Vec<f64>,
}

impl Stretch {
    /// The sum of the `index`-th requested key.
    pub(crate) fn sum(&self, index: usize) -> f64 {
        self.sums.get(index).copied().unwrap_or(0.0)
    }

    /// Minutes the stretch covers.
    pub(crate) fn minutes(&self) -> f64 {
        (self.end_ms - self.begin_ms) as f64 / 60_000.0
    }
}

/// The start and end of a TIMESERIES row, epoch ms.
pub(crate) fn interval_of(row: &Value) -> Option<(i64, i64)> {
    let begin = number_at(row, "beginTimeSeconds")?;
    let end = number_at(row, "endTimeSeconds")?;
    Some(((begin * 1000.0) as i64, (end * 1000.0) as i64))
}

/// Adds up `keys` over the rows whose interval starts in `[from_ms, to_ms)`.
pub(crate) fn stretch<'a>(
    rows: impl IntoIterator<Item = &'a Value>,
    from_ms: i64,
    to_ms: i64,
    keys: &[&str],
) -> Stretch {
    let mut total = Stretch { intervals: 0, begin_ms: 0, end_ms: 0, sums: vec![0.0; keys.len()] };
    for row in rows {
        let Some((begin, end)) = interval_of(row) else { continue };
        if begin < from_ms || begin >= to_ms {
            continue;
        }
        total.begin_ms = if total.intervals == 0 { begin } else { total.begin_ms.min(begin) };
        total.end_ms = total.end_ms.max(end);
        total.intervals += 1;
        for (sum, key) in total.sums.iter_mut().zip(keys) {
            *sum += number_at(row, key).unwrap_or(0.0);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rows() -> Vec<Value> {
        (0..6)
            .map(|i| json!({"beginTimeSeconds": 60 * i, "endTimeSeconds": 60 * (i + 1), "count": i, "sum": null}))
            .collect()
    }

    #[test]
    fn adds_up_the_intervals_that_start_inside_the_stretch() {
        let rows = rows();
        let cases: [(i64, i64, usize, f64, i64, i64); 4] = [
            (0, 180_000, 3, 3.0, 0, 180_000),
            (180_000, 360_000, 3, 12.0, 180_000, 360_000),
            (90_000, 200_000, 2, 5.0, 120_000, 240_000),
            (400_000, 500_000, 0, 0.0, 0, 0),
        ];
        for (from, to, intervals, sum, begin, end) in cases {
            let got = stretch(&rows, from, to, &["count", "sum"]);
            assert_eq!(got.intervals, intervals, "{from}..{to}");
            assert_eq!(got.sum(0), sum, "{from}..{to}");
            assert_eq!(got.sum(1), 0.0);
            assert_eq!((got.begin_ms, got.end_ms), (begin, end), "{from}..{to}");
        }
        assert_eq!(stretch(&rows, 0, 180_000, &["count"]).minutes(), 3.0);
        assert_eq!(interval_of(&json!({"count": 1})), None);
    }
}
