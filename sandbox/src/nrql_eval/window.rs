//! Time windows: resolving `SINCE`/`UNTIL` against the sandbox clock (in the zone of
//! `WITH TIMEZONE`) and laying out `TIMESERIES` buckets and `SLIDE BY` windows.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use newrelic_mcp_nrql::ast::{CalendarAnchor, SlideBy, TimePoint, Timeseries, TimeseriesBucket};
use newrelic_mcp_nrql::policy::resolve_time_point;

use super::NrqlError;
use super::aggregate::TimeRange;

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

/// The zone calendar points are read in: the one `WITH TIMEZONE` names, or UTC.
pub fn zone(name: Option<&str>) -> Result<Tz, NrqlError> {
    match name {
        None => Ok(Tz::UTC),
        Some(name) => name.parse::<Tz>().map_err(|_| {
            NrqlError::Invalid(format!(
                "WITH TIMEZONE '{name}' is not a known time zone; use an IANA name such as 'America/New_York'"
            ))
        }),
    }
}

/// Resolves a time point to epoch milliseconds. Relative points (`1 hour ago`, `NOW`)
/// and epoch values are instants; calendar points (`TODAY`, `THIS WEEK`, `MONDAY AT
/// '09:00'`) and date-times written without a zone are read on `zone`'s wall clock.
pub fn resolve(point: &TimePoint, now_ms: i64, zone: Tz) -> Result<i64, NrqlError> {
    match point {
        TimePoint::Ago(_) | TimePoint::Now | TimePoint::EpochMillis(_) => resolve_on_utc_clock(point, now_ms),
        TimePoint::DateTime(text) => match parse_date_time(text)? {
            Written::Instant(instant) => Ok(instant),
            Written::WallClock(wall) => Ok(wall_clock_to_instant(wall, zone)),
        },
        calendar => {
            let wall_now = now_ms.saturating_add(offset_ms(zone, now_ms));
            Ok(wall_clock_to_instant(resolve_on_utc_clock(calendar, wall_now)?, zone))
        }
    }
}

fn resolve_on_utc_clock(point: &TimePoint, now_ms: i64) -> Result<i64, NrqlError> {
    resolve_time_point(point, now_ms).ok_or_else(|| {
        NrqlError::Invalid(format!(
            "cannot read the time '{}'; write times of day as 'HH:MM' or 'HH:MM:SS'",
            describe(point)
        ))
    })
}

/// How far `zone`'s wall clock is ahead of UTC at an instant, in milliseconds.
fn offset_ms(zone: Tz, instant_ms: i64) -> i64 {
    zone.timestamp_millis_opt(instant_ms)
        .single()
        .map_or(0, |time| i64::from(time.offset().fix().local_minus_utc()) * 1000)
}

/// The instant `zone`'s wall clock reads `wall_ms` (wall-clock milliseconds counted as if
/// UTC). A time repeated when clocks go back is its first occurrence; a time skipped when
/// they go forward is read with the offset from before the change.
fn wall_clock_to_instant(wall_ms: i64, zone: Tz) -> i64 {
    let Some(naive) = DateTime::from_timestamp_millis(wall_ms).map(|time| time.naive_utc()) else {
        return wall_ms;
    };
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(time) | LocalResult::Ambiguous(time, _) => time.timestamp_millis(),
        LocalResult::None => wall_ms.saturating_sub(offset_ms(zone, wall_ms.saturating_sub(DAY))),
    }
}

/// A quoted date-time: an instant when written with a zone, wall-clock time otherwise.
enum Written {
    Instant(i64),
    WallClock(i64),
}

fn parse_date_time(text: &str) -> Result<Written, NrqlError> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(Written::Instant(time.timestamp_millis()));
    }
    if let Ok(time) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%MZ") {
        return Ok(Written::Instant(time.and_utc().timestamp_millis()));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Written::WallClock(time.and_utc().timestamp_millis()));
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        return Ok(Written::WallClock(midnight.and_utc().timestamp_millis()));
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
        TimePoint::Weekday(day) => day.as_str().to_string(),
        TimePoint::DayAt { day, time } => format!("{} AT '{time}'", describe(day)),
    }
}

fn auto_width(span_ms: i64) -> i64 {
    AUTO_WIDTHS.iter().copied().find(|width| span_ms / width <= AUTO_TARGET_BUCKETS).unwrap_or(30 * DAY)
}

fn finest_width(span_ms: i64) -> i64 {
    AUTO_WIDTHS.iter().copied().find(|width| span_ms / width <= MAX_BUCKETS).unwrap_or(30 * DAY)
}

/// The windows of a timeseries over `[begin, end)`. Without `SLIDE BY` they tile the
/// range; with it a window of the bucket's width starts every step (so windows overlap),
/// the last ones cut at `end`.
pub fn buckets(timeseries: &Timeseries, begin: i64, end: i64) -> Result<Vec<TimeRange>, NrqlError> {
    let span = end - begin;
    let width = bucket_width(&timeseries.bucket, span)?;
    let step = match &timeseries.slide_by {
        None => width,
        Some(SlideBy::Auto) => auto_width(span),
        Some(SlideBy::Max) => finest_width(span),
        Some(SlideBy::Every(duration)) => {
            let step = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
            if step <= 0 || step > width || width % step != 0 {
                return Err(NrqlError::Invalid(
                    "SLIDE BY must be longer than zero and divide the TIMESERIES bucket evenly, e.g. TIMESERIES 5 minutes SLIDE BY 1 minute".to_string(),
                ));
            }
            step
        }
    };
    let count = (span + step - 1) / step;
    if count > MAX_BUCKETS {
        return Err(NrqlError::Invalid(format!(
            "TIMESERIES … SLIDE BY would produce {count} windows; the maximum is {MAX_BUCKETS}: slide by more or narrow SINCE"
        )));
    }
    let mut windows = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let mut start = begin;
    while start < end {
        windows.push(TimeRange { begin: start, end: start.saturating_add(width).min(end) });
        start = start.saturating_add(step);
    }
    Ok(windows)
}

/// The bucket width of a timeseries over a window of `span_ms`.
pub fn bucket_width(bucket: &TimeseriesBucket, span_ms: i64) -> Result<i64, NrqlError> {
    let width = match bucket {
        TimeseriesBucket::Every(duration) => i64::try_from(duration.as_millis()).unwrap_or(i64::MAX),
        TimeseriesBucket::Max => finest_width(span_ms),
        TimeseriesBucket::Default | TimeseriesBucket::Auto => auto_width(span_ms),
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

    use newrelic_mcp_nrql::ast::{Duration, TimeUnit};

    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn relative_points_resolve_against_the_clock() {
        let hour_ago = TimePoint::Ago(Duration { amount: 1, unit: TimeUnit::Hour });
        assert_eq!(resolve(&hour_ago, NOW, Tz::UTC).unwrap(), NOW - HOUR);
        assert_eq!(resolve(&TimePoint::Now, NOW, Tz::UTC).unwrap(), NOW);
        let start_of_day = NOW - NOW.rem_euclid(DAY);
        assert_eq!(resolve(&TimePoint::Today, NOW, Tz::UTC).unwrap(), start_of_day);
        assert_eq!(resolve(&TimePoint::Yesterday, NOW, Tz::UTC).unwrap(), start_of_day - DAY);
        assert_eq!(
            resolve(&TimePoint::DateTime("2023-11-14 00:00:00".into()), NOW, Tz::UTC).unwrap(),
            1_699_920_000_000
        );
        assert_eq!(describe(&hour_ago), "1 HOUR AGO");
    }

    #[test]
    fn calendar_points_follow_the_time_zone() {
        // NOW is 2023-11-14 22:13:20 UTC: 17:13 in New York (UTC-5), 07:13 next day in Tokyo.
        let new_york = zone(Some("America/New_York")).unwrap();
        let tokyo = zone(Some("Asia/Tokyo")).unwrap();
        let date_time = |text: &str| TimePoint::DateTime(text.to_string());
        let cases = [
            (TimePoint::Today, new_york, 1_699_938_000_000),
            (TimePoint::Today, tokyo, 1_699_974_000_000),
            (TimePoint::Yesterday, tokyo, 1_699_887_600_000),
            (date_time("2023-11-14 00:00:00"), tokyo, 1_699_887_600_000),
            (date_time("2023-11-14T00:00:00Z"), tokyo, 1_699_920_000_000),
            (date_time("2023-11-14T00:00:00+01:00"), new_york, 1_699_916_400_000),
            (TimePoint::Now, tokyo, NOW),
            // Clocks went forward at 02:00 on 2023-03-12 in New York: 02:30 is read as EST.
            (date_time("2023-03-12 02:30:00"), new_york, 1_678_606_200_000),
        ];
        for (point, zone, expected) in cases {
            assert_eq!(resolve(&point, NOW, zone).unwrap(), expected, "{point:?} in {zone}");
        }
        assert!(super::zone(Some("Mars/Olympus_Mons")).is_err());
    }

    #[test]
    fn slide_by_windows_overlap() {
        let every = |amount| Duration { amount, unit: TimeUnit::Minute };
        let timeseries = |slide| Timeseries { bucket: TimeseriesBucket::Every(every(10)), slide_by: slide };
        let windows = buckets(&timeseries(Some(SlideBy::Every(every(5)))), 0, 30 * MINUTE).unwrap();
        let spans: Vec<(i64, i64)> = windows.iter().map(|w| (w.begin / MINUTE, w.end / MINUTE)).collect();
        assert_eq!(spans, [(0, 10), (5, 15), (10, 20), (15, 25), (20, 30), (25, 30)]);
        let tiles = buckets(&timeseries(None), 0, 30 * MINUTE).unwrap();
        assert_eq!(tiles.len(), 3);
        assert!(buckets(&timeseries(Some(SlideBy::Every(every(3)))), 0, HOUR).is_err());
        assert!(buckets(&timeseries(Some(SlideBy::Every(every(20)))), 0, HOUR).is_err());
        let max = buckets(&timeseries(Some(SlideBy::Max)), 0, HOUR).unwrap();
        assert_eq!(max.len(), 60);
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
