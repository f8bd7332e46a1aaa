//! Aggregates about how a value moves over time: `derivative()` and `predictLinear()`
//! (a least-squares line through the values against their timestamps) and
//! `latestRate()` (the change between the last two values).

use newrelic_mcp_nrql::ast::{Arg, Expr};

use super::{NrqlError, TimeRange, Val, float, interval_arg};
use crate::data::Event;
use crate::nrql_eval::value::eval;

/// A least-squares line `value = mean_value + slope * (time - mean_time)`, times in
/// milliseconds after the first point (to keep precision).
struct Line {
    origin: i64,
    mean_time: f64,
    mean_value: f64,
    slope_per_ms: f64,
}

fn points(attribute: &Expr, group: &[&Event]) -> Result<Vec<(i64, f64)>, NrqlError> {
    let mut out = Vec::with_capacity(group.len());
    for event in group {
        if let Some(value) = eval(attribute, event)?.as_f64() {
            out.push((event.timestamp, value));
        }
    }
    out.sort_by_key(|(timestamp, _)| *timestamp);
    Ok(out)
}

/// The fitted line, or `None` with fewer than two distinct timestamps.
fn fit(points: &[(i64, f64)]) -> Option<Line> {
    let origin = points.first()?.0;
    let n = points.len() as f64;
    let mean_time = points.iter().map(|(t, _)| (t - origin) as f64).sum::<f64>() / n;
    let mean_value = points.iter().map(|(_, v)| v).sum::<f64>() / n;
    let mut covariance = 0.0;
    let mut spread = 0.0;
    for (t, v) in points {
        let dt = (t - origin) as f64 - mean_time;
        covariance += dt * (v - mean_value);
        spread += dt * dt;
    }
    (spread > 0.0).then(|| Line { origin, mean_time, mean_value, slope_per_ms: covariance / spread })
}

fn required_interval(name: &str, args: &[Arg]) -> Result<f64, NrqlError> {
    interval_arg(args).ok_or_else(|| {
        NrqlError::Unsupported(format!(
            "{name}() without a time interval; pass one, e.g. {name}(attribute, 1 minute)"
        ))
    })
}

/// `derivative(attribute, interval)`: the slope of the least-squares line, per interval.
pub(super) fn derivative(attribute: &Expr, args: &[Arg], group: &[&Event]) -> Result<Val, NrqlError> {
    let interval = required_interval("derivative", args)?;
    Ok(fit(&points(attribute, group)?).map_or(Val::Null, |line| float(line.slope_per_ms * interval)))
}

/// `predictLinear(attribute, interval)`: the least-squares line read `interval` after the
/// end of the time range.
pub(super) fn predict_linear(
    attribute: &Expr,
    args: &[Arg],
    group: &[&Event],
    range: TimeRange,
) -> Result<Val, NrqlError> {
    let interval = required_interval("predictLinear", args)?;
    Ok(fit(&points(attribute, group)?).map_or(Val::Null, |line| {
        let at = (range.end - line.origin) as f64 + interval;
        float(line.mean_value + line.slope_per_ms * (at - line.mean_time))
    }))
}

/// `latestRate(attribute, interval)`: the change between the two latest values, per
/// interval.
pub(super) fn latest_rate(attribute: &Expr, args: &[Arg], group: &[&Event]) -> Result<Val, NrqlError> {
    let interval = required_interval("latestRate", args)?;
    let points = points(attribute, group)?;
    let [.., (t1, v1), (t2, v2)] = points.as_slice() else { return Ok(Val::Null) };
    if t2 == t1 {
        return Ok(Val::Null);
    }
    Ok(float((v2 - v1) / (t2 - t1) as f64 * interval))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp)]

    use super::*;

    #[test]
    fn the_fitted_line_goes_through_exact_linear_data() {
        let points = [(1_000, 3.0), (2_000, 5.0), (4_000, 9.0)];
        let line = fit(&points).unwrap();
        assert!((line.slope_per_ms - 0.002).abs() < 1e-15);
        assert_eq!(line.origin, 1_000);
        assert!(fit(&[(5, 1.0)]).is_none());
        assert!(fit(&[(5, 1.0), (5, 2.0)]).is_none(), "one timestamp has no slope");
    }
}
