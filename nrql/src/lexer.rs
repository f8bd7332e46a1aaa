//! Turns NRQL text into tokens, each with its 1-based `line:column` position.
//!
//! Reserved words become [`Keyword`]s (case-insensitively); words that are keywords only in
//! some places (`ago`, `auto`, `max`, `now`, `timezone`, units, …) stay [`TokenKind::Ident`]
//! so they remain usable as attribute names, and the parser recognises them in context.
//! A whole number followed by a unit word (`5 minutes`) becomes one
//! [`TokenKind::Duration`] token.

use serde::Serialize;

use crate::ast::{Duration, TimeUnit};
use crate::error::{ParseError, ParseErrorKind, Position};

/// A reserved word of NRQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Keyword {
    /// `SELECT`
    Select,
    /// `FROM`
    From,
    /// `WHERE`
    Where,
    /// `FACET`
    Facet,
    /// `LIMIT`
    Limit,
    /// `OFFSET`
    Offset,
    /// `SINCE`
    Since,
    /// `UNTIL`
    Until,
    /// `TIMESERIES`
    Timeseries,
    /// `COMPARE`
    Compare,
    /// `WITH`
    With,
    /// `AS`
    As,
    /// `AND`
    And,
    /// `OR`
    Or,
    /// `NOT`
    Not,
    /// `IN`
    In,
    /// `LIKE`
    Like,
    /// `RLIKE`
    Rlike,
    /// `IS`
    Is,
    /// `NULL`
    Null,
    /// `TRUE`
    True,
    /// `FALSE`
    False,
    /// `ORDER`
    Order,
    /// `BY`
    By,
    /// `ASC`
    Asc,
    /// `DESC`
    Desc,
    /// `EXTRAPOLATE`
    Extrapolate,
    /// `JOIN`
    Join,
    /// `ON`
    On,
    /// `SLIDE`
    Slide,
}

impl Keyword {
    /// Every keyword.
    pub const ALL: [Keyword; 30] = [
        Keyword::Select,
        Keyword::From,
        Keyword::Where,
        Keyword::Facet,
        Keyword::Limit,
        Keyword::Offset,
        Keyword::Since,
        Keyword::Until,
        Keyword::Timeseries,
        Keyword::Compare,
        Keyword::With,
        Keyword::As,
        Keyword::And,
        Keyword::Or,
        Keyword::Not,
        Keyword::In,
        Keyword::Like,
        Keyword::Rlike,
        Keyword::Is,
        Keyword::Null,
        Keyword::True,
        Keyword::False,
        Keyword::Order,
        Keyword::By,
        Keyword::Asc,
        Keyword::Desc,
        Keyword::Extrapolate,
        Keyword::Join,
        Keyword::On,
        Keyword::Slide,
    ];

    /// The keyword in upper case, as the printer writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::Select => "SELECT",
            Keyword::From => "FROM",
            Keyword::Where => "WHERE",
            Keyword::Facet => "FACET",
            Keyword::Limit => "LIMIT",
            Keyword::Offset => "OFFSET",
            Keyword::Since => "SINCE",
            Keyword::Until => "UNTIL",
            Keyword::Timeseries => "TIMESERIES",
            Keyword::Compare => "COMPARE",
            Keyword::With => "WITH",
            Keyword::As => "AS",
            Keyword::And => "AND",
            Keyword::Or => "OR",
            Keyword::Not => "NOT",
            Keyword::In => "IN",
            Keyword::Like => "LIKE",
            Keyword::Rlike => "RLIKE",
            Keyword::Is => "IS",
            Keyword::Null => "NULL",
            Keyword::True => "TRUE",
            Keyword::False => "FALSE",
            Keyword::Order => "ORDER",
            Keyword::By => "BY",
            Keyword::Asc => "ASC",
            Keyword::Desc => "DESC",
            Keyword::Extrapolate => "EXTRAPOLATE",
            Keyword::Join => "JOIN",
            Keyword::On => "ON",
            Keyword::Slide => "SLIDE",
        }
    }

    /// The keyword spelled by `word`, in any case.
    pub fn from_word(word: &str) -> Option<Keyword> {
        // Keywords are 2 to 11 ASCII letters: reject everything else before comparing.
        if !(2..=11).contains(&word.len()) {
            return None;
        }
        let mut upper = [0u8; 11];
        for (slot, byte) in upper.iter_mut().zip(word.bytes()) {
            *slot = byte.to_ascii_uppercase();
        }
        let upper = &upper[..word.len()];
        Keyword::ALL.into_iter().find(|keyword| keyword.as_str().as_bytes() == upper)
    }
}

/// What a token is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A reserved word.
    Keyword(Keyword),
    /// A bare name: attribute, event type, function, or contextual word (`ago`, `auto`).
    Ident(String),
    /// A backtick-quoted name (`` `request.headers.User-Agent` ``), quotes removed.
    QuotedIdent(String),
    /// A single-quoted string, escapes resolved. Raw strings `r'…'` keep backslashes.
    String(String),
    /// A whole number.
    Integer(u64),
    /// A number with a fraction or an exponent, or a whole number too big for `u64`.
    Float(f64),
    /// A whole number followed by a unit word: `5 minutes`.
    Duration(Duration),
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `,`
    Comma,
    /// `:`
    Colon,
    /// `*`
    Star,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `/`
    Slash,
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
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Token {
    /// What the token is.
    pub kind: TokenKind,
    /// Where the token starts (1-based line and column).
    pub position: Position,
    /// Byte offset of the token's first byte in the input.
    pub start: usize,
    /// Byte offset just past the token's last byte.
    pub end: usize,
}

/// Splits `input` into tokens, skipping whitespace and comments (`-- …`, `// …`, `/* … */`).
///
/// Fails on an unterminated string, backtick name or block comment, on a character that
/// starts no token, and on a malformed number.
pub fn lex(input: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer { input, bytes: input.as_bytes(), offset: 0, line: 1, column: 1 };
    let mut tokens = Vec::with_capacity(input.len() / 4 + 1);
    while let Some(token) = lexer.next_token()? {
        // A whole number directly followed by a unit word is a duration: `5 minutes`.
        if let (TokenKind::Ident(word), Some(previous)) = (&token.kind, tokens.last_mut())
            && let Token { kind: TokenKind::Integer(amount), .. } = previous
            && let Some(unit) = TimeUnit::from_word(word)
        {
            let amount = *amount;
            previous.kind = TokenKind::Duration(Duration { amount, unit });
            previous.end = token.end;
            continue;
        }
        tokens.push(token);
    }
    Ok(tokens)
}

struct Lexer<'a> {
    input: &'a str,
    bytes: &'a [u8],
    offset: usize,
    line: u32,
    column: u32,
}

impl Lexer<'_> {
    fn position(&self) -> Position {
        Position { line: self.line, column: self.column }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.offset).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.offset + ahead).copied()
    }

    /// Moves past one byte, keeping line and column in characters.
    fn bump(&mut self) {
        if let Some(byte) = self.peek() {
            self.offset += 1;
            if byte == b'\n' {
                self.line = self.line.saturating_add(1);
                self.column = 1;
            } else if byte & 0xC0 != 0x80 {
                // Count only the first byte of each UTF-8 sequence: columns are characters.
                self.column = self.column.saturating_add(1);
            }
        }
    }

    fn skip_trivia(&mut self) -> Result<(), ParseError> {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(byte), _) if byte.is_ascii_whitespace() => self.bump(),
                (Some(b'-'), Some(b'-')) | (Some(b'/'), Some(b'/')) => {
                    while let Some(byte) = self.peek() {
                        if byte == b'\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                (Some(b'/'), Some(b'*')) => {
                    let start = self.position();
                    self.bump();
                    self.bump();
                    loop {
                        match (self.peek(), self.peek_at(1)) {
                            (Some(b'*'), Some(b'/')) => {
                                self.bump();
                                self.bump();
                                break;
                            }
                            (Some(_), _) => self.bump(),
                            (None, _) => {
                                return Err(ParseError::new(
                                    ParseErrorKind::Unterminated,
                                    start,
                                    "unterminated comment starting",
                                )
                                .with_hint("close the comment with */"));
                            }
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn next_token(&mut self) -> Result<Option<Token>, ParseError> {
        self.skip_trivia()?;
        let position = self.position();
        let start = self.offset;
        let Some(byte) = self.peek() else {
            return Ok(None);
        };
        let kind = match byte {
            b'(' => self.single(TokenKind::LParen),
            b')' => self.single(TokenKind::RParen),
            b'[' => self.single(TokenKind::LBracket),
            b']' => self.single(TokenKind::RBracket),
            b',' => self.single(TokenKind::Comma),
            b':' => self.single(TokenKind::Colon),
            b'*' => self.single(TokenKind::Star),
            b'+' => self.single(TokenKind::Plus),
            b'-' => self.single(TokenKind::Minus),
            b'/' => self.single(TokenKind::Slash),
            b'=' => {
                self.bump();
                // `==` is a common slip from other languages; it means the same.
                if self.peek() == Some(b'=') {
                    self.bump();
                }
                TokenKind::Eq
            }
            b'!' if self.peek_at(1) == Some(b'=') => self.double(TokenKind::NotEq),
            b'<' => match self.peek_at(1) {
                Some(b'=') => self.double(TokenKind::LtEq),
                Some(b'>') => self.double(TokenKind::NotEq),
                _ => self.single(TokenKind::Lt),
            },
            b'>' => match self.peek_at(1) {
                Some(b'=') => self.double(TokenKind::GtEq),
                _ => self.single(TokenKind::Gt),
            },
            b'\'' => TokenKind::String(self.string(position, false)?),
            b'r' | b'R' if self.peek_at(1) == Some(b'\'') => {
                self.bump();
                TokenKind::String(self.string(position, true)?)
            }
            b'`' => TokenKind::QuotedIdent(self.backtick(position)?),
            b'0'..=b'9' => self.number(position)?,
            b'.' if self.peek_at(1).is_some_and(|next| next.is_ascii_digit()) => self.number(position)?,
            byte if is_ident_start(byte) => {
                let word = self.word();
                match Keyword::from_word(word) {
                    Some(keyword) => TokenKind::Keyword(keyword),
                    None => TokenKind::Ident(word.to_owned()),
                }
            }
            _ => {
                let character = self.input[start..].chars().next().unwrap_or('?');
                return Err(ParseError::new(
                    ParseErrorKind::InvalidCharacter,
                    position,
                    format!("unexpected character '{character}'"),
                )
                .with_hint(match character {
                    '"' => "strings use single quotes: 'text'",
                    ';' => "NRQL takes one query without a trailing ';'",
                    _ => "names with special characters go in backticks: `my-attr`",
                }));
            }
        };
        Ok(Some(Token { kind, position, start, end: self.offset }))
    }

    fn single(&mut self, kind: TokenKind) -> TokenKind {
        self.bump();
        kind
    }

    fn double(&mut self, kind: TokenKind) -> TokenKind {
        self.bump();
        self.bump();
        kind
    }

    fn word(&mut self) -> &str {
        let start = self.offset;
        while let Some(byte) = self.peek() {
            let continues =
                is_ident_continue(byte) || (byte == b'.' && self.peek_at(1).is_some_and(is_ident_continue));
            if !continues {
                break;
            }
            self.bump();
        }
        &self.input[start..self.offset]
    }

    /// Reads a single-quoted string. In ordinary strings `\'` and `''` stand for a quote
    /// and `\\` for a backslash; any other backslash is kept as written so regular
    /// expressions read naturally. Raw strings (`r'…'`) keep every backslash.
    fn string(&mut self, start: Position, raw: bool) -> Result<String, ParseError> {
        self.bump();
        let mut value = String::new();
        let mut run_start = self.offset;
        loop {
            let Some(byte) = self.peek() else {
                return Err(ParseError::new(
                    ParseErrorKind::Unterminated,
                    start,
                    "unterminated string starting",
                )
                .with_hint("close the string with '"));
            };
            match byte {
                b'\'' => {
                    value.push_str(&self.input[run_start..self.offset]);
                    self.bump();
                    if !raw && self.peek() == Some(b'\'') {
                        value.push('\'');
                        self.bump();
                        run_start = self.offset;
                    } else {
                        return Ok(value);
                    }
                }
                b'\\' if !raw && matches!(self.peek_at(1), Some(b'\'' | b'\\')) => {
                    value.push_str(&self.input[run_start..self.offset]);
                    self.bump();
                    value.push(char::from(self.peek().unwrap_or(b'\\')));
                    self.bump();
                    run_start = self.offset;
                }
                _ => self.bump(),
            }
        }
    }

    /// Reads a backtick name; a doubled backtick stands for one backtick.
    fn backtick(&mut self, start: Position) -> Result<String, ParseError> {
        self.bump();
        let mut value = String::new();
        let mut run_start = self.offset;
        loop {
            match self.peek() {
                None => {
                    return Err(ParseError::new(
                        ParseErrorKind::Unterminated,
                        start,
                        "unterminated name starting",
                    )
                    .with_hint("close the name with `"));
                }
                Some(b'`') => {
                    value.push_str(&self.input[run_start..self.offset]);
                    self.bump();
                    if self.peek() == Some(b'`') {
                        value.push('`');
                        self.bump();
                        run_start = self.offset;
                    } else {
                        return Ok(value);
                    }
                }
                Some(_) => self.bump(),
            }
        }
    }

    fn number(&mut self, start: Position) -> Result<TokenKind, ParseError> {
        let begin = self.offset;
        let mut is_float = false;
        self.digits();
        if self.peek() == Some(b'.') && self.peek_at(1).is_some_and(|next| next.is_ascii_digit()) {
            is_float = true;
            self.bump();
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let exponent_digits_at = match self.peek_at(1) {
                Some(b'+' | b'-') => 2,
                _ => 1,
            };
            if self.peek_at(exponent_digits_at).is_some_and(|next| next.is_ascii_digit()) {
                is_float = true;
                for _ in 0..exponent_digits_at {
                    self.bump();
                }
                self.digits();
            }
        }
        let text = &self.input[begin..self.offset];
        if !is_float && let Ok(value) = text.parse::<u64>() {
            return Ok(TokenKind::Integer(value));
        }
        match text.parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(TokenKind::Float(value)),
            _ => Err(ParseError::new(
                ParseErrorKind::InvalidNumber,
                start,
                format!("number '{text}' is out of range"),
            )),
        }
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            self.bump();
        }
    }
}

fn is_ident_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_'
}

fn is_ident_continue(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Whether `name` can be written without backticks: it lexes as one bare identifier that
/// is not a keyword.
pub(crate) fn is_plain_identifier(name: &str) -> bool {
    let bytes = name.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    if !is_ident_start(first) || Keyword::from_word(name).is_some() {
        return false;
    }
    // A `.` must sit between identifier characters, as the lexer reads it.
    bytes.windows(2).all(|pair| match pair {
        [b'.', next] => is_ident_continue(*next),
        [_, next] => is_ident_continue(*next) || *next == b'.',
        _ => false,
    }) && bytes.last().is_some_and(|last| is_ident_continue(*last))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn kinds(input: &str) -> Vec<TokenKind> {
        lex(input).unwrap().into_iter().map(|token| token.kind).collect()
    }

    fn ident(name: &str) -> TokenKind {
        TokenKind::Ident(name.to_owned())
    }

    #[test]
    fn lexes_token_kinds() {
        let cases: Vec<(&str, Vec<TokenKind>)> = vec![
            ("select", vec![TokenKind::Keyword(Keyword::Select)]),
            ("SeLeCt FROM", vec![TokenKind::Keyword(Keyword::Select), TokenKind::Keyword(Keyword::From)]),
            ("request.uri", vec![ident("request.uri")]),
            ("`my attr-1.x`", vec![TokenKind::QuotedIdent("my attr-1.x".into())]),
            ("`a``b`", vec![TokenKind::QuotedIdent("a`b".into())]),
            ("'it''s'", vec![TokenKind::String("it's".into())]),
            (r"'it\'s'", vec![TokenKind::String("it's".into())]),
            (r"'a\\b'", vec![TokenKind::String(r"a\b".into())]),
            (r"'\d+'", vec![TokenKind::String(r"\d+".into())]),
            (r"r'\d+\\'", vec![TokenKind::String(r"\d+\\".into())]),
            ("'héllo'", vec![TokenKind::String("héllo".into())]),
            ("42", vec![TokenKind::Integer(42)]),
            ("4.5", vec![TokenKind::Float(4.5)]),
            (".5", vec![TokenKind::Float(0.5)]),
            ("1e3", vec![TokenKind::Float(1000.0)]),
            ("2.5E-1", vec![TokenKind::Float(0.25)]),
            ("18446744073709551616", vec![TokenKind::Float(18446744073709551616.0)]),
            ("5 minutes", vec![TokenKind::Duration(Duration { amount: 5, unit: TimeUnit::Minute })]),
            ("1 HOUR", vec![TokenKind::Duration(Duration { amount: 1, unit: TimeUnit::Hour })]),
            ("3 months", vec![TokenKind::Duration(Duration { amount: 3, unit: TimeUnit::Month })]),
            ("2 day", vec![TokenKind::Duration(Duration { amount: 2, unit: TimeUnit::Day })]),
            ("1.5 hours", vec![TokenKind::Float(1.5), ident("hours")]),
            ("minutes", vec![ident("minutes")]),
            (
                "a != b <> c <= d >= e < f > g = h == i",
                vec![
                    ident("a"),
                    TokenKind::NotEq,
                    ident("b"),
                    TokenKind::NotEq,
                    ident("c"),
                    TokenKind::LtEq,
                    ident("d"),
                    TokenKind::GtEq,
                    ident("e"),
                    TokenKind::Lt,
                    ident("f"),
                    TokenKind::Gt,
                    ident("g"),
                    TokenKind::Eq,
                    ident("h"),
                    TokenKind::Eq,
                    ident("i"),
                ],
            ),
            ("a -- comment\n b", vec![ident("a"), ident("b")]),
            ("a // comment\n b", vec![ident("a"), ident("b")]),
            ("a /* multi\nline */ b", vec![ident("a"), ident("b")]),
            ("a-b", vec![ident("a"), TokenKind::Minus, ident("b")]),
            ("t: 0.4", vec![ident("t"), TokenKind::Colon, TokenKind::Float(0.4)]),
            ("", vec![]),
            ("  -- only a comment", vec![]),
        ];
        for (input, expected) in cases {
            assert_eq!(kinds(input), expected, "{input}");
        }
    }

    #[test]
    fn positions_are_one_based_lines_and_character_columns() {
        let tokens = lex("SELECT 'é'\n  FROM x").unwrap();
        let positions: Vec<(u32, u32)> =
            tokens.iter().map(|token| (token.position.line, token.position.column)).collect();
        assert_eq!(positions, vec![(1, 1), (1, 8), (2, 3), (2, 8)]);
    }

    #[test]
    fn reports_lexical_errors_with_positions() {
        let cases = [
            ("SELECT count(*) FROM Transaction WHERE 'open", "unterminated string starting at 1:40"),
            ("SELECT `open", "unterminated name starting at 1:8"),
            ("a /* never closed", "unterminated comment starting at 1:3"),
            ("a # b", "unexpected character '#' at 1:3"),
            ("a = \"x\"", "unexpected character '\"' at 1:5 — strings use single quotes: 'text'"),
            ("1e999", "number '1e999' is out of range at 1:1"),
        ];
        for (input, expected) in cases {
            let error = lex(input).unwrap_err();
            assert!(error.to_string().starts_with(expected), "{input}: {error}");
        }
    }

    #[test]
    fn plain_identifiers_are_those_the_lexer_reads_back() {
        for (name, plain) in [
            ("duration", true),
            ("request.uri", true),
            ("_x1", true),
            ("a$", false),
            ("select", false),
            ("a.", false),
            (".a", false),
            ("a..b", false),
            ("my attr", false),
            ("a-b", false),
            ("1a", false),
            ("", false),
        ] {
            assert_eq!(is_plain_identifier(name), plain, "{name}");
            if plain {
                assert_eq!(kinds(name), vec![ident(name)]);
            }
        }
    }
}
