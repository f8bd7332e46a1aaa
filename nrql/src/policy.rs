//! The server's query policy: a pure check every NRQL query passes before it leaves the
//! server.
//!
//! A [`Policy`] bounds what one query may cost or reach: how far back in time it looks,
//! how many rows it returns, how many subqueries it runs, which event types and which
//! accounts it reads. Every refusal is a [`PolicyViolation`] that names the rule and says
//! how to write a query that complies, so an agent can fix its query in one step.

mod clock;

use std::fmt::Write as _;
use std::time::Duration;

use crate::ast::{self, FromClause, Limit, Query, SelectQuery, TimePoint};

pub use clock::resolve_time_point;

/// The most rows New Relic returns for one query (`LIMIT MAX`).
pub const NEW_RELIC_MAX_LIMIT: u32 = 5_000;

/// The most accounts one cross-account NRQL query may target.
pub const NEW_RELIC_MAX_ACCOUNTS: usize = 5;

/// How far back a query reaches when it has no `SINCE`.
const DEFAULT_SINCE: Duration = Duration::from_secs(60 * 60);

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// What one query may do. [`Policy::default`] allows 30 days, 1,000 rows, 3 subqueries,
/// every event type and every account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The longest time window a query may cover, `COMPARE WITH` offset included.
    pub max_window: Duration,
    /// The largest `LIMIT`. Values above [`NEW_RELIC_MAX_LIMIT`] count as that.
    pub max_limit: u32,
    /// The most subqueries one query may run (New Relic allows 3).
    pub max_subqueries: usize,
    /// When set, the only event types a query may read, case-sensitive as NRQL is.
    pub allowed_event_types: Option<Vec<String>>,
    /// When set, the only accounts a call may target.
    pub allowed_accounts: Option<Vec<i64>>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_window: DAY * 30,
            max_limit: 1_000,
            max_subqueries: 3,
            allowed_event_types: None,
            allowed_accounts: None,
        }
    }
}

/// Why a query or call was refused, and how to comply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    /// The query (or one of its subqueries) covers more time than allowed.
    #[error("{}", window_message(*.span, *.limit, .compare_with.as_ref(), *.has_until, *.in_subquery))]
    WindowTooLong {
        /// The time covered, from the earliest instant read (the comparison window's start
        /// under `COMPARE WITH`) to `UNTIL`.
        span: Duration,
        /// The policy's [`Policy::max_window`].
        limit: Duration,
        /// The `COMPARE WITH` offset that widened the window, if any.
        compare_with: Option<ast::Duration>,
        /// Whether the query sets `UNTIL`.
        has_until: bool,
        /// Whether the offending window belongs to a subquery.
        in_subquery: bool,
    },
    /// A quoted `SINCE`/`UNTIL` time that cannot be read, so the window is unknown.
    #[error(
        "{clause} '{text}' is not a time this server can read: write 'YYYY-MM-DD HH:MM:SS' (UTC unless it ends in Z or ±HH:MM), epoch milliseconds, or a relative time such as 1 day ago"
    )]
    UnreadableTime {
        /// `SINCE` or `UNTIL`.
        clause: &'static str,
        /// The time as written.
        text: String,
    },
    /// `LIMIT n` or `LIMIT MAX` above the cap, in the query or in one of its subqueries.
    #[error("{}{} is above this server's cap of {cap}: use LIMIT {cap} or fewer, or add FACET/WHERE to narrow", if *.in_subquery { "a subquery's " } else { "" }, limit_text(*.requested))]
    LimitTooHigh {
        /// The limit the query asks for.
        requested: Limit,
        /// The effective cap ([`Policy::effective_max_limit`]).
        cap: u32,
        /// Whether the limit belongs to a subquery.
        in_subquery: bool,
    },
    /// More subqueries than allowed.
    #[error("{}", subquery_message(*.count, *.max))]
    TooManySubqueries {
        /// Subqueries in the query, counted by [`crate::subquery_count`].
        count: usize,
        /// The policy's [`Policy::max_subqueries`].
        max: usize,
    },
    /// An event type outside the allow-list.
    #[error("event type '{event_type}' is not allowed here; allowed: {}", list_or_none(.allowed))]
    EventTypeNotAllowed {
        /// The refused event type.
        event_type: String,
        /// The allow-list.
        allowed: Vec<String>,
    },
    /// `SHOW EVENT TYPES` while event types are restricted: it would name every event type
    /// of the account, the restricted ones included.
    #[error(
        "SHOW EVENT TYPES is not allowed here, because this server restricts what queries read; allowed event types: {}",
        list_or_none(.allowed)
    )]
    ShowEventTypesNotAllowed {
        /// The event type allow-list.
        allowed: Vec<String>,
    },
    /// `FROM lookup(…)` while event types are restricted.
    #[error(
        "lookup table '{table}' is not allowed here, because this server restricts what queries read; allowed event types: {}",
        list_or_none(.allowed)
    )]
    LookupNotAllowed {
        /// The lookup table.
        table: String,
        /// The event type allow-list.
        allowed: Vec<String>,
    },
    /// A targeted account outside the allow-list.
    #[error("account {account} is not allowed here; allowed: {}", list_or_none(.allowed))]
    AccountNotAllowed {
        /// The refused account id.
        account: i64,
        /// The allow-list.
        allowed: Vec<i64>,
    },
    /// More accounts than one cross-account query may target.
    #[error(
        "the call targets {count} accounts, more than the {max} one NRQL query may span: split the accounts across several calls"
    )]
    TooManyAccounts {
        /// Accounts the call targets.
        count: usize,
        /// [`NEW_RELIC_MAX_ACCOUNTS`].
        max: usize,
    },
}

impl Policy {
    /// The `LIMIT` cap in force: [`Policy::max_limit`] clamped to New Relic's 5,000.
    pub fn effective_max_limit(&self) -> u32 {
        self.max_limit.min(NEW_RELIC_MAX_LIMIT)
    }

    /// Checks `query` against every query rule, with `now_epoch_ms` as the present (UTC).
    /// Returns the first violation; [`Policy::violations`] lists them all.
    pub fn check(&self, query: &Query, now_epoch_ms: i64) -> Result<(), PolicyViolation> {
        match self.violations(query, now_epoch_ms).into_iter().next() {
            Some(violation) => Err(violation),
            None => Ok(()),
        }
    }

    /// Checks a call: the query rules and the accounts rule for the accounts it targets.
    pub fn check_call(
        &self,
        query: &Query,
        accounts: &[i64],
        now_epoch_ms: i64,
    ) -> Result<(), PolicyViolation> {
        self.check_accounts(accounts)?;
        self.check(query, now_epoch_ms)
    }

    /// Checks the accounts a call targets: at most [`NEW_RELIC_MAX_ACCOUNTS`], each in
    /// [`Policy::allowed_accounts`] when that is set.
    pub fn check_accounts(&self, accounts: &[i64]) -> Result<(), PolicyViolation> {
        if let Some(allowed) = &self.allowed_accounts
            && let Some(account) = accounts.iter().find(|account| !allowed.contains(account))
        {
            return Err(PolicyViolation::AccountNotAllowed { account: *account, allowed: allowed.clone() });
        }
        let mut distinct = accounts.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() > NEW_RELIC_MAX_ACCOUNTS {
            return Err(PolicyViolation::TooManyAccounts {
                count: distinct.len(),
                max: NEW_RELIC_MAX_ACCOUNTS,
            });
        }
        Ok(())
    }

    /// Every rule `query` breaks, in this order: event types, subqueries, `LIMIT`, time
    /// window. Empty when the query complies.
    pub fn violations(&self, query: &Query, now_epoch_ms: i64) -> Vec<PolicyViolation> {
        let mut found = Vec::new();
        match query {
            // Listing event types reads no events, but it names every one of them.
            Query::ShowEventTypes(show) => {
                if let Some(allowed) = &self.allowed_event_types {
                    found.push(PolicyViolation::ShowEventTypesNotAllowed { allowed: allowed.clone() });
                }
                let window = self.window_violation(
                    show.since.as_ref(),
                    show.until.as_ref(),
                    None,
                    false,
                    now_epoch_ms,
                );
                found.extend(window);
            }
            Query::Select(select) => {
                self.source_violations(select, &mut found);
                let count = crate::subquery_count(query);
                if count > self.max_subqueries {
                    found.push(PolicyViolation::TooManySubqueries { count, max: self.max_subqueries });
                }
                // A subquery's rows feed the outer query, yet New Relic still reads and keeps
                // them: every LIMIT is held to the same cap.
                self.limit_violations(select, &mut found);
                self.window_violations(select, now_epoch_ms, &mut found);
            }
        }
        found
    }

    fn source_violations(&self, select: &SelectQuery, found: &mut Vec<PolicyViolation>) {
        let Some(allowed) = &self.allowed_event_types else {
            return;
        };
        for event_type in select.event_types() {
            if !allowed.iter().any(|name| name == event_type) {
                found.push(PolicyViolation::EventTypeNotAllowed {
                    event_type: event_type.to_owned(),
                    allowed: allowed.clone(),
                });
            }
        }
        select.visit_queries(&mut |query| {
            if let FromClause::Lookup(table) = &query.from {
                found.push(PolicyViolation::LookupNotAllowed {
                    table: table.clone(),
                    allowed: allowed.clone(),
                });
            }
        });
    }

    fn limit_violations(&self, outer: &SelectQuery, found: &mut Vec<PolicyViolation>) {
        let mut is_outer = true;
        outer.visit_queries(&mut |query| {
            found.extend(self.limit_violation(query.limit, !is_outer));
            is_outer = false;
        });
    }

    fn limit_violation(&self, limit: Option<Limit>, in_subquery: bool) -> Option<PolicyViolation> {
        let requested = limit?;
        let cap = self.effective_max_limit();
        let too_high = match requested {
            Limit::Count(count) => count > u64::from(cap),
            Limit::Max => cap < NEW_RELIC_MAX_LIMIT,
        };
        too_high.then_some(PolicyViolation::LimitTooHigh { requested, cap, in_subquery })
    }

    /// The window rule for the outer query and for every subquery that sets its own time
    /// bounds (a subquery without them runs in the outer query's window).
    fn window_violations(&self, outer: &SelectQuery, now_epoch_ms: i64, found: &mut Vec<PolicyViolation>) {
        let mut is_outer = true;
        outer.visit_queries(&mut |query| {
            let own_bounds = query.since.is_some() || query.until.is_some() || query.compare_with.is_some();
            if is_outer || own_bounds {
                let violation = self.window_violation(
                    query.since.as_ref(),
                    query.until.as_ref(),
                    query.compare_with.as_ref(),
                    !is_outer,
                    now_epoch_ms,
                );
                found.extend(violation);
            }
            is_outer = false;
        });
    }

    fn window_violation(
        &self,
        since: Option<&TimePoint>,
        until: Option<&TimePoint>,
        compare_with: Option<&ast::Duration>,
        in_subquery: bool,
        now_epoch_ms: i64,
    ) -> Option<PolicyViolation> {
        let resolve = |clause: &'static str, point: &TimePoint| {
            resolve_time_point(point, now_epoch_ms)
                .ok_or_else(|| PolicyViolation::UnreadableTime { clause, text: time_text(point) })
        };
        let start = match since {
            Some(point) => match resolve("SINCE", point) {
                Ok(start) => start,
                Err(violation) => return Some(violation),
            },
            None => now_epoch_ms.saturating_sub(DEFAULT_SINCE.as_millis() as i64),
        };
        let end = match until {
            Some(point) => match resolve("UNTIL", point) {
                Ok(end) => end,
                Err(violation) => return Some(violation),
            },
            None => now_epoch_ms,
        };
        let own = u64::try_from(i128::from(end) - i128::from(start)).unwrap_or(0);
        let span_ms = own.saturating_add(compare_with.map_or(0, ast::Duration::as_millis));
        let span = Duration::from_millis(span_ms);
        (span > self.max_window).then(|| PolicyViolation::WindowTooLong {
            span,
            limit: self.max_window,
            compare_with: compare_with.copied(),
            has_until: until.is_some(),
            in_subquery,
        })
    }
}

fn time_text(point: &TimePoint) -> String {
    match point {
        TimePoint::DateTime(text) => text.clone(),
        TimePoint::DayAt { time, .. } => time.clone(),
        other => format!("{other:?}"),
    }
}

fn limit_text(limit: Limit) -> String {
    match limit {
        Limit::Count(count) => format!("LIMIT {count}"),
        Limit::Max => format!("LIMIT MAX ({NEW_RELIC_MAX_LIMIT} rows)"),
    }
}

fn list_or_none<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    let mut out = String::new();
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{item}");
    }
    out
}

fn subquery_message(count: usize, max: usize) -> String {
    let noun = if count == 1 { "subquery" } else { "subqueries" };
    if max == 0 {
        format!(
            "the query runs {count} {noun}, and this server allows none: run each subquery as a separate query and use its result as a literal"
        )
    } else {
        format!(
            "the query runs {count} {noun}, more than this server's limit of {max}: run some as separate queries and use their results as literals"
        )
    }
}

fn window_message(
    span: Duration,
    limit: Duration,
    compare_with: Option<&ast::Duration>,
    has_until: bool,
    in_subquery: bool,
) -> String {
    let subject = if in_subquery { "a subquery" } else { "the query" };
    let mut message = format!("{subject} spans {}", describe_span(span));
    if let Some(offset) = compare_with {
        let unit = if offset.amount == 1 { offset.unit.singular() } else { offset.unit.plural() };
        let _ = write!(message, " including COMPARE WITH {} {unit} ago", offset.amount);
    }
    let _ = write!(message, ", more than this server's {} limit: ", describe_limit(limit));
    let example = example_since(limit, compare_with);
    match (compare_with, has_until) {
        (Some(_), _) => message.push_str("narrow SINCE or use a shorter COMPARE WITH offset"),
        (None, true) => message.push_str("move SINCE and UNTIL closer together"),
        (None, false) => message.push_str("narrow SINCE"),
    }
    if let Some(example) = example
        && !has_until
    {
        let _ = write!(message, " (e.g. {example})");
    }
    message
}

/// Whole units in which spans are described, largest first.
const UNITS: [(u128, &str, &str); 4] = [
    (86_400_000, "day", "days"),
    (3_600_000, "hour", "hours"),
    (60_000, "minute", "minutes"),
    (1_000, "second", "seconds"),
];

/// "45 days", "36 hours", "2.5 days": rounded up to a tenth, so a span just over a
/// limit never reads as equal to it.
fn describe_span(span: Duration) -> String {
    let millis = span.as_millis();
    let (unit_ms, singular, plural) = UNITS
        .into_iter()
        .find(|(unit_ms, _, _)| millis >= *unit_ms)
        .unwrap_or((1, "millisecond", "milliseconds"));
    let tenths = (millis * 10).div_ceil(unit_ms);
    let noun = if tenths == 10 { singular } else { plural };
    if tenths % 10 == 0 {
        format!("{} {noun}", tenths / 10)
    } else {
        format!("{}.{} {noun}", tenths / 10, tenths % 10)
    }
}

/// "30-day", "36-hour", "90-minute": the limit in the largest unit that divides it.
fn describe_limit(limit: Duration) -> String {
    let millis = limit.as_millis();
    match UNITS.into_iter().find(|(unit_ms, _, _)| millis >= *unit_ms && millis.is_multiple_of(*unit_ms)) {
        Some((unit_ms, singular, _)) => format!("{}-{singular}", millis / unit_ms),
        None => format!("{millis}-millisecond"),
    }
}

/// A `SINCE` that fits the limit, with room for the `COMPARE WITH` offset if any.
fn example_since(limit: Duration, compare_with: Option<&ast::Duration>) -> Option<String> {
    let offset = u128::from(compare_with.map_or(0, ast::Duration::as_millis));
    let room = limit.as_millis().checked_sub(offset).filter(|room| *room > 0)?;
    // Prefer a week when it fits: it reads naturally and leaves headroom.
    if room >= 7 * 86_400_000 {
        return Some("SINCE 7 days ago".to_owned());
    }
    let (unit_ms, singular, plural) = UNITS.into_iter().find(|(unit_ms, _, _)| room >= *unit_ms)?;
    let amount = room / unit_ms;
    Some(format!("SINCE {amount} {} ago", if amount == 1 { singular } else { plural }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn spans_and_limits_read_naturally() {
        let cases = [
            (Duration::from_secs(45 * 86_400), "45 days"),
            (Duration::from_secs(86_400), "1 day"),
            (Duration::from_secs(36 * 3_600), "1.5 days"),
            (Duration::from_millis(30 * 86_400_000 + 1), "30.1 days"),
            (Duration::from_secs(2 * 3_600), "2 hours"),
            (Duration::from_secs(90), "1.5 minutes"),
            (Duration::from_millis(250), "250 milliseconds"),
        ];
        for (span, expected) in cases {
            assert_eq!(describe_span(span), expected);
        }
        assert_eq!(describe_limit(DAY * 30), "30-day");
        assert_eq!(describe_limit(Duration::from_secs(36 * 3_600)), "36-hour");
        assert_eq!(describe_limit(Duration::from_secs(90 * 60)), "90-minute");
        assert_eq!(describe_limit(Duration::from_millis(1_500)), "1500-millisecond");
    }

    #[test]
    fn suggested_since_fits_the_limit() {
        let week = ast::Duration { amount: 1, unit: ast::TimeUnit::Week };
        let cases = [
            (DAY * 30, None, Some("SINCE 7 days ago")),
            (DAY * 3, None, Some("SINCE 3 days ago")),
            (DAY * 8, Some(&week), Some("SINCE 1 day ago")),
            (Duration::from_secs(90 * 60), None, Some("SINCE 1 hour ago")),
            (DAY * 7, Some(&week), None),
        ];
        for (limit, compare, expected) in cases {
            assert_eq!(example_since(limit, compare).as_deref(), expected, "{limit:?}");
        }
    }
}
