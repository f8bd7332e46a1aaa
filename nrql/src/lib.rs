//! NRQL (New Relic Query Language): lexer, parser, syntax tree and canonical printer.
//!
//! Crate map:
//! - [`ast`]: the syntax tree ([`ast::Query`]) with helpers the evaluator and the policy
//!   need: [`ast::Query::event_types`], [`ast::Query::since`], [`ast::Query::until`],
//!   [`ast::Query::limit`], visitors over subqueries and expressions.
//! - [`lex`]: text to [`Token`]s with 1-based `line:column` positions.
//! - [`parse`]: text to [`ast::Query`]; errors are [`ParseError`]s that say what is wrong,
//!   where, and how to fix it.
//! - [`print`]: [`ast::Query`] to canonical NRQL; `parse(&print(&q)) == Ok(q)`.
//! - [`subquery_count`]: how many subqueries a query holds (New Relic allows 3).
//! - [`MAX_NESTING`]: the nesting depth past which [`parse`] refuses input, so hostile
//!   queries cost an error, never the stack.
//! - [`is_aggregator`]: whether a function name aggregates (`count`, `percentile`, …).
//! - [`policy`]: the server's limits on what one query may cost or read ([`Policy`]), with
//!   refusals that say how to comply ([`PolicyViolation`]).
//! - [`template`]: queries built from typed parameters ([`Template`]) by substitution into
//!   the syntax tree, never into the text, so no value can change a query's shape.

pub mod ast;
mod error;
mod functions;
mod lexer;
mod parser;
pub mod policy;
mod printer;
pub mod template;

pub use error::{ParseError, ParseErrorKind, Position};
pub use functions::is_aggregator;
pub use lexer::{Keyword, Token, TokenKind, lex};
pub use parser::{MAX_NESTING, parse};
pub use policy::{Policy, PolicyViolation};
pub use printer::print;
pub use template::{ParamSpec, ParamType, Template, TemplateError};

/// How many subqueries `query` holds, nested or not: `JOIN (…)`, `IN (SELECT …)` and
/// scalar `(SELECT …)` each count, wherever they appear. New Relic rejects more than 3.
///
/// A nested aggregation (`FROM (SELECT …)`) is not a subquery in New Relic's terms, so it
/// does not count itself, but subqueries inside it do.
pub fn subquery_count(query: &ast::Query) -> usize {
    match query {
        ast::Query::Select(select) => count_subqueries(select),
        ast::Query::ShowEventTypes(_) => 0,
    }
}

fn count_subqueries(query: &ast::SelectQuery) -> usize {
    let nested_aggregation = match &query.from {
        ast::FromClause::Subquery(inner) => Some(inner.as_ref()),
        _ => None,
    };
    query
        .direct_subqueries()
        .into_iter()
        .map(|inner| {
            let own = usize::from(!nested_aggregation.is_some_and(|from| std::ptr::eq(from, inner)));
            own + count_subqueries(inner)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn counts_subqueries_as_new_relic_does() {
        let cases = [
            ("SELECT count(*) FROM T", 0),
            ("SHOW EVENT TYPES", 0),
            ("SELECT count(*) FROM T WHERE d > (SELECT average(d) FROM T)", 1),
            (
                "SELECT count(*) FROM T WHERE x IN (SELECT uniques(x) FROM U WHERE d > (SELECT max(d) FROM U))",
                2,
            ),
            ("FROM T JOIN (FROM U SELECT count(*) FACET k) ON k SELECT count(*)", 1),
            ("SELECT max(c) FROM (SELECT count(*) AS c FROM T TIMESERIES)", 0),
            ("SELECT max(c) FROM (SELECT count(*) AS c FROM T WHERE x IN (FROM U SELECT uniques(x)))", 1),
            ("SELECT filter(count(*), WHERE x IN (FROM U SELECT uniques(x))), (SELECT 1 FROM V) FROM T", 2),
        ];
        for (input, expected) in cases {
            assert_eq!(subquery_count(&parse(input).unwrap()), expected, "{input}");
        }
    }
}
