//! The NRQL syntax tree.
//!
//! The tree keeps what a query *means*, not how it was spelled: keyword case, comments,
//! whitespace, quoting style of aliases and the order of clauses after `FROM` are gone, so
//! two spellings of one query compare equal and [`crate::print`] can emit one canonical form.
//! Function calls of every kind share one generic shape ([`Expr::Function`]) so that new
//! New Relic functions parse without a grammar change; [`crate::is_aggregator`] classifies
//! them.
//!
//! Every type serializes with serde so a caller can show the tree as JSON.

use serde::{Deserialize, Serialize};

/// A complete NRQL statement.
// One query is built per request and rarely moved: boxing the common variant would only
// add an allocation and a layer of indirection for every caller.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Query {
    /// `SELECT … FROM …` (or `FROM … SELECT …`) with its clauses.
    Select(SelectQuery),
    /// `SHOW EVENT TYPES [SINCE …] [UNTIL …]`.
    ShowEventTypes(ShowEventTypes),
}

/// `SHOW EVENT TYPES`, optionally bounded in time.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ShowEventTypes {
    /// Start of the window (`SINCE`); New Relic's default is one hour ago.
    pub since: Option<TimePoint>,
    /// End of the window (`UNTIL`); New Relic's default is now.
    pub until: Option<TimePoint>,
}

/// A `SELECT` query and all of its clauses.
///
/// Absent clauses are `None`, empty vectors or `false`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SelectQuery {
    /// The `SELECT` list, in order. Never empty in a parsed query.
    pub select: Vec<SelectItem>,
    /// The data source of `FROM`. Empty event types mean the query has no `FROM`, which
    /// NRQL allows only for queries over `WITH` variables alone
    /// (`WITH '{"a": 1}' AS json SELECT jparse(json)`).
    pub from: FromClause,
    /// `WITH <expr> AS name` variables (NRQL variables), in order of declaration.
    pub variables: Vec<Variable>,
    /// `[INNER|LEFT] JOIN (subquery) ON …` clauses, in order.
    pub joins: Vec<Join>,
    /// The `WHERE` condition.
    pub where_clause: Option<Expr>,
    /// The `FACET` items; empty when the query has no `FACET`.
    pub facet: Vec<FacetItem>,
    /// `ORDER BY` items, in order.
    pub order_by: Vec<OrderItem>,
    /// `LIMIT n` or `LIMIT MAX`.
    pub limit: Option<Limit>,
    /// `OFFSET n`.
    pub offset: Option<u64>,
    /// Start of the time window (`SINCE`); New Relic's default is one hour ago.
    pub since: Option<TimePoint>,
    /// End of the time window (`UNTIL`); New Relic's default is now.
    pub until: Option<TimePoint>,
    /// `COMPARE WITH <n unit> ago`: the offset of the comparison window.
    pub compare_with: Option<Duration>,
    /// `TIMESERIES …`.
    pub timeseries: Option<Timeseries>,
    /// `WITH TIMEZONE 'Area/City'`.
    pub timezone: Option<String>,
    /// `EXTRAPOLATE`.
    pub extrapolate: bool,
}

/// What a query reads from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FromClause {
    /// One or more event types, comma-separated (`FROM Transaction, PageView`).
    EventTypes(Vec<String>),
    /// A nested aggregation: `FROM (SELECT … FROM …)`.
    Subquery(Box<SelectQuery>),
    /// An uploaded lookup table: `FROM lookup(myTable)`.
    Lookup(String),
}

impl Default for FromClause {
    fn default() -> Self {
        FromClause::EventTypes(Vec::new())
    }
}

/// One entry of the `SELECT` list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectItem {
    /// `*`: every attribute.
    Wildcard,
    /// An expression, optionally labelled with `AS`.
    Expr {
        /// The selected expression.
        expr: Expr,
        /// The label given with `AS 'name'`, `AS name` or ``AS `name` ``.
        alias: Option<String>,
    },
}

/// `WITH <expr> AS name` or `WITH aparse(…) AS (a, b)`: named values usable in the rest of
/// the query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variable {
    /// The expression bound to the name(s).
    pub expr: Expr,
    /// One name, or several for a destructuring `AS (a, b)`.
    pub names: Vec<String>,
    /// Whether the names were written in parentheses (`AS (a)`), which NRQL uses to
    /// destructure the captures of `aparse` and `capture`.
    pub destructure: bool,
}

/// `[INNER|LEFT] JOIN (subquery) ON [outer_key =] inner_key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Join {
    /// `INNER` (the default) or `LEFT`.
    pub kind: JoinKind,
    /// The joined subquery; it normally facets by the join key.
    pub subquery: Box<SelectQuery>,
    /// The key attribute on the outer query's side.
    pub outer_key: String,
    /// The key attribute on the subquery's side when it differs (`ON a = b`); `None` for
    /// `ON key`, where both sides use `outer_key`.
    pub inner_key: Option<String>,
}

/// The kind of a subquery join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinKind {
    /// Only rows with a match in the subquery.
    #[default]
    Inner,
    /// Every outer row; subquery values are null where nothing matched.
    Left,
}

/// One `FACET` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FacetItem {
    /// What to group by.
    pub target: FacetTarget,
    /// The label given with `AS`.
    pub alias: Option<String>,
}

/// What a `FACET` item groups by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FacetTarget {
    /// An attribute or expression, including functions such as `buckets(duration, 10, 5)`
    /// or `hourOf(timestamp)`.
    Expr(Expr),
    /// `CASES(WHERE … AS 'label', …)`.
    Cases(Vec<FacetCase>),
    /// `CASES(…) OR attribute`: events matching no case are grouped by `fallback`.
    CasesOr {
        /// The cases, first match wins.
        cases: Vec<FacetCase>,
        /// What to group the remaining events by.
        fallback: Box<Expr>,
    },
}

/// One condition of `FACET CASES(…)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FacetCase {
    /// The condition after `WHERE`.
    pub condition: Expr,
    /// The label given with `AS`; New Relic shows the condition itself when absent.
    pub label: Option<String>,
}

/// One `ORDER BY` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderItem {
    /// The sort key.
    pub expr: Expr,
    /// `ASC` or `DESC` when written; `None` leaves New Relic's default.
    pub direction: Option<SortDirection>,
}

/// Sort direction of an `ORDER BY` item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortDirection {
    /// `ASC`
    Ascending,
    /// `DESC`
    Descending,
}

/// `LIMIT n` or `LIMIT MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// An explicit row or facet count.
    Count(u64),
    /// `LIMIT MAX`: the largest limit New Relic allows (5,000 rows).
    Max,
}

/// `TIMESERIES [bucket] [SLIDE BY …]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeseries {
    /// The bucket width.
    pub bucket: TimeseriesBucket,
    /// `SLIDE BY …`: overlapping (sliding) windows.
    pub slide_by: Option<SlideBy>,
}

/// The bucket width of `TIMESERIES`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeseriesBucket {
    /// Bare `TIMESERIES`: New Relic picks the width from the window.
    Default,
    /// `TIMESERIES AUTO`.
    Auto,
    /// `TIMESERIES MAX`: the finest width the window allows.
    Max,
    /// `TIMESERIES 5 minutes`.
    Every(Duration),
}

/// The step of `SLIDE BY`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlideBy {
    /// `SLIDE BY AUTO`.
    Auto,
    /// `SLIDE BY MAX`.
    Max,
    /// `SLIDE BY 1 minute`.
    Every(Duration),
}

/// A point in time used by `SINCE` and `UNTIL`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimePoint {
    /// `1 hour ago`.
    Ago(Duration),
    /// `NOW`.
    Now,
    /// `TODAY`: midnight at the start of the current day.
    Today,
    /// `YESTERDAY`: midnight at the start of the previous day.
    Yesterday,
    /// `THIS WEEK`, `LAST MONTH`, …: the start of a calendar period.
    Calendar {
        /// `THIS` or `LAST`.
        which: CalendarAnchor,
        /// The calendar unit (`WEEK`, `MONTH`, `QUARTER`, `YEAR`, `DAY`, …).
        unit: TimeUnit,
    },
    /// Milliseconds since the Unix epoch.
    EpochMillis(i64),
    /// A quoted date-time such as `'2024-01-01 00:00:00'` or `'2023-12-20T00:04Z'`,
    /// kept as written (New Relic accepts several formats).
    DateTime(String),
    /// `MONDAY` … `SUNDAY`: midnight at the start of the most recent such day.
    Weekday(Weekday),
    /// `TODAY AT '01:23'`, `YESTERDAY AT '01:23:45'`, `MONDAY AT '09:00'`: a day reference
    /// with a time of day instead of midnight.
    DayAt {
        /// `Today`, `Yesterday` or a `Weekday`.
        day: Box<TimePoint>,
        /// The time of day as written (`HH:MM[:SS]`).
        time: String,
    },
}

/// A day of the week, for `SINCE monday`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    /// Monday
    Monday,
    /// Tuesday
    Tuesday,
    /// Wednesday
    Wednesday,
    /// Thursday
    Thursday,
    /// Friday
    Friday,
    /// Saturday
    Saturday,
    /// Sunday
    Sunday,
}

impl Weekday {
    /// Every day, Monday first.
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    /// The day's name in upper case, as the printer writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Weekday::Monday => "MONDAY",
            Weekday::Tuesday => "TUESDAY",
            Weekday::Wednesday => "WEDNESDAY",
            Weekday::Thursday => "THURSDAY",
            Weekday::Friday => "FRIDAY",
            Weekday::Saturday => "SATURDAY",
            Weekday::Sunday => "SUNDAY",
        }
    }

    /// Parses a day name in any case.
    pub fn from_word(word: &str) -> Option<Weekday> {
        Weekday::ALL.into_iter().find(|day| day.as_str().eq_ignore_ascii_case(word))
    }
}

/// Which calendar period a [`TimePoint::Calendar`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarAnchor {
    /// The period containing now.
    This,
    /// The period before the one containing now.
    Last,
}

/// A span of time written as a count and a unit: `5 minutes`, `1 hour`, `2 weeks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duration {
    /// How many units.
    pub amount: u64,
    /// The unit.
    pub unit: TimeUnit,
}

impl Duration {
    /// The span in milliseconds, with calendar units approximated (month = 30 days,
    /// quarter = 91 days, year = 365 days); saturates instead of overflowing.
    pub fn as_millis(&self) -> u64 {
        self.amount.saturating_mul(self.unit.millis())
    }
}

/// A unit of time in NRQL, singular or plural in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// `millisecond(s)`
    Millisecond,
    /// `second(s)`
    Second,
    /// `minute(s)`
    Minute,
    /// `hour(s)`
    Hour,
    /// `day(s)`
    Day,
    /// `week(s)`
    Week,
    /// `month(s)`
    Month,
    /// `quarter(s)`
    Quarter,
    /// `year(s)`
    Year,
}

impl TimeUnit {
    /// Every unit, shortest first.
    pub const ALL: [TimeUnit; 9] = [
        TimeUnit::Millisecond,
        TimeUnit::Second,
        TimeUnit::Minute,
        TimeUnit::Hour,
        TimeUnit::Day,
        TimeUnit::Week,
        TimeUnit::Month,
        TimeUnit::Quarter,
        TimeUnit::Year,
    ];

    /// The length of one unit in milliseconds (calendar units approximated).
    pub fn millis(self) -> u64 {
        const SECOND: u64 = 1_000;
        const MINUTE: u64 = 60 * SECOND;
        const HOUR: u64 = 60 * MINUTE;
        const DAY: u64 = 24 * HOUR;
        match self {
            TimeUnit::Millisecond => 1,
            TimeUnit::Second => SECOND,
            TimeUnit::Minute => MINUTE,
            TimeUnit::Hour => HOUR,
            TimeUnit::Day => DAY,
            TimeUnit::Week => 7 * DAY,
            TimeUnit::Month => 30 * DAY,
            TimeUnit::Quarter => 91 * DAY,
            TimeUnit::Year => 365 * DAY,
        }
    }

    /// The singular keyword (`minute`).
    pub fn singular(self) -> &'static str {
        match self {
            TimeUnit::Millisecond => "millisecond",
            TimeUnit::Second => "second",
            TimeUnit::Minute => "minute",
            TimeUnit::Hour => "hour",
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
            TimeUnit::Month => "month",
            TimeUnit::Quarter => "quarter",
            TimeUnit::Year => "year",
        }
    }

    /// The plural keyword (`minutes`).
    pub fn plural(self) -> &'static str {
        match self {
            TimeUnit::Millisecond => "milliseconds",
            TimeUnit::Second => "seconds",
            TimeUnit::Minute => "minutes",
            TimeUnit::Hour => "hours",
            TimeUnit::Day => "days",
            TimeUnit::Week => "weeks",
            TimeUnit::Month => "months",
            TimeUnit::Quarter => "quarters",
            TimeUnit::Year => "years",
        }
    }

    /// Parses a unit word, singular or plural, in any case.
    pub fn from_word(word: &str) -> Option<TimeUnit> {
        TimeUnit::ALL.into_iter().find(|unit| {
            word.eq_ignore_ascii_case(unit.singular()) || word.eq_ignore_ascii_case(unit.plural())
        })
    }
}

/// An expression: in `SELECT`, `WHERE`, `FACET`, `ORDER BY`, function arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    /// An attribute name, without backticks (`duration`, `request.uri`, `my attr`).
    Attribute(String),
    /// A literal value.
    Literal(Literal),
    /// A function call of any kind, aggregating or not: `count(*)`,
    /// `percentile(duration, 95, 99)`, `filter(count(*), WHERE error IS TRUE)`,
    /// `if(duration > 1, 'slow', 'fast')`, `keyset()`.
    Function {
        /// The function name as written (NRQL function names are case-insensitive).
        name: String,
        /// The arguments, in order.
        args: Vec<Arg>,
    },
    /// `-x` or `NOT x`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<Expr>,
    },
    /// Arithmetic, comparison or logical operation.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `x [NOT] IN (…)`.
    In {
        /// The tested value.
        expr: Box<Expr>,
        /// The candidates.
        list: InList,
        /// `NOT IN`.
        negated: bool,
    },
    /// `x [NOT] LIKE '%pattern%'`.
    Like {
        /// The tested value.
        expr: Box<Expr>,
        /// The pattern (`%` matches any run of characters).
        pattern: Box<Expr>,
        /// `NOT LIKE`.
        negated: bool,
    },
    /// `x [NOT] RLIKE 'regex'` (RE2 syntax, whole-value match).
    Rlike {
        /// The tested value.
        expr: Box<Expr>,
        /// The regular expression.
        pattern: Box<Expr>,
        /// `NOT RLIKE`.
        negated: bool,
    },
    /// `x IS [NOT] NULL`.
    IsNull {
        /// The tested value.
        expr: Box<Expr>,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `x IS [NOT] TRUE` / `x IS [NOT] FALSE`.
    IsBool {
        /// The tested value.
        expr: Box<Expr>,
        /// `TRUE` or `FALSE`.
        value: bool,
        /// `IS NOT …`.
        negated: bool,
    },
    /// A scalar subquery used as a value: `duration > (SELECT average(duration) FROM …)`.
    Subquery(Box<SelectQuery>),
    /// Key or position access: `jparse(json)[userNames]`, `jparse(json)[0]`.
    Index {
        /// The indexed value.
        expr: Box<Expr>,
        /// The key (written bare, as an attribute) or the position.
        index: Box<Expr>,
    },
}

/// The right-hand side of `IN`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InList {
    /// `IN ('a', 'b', 3)`.
    Values(Vec<Expr>),
    /// `IN (SELECT uniques(x) FROM …)`.
    Subquery(Box<SelectQuery>),
}

/// A function argument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arg {
    /// An ordinary expression.
    Expr(Expr),
    /// `*`, as in `count(*)`.
    Wildcard,
    /// `WHERE condition [AS 'label']`, as in `percentage(count(*), WHERE error IS TRUE)`,
    /// `filter(…)` and the steps of `funnel(…)`.
    Where {
        /// The condition.
        condition: Expr,
        /// The step label (`funnel`).
        label: Option<String>,
    },
    /// A duration, as in `rate(count(*), 1 minute)`.
    Duration(Duration),
    /// `name: value`, as in `apdex(duration, t: 0.4)`.
    Named {
        /// The parameter name.
        name: String,
        /// The value.
        value: Expr,
    },
}

/// A literal value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Literal {
    /// A single-quoted string, escapes resolved.
    String(String),
    /// An integer (a leading minus is folded in).
    Int(i64),
    /// A number with a fraction or exponent. Always finite.
    Float(f64),
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// `NULL`.
    Null,
}

/// A prefix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnaryOp {
    /// Arithmetic negation `-`.
    Neg,
    /// Logical `NOT`.
    Not,
}

/// An infix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryOp {
    /// `OR`
    Or,
    /// `AND`
    And,
    /// `=`
    Eq,
    /// `!=` or `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl BinaryOp {
    /// The operator as NRQL writes it.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "OR",
            BinaryOp::And => "AND",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
        }
    }

    /// Binding strength: higher binds tighter. All binary operators are left-associative.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq
            | BinaryOp::NotEq
            | BinaryOp::Lt
            | BinaryOp::LtEq
            | BinaryOp::Gt
            | BinaryOp::GtEq => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div => 6,
        }
    }

    /// Whether the operator compares two values (`=`, `!=`, `<`, `<=`, `>`, `>=`).
    pub fn is_comparison(self) -> bool {
        self.precedence() == 4
    }

    /// Whether the operator is arithmetic (`+ - * /`).
    pub fn is_arithmetic(self) -> bool {
        self.precedence() >= 5
    }
}

impl Query {
    /// The `SELECT` query, or `None` for `SHOW EVENT TYPES`.
    pub fn as_select(&self) -> Option<&SelectQuery> {
        match self {
            Query::Select(select) => Some(select),
            Query::ShowEventTypes(_) => None,
        }
    }

    /// Every event type the query reads, including those of subqueries and joins, in
    /// order of first appearance, without duplicates.
    pub fn event_types(&self) -> Vec<&str> {
        match self {
            Query::Select(select) => select.event_types(),
            Query::ShowEventTypes(_) => Vec::new(),
        }
    }

    /// The `SINCE` of the outermost query.
    pub fn since(&self) -> Option<&TimePoint> {
        match self {
            Query::Select(select) => select.since.as_ref(),
            Query::ShowEventTypes(show) => show.since.as_ref(),
        }
    }

    /// The `UNTIL` of the outermost query.
    pub fn until(&self) -> Option<&TimePoint> {
        match self {
            Query::Select(select) => select.until.as_ref(),
            Query::ShowEventTypes(show) => show.until.as_ref(),
        }
    }

    /// The outermost `LIMIT`.
    pub fn limit(&self) -> Option<Limit> {
        self.as_select().and_then(|select| select.limit)
    }
}

impl SelectQuery {
    /// Every event type this query and its subqueries read, in order of first appearance,
    /// without duplicates.
    pub fn event_types(&self) -> Vec<&str> {
        let mut found = Vec::new();
        self.visit_queries(&mut |query| {
            if let FromClause::EventTypes(types) = &query.from {
                for name in types {
                    if !found.contains(&name.as_str()) {
                        found.push(name.as_str());
                    }
                }
            }
        });
        found
    }

    /// The subqueries nested directly in this query (in `FROM`, `JOIN`, and expressions),
    /// not counting subqueries of subqueries.
    pub fn direct_subqueries(&self) -> Vec<&SelectQuery> {
        let mut found = Vec::new();
        if let FromClause::Subquery(inner) = &self.from {
            found.push(inner.as_ref());
        }
        for join in &self.joins {
            found.push(join.subquery.as_ref());
        }
        self.visit_exprs(&mut |expr| match expr {
            Expr::Subquery(inner) | Expr::In { list: InList::Subquery(inner), .. } => {
                found.push(inner.as_ref())
            }
            _ => {}
        });
        found
    }

    /// Calls `visit` on this query and then on every nested subquery, depth first.
    pub fn visit_queries<'a>(&'a self, visit: &mut dyn FnMut(&'a SelectQuery)) {
        visit(self);
        for inner in self.direct_subqueries() {
            inner.visit_queries(visit);
        }
    }

    /// Calls `visit` on every expression of this query (not of its subqueries), outer
    /// nodes before their children.
    pub fn visit_exprs<'a>(&'a self, visit: &mut dyn FnMut(&'a Expr)) {
        for item in &self.select {
            if let SelectItem::Expr { expr, .. } = item {
                expr.visit(visit);
            }
        }
        for variable in &self.variables {
            variable.expr.visit(visit);
        }
        if let Some(condition) = &self.where_clause {
            condition.visit(visit);
        }
        for item in &self.facet {
            match &item.target {
                FacetTarget::Expr(expr) => expr.visit(visit),
                FacetTarget::Cases(cases) => {
                    for case in cases {
                        case.condition.visit(visit);
                    }
                }
                FacetTarget::CasesOr { cases, fallback } => {
                    for case in cases {
                        case.condition.visit(visit);
                    }
                    fallback.visit(visit);
                }
            }
        }
        for item in &self.order_by {
            item.expr.visit(visit);
        }
    }

    /// Whether any `SELECT` item calls an aggregator function.
    pub fn is_aggregate(&self) -> bool {
        self.select.iter().any(|item| match item {
            SelectItem::Wildcard => false,
            SelectItem::Expr { expr, .. } => expr.contains_aggregator(),
        })
    }
}

impl Expr {
    /// Shorthand for an attribute reference.
    pub fn attribute(name: impl Into<String>) -> Expr {
        Expr::Attribute(name.into())
    }

    /// Calls `visit` on this expression and every expression inside it (function
    /// arguments included), outer nodes first. Subqueries are visited as a node but not
    /// entered.
    pub fn visit<'a>(&'a self, visit: &mut dyn FnMut(&'a Expr)) {
        visit(self);
        match self {
            Expr::Attribute(_) | Expr::Literal(_) | Expr::Subquery(_) => {}
            Expr::Function { args, .. } => {
                for arg in args {
                    match arg {
                        Arg::Expr(expr) | Arg::Named { value: expr, .. } => expr.visit(visit),
                        Arg::Where { condition, .. } => condition.visit(visit),
                        Arg::Wildcard | Arg::Duration(_) => {}
                    }
                }
            }
            Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } | Expr::IsBool { expr, .. } => {
                expr.visit(visit)
            }
            Expr::Binary { left, right, .. } | Expr::Index { expr: left, index: right } => {
                left.visit(visit);
                right.visit(visit);
            }
            Expr::In { expr, list, .. } => {
                expr.visit(visit);
                if let InList::Values(values) = list {
                    for value in values {
                        value.visit(visit);
                    }
                }
            }
            Expr::Like { expr, pattern, .. } | Expr::Rlike { expr, pattern, .. } => {
                expr.visit(visit);
                pattern.visit(visit);
            }
        }
    }

    /// Whether this expression calls an aggregator anywhere (outside subqueries).
    pub fn contains_aggregator(&self) -> bool {
        let mut found = false;
        self.visit(&mut |expr| {
            if let Expr::Function { name, .. } = expr {
                found |= crate::is_aggregator(name);
            }
        });
        found
    }
}
