//! Time windows: resolving `SINCE`/`UNTIL` against the sandbox clock and choosing
//! `TIMESERIES` buckets.

use chrono::{DateTime, Datelike, Duration as ChronoDuration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use newrelic_mcp_nrql::ast::{CalendarAnchor, TimePoint, TimeUnit, TimeseriesBucket};

use super::NrqlError;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// The most buckets New Relic returns in one timeseries.
pub const MAX_BUCKETS: i64 = 366;

/// Bucket widths New Relic picks from for automatic timeseries.
const AUTO_WIDTHS: [i64; 12] = [
    MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    7 * DAY,
    30 * DAY,
];

/// Buckets an automatic timeseries aims for at most.
const AUTO_TARGET_BUCKETS: i64 = 60;

fn start_of_day(epoch_ms: i64) -> i64 {
    epoch_ms - epoch_ms.rem_euclid(DAY)
}

fn utc(epoch_ms: i64) -> Result<DateTime<Utc>, NrqlError> {
    DateTime::from_timestamp_millis(epoch_ms)
        .ok_or_else(|| NrqlError::Invalid("time out of range".to_string()))
}

/// Resolves a time point to epoch milliseconds (UTC).
pub fn resolve(point: &TimePoint, now_ms: i64) -> Result<i64, NrqlError> {
    Ok(match point {
        TimePoint::Ago(duration) => {
            now_ms.saturating_sub(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
        }
        TimePoint::Now => now_ms,
        TimePoint::Today => start_of_day(now_ms),
        TimePoint::Yesterday => start_of_day(now_ms) - DAY,
        TimePoint::EpochMillis(value) => *value,
        TimePoint::Calendar { which, unit } => {
            let now = utc(now_ms)?;
            let today = now.date_naive();
            let start_of =
                |date: NaiveDate| Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default());
            let this_start = match unit {
                TimeUnit::Day => start_of(today),
                TimeUnit::Week => {
                    start_of(today - ChronoDuration::days(i64::from(today.weekday().num_days_from_monday())))
                }
                TimeUnit::Month => start_of(today.with_day(1).unwrap_or(today)),
                TimeUnit::Year => start_of(today.with_ordinal(1).unwrap_or(today)),
                TimeUnit::Hour => {
                    return Ok(match which {
                        CalendarAnchor::This => now_ms - now_ms.rem_euclid(HOUR),
                        CalendarAnchor::Last => now_ms - now_ms.rem_euclid(HOUR) - HOUR,
                    });
                }
                other => {
                    return Err(NrqlError::Unsupported(format!(
                        "THIS/LAST {}",
                        other.singular().to_uppercase()
                    )));
                }
            };
            match which {
                CalendarAnchor::This => this_start.timestamp_millis(),
                CalendarAnchor::Last => {
                    let previous = match unit {
                        TimeUnit::Day => this_start - ChronoDuration::days(1),
                        TimeUnit::Week => this_start - ChronoDuration::days(7),
                        TimeUnit::Month => {
                            let date = this_start.date_naive() - ChronoDuration::days(1);
                            start_of(date.with_day(1).unwrap_or(date))
                        }
                        _ => {
                            let date = this_start.date_naive() - ChronoDuration::days(1);
                            start_of(date.with_ordinal(1).unwrap_or(date))
                        }
                    };
                    previous.timestamp_millis()
                }
            }
        }
        TimePoint::DateTime(text) => parse_date_time(text)?,
        #[allow(unreachable_patterns)]
        _ => return Err(NrqlError::Unsupported("this form of SINCE/UNTIL".to_string())),
    })
}

fn parse_date_time(text: &str) -> Result<i64, NrqlError> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp_millis());
    }
    for format in
        ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%MZ", "%Y-%m-%dT%H:%M"]
    {
        if let Ok(time) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(time.and_utc().timestamp_millis());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_millis());
    }
    Err(NrqlError::Invalid(format!(
        "cannot read the date-time '{text}'; use 'YYYY-MM-DD hh:mm:ss' or ISO 8601"
    )))
}

/// How a time point is echoed in `metadata.timeWindow` (`1 HOUR AGO`, `NOW`, …).
pub fn describe(point: &TimePoint) -> String {
    match point {
        TimePoint::Ago(duration) => {
            let unit = if duration.amount == 1 { duration.unit.singular() } else { duration.unit.plural() };
            format!("{} {} AGO", duration.amount, unit.to_uppercase())
        }
        TimePoint::Now => "NOW".to_string(),
        TimePoint::Today => "TODAY".to_string(),
        TimePoint::Yesterday => "YESTERDAY".to_string(),
        TimePoint::EpochMillis(value) => value.to_string(),
        TimePoint::DateTime(text) => format!("'{text}'"),
        TimePoint::Calendar { which, unit } => format!(
            "{} {}",
            match which {
                CalendarAnchor::This => "THIS",
                CalendarAnchor::Last => "LAST",
            },
            unit.singular().to_uppercase()
        ),
        #[allow(unreachable_patterns)]
        _ => String::new(),
    }
}

/// The bucket width of a timeseries over a window of `span_ms`.
pub fn bucket_width(bucket: &TimeseriesBucket, span_ms: i64) -> Result<i64, NrqlError> {
    let width = match bucket {
        TimeseriesBucket::Every(duration) => i64::try_from(duration.as_millis()).unwrap_or(i64::MAX),
        TimeseriesBucket::Max => {
            AUTO_WIDTHS.iter().copied().find(|width| span_ms / width <= MAX_BUCKETS).unwrap_or(30 * DAY)
        }
        TimeseriesBucket::Default | TimeseriesBucket::Auto => AUTO_WIDTHS
            .iter()
            .copied()
            .find(|width| span_ms / width <= AUTO_TARGET_BUCKETS)
            .unwrap_or(30 * DAY),
        #[allow(unreachable_patterns)]
        _ => return Err(NrqlError::Unsupported("this TIMESERIES form".to_string())),
    };
    if width <= 0 {
        return Err(NrqlError::Invalid("TIMESERIES bucket must be longer than zero".to_string()));
    }
    let buckets = (span_ms + width - 1) / width;
    if buckets > MAX_BUCKETS {
        return Err(NrqlError::Invalid(format!(
            "TIMESERIES would produce {buckets} buckets; the maximum is {MAX_BUCKETS}: widen the bucket or narrow SINCE"
        )));
    }
    Ok(width)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use newrelic_mcp_nrql::ast::Duration;

    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn relative_points_resolve_against_the_clock() {
        let hour_ago = TimePoint::Ago(Duration { amount: 1, unit: TimeUnit::Hour });
        assert_eq!(resolve(&hour_ago, NOW).unwrap(), NOW - HOUR);
        assert_eq!(resolve(&TimePoint::Now, NOW).unwrap(), NOW);
        assert_eq!(resolve(&TimePoint::Today, NOW).unwrap(), start_of_day(NOW));
        assert_eq!(resolve(&TimePoint::Yesterday, NOW).unwrap(), start_of_day(NOW) - DAY);
        assert_eq!(
            resolve(&TimePoint::DateTime("2023-11-14 00:00:00".into()), NOW).unwrap(),
            1_699_920_000_000
        );
        assert_eq!(describe(&hour_ago), "1 HOUR AGO");
    }

    #[test]
    fn automatic_buckets_stay_within_limits() {
        assert_eq!(bucket_width(&TimeseriesBucket::Auto, HOUR).unwrap(), MINUTE);
        assert_eq!(bucket_width(&TimeseriesBucket::Default, DAY).unwrap(), 30 * MINUTE);
        assert_eq!(bucket_width(&TimeseriesBucket::Max, DAY).unwrap(), 5 * MINUTE);
        let too_fine = TimeseriesBucket::Every(Duration { amount: 1, unit: TimeUnit::Minute });
        assert!(bucket_width(&too_fine, 3 * DAY).is_err());
    }
}
