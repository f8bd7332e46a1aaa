//! Natural time periods ("last 30 minutes", "yesterday", "2024-05-01 to 2024-05-02") to
//! epoch milliseconds. Pure: the current time is an argument. Calendar periods are in UTC.

use chrono::{
    DateTime, Datelike, Duration as ChronoDuration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};

/// A resolved period, `start <= end`, epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start_ms: i64,
    pub end_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot read the time period '{input}': {reason}. Try 'last 30 minutes', '2 hours ago', 'today', \
     'yesterday', 'this week', 'last month', '2024-05-01', or '2024-05-01 10:00 to 2024-05-01 12:00' (UTC)"
)]
pub struct PeriodError {
    pub input: String,
    pub reason: String,
}

const DAY_MS: i64 = 86_400_000;

/// Resolves `text` relative to `now_ms`.
pub fn parse_time_period(text: &str, now_ms: i64) -> Result<Period, PeriodError> {
    let fail = |reason: &str| PeriodError { input: text.to_string(), reason: reason.to_string() };
    let normalised = text.trim().to_lowercase().split_whitespace().collect::<Vec<_>>().join(" ");
    if normalised.is_empty() {
        return Err(fail("it is empty"));
    }
    let now = Utc.timestamp_millis_opt(now_ms).single().ok_or_else(|| fail("the clock is out of range"))?;

    if let Some((from, to)) = split_range(&normalised) {
        let start =
            parse_point(from, now).ok_or_else(|| fail("the start of the range is not a date or time"))?;
        let end = parse_point(to, now).ok_or_else(|| fail("the end of the range is not a date or time"))?;
        if start.start_ms > end.start_ms {
            return Err(fail("the range ends before it starts"));
        }
        return Ok(Period { start_ms: start.start_ms, end_ms: end.end_ms });
    }
    // Named periods first: "last week" is the calendar week, not the last seven days.
    if let Some(period) = parse_named(&normalised, now) {
        return Ok(period);
    }
    if let Some(period) = parse_relative(&normalised, now_ms)? {
        return Ok(period);
    }
    parse_point(&normalised, now)
        .ok_or_else(|| fail("it is neither a relative period, a named period nor a date"))
}

fn split_range(text: &str) -> Option<(&str, &str)> {
    let text = text.strip_prefix("from ").or_else(|| text.strip_prefix("between ")).unwrap_or(text);
    [" to ", " until ", " and ", " - "].iter().find_map(|separator| text.split_once(separator))
}

fn unit_ms(word: &str) -> Option<i64> {
    let word = word.trim_end_matches('s');
    Some(match word {
        "second" | "sec" => 1_000,
        "minute" | "min" => 60_000,
        "hour" | "hr" | "h" => 3_600_000,
        "day" | "d" => DAY_MS,
        "week" | "wk" | "w" => 7 * DAY_MS,
        "month" => 30 * DAY_MS,
        "year" | "yr" => 365 * DAY_MS,
        _ => return None,
    })
}

/// `last 30 minutes`, `past hour`, `3 days ago`, `last 2h`.
fn parse_relative(text: &str, now_ms: i64) -> Result<Option<Period>, PeriodError> {
    let body = text
        .strip_prefix("last ")
        .or_else(|| text.strip_prefix("past "))
        .or_else(|| text.strip_prefix("the last "))
        .or_else(|| text.strip_prefix("the past "))
        .or_else(|| text.strip_suffix(" ago"));
    let Some(body) = body else { return Ok(None) };
    let mut words: Vec<&str> = body.split(' ').collect();
    // `last 2h`: split a glued number and unit.
    if words.len() == 1 {
        let split = words[0].find(|c: char| !c.is_ascii_digit()).unwrap_or(words[0].len());
        if split > 0 && split < words[0].len() {
            let (number, unit) = words[0].split_at(split);
            words = vec![number, unit];
        }
    }
    let (count, unit) = match words.as_slice() {
        [unit] => (1, *unit),
        [number, unit] => match number.parse::<i64>() {
            Ok(n) => (n, *unit),
            Err(_) if matches!(*number, "a" | "an" | "one") => (1, *unit),
            Err(_) => return Ok(None),
        },
        _ => return Ok(None),
    };
    let Some(unit) = unit_ms(unit) else { return Ok(None) };
    if count <= 0 {
        return Err(PeriodError { input: text.to_string(), reason: "the amount must be positive".into() });
    }
    let span = count.checked_mul(unit).filter(|span| *span <= 100 * 365 * DAY_MS).ok_or_else(|| {
        PeriodError { input: text.to_string(), reason: "the period is longer than a century".into() }
    })?;
    Ok(Some(Period { start_ms: now_ms - span, end_ms: now_ms }))
}

fn midnight(date: NaiveDate) -> i64 {
    date.and_time(NaiveTime::MIN).and_utc().timestamp_millis()
}

fn parse_named(text: &str, now: DateTime<Utc>) -> Option<Period> {
    let today = now.date_naive();
    let now_ms = now.timestamp_millis();
    let week_start = today - ChronoDuration::days(i64::from(today.weekday().num_days_from_monday()));
    let month_start = today.with_day(1)?;
    let previous_month_start = (month_start - ChronoDuration::days(1)).with_day(1)?;
    Some(match text {
        "now" => Period { start_ms: now_ms, end_ms: now_ms },
        "today" => Period { start_ms: midnight(today), end_ms: now_ms },
        "yesterday" => Period { start_ms: midnight(today) - DAY_MS, end_ms: midnight(today) },
        "this week" => Period { start_ms: midnight(week_start), end_ms: now_ms },
        "last week" | "previous week" => {
            Period { start_ms: midnight(week_start) - 7 * DAY_MS, end_ms: midnight(week_start) }
        }
        "this month" => Period { start_ms: midnight(month_start), end_ms: now_ms },
        "last month" | "previous month" => {
            Period { start_ms: midnight(previous_month_start), end_ms: midnight(month_start) }
        }
        _ => return None,
    })
}

/// A date (the whole day), a date-time (an instant), epoch milliseconds, or a named/relative point.
fn parse_point(text: &str, now: DateTime<Utc>) -> Option<Period> {
    let text = text.trim();
    if let Ok(epoch) = text.parse::<i64>() {
        // Ten digits or fewer read as seconds, the way people paste them.
        let ms = if epoch.abs() < 10_000_000_000 { epoch * 1000 } else { epoch };
        return Some(Period { start_ms: ms, end_ms: ms });
    }
    if let Ok(instant) = DateTime::parse_from_rfc3339(&text.to_uppercase()) {
        let ms = instant.timestamp_millis();
        return Some(Period { start_ms: ms, end_ms: ms });
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dt%H:%M:%S", "%Y-%m-%dt%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            let ms = naive.and_utc().timestamp_millis();
            return Some(Period { start_ms: ms, end_ms: ms });
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(Period { start_ms: midnight(date), end_ms: midnight(date) + DAY_MS });
    }
    if let Some(period) = parse_named(text, now) {
        return Some(period);
    }
    if let Ok(Some(period)) = parse_relative(text, now.timestamp_millis()) {
        // As one end of a range, "2 hours ago" is the instant, not the span.
        return Some(Period { start_ms: period.start_ms, end_ms: period.start_ms });
    }
    None
}

/// Formats epoch milliseconds as an ISO-8601 UTC timestamp.
pub fn iso(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms).single().map(|t| t.to_rfc3339()).unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    // 2024-05-15T12:30:00Z, a Wednesday.
    const NOW: i64 = 1_715_776_200_000;
    const MIDNIGHT: i64 = 1_715_731_200_000;
    const MIN: i64 = 60_000;
    const HOUR: i64 = 3_600_000;

    #[test]
    fn resolves_periods() {
        let cases: &[(&str, i64, i64)] = &[
            ("last 30 minutes", NOW - 30 * MIN, NOW),
            ("Last 30 Minutes", NOW - 30 * MIN, NOW),
            ("past hour", NOW - HOUR, NOW),
            ("last hour", NOW - HOUR, NOW),
            ("the last 2 hours", NOW - 2 * HOUR, NOW),
            ("last 2h", NOW - 2 * HOUR, NOW),
            ("3 days ago", NOW - 3 * DAY_MS, NOW),
            ("an hour ago", NOW - HOUR, NOW),
            ("last 1 week", NOW - 7 * DAY_MS, NOW),
            ("last 45 seconds", NOW - 45_000, NOW),
            ("today", MIDNIGHT, NOW),
            ("yesterday", MIDNIGHT - DAY_MS, MIDNIGHT),
            ("this week", MIDNIGHT - 2 * DAY_MS, NOW),
            ("last week", MIDNIGHT - 9 * DAY_MS, MIDNIGHT - 2 * DAY_MS),
            ("this month", MIDNIGHT - 14 * DAY_MS, NOW),
            ("last month", MIDNIGHT - 14 * DAY_MS - 30 * DAY_MS, MIDNIGHT - 14 * DAY_MS),
            ("now", NOW, NOW),
            ("2024-05-01", 1_714_521_600_000, 1_714_521_600_000 + DAY_MS),
            ("2024-05-01 10:00 to 2024-05-01 12:00", 1_714_557_600_000, 1_714_564_800_000),
            ("from 2024-05-01 to 2024-05-02", 1_714_521_600_000, 1_714_521_600_000 + 2 * DAY_MS),
            ("2024-05-01T10:00:00Z to 2024-05-01T11:00:00Z", 1_714_557_600_000, 1_714_561_200_000),
            ("1714557600 to 1714561200", 1_714_557_600_000, 1_714_561_200_000),
            ("2 hours ago to 1 hour ago", NOW - 2 * HOUR, NOW - HOUR),
            ("yesterday to today", MIDNIGHT - DAY_MS, NOW),
        ];
        for (text, start, end) in cases {
            let period = parse_time_period(text, NOW).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((period.start_ms, period.end_ms), (*start, *end), "{text}");
        }
    }

    #[test]
    fn refuses_what_it_cannot_read_and_says_what_works() {
        for text in [
            "",
            "   ",
            "soon",
            "last 0 minutes",
            "last -5 minutes",
            "last 99999999999 years",
            "2024-13-45",
            "2024-05-02 to 2024-05-01",
            "last 5 fortnights",
        ] {
            let error = parse_time_period(text, NOW).unwrap_err();
            assert!(error.to_string().contains("Try 'last 30 minutes'"), "{text}: {error}");
        }
    }

    #[test]
    fn formats_iso() {
        assert_eq!(iso(NOW), "2024-05-15T12:30:00+00:00");
    }
}
