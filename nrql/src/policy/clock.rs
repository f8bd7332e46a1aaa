//! Resolves the time points of `SINCE` and `UNTIL` to epoch milliseconds against a given
//! "now", in UTC.
//!
//! New Relic resolves calendar words (`TODAY`, `THIS WEEK`, `MONDAY`) in the account's
//! time zone or the one named by `WITH TIMEZONE`; a server-side check cannot know the
//! account's zone, so it uses UTC. Weeks start on Monday (ISO 8601). Quoted date-times
//! without a zone suffix are read as UTC.

use crate::ast::{CalendarAnchor, TimePoint, TimeUnit, Weekday};

const SECOND_MS: i64 = 1_000;
const MINUTE_MS: i64 = 60 * SECOND_MS;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The instant `point` names, in milliseconds since the Unix epoch, with `now_epoch_ms`
/// as the present; `None` when a quoted date-time or time of day cannot be read.
///
/// Relative points (`1 hour ago`) subtract from now; `TODAY`, `YESTERDAY`, weekdays and
/// `THIS`/`LAST` periods resolve to the start of the day or period in UTC. Arithmetic
/// saturates, so absurd inputs give extreme instants rather than overflow.
pub fn resolve_time_point(point: &TimePoint, now_epoch_ms: i64) -> Option<i64> {
    let today = start_of_day(now_epoch_ms);
    match point {
        TimePoint::Ago(duration) => {
            let offset = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
            Some(now_epoch_ms.saturating_sub(offset))
        }
        TimePoint::Now => Some(now_epoch_ms),
        TimePoint::Today => Some(today),
        TimePoint::Yesterday => Some(today.saturating_sub(DAY_MS)),
        TimePoint::Weekday(day) => Some(most_recent(*day, now_epoch_ms)),
        TimePoint::Calendar { which, unit } => Some(period_start(*which, *unit, now_epoch_ms)),
        TimePoint::EpochMillis(millis) => Some(*millis),
        TimePoint::DateTime(text) => parse_date_time(text),
        TimePoint::DayAt { day, time } => {
            let midnight = resolve_time_point(day, now_epoch_ms)?;
            Some(midnight.saturating_add(parse_time_of_day(time)?))
        }
    }
}

/// Midnight UTC at the start of the day containing `epoch_ms`.
fn start_of_day(epoch_ms: i64) -> i64 {
    epoch_ms.div_euclid(DAY_MS).saturating_mul(DAY_MS)
}

/// Days since 1970-01-01 of the day containing `epoch_ms`.
fn day_number(epoch_ms: i64) -> i64 {
    epoch_ms.div_euclid(DAY_MS)
}

/// Monday = 0 … Sunday = 6 for a day number (1970-01-01 was a Thursday).
fn weekday_index(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

fn weekday_position(day: Weekday) -> i64 {
    match day {
        Weekday::Monday => 0,
        Weekday::Tuesday => 1,
        Weekday::Wednesday => 2,
        Weekday::Thursday => 3,
        Weekday::Friday => 4,
        Weekday::Saturday => 5,
        Weekday::Sunday => 6,
    }
}

/// Midnight at the start of the most recent `day`, today included.
fn most_recent(day: Weekday, now_epoch_ms: i64) -> i64 {
    let today = day_number(now_epoch_ms);
    let back = (weekday_index(today) - weekday_position(day)).rem_euclid(7);
    (today - back).saturating_mul(DAY_MS)
}

/// The start of the current (`THIS`) or previous (`LAST`) calendar period.
fn period_start(which: CalendarAnchor, unit: TimeUnit, now_epoch_ms: i64) -> i64 {
    let fixed = |length: i64| {
        let this = now_epoch_ms.div_euclid(length).saturating_mul(length);
        match which {
            CalendarAnchor::This => this,
            CalendarAnchor::Last => this.saturating_sub(length),
        }
    };
    let today = day_number(now_epoch_ms);
    let (year, month, _) = civil_from_days(today);
    // Months counted from year 0, so that stepping back crosses year boundaries.
    let month_index = year.saturating_mul(12) + i64::from(month) - 1;
    let month_start = |index: i64| {
        days_from_civil(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1).saturating_mul(DAY_MS)
    };
    let step = i64::from(which == CalendarAnchor::Last);
    match unit {
        TimeUnit::Millisecond => fixed(1),
        TimeUnit::Second => fixed(SECOND_MS),
        TimeUnit::Minute => fixed(MINUTE_MS),
        TimeUnit::Hour => fixed(HOUR_MS),
        TimeUnit::Day => fixed(DAY_MS),
        TimeUnit::Week => {
            let monday = today - weekday_index(today);
            (monday - 7 * step).saturating_mul(DAY_MS)
        }
        TimeUnit::Month => month_start(month_index - step),
        TimeUnit::Quarter => month_start(month_index - month_index.rem_euclid(3) - 3 * step),
        TimeUnit::Year => days_from_civil(year - step, 1, 1).saturating_mul(DAY_MS),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day number, as (year, month 1–12, day 1–31).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A small cursor over ASCII date-time text.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
    }

    /// Between `min` and `max` digits as a number.
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.at;
        let mut value: u32 = 0;
        while self.at - start < max
            && let Some(byte) = self.peek().filter(u8::is_ascii_digit)
        {
            value = value * 10 + u32::from(byte - b'0');
            self.at += 1;
        }
        (self.at - start >= min).then_some(value)
    }

    fn rest_eq_ignore_case(&self, word: &str) -> bool {
        self.bytes.get(self.at..).is_some_and(|rest| rest.eq_ignore_ascii_case(word.as_bytes()))
    }

    fn done(&self) -> bool {
        self.at == self.bytes.len()
    }
}

/// Reads `YYYY-MM-DD`, optionally followed (after a space or `T`) by `HH:MM[:SS[.fff]]`
/// and a zone: `Z`, `UTC`, `GMT`, `±HH:MM` or `±HHMM`. Without a zone the text is UTC.
fn parse_date_time(text: &str) -> Option<i64> {
    let mut cursor = Cursor { bytes: text.trim().as_bytes(), at: 0 };
    let year = cursor.digits(4, 4)?;
    let month = cursor.eat(b'-').then(|| cursor.digits(1, 2)).flatten()?;
    let day = cursor.eat(b'-').then(|| cursor.digits(1, 2)).flatten()?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(i64::from(year), month) {
        return None;
    }
    let mut millis = days_from_civil(i64::from(year), month, day) * DAY_MS;
    if cursor.done() {
        return Some(millis);
    }
    if !(cursor.eat(b'T') || cursor.eat(b't') || cursor.eat(b' ')) {
        return None;
    }
    cursor.skip_spaces();
    millis += clock_time(&mut cursor)?;
    cursor.skip_spaces();
    if cursor.done() || cursor.rest_eq_ignore_case("z") {
        return Some(millis);
    }
    if cursor.rest_eq_ignore_case("utc") || cursor.rest_eq_ignore_case("gmt") {
        return Some(millis);
    }
    let sign = match cursor.peek() {
        Some(b'+') => -1,
        Some(b'-') => 1,
        _ => return None,
    };
    cursor.at += 1;
    let hours = cursor.digits(2, 2)?;
    cursor.eat(b':');
    let minutes = cursor.digits(2, 2)?;
    if !cursor.done() || hours > 14 || minutes > 59 {
        return None;
    }
    // A zone ahead of UTC means the same wall-clock time happened earlier in UTC.
    Some(millis + sign * (i64::from(hours) * HOUR_MS + i64::from(minutes) * MINUTE_MS))
}

/// `H[H]:MM[:SS[.fff]]` as milliseconds after midnight.
fn clock_time(cursor: &mut Cursor<'_>) -> Option<i64> {
    let hours = cursor.digits(1, 2)?;
    let minutes = cursor.eat(b':').then(|| cursor.digits(2, 2)).flatten()?;
    let seconds = if cursor.eat(b':') { cursor.digits(2, 2)? } else { 0 };
    let mut fraction_ms = 0;
    if cursor.eat(b'.') {
        let start = cursor.at;
        let digits = cursor.digits(1, 9)?;
        let width = (cursor.at - start) as u32;
        fraction_ms = if width >= 3 { digits / 10u32.pow(width - 3) } else { digits * 10u32.pow(3 - width) };
    }
    if hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    Some(
        i64::from(hours) * HOUR_MS
            + i64::from(minutes) * MINUTE_MS
            + i64::from(seconds) * SECOND_MS
            + i64::from(fraction_ms),
    )
}

/// The time of `TODAY AT '13:30'`: `H[H]:MM[:SS]`, optionally with `am`/`pm`.
fn parse_time_of_day(text: &str) -> Option<i64> {
    let mut cursor = Cursor { bytes: text.trim().as_bytes(), at: 0 };
    let millis = clock_time(&mut cursor)?;
    cursor.skip_spaces();
    if cursor.done() {
        return Some(millis);
    }
    let is_pm = if cursor.rest_eq_ignore_case("pm") {
        true
    } else if cursor.rest_eq_ignore_case("am") {
        false
    } else {
        return None;
    };
    let hour = millis / HOUR_MS;
    if !(1..=12).contains(&hour) {
        return None;
    }
    let within_hour = millis % HOUR_MS;
    let hour24 = match (hour, is_pm) {
        (12, false) => 0,
        (12, true) => 12,
        (hour, true) => hour + 12,
        (hour, false) => hour,
    };
    Some(hour24 * HOUR_MS + within_hour)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::ast::Duration;

    /// Wednesday 2024-03-13 15:45:30.250 UTC.
    const NOW: i64 = 1_710_344_730_250;

    fn at(year: i64, month: u32, day: u32, hours: i64, minutes: i64) -> i64 {
        days_from_civil(year, month, day) * DAY_MS + hours * HOUR_MS + minutes * MINUTE_MS
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-800_000, -1, 0, 1, 59, 365, 11_016, 19_795, 2_932_896] {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days, "{days}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_795), (2024, 3, 13));
        assert_eq!(weekday_index(19_795), 2, "2024-03-13 was a Wednesday");
    }

    #[test]
    fn resolves_every_kind_of_time_point() {
        let day = |name: &str| TimePoint::Weekday(Weekday::from_word(name).unwrap());
        let calendar = |which, unit| TimePoint::Calendar { which, unit };
        let cases: Vec<(TimePoint, Option<i64>)> = vec![
            (TimePoint::Now, Some(NOW)),
            (TimePoint::Ago(Duration { amount: 90, unit: TimeUnit::Minute }), Some(NOW - 90 * MINUTE_MS)),
            (TimePoint::Ago(Duration { amount: u64::MAX, unit: TimeUnit::Year }), Some(NOW - i64::MAX)),
            (TimePoint::Today, Some(at(2024, 3, 13, 0, 0))),
            (TimePoint::Yesterday, Some(at(2024, 3, 12, 0, 0))),
            (day("wednesday"), Some(at(2024, 3, 13, 0, 0))),
            (day("monday"), Some(at(2024, 3, 11, 0, 0))),
            (day("thursday"), Some(at(2024, 3, 7, 0, 0))),
            (day("sunday"), Some(at(2024, 3, 10, 0, 0))),
            (calendar(CalendarAnchor::This, TimeUnit::Hour), Some(at(2024, 3, 13, 15, 0))),
            (calendar(CalendarAnchor::Last, TimeUnit::Day), Some(at(2024, 3, 12, 0, 0))),
            (calendar(CalendarAnchor::This, TimeUnit::Week), Some(at(2024, 3, 11, 0, 0))),
            (calendar(CalendarAnchor::Last, TimeUnit::Week), Some(at(2024, 3, 4, 0, 0))),
            (calendar(CalendarAnchor::This, TimeUnit::Month), Some(at(2024, 3, 1, 0, 0))),
            (calendar(CalendarAnchor::Last, TimeUnit::Month), Some(at(2024, 2, 1, 0, 0))),
            (calendar(CalendarAnchor::This, TimeUnit::Quarter), Some(at(2024, 1, 1, 0, 0))),
            (calendar(CalendarAnchor::Last, TimeUnit::Quarter), Some(at(2023, 10, 1, 0, 0))),
            (calendar(CalendarAnchor::This, TimeUnit::Year), Some(at(2024, 1, 1, 0, 0))),
            (calendar(CalendarAnchor::Last, TimeUnit::Year), Some(at(2023, 1, 1, 0, 0))),
            (TimePoint::EpochMillis(1_700_000_000_000), Some(1_700_000_000_000)),
            (TimePoint::DateTime("2024-01-01".into()), Some(at(2024, 1, 1, 0, 0))),
            (TimePoint::DateTime("2024-01-01 10:30:00".into()), Some(at(2024, 1, 1, 10, 30))),
            (TimePoint::DateTime("2023-12-20T00:04Z".into()), Some(at(2023, 12, 20, 0, 4))),
            (TimePoint::DateTime("2024-01-01T10:30:00+02:00".into()), Some(at(2024, 1, 1, 8, 30))),
            (TimePoint::DateTime("2024-01-01 10:30 -0130".into()), Some(at(2024, 1, 1, 12, 0))),
            (TimePoint::DateTime("2024-01-01 10:30:00.5 UTC".into()), Some(at(2024, 1, 1, 10, 30) + 500)),
            (TimePoint::DateTime("2024-02-29".into()), Some(at(2024, 2, 29, 0, 0))),
            (TimePoint::DateTime("2023-02-29".into()), None),
            (TimePoint::DateTime("2024-13-01".into()), None),
            (TimePoint::DateTime("2024-01-01 24:00".into()), None),
            (TimePoint::DateTime("yesterday-ish".into()), None),
            (TimePoint::DateTime("".into()), None),
            (
                TimePoint::DayAt { day: Box::new(TimePoint::Today), time: "09:15".into() },
                Some(at(2024, 3, 13, 9, 15)),
            ),
            (
                TimePoint::DayAt { day: Box::new(TimePoint::Yesterday), time: "1:05pm".into() },
                Some(at(2024, 3, 12, 13, 5)),
            ),
            (
                TimePoint::DayAt { day: Box::new(day("monday")), time: "12:00 am".into() },
                Some(at(2024, 3, 11, 0, 0)),
            ),
            (TimePoint::DayAt { day: Box::new(TimePoint::Today), time: "noon".into() }, None),
        ];
        for (point, expected) in cases {
            assert_eq!(resolve_time_point(&point, NOW), expected, "{point:?}");
        }
    }

    #[test]
    fn extreme_clocks_do_not_overflow() {
        for now in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX] {
            for unit in TimeUnit::ALL {
                for which in [CalendarAnchor::This, CalendarAnchor::Last] {
                    let _ = resolve_time_point(&TimePoint::Calendar { which, unit }, now);
                }
            }
            let _ = resolve_time_point(&TimePoint::Yesterday, now);
            let _ = resolve_time_point(&TimePoint::Weekday(Weekday::Sunday), now);
        }
    }
}
