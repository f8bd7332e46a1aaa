//! The error every stage of NRQL processing reports: what went wrong, where, and how to
//! fix it when a fix can be guessed.

use std::fmt;

/// Why a query was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The input holds nothing but whitespace and comments.
    EmptyInput,
    /// A token the grammar does not allow at this point.
    UnexpectedToken,
    /// The input ended while more was required.
    UnexpectedEnd,
    /// A string or backtick name with no closing quote.
    Unterminated,
    /// A character that starts no NRQL token.
    InvalidCharacter,
    /// A number that does not fit or is malformed.
    InvalidNumber,
    /// `(` without `)` or the reverse.
    UnbalancedParentheses,
    /// A `SELECT` query with no `FROM` clause.
    MissingFrom,
    /// A `FROM` query with no `SELECT` clause.
    MissingSelect,
    /// A clause given twice.
    DuplicateClause,
    /// Input left over after a complete query.
    TrailingInput,
    /// Nesting deeper than the parser accepts.
    TooDeep,
}

/// A lexing or parsing failure at a 1-based `line:column` position.
///
/// Displays as `unexpected 'SELCT' at 1:1 — did you mean SELECT?`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {line}:{column}{}", HintSuffix(.hint.as_deref()))]
pub struct ParseError {
    /// The category of the failure.
    pub kind: ParseErrorKind,
    /// 1-based line of the offending input.
    pub line: u32,
    /// 1-based column (in characters) of the offending input.
    pub column: u32,
    /// What is wrong, without the position.
    pub message: String,
    /// How to fix it, when that can be guessed.
    pub hint: Option<String>,
}

impl ParseError {
    /// An error at `position` without a hint.
    pub fn new(kind: ParseErrorKind, position: Position, message: impl Into<String>) -> ParseError {
        ParseError { kind, line: position.line, column: position.column, message: message.into(), hint: None }
    }

    /// Adds a hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> ParseError {
        self.hint = Some(hint.into());
        self
    }

    /// The position of the error.
    pub fn position(&self) -> Position {
        Position { line: self.line, column: self.column }
    }
}

struct HintSuffix<'a>(Option<&'a str>);

impl fmt::Display for HintSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(hint) => write!(f, " — {hint}"),
            None => Ok(()),
        }
    }
}

/// A 1-based position in the query text; columns count characters, not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl Position {
    /// The first character of the input.
    pub const START: Position = Position { line: 1, column: 1 };
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_includes_position_and_hint() {
        let plain = ParseError::new(
            ParseErrorKind::Unterminated,
            Position { line: 1, column: 37 },
            "unterminated string starting",
        );
        assert_eq!(plain.to_string(), "unterminated string starting at 1:37");
        let hinted = ParseError::new(ParseErrorKind::UnexpectedToken, Position::START, "unexpected 'SELCT'")
            .with_hint("did you mean SELECT?");
        assert_eq!(hinted.to_string(), "unexpected 'SELCT' at 1:1 — did you mean SELECT?");
    }
}
