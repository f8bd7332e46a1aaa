//! Recursive-descent parser from tokens to [`Query`].
//!
//! A query starts with `SELECT` or `FROM`; every other clause may follow in any order, as
//! NRQL allows. Operator precedence, loosest first: `OR`, `AND`, `NOT`, predicates
//! (comparisons, `IN`, `LIKE`, `RLIKE`, `IS`), `+ -`, `* /`, unary minus.
//!
//! Nesting (parentheses, function calls, subqueries) and the depth of the resulting tree
//! are capped so hostile input yields an error instead of exhausting the stack.

use crate::ast::{
    Arg, BinaryOp, CalendarAnchor, Duration, Expr, FacetCase, FacetItem, FacetTarget, FromClause, InList,
    Join, JoinKind, Limit, Literal, OrderItem, Query, SelectItem, SelectQuery, ShowEventTypes, SlideBy,
    SortDirection, TimePoint, TimeUnit, Timeseries, TimeseriesBucket, UnaryOp, Variable, Weekday,
};
use crate::error::{ParseError, ParseErrorKind, Position};
use crate::lexer::{Keyword, Token, TokenKind, lex};

/// The deepest nesting of parentheses, function calls and subqueries [`parse`] accepts.
pub const MAX_NESTING: usize = 48;

/// The deepest nesting of subqueries [`parse`] accepts. New Relic runs at most 3
/// subqueries per query; the parser accepts more so the policy can name the rule, but
/// stops well before nesting gets expensive.
const MAX_SUBQUERY_NESTING: usize = 8;

/// The deepest expression tree [`parse`] builds (a chain `a + b + c …` counts one level
/// per operator), so that walking the tree recursively stays cheap.
const MAX_TREE_DEPTH: usize = 256;

/// Clause keywords a misspelt word may have meant, for "did you mean …?" hints.
const CLAUSE_WORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "FACET",
    "LIMIT",
    "OFFSET",
    "SINCE",
    "UNTIL",
    "TIMESERIES",
    "COMPARE",
    "WITH",
    "ORDER",
    "EXTRAPOLATE",
    "JOIN",
    "AND",
    "OR",
    "NOT",
    "LIKE",
    "RLIKE",
    "AS",
    "IN",
    "IS",
];

/// Parses one NRQL statement: a `SELECT` query (`SELECT … FROM …` or `FROM … SELECT …`)
/// or `SHOW EVENT TYPES`.
///
/// Keywords are case-insensitive; comments and whitespace are ignored. Errors carry the
/// 1-based position of the offending token and, where one can be guessed, a hint.
pub fn parse(input: &str) -> Result<Query, ParseError> {
    let tokens = lex(input)?;
    let mut parser = Parser { input, tokens, cursor: 0, nesting: 0, depth: 0, subqueries: 0 };
    parser.statement()
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    cursor: usize,
    nesting: usize,
    depth: usize,
    subqueries: usize,
}

type Parsed<T> = Result<T, ParseError>;

impl Parser<'_> {
    // ----- statement and clauses -------------------------------------------------------

    fn statement(&mut self) -> Parsed<Query> {
        if self.tokens.is_empty() {
            return Err(ParseError::new(ParseErrorKind::EmptyInput, Position::START, "empty query")
                .with_hint("start with SELECT or FROM, e.g. SELECT count(*) FROM Transaction"));
        }
        let query = if self.at_word("show") {
            Query::ShowEventTypes(self.show_event_types()?)
        } else {
            if !matches!(
                self.peek(),
                Some(TokenKind::Keyword(Keyword::Select | Keyword::From | Keyword::With))
            ) {
                return Err(
                    self.unexpected_with(&["SELECT", "FROM", "SHOW"], "a query starts with SELECT or FROM")
                );
            }
            Query::Select(self.select_query()?)
        };
        match self.peek() {
            None => Ok(query),
            Some(TokenKind::RParen) => Err(self
                .error_here(ParseErrorKind::UnbalancedParentheses, "unmatched ')'")
                .with_hint("remove it, or add the '(' it should close")),
            Some(_) => {
                let error = self.unexpected_with(
                    CLAUSE_WORDS,
                    "expected a clause (WHERE, FACET, LIMIT, SINCE, TIMESERIES, …) or the end of the query",
                );
                Err(ParseError { kind: ParseErrorKind::TrailingInput, ..error })
            }
        }
    }

    fn show_event_types(&mut self) -> Parsed<ShowEventTypes> {
        self.advance();
        for word in ["event", "types"] {
            if !self.eat_word(word) {
                return Err(self.unexpected("SHOW is followed by EVENT TYPES"));
            }
        }
        let mut show = ShowEventTypes::default();
        loop {
            match self.peek() {
                Some(TokenKind::Keyword(Keyword::Since)) => {
                    self.no_duplicate(show.since.is_some(), "SINCE")?;
                    self.advance();
                    show.since = Some(self.time_point()?);
                }
                Some(TokenKind::Keyword(Keyword::Until)) => {
                    self.no_duplicate(show.until.is_some(), "UNTIL")?;
                    self.advance();
                    show.until = Some(self.time_point()?);
                }
                _ => return Ok(show),
            }
        }
    }

    /// Parses a query from its first clause (`SELECT` or `FROM`) up to the first token
    /// that starts no clause.
    fn select_query(&mut self) -> Parsed<SelectQuery> {
        let mut query = SelectQuery::default();
        let mut has_select = false;
        let mut has_from = false;
        let mut has_where = false;
        let mut has_facet = false;
        let mut has_order = false;
        let mut has_timeseries = false;
        while let Some(kind) = self.peek() {
            match kind {
                TokenKind::Keyword(Keyword::Select) => {
                    self.no_duplicate(has_select, "SELECT")?;
                    self.advance();
                    query.select = self.select_list()?;
                    has_select = true;
                }
                TokenKind::Keyword(Keyword::From) => {
                    self.no_duplicate(has_from, "FROM")?;
                    self.advance();
                    query.from = self.source()?;
                    has_from = true;
                }
                TokenKind::Keyword(Keyword::Join) => query.joins.push(self.join(JoinKind::Inner)?),
                TokenKind::Ident(word)
                    if matches!(self.peek_at(1), Some(TokenKind::Keyword(Keyword::Join)))
                        && (word.eq_ignore_ascii_case("inner") || word.eq_ignore_ascii_case("left")) =>
                {
                    let kind =
                        if word.eq_ignore_ascii_case("left") { JoinKind::Left } else { JoinKind::Inner };
                    self.advance();
                    query.joins.push(self.join(kind)?);
                }
                TokenKind::Keyword(Keyword::Where) => {
                    self.no_duplicate(has_where, "WHERE")?;
                    self.advance();
                    query.where_clause = Some(self.expr()?);
                    has_where = true;
                }
                TokenKind::Keyword(Keyword::Facet) => {
                    self.no_duplicate(has_facet, "FACET")?;
                    self.advance();
                    query.facet = self.facet_list()?;
                    has_facet = true;
                }
                TokenKind::Keyword(Keyword::Order) => {
                    self.no_duplicate(has_order, "ORDER BY")?;
                    self.advance();
                    self.expect_keyword(Keyword::By, "ORDER is followed by BY")?;
                    query.order_by = self.order_list()?;
                    has_order = true;
                }
                TokenKind::Keyword(Keyword::Limit) => {
                    self.no_duplicate(query.limit.is_some(), "LIMIT")?;
                    self.advance();
                    query.limit = Some(self.limit()?);
                }
                TokenKind::Keyword(Keyword::Offset) => {
                    self.no_duplicate(query.offset.is_some(), "OFFSET")?;
                    self.advance();
                    query.offset = Some(self.whole_number("OFFSET takes a whole number of rows")?);
                }
                TokenKind::Keyword(Keyword::Since) => {
                    self.no_duplicate(query.since.is_some(), "SINCE")?;
                    self.advance();
                    query.since = Some(self.time_point()?);
                }
                TokenKind::Keyword(Keyword::Until) => {
                    self.no_duplicate(query.until.is_some(), "UNTIL")?;
                    self.advance();
                    query.until = Some(self.time_point()?);
                }
                TokenKind::Keyword(Keyword::Compare) => {
                    self.no_duplicate(query.compare_with.is_some(), "COMPARE WITH")?;
                    self.advance();
                    self.expect_keyword(
                        Keyword::With,
                        "COMPARE is followed by WITH, e.g. COMPARE WITH 1 week ago",
                    )?;
                    let offset =
                        self.duration("COMPARE WITH takes a duration, e.g. COMPARE WITH 1 week ago")?;
                    if !self.eat_word("ago") {
                        return Err(self.unexpected("COMPARE WITH takes a duration followed by AGO"));
                    }
                    query.compare_with = Some(offset);
                }
                TokenKind::Keyword(Keyword::Timeseries) => {
                    self.no_duplicate(has_timeseries, "TIMESERIES")?;
                    self.advance();
                    query.timeseries = Some(self.timeseries()?);
                    has_timeseries = true;
                }
                TokenKind::Keyword(Keyword::With) => {
                    self.advance();
                    if self.at_word("timezone") && matches!(self.peek_at(1), Some(TokenKind::String(_))) {
                        self.no_duplicate(query.timezone.is_some(), "WITH TIMEZONE")?;
                        self.advance();
                        if let Some(TokenKind::String(zone)) = self.advance_kind() {
                            query.timezone = Some(zone);
                        }
                    } else {
                        loop {
                            query.variables.push(self.variable()?);
                            if !self.eat(&TokenKind::Comma) {
                                break;
                            }
                        }
                    }
                }
                TokenKind::Keyword(Keyword::Extrapolate) => {
                    self.no_duplicate(query.extrapolate, "EXTRAPOLATE")?;
                    self.advance();
                    query.extrapolate = true;
                }
                TokenKind::Keyword(Keyword::Slide) => {
                    return Err(self.unexpected(
                        "SLIDE BY goes right after TIMESERIES, e.g. TIMESERIES 5 minutes SLIDE BY 1 minute",
                    ));
                }
                _ => break,
            }
        }
        if self.nesting == 0 && self.peek() == Some(&TokenKind::RParen) {
            return Err(self
                .error_here(ParseErrorKind::UnbalancedParentheses, "unmatched ')'")
                .with_hint("remove it, or add the '(' it should close"));
        }
        // NRQL evaluates a query without FROM over its WITH variables alone.
        if !has_from && query.variables.is_empty() {
            if self.peek().is_some() {
                return Err(
                    self.unexpected_with(&["FROM"], "expected FROM and an event type, e.g. FROM Transaction")
                );
            }
            return Err(self
                .error_here(ParseErrorKind::MissingFrom, "missing FROM clause")
                .with_hint("name the data to query, e.g. FROM Transaction"));
        }
        if !has_select {
            if self.peek().is_some() {
                return Err(self.unexpected_with(&["SELECT"], "expected SELECT, e.g. SELECT count(*)"));
            }
            return Err(self
                .error_here(ParseErrorKind::MissingSelect, "missing SELECT clause")
                .with_hint("say what to compute, e.g. SELECT count(*)"));
        }
        Ok(query)
    }

    fn select_list(&mut self) -> Parsed<Vec<SelectItem>> {
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(&TokenKind::Star) && self.star_stands_alone() {
                self.advance();
                items.push(SelectItem::Wildcard);
            } else {
                let expr = self.expr()?;
                let alias = self.alias()?;
                items.push(SelectItem::Expr { expr, alias });
            }
            if !self.eat(&TokenKind::Comma) {
                return Ok(items);
            }
        }
    }

    /// Whether the `*` under the cursor is a wildcard rather than a multiplication.
    fn star_stands_alone(&self) -> bool {
        !matches!(
            self.peek_at(1),
            Some(
                TokenKind::Ident(_)
                    | TokenKind::QuotedIdent(_)
                    | TokenKind::Integer(_)
                    | TokenKind::Float(_)
                    | TokenKind::LParen
                    | TokenKind::String(_)
            )
        )
    }

    /// `AS name`, `AS 'name'` or ``AS `name` ``, if present.
    fn alias(&mut self) -> Parsed<Option<String>> {
        if !self.eat_keyword(Keyword::As) {
            return Ok(None);
        }
        match self.peek() {
            Some(TokenKind::String(_) | TokenKind::Ident(_) | TokenKind::QuotedIdent(_)) => {
                match self.advance_kind() {
                    Some(TokenKind::String(name) | TokenKind::Ident(name) | TokenKind::QuotedIdent(name)) => {
                        Ok(Some(name))
                    }
                    _ => Err(self.unexpected("AS is followed by a name")),
                }
            }
            _ => Err(self.unexpected("AS is followed by a name, e.g. AS 'Requests'")),
        }
    }

    fn source(&mut self) -> Parsed<FromClause> {
        if self.peek() == Some(&TokenKind::LParen) {
            return Ok(FromClause::Subquery(Box::new(self.parenthesized_subquery()?)));
        }
        if self.at_word("lookup") && self.peek_at(1) == Some(&TokenKind::LParen) {
            self.advance();
            let open = self.current_position();
            self.advance();
            let table = self.name("lookup() takes the name of a lookup table")?;
            self.close_paren(open, "lookup()")?;
            return Ok(FromClause::Lookup(table));
        }
        let mut event_types = Vec::new();
        loop {
            match self.advance_kind_if(|kind| matches!(kind, TokenKind::Ident(_) | TokenKind::QuotedIdent(_)))
            {
                Some(TokenKind::Ident(name) | TokenKind::QuotedIdent(name)) => event_types.push(name),
                _ => {
                    return Err(self
                        .unexpected("FROM is followed by an event type such as Transaction, or (SELECT …)"));
                }
            }
            if !self.eat(&TokenKind::Comma) {
                return Ok(FromClause::EventTypes(event_types));
            }
        }
    }

    /// `( SELECT … )` or `( FROM … )`, the cursor on the `(`.
    fn parenthesized_subquery(&mut self) -> Parsed<SelectQuery> {
        let open = self.current_position();
        self.advance();
        if !matches!(self.peek(), Some(TokenKind::Keyword(Keyword::Select | Keyword::From | Keyword::With))) {
            return Err(self.unexpected_with(&["SELECT", "FROM"], "a subquery starts with SELECT or FROM"));
        }
        self.enter()?;
        self.subqueries += 1;
        if self.subqueries > MAX_SUBQUERY_NESTING {
            return Err(self.error_here(ParseErrorKind::TooDeep, "subqueries nest too deeply").with_hint(
                format!(
                    "nest at most {MAX_SUBQUERY_NESTING} subqueries (New Relic runs at most 3 per query)"
                ),
            ));
        }
        let query = self.select_query()?;
        self.subqueries -= 1;
        self.leave();
        self.close_paren(open, "the subquery")?;
        Ok(query)
    }

    fn join(&mut self, kind: JoinKind) -> Parsed<Join> {
        self.advance();
        if self.peek() != Some(&TokenKind::LParen) {
            return Err(self
                .unexpected("JOIN is followed by a subquery in parentheses, e.g. JOIN (FROM … FACET key)"));
        }
        let subquery = Box::new(self.parenthesized_subquery()?);
        self.expect_keyword(Keyword::On, "a JOIN subquery is followed by ON key or ON key = key")?;
        let outer_key = self.name("ON is followed by the join key attribute")?;
        let inner_key = if self.eat(&TokenKind::Eq) {
            Some(self.name("expected the subquery's key after '='")?)
        } else {
            None
        };
        Ok(Join { kind, subquery, outer_key, inner_key })
    }

    /// A bare or backtick name.
    fn name(&mut self, expected: &str) -> Parsed<String> {
        match self.advance_kind_if(|kind| matches!(kind, TokenKind::Ident(_) | TokenKind::QuotedIdent(_))) {
            Some(TokenKind::Ident(name) | TokenKind::QuotedIdent(name)) => Ok(name),
            _ => Err(self.unexpected(expected)),
        }
    }

    fn variable(&mut self) -> Parsed<Variable> {
        let expr = self.expr()?;
        self.expect_keyword(
            Keyword::As,
            "a WITH variable is named with AS, e.g. WITH duration * 1000 AS ms",
        )?;
        if self.peek() == Some(&TokenKind::LParen) {
            let open = self.current_position();
            self.advance();
            let mut names = vec![self.name("expected a variable name")?];
            while self.eat(&TokenKind::Comma) {
                names.push(self.name("expected a variable name")?);
            }
            self.close_paren(open, "the variable names")?;
            return Ok(Variable { expr, names, destructure: true });
        }
        let name = self.name("AS is followed by the variable name")?;
        Ok(Variable { expr, names: vec![name], destructure: false })
    }

    fn facet_list(&mut self) -> Parsed<Vec<FacetItem>> {
        let mut items = Vec::new();
        loop {
            let target = if self.at_word("cases") && self.peek_at(1) == Some(&TokenKind::LParen) {
                self.advance();
                let cases = self.facet_cases()?;
                if self.eat_keyword(Keyword::Or) {
                    FacetTarget::CasesOr {
                        cases,
                        fallback: Box::new(self.expr_above(BinaryOp::Or.precedence())?),
                    }
                } else {
                    FacetTarget::Cases(cases)
                }
            } else {
                FacetTarget::Expr(self.expr()?)
            };
            let alias = self.alias()?;
            items.push(FacetItem { target, alias });
            if !self.eat(&TokenKind::Comma) {
                return Ok(items);
            }
        }
    }

    fn facet_cases(&mut self) -> Parsed<Vec<FacetCase>> {
        let open = self.current_position();
        self.advance();
        self.enter()?;
        let mut cases = Vec::new();
        loop {
            self.eat_keyword(Keyword::Where);
            let condition = self.expr()?;
            let label = self.alias()?;
            cases.push(FacetCase { condition, label });
            if !self.eat(&TokenKind::Comma) {
                break;
            }
        }
        self.leave();
        self.close_paren(open, "CASES")?;
        Ok(cases)
    }

    fn order_list(&mut self) -> Parsed<Vec<OrderItem>> {
        let mut items = Vec::new();
        loop {
            let expr = self.expr()?;
            let direction = if self.eat_keyword(Keyword::Asc) {
                Some(SortDirection::Ascending)
            } else if self.eat_keyword(Keyword::Desc) {
                Some(SortDirection::Descending)
            } else {
                None
            };
            items.push(OrderItem { expr, direction });
            if !self.eat(&TokenKind::Comma) {
                return Ok(items);
            }
        }
    }

    fn limit(&mut self) -> Parsed<Limit> {
        if self.eat_word("max") {
            return Ok(Limit::Max);
        }
        Ok(Limit::Count(self.whole_number("LIMIT takes a whole number or MAX")?))
    }

    fn whole_number(&mut self, expected: &str) -> Parsed<u64> {
        match self.peek() {
            Some(TokenKind::Integer(value)) => {
                let value = *value;
                self.advance();
                Ok(value)
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    fn duration(&mut self, expected: &str) -> Parsed<Duration> {
        match self.peek() {
            Some(TokenKind::Duration(duration)) => {
                let duration = *duration;
                self.advance();
                Ok(duration)
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    fn time_point(&mut self) -> Parsed<TimePoint> {
        const EXPECTED: &str = "expected a time such as 1 hour ago, an epoch in milliseconds, '2024-01-01 00:00:00', TODAY, YESTERDAY, NOW or THIS WEEK";
        let point = match self.peek() {
            Some(TokenKind::Duration(duration)) => {
                let duration = *duration;
                self.advance();
                if !self.eat_word("ago") {
                    return Err(self.unexpected("a relative time ends with AGO, e.g. SINCE 1 hour ago"));
                }
                TimePoint::Ago(duration)
            }
            Some(TokenKind::Integer(millis)) => {
                let millis = i64::try_from(*millis).map_err(|_| {
                    self.error_here(ParseErrorKind::InvalidNumber, "epoch milliseconds out of range")
                })?;
                self.advance();
                TimePoint::EpochMillis(millis)
            }
            Some(TokenKind::Minus) if matches!(self.peek_at(1), Some(TokenKind::Integer(_))) => {
                self.advance();
                let negated = match self.peek() {
                    Some(TokenKind::Integer(millis)) => negate_integer(*millis),
                    _ => None,
                };
                let Some(Literal::Int(millis)) = negated else {
                    return Err(
                        self.error_here(ParseErrorKind::InvalidNumber, "epoch milliseconds out of range")
                    );
                };
                self.advance();
                TimePoint::EpochMillis(millis)
            }
            Some(TokenKind::String(_)) => match self.advance_kind() {
                Some(TokenKind::String(text)) => TimePoint::DateTime(text),
                _ => return Err(self.unexpected(EXPECTED)),
            },
            Some(TokenKind::Ident(word)) => {
                let word = word.to_ascii_lowercase();
                match word.as_str() {
                    "now" => {
                        self.advance();
                        TimePoint::Now
                    }
                    "today" | "yesterday" => {
                        self.advance();
                        let day = if word == "today" { TimePoint::Today } else { TimePoint::Yesterday };
                        self.time_of_day(day)?
                    }
                    "this" | "last" => {
                        let which = if word == "this" { CalendarAnchor::This } else { CalendarAnchor::Last };
                        let unit = match self.peek_at(1) {
                            Some(TokenKind::Ident(unit)) => TimeUnit::from_word(unit),
                            _ => None,
                        };
                        let Some(unit) = unit else {
                            self.advance();
                            return Err(
                                self.unexpected("THIS and LAST are followed by a unit, e.g. SINCE this week")
                            );
                        };
                        self.advance();
                        self.advance();
                        TimePoint::Calendar { which, unit }
                    }
                    _ => match Weekday::from_word(&word) {
                        Some(day) => {
                            self.advance();
                            self.time_of_day(TimePoint::Weekday(day))?
                        }
                        None => return Err(self.unexpected(EXPECTED)),
                    },
                }
            }
            _ => return Err(self.unexpected(EXPECTED)),
        };
        Ok(point)
    }

    /// `AT '12:34'` after a day reference, if present.
    fn time_of_day(&mut self, day: TimePoint) -> Parsed<TimePoint> {
        if !self.eat_word("at") {
            return Ok(day);
        }
        match self.advance_kind_if(|kind| matches!(kind, TokenKind::String(_))) {
            Some(TokenKind::String(time)) => Ok(TimePoint::DayAt { day: Box::new(day), time }),
            _ => Err(self.unexpected("AT is followed by a quoted time of day, e.g. yesterday AT '09:30'")),
        }
    }

    fn timeseries(&mut self) -> Parsed<Timeseries> {
        let bucket = match self.peek() {
            Some(TokenKind::Duration(duration)) => {
                let duration = *duration;
                self.advance();
                TimeseriesBucket::Every(duration)
            }
            Some(TokenKind::Ident(word)) if word.eq_ignore_ascii_case("auto") => {
                self.advance();
                TimeseriesBucket::Auto
            }
            Some(TokenKind::Ident(word)) if word.eq_ignore_ascii_case("max") => {
                self.advance();
                TimeseriesBucket::Max
            }
            Some(TokenKind::Integer(_) | TokenKind::Float(_)) => {
                return Err(
                    self.unexpected("TIMESERIES takes a whole number and a unit, e.g. TIMESERIES 5 minutes")
                );
            }
            _ => TimeseriesBucket::Default,
        };
        let slide_by = if self.eat_keyword(Keyword::Slide) {
            self.expect_keyword(Keyword::By, "SLIDE is followed by BY")?;
            Some(match self.peek() {
                Some(TokenKind::Duration(duration)) => {
                    let duration = *duration;
                    self.advance();
                    SlideBy::Every(duration)
                }
                Some(TokenKind::Ident(word)) if word.eq_ignore_ascii_case("auto") => {
                    self.advance();
                    SlideBy::Auto
                }
                Some(TokenKind::Ident(word)) if word.eq_ignore_ascii_case("max") => {
                    self.advance();
                    SlideBy::Max
                }
                _ => {
                    return Err(
                        self.unexpected("SLIDE BY takes a duration, AUTO or MAX, e.g. SLIDE BY 1 minute")
                    );
                }
            })
        } else {
            None
        };
        Ok(Timeseries { bucket, slide_by })
    }

    // ----- expressions -----------------------------------------------------------------

    fn expr(&mut self) -> Parsed<Expr> {
        self.expr_above(0)
    }

    /// Parses an expression whose infix operators all bind tighter than `floor`
    /// (precedence climbing). One frame per nesting level keeps deep input cheap.
    fn expr_above(&mut self, floor: u8) -> Parsed<Expr> {
        const NOT_PRECEDENCE: u8 = 3;
        const PREDICATE_PRECEDENCE: u8 = 4;
        let mut left = if floor <= NOT_PRECEDENCE && self.eat_keyword(Keyword::Not) {
            self.enter()?;
            let operand = self.expr_above(NOT_PRECEDENCE)?;
            self.leave();
            Expr::Unary { op: UnaryOp::Not, expr: Box::new(operand) }
        } else {
            self.unary()?
        };
        let base = self.depth;
        // Predicates do not chain: `a = b = c` and `x IS NULL + 1` are errors.
        let mut after_predicate = false;
        loop {
            let negated = self.peek() == Some(&TokenKind::Keyword(Keyword::Not))
                && matches!(
                    self.peek_at(1),
                    Some(TokenKind::Keyword(Keyword::In | Keyword::Like | Keyword::Rlike))
                );
            let operator = match self.peek_at(usize::from(negated)) {
                Some(TokenKind::Keyword(Keyword::Or)) => Infix::Binary(BinaryOp::Or),
                Some(TokenKind::Keyword(Keyword::And)) => Infix::Binary(BinaryOp::And),
                Some(TokenKind::Eq) => Infix::Binary(BinaryOp::Eq),
                Some(TokenKind::NotEq) => Infix::Binary(BinaryOp::NotEq),
                Some(TokenKind::Lt) => Infix::Binary(BinaryOp::Lt),
                Some(TokenKind::LtEq) => Infix::Binary(BinaryOp::LtEq),
                Some(TokenKind::Gt) => Infix::Binary(BinaryOp::Gt),
                Some(TokenKind::GtEq) => Infix::Binary(BinaryOp::GtEq),
                Some(TokenKind::Plus) => Infix::Binary(BinaryOp::Add),
                Some(TokenKind::Minus) => Infix::Binary(BinaryOp::Sub),
                Some(TokenKind::Star) => Infix::Binary(BinaryOp::Mul),
                Some(TokenKind::Slash) => Infix::Binary(BinaryOp::Div),
                Some(TokenKind::Keyword(Keyword::In)) => Infix::In,
                Some(TokenKind::Keyword(Keyword::Like)) => Infix::Like,
                Some(TokenKind::Keyword(Keyword::Rlike)) => Infix::Rlike,
                Some(TokenKind::Keyword(Keyword::Is)) => Infix::Is,
                _ => break,
            };
            let precedence = match operator {
                Infix::Binary(op) => op.precedence(),
                Infix::In | Infix::Like | Infix::Rlike | Infix::Is => PREDICATE_PRECEDENCE,
            };
            if precedence <= floor || (after_predicate && precedence >= PREDICATE_PRECEDENCE) {
                break;
            }
            self.advance();
            if negated {
                self.advance();
            }
            self.deepen()?;
            let expr = Box::new(left);
            left = match operator {
                Infix::Binary(op) => {
                    Expr::Binary { op, left: expr, right: Box::new(self.expr_above(precedence)?) }
                }
                Infix::In => Expr::In { expr, list: self.in_list()?, negated },
                Infix::Like => Expr::Like { expr, pattern: Box::new(self.expr_above(precedence)?), negated },
                Infix::Rlike => {
                    Expr::Rlike { expr, pattern: Box::new(self.expr_above(precedence)?), negated }
                }
                Infix::Is => {
                    let negated = self.eat_keyword(Keyword::Not);
                    match self.peek() {
                        Some(TokenKind::Keyword(Keyword::Null)) => {
                            self.advance();
                            Expr::IsNull { expr, negated }
                        }
                        Some(TokenKind::Keyword(keyword @ (Keyword::True | Keyword::False))) => {
                            let value = *keyword == Keyword::True;
                            self.advance();
                            Expr::IsBool { expr, value, negated }
                        }
                        _ => return Err(self.unexpected("IS is followed by NULL, NOT NULL, TRUE or FALSE")),
                    }
                }
            };
            after_predicate |= precedence == PREDICATE_PRECEDENCE;
        }
        self.depth = base;
        Ok(left)
    }

    fn in_list(&mut self) -> Parsed<InList> {
        if self.peek() != Some(&TokenKind::LParen) {
            return Err(self.unexpected("IN is followed by a list in parentheses, e.g. IN ('a', 'b')"));
        }
        if matches!(
            self.peek_at(1),
            Some(TokenKind::Keyword(Keyword::Select | Keyword::From | Keyword::With))
        ) {
            return Ok(InList::Subquery(Box::new(self.parenthesized_subquery()?)));
        }
        let open = self.current_position();
        self.advance();
        self.enter()?;
        let mut values = Vec::new();
        loop {
            values.push(self.expr()?);
            if !self.eat(&TokenKind::Comma) {
                break;
            }
        }
        self.leave();
        self.close_paren(open, "the IN list")?;
        Ok(InList::Values(values))
    }

    fn unary(&mut self) -> Parsed<Expr> {
        if self.peek() != Some(&TokenKind::Minus) {
            let operand = self.primary()?;
            return self.postfix(operand);
        }
        self.advance();
        // Fold `-5` into a literal so negative numbers read as numbers.
        let folded = match self.peek() {
            Some(TokenKind::Integer(value)) => negate_integer(*value),
            Some(TokenKind::Float(value)) => Some(Literal::Float(-*value)),
            _ => None,
        };
        if let Some(literal) = folded {
            self.advance();
            return Ok(Expr::Literal(literal));
        }
        self.enter()?;
        let operand = self.unary()?;
        self.leave();
        Ok(Expr::Unary { op: UnaryOp::Neg, expr: Box::new(operand) })
    }

    /// `expr[key]`, repeated.
    fn postfix(&mut self, mut expr: Expr) -> Parsed<Expr> {
        let base = self.depth;
        while self.peek() == Some(&TokenKind::LBracket) {
            let open = self.current_position();
            self.advance();
            self.deepen()?;
            self.enter()?;
            let index = self.expr()?;
            self.leave();
            if !self.eat(&TokenKind::RBracket) {
                let found = self.describe_current();
                return Err(self
                    .error_here(ParseErrorKind::UnbalancedParentheses, format!("unexpected {found}"))
                    .with_hint(format!("expected ']' to close the '[' opened at {open}")));
            }
            expr = Expr::Index { expr: Box::new(expr), index: Box::new(index) };
        }
        self.depth = base;
        Ok(expr)
    }

    fn primary(&mut self) -> Parsed<Expr> {
        let Some(kind) = self.peek() else {
            return Err(self.unexpected("expected an expression"));
        };
        let expr = match kind {
            TokenKind::LParen => {
                if matches!(
                    self.peek_at(1),
                    Some(TokenKind::Keyword(Keyword::Select | Keyword::From | Keyword::With))
                ) {
                    return Ok(Expr::Subquery(Box::new(self.parenthesized_subquery()?)));
                }
                let open = self.current_position();
                self.advance();
                self.enter()?;
                let inner = self.expr()?;
                self.leave();
                self.close_paren(open, "the expression")?;
                return Ok(inner);
            }
            TokenKind::Integer(value) => Expr::Literal(integer_literal(*value)),
            TokenKind::Float(value) => Expr::Literal(Literal::Float(*value)),
            TokenKind::Keyword(Keyword::True) => Expr::Literal(Literal::Bool(true)),
            TokenKind::Keyword(Keyword::False) => Expr::Literal(Literal::Bool(false)),
            TokenKind::Keyword(Keyword::Null) => Expr::Literal(Literal::Null),
            TokenKind::String(_) | TokenKind::Ident(_) | TokenKind::QuotedIdent(_) => {
                let is_call =
                    matches!(kind, TokenKind::Ident(_)) && self.peek_at(1) == Some(&TokenKind::LParen);
                return match self.advance_kind() {
                    Some(TokenKind::String(text)) => Ok(Expr::Literal(Literal::String(text))),
                    Some(TokenKind::Ident(name)) if is_call => self.call(name),
                    Some(TokenKind::Ident(name) | TokenKind::QuotedIdent(name)) => Ok(Expr::Attribute(name)),
                    _ => Err(self.unexpected("expected an expression")),
                };
            }
            TokenKind::Duration(_) => {
                return Err(self.unexpected(
                    "a duration such as 5 minutes belongs in SINCE, UNTIL, TIMESERIES, COMPARE WITH or a function argument",
                ));
            }
            TokenKind::Star => {
                return Err(self.unexpected("'*' stands alone in SELECT * or as count(*)"));
            }
            TokenKind::RParen => {
                return Err(self.unexpected("expected an expression before ')'"));
            }
            _ => {
                return Err(self.unexpected_with(CLAUSE_WORDS, "expected an expression"));
            }
        };
        self.advance();
        Ok(expr)
    }

    /// A function call, the cursor on its `(`.
    fn call(&mut self, name: String) -> Parsed<Expr> {
        let open = self.current_position();
        self.advance();
        self.enter()?;
        let mut args = Vec::new();
        if self.peek() != Some(&TokenKind::RParen) {
            loop {
                args.push(self.argument()?);
                if !self.eat(&TokenKind::Comma) {
                    break;
                }
            }
        }
        self.leave();
        self.close_paren(open, &format!("the arguments of {name}"))?;
        Ok(Expr::Function { name, args })
    }

    fn argument(&mut self) -> Parsed<Arg> {
        let ends_argument =
            |kind: Option<&TokenKind>| matches!(kind, Some(TokenKind::Comma | TokenKind::RParen));
        match self.peek() {
            // `count(* FROM …` is a missing `)`, not a multiplication: let the caller say so.
            Some(TokenKind::Star) if ends_argument(self.peek_at(1)) || self.star_stands_alone() => {
                self.advance();
                Ok(Arg::Wildcard)
            }
            Some(TokenKind::Duration(duration)) if ends_argument(self.peek_at(1)) => {
                let duration = *duration;
                self.advance();
                Ok(Arg::Duration(duration))
            }
            Some(TokenKind::Keyword(Keyword::Where)) => {
                self.advance();
                let condition = self.expr()?;
                let label = self.alias()?;
                Ok(Arg::Where { condition, label })
            }
            Some(TokenKind::Ident(_) | TokenKind::QuotedIdent(_))
                if self.peek_at(1) == Some(&TokenKind::Colon) =>
            {
                let name = self.name("expected a parameter name")?;
                self.advance();
                let value = self.expr()?;
                Ok(Arg::Named { name, value })
            }
            _ => Ok(Arg::Expr(self.expr()?)),
        }
    }

    // ----- token helpers ---------------------------------------------------------------

    fn peek(&self) -> Option<&TokenKind> {
        self.tokens.get(self.cursor).map(|token| &token.kind)
    }

    fn peek_at(&self, ahead: usize) -> Option<&TokenKind> {
        self.tokens.get(self.cursor + ahead).map(|token| &token.kind)
    }

    fn advance(&mut self) {
        if self.cursor < self.tokens.len() {
            self.cursor += 1;
        }
    }

    /// Takes the current token's kind out of the stream and moves past it.
    fn advance_kind(&mut self) -> Option<TokenKind> {
        let token = self.tokens.get_mut(self.cursor)?;
        let kind = std::mem::replace(&mut token.kind, TokenKind::Comma);
        self.cursor += 1;
        Some(kind)
    }

    fn advance_kind_if(&mut self, wanted: impl Fn(&TokenKind) -> bool) -> Option<TokenKind> {
        if self.peek().is_some_and(wanted) { self.advance_kind() } else { None }
    }

    fn eat(&mut self, kind: &TokenKind) -> bool {
        if self.peek() == Some(kind) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn eat_keyword(&mut self, keyword: Keyword) -> bool {
        self.eat(&TokenKind::Keyword(keyword))
    }

    fn expect_keyword(&mut self, keyword: Keyword, expected: &str) -> Parsed<()> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.unexpected_with(&[keyword.as_str()], expected))
        }
    }

    fn at_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(TokenKind::Ident(found)) if found.eq_ignore_ascii_case(word))
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if self.at_word(word) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn close_paren(&mut self, open: Position, what: &str) -> Parsed<()> {
        if self.eat(&TokenKind::RParen) {
            return Ok(());
        }
        let found = self.describe_current();
        Err(self
            .error_here(ParseErrorKind::UnbalancedParentheses, format!("unexpected {found}"))
            .with_hint(format!("expected ')' to close {what} opened at {open}")))
    }

    fn no_duplicate(&self, already: bool, clause: &str) -> Parsed<()> {
        if already {
            Err(self
                .error_here(ParseErrorKind::DuplicateClause, format!("duplicate {clause} clause"))
                .with_hint(format!("a query takes one {clause}; combine them")))
        } else {
            Ok(())
        }
    }

    /// Enters one level of nesting (parentheses, calls, subqueries, prefix operators).
    fn enter(&mut self) -> Parsed<()> {
        self.nesting += 1;
        self.depth += 1;
        if self.nesting > MAX_NESTING || self.depth > MAX_TREE_DEPTH {
            return Err(self.too_deep());
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting = self.nesting.saturating_sub(1);
        self.depth = self.depth.saturating_sub(1);
    }

    /// Accounts for one more operator in a left-leaning chain (`a + b + c`).
    fn deepen(&mut self) -> Parsed<()> {
        self.depth += 1;
        if self.depth > MAX_TREE_DEPTH { Err(self.too_deep()) } else { Ok(()) }
    }

    fn too_deep(&self) -> ParseError {
        self.error_here(ParseErrorKind::TooDeep, "query nests too deeply").with_hint(format!(
            "use at most {MAX_NESTING} levels of parentheses and {MAX_TREE_DEPTH} chained operators"
        ))
    }

    fn current_position(&self) -> Position {
        match self.tokens.get(self.cursor) {
            Some(token) => token.position,
            None => end_position(self.input),
        }
    }

    fn error_here(&self, kind: ParseErrorKind, message: impl Into<String>) -> ParseError {
        ParseError::new(kind, self.current_position(), message)
    }

    fn describe_current(&self) -> String {
        match self.tokens.get(self.cursor) {
            Some(token) => {
                let text = self.input.get(token.start..token.end).unwrap_or("?");
                let shown: String = text.chars().take(40).collect();
                if shown.len() < text.len() { format!("'{shown}…'") } else { format!("'{shown}'") }
            }
            None => "end of query".to_owned(),
        }
    }

    fn unexpected(&self, expected: &str) -> ParseError {
        self.unexpected_with(&[], expected)
    }

    /// "unexpected 'X'" at the cursor, hinting the closest of `suggestions` when the
    /// token looks like a misspelling of one, and `expected` otherwise.
    fn unexpected_with(&self, suggestions: &[&str], expected: &str) -> ParseError {
        let Some(token) = self.tokens.get(self.cursor) else {
            return self
                .error_here(ParseErrorKind::UnexpectedEnd, "unexpected end of query")
                .with_hint(expected.to_owned());
        };
        let message = format!("unexpected {}", self.describe_current());
        let error = ParseError::new(ParseErrorKind::UnexpectedToken, token.position, message);
        let guess = match &token.kind {
            TokenKind::Ident(word) => closest_word(word, suggestions),
            _ => None,
        };
        match guess {
            Some(keyword) => error.with_hint(format!("did you mean {keyword}?")),
            None => error.with_hint(expected.to_owned()),
        }
    }
}

/// An operator that may follow an operand.
#[derive(Clone, Copy)]
enum Infix {
    Binary(BinaryOp),
    In,
    Like,
    Rlike,
    Is,
}

#[cfg(test)]
fn binary(op: BinaryOp, left: Expr, right: Expr) -> Expr {
    Expr::Binary { op, left: Box::new(left), right: Box::new(right) }
}

fn integer_literal(value: u64) -> Literal {
    match i64::try_from(value) {
        Ok(value) => Literal::Int(value),
        Err(_) => Literal::Float(value as f64),
    }
}

fn negate_integer(value: u64) -> Option<Literal> {
    if value <= i64::MAX as u64 {
        i64::try_from(value).ok().map(|value| Literal::Int(-value))
    } else if value == i64::MAX as u64 + 1 {
        Some(Literal::Int(i64::MIN))
    } else {
        Some(Literal::Float(-(value as f64)))
    }
}

/// The position just past the last character of `input`.
fn end_position(input: &str) -> Position {
    let mut position = Position::START;
    for character in input.chars() {
        if character == '\n' {
            position.line = position.line.saturating_add(1);
            position.column = 1;
        } else {
            position.column = position.column.saturating_add(1);
        }
    }
    position
}

/// The candidate closest to `word` by edit distance, if close enough to be a typo.
fn closest_word<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if word.len() > 24 {
        return None;
    }
    let word = word.to_ascii_uppercase();
    let allowed = if word.len() <= 4 { 1 } else { 2 };
    candidates
        .iter()
        .filter(|candidate| **candidate != word)
        .map(|candidate| (edit_distance(&word, candidate), *candidate))
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
/// adjacent characters each cost one.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut table = vec![0usize; (a.len() + 1) * width];
    for (i, row_start) in table.iter_mut().step_by(width).enumerate() {
        *row_start = i;
    }
    for (j, cell) in table.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (table[(i - 1) * width + j] + 1)
                .min(table[i * width + j - 1] + 1)
                .min(table[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[(i - 2) * width + j - 2] + 1);
            }
            table[i * width + j] = best;
        }
    }
    table[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests;
