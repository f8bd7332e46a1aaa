//! Finds the `{{name}}` placeholders of a template's text and swaps them for sentinel
//! tokens the NRQL parser reads as ordinary values.
//!
//! The scan follows NRQL's quoting rules (single-quoted strings with `\'`, `''` and raw
//! `r'…'` forms, backtick names, `--`, `//` and `/* */` comments) so that a placeholder
//! written inside quotes or a comment is refused instead of being spliced into text.

use crate::error::Position;

use super::TemplateError;

/// Longest placeholder name accepted.
const MAX_NAME_LEN: usize = 64;

/// Characters that may not touch a placeholder: a placeholder is a token on its own, so
/// it can never be glued into a word, a number, a quoted string or a name.
fn glues(character: char) -> bool {
    character.is_alphanumeric() || matches!(character, '_' | '.' | '\'' | '`' | '"' | '{' | '}' | '$')
}

/// One `{{name}}` in the template text.
#[derive(Debug, Clone)]
pub(super) struct Found {
    /// The placeholder's name, without braces or spaces.
    pub name: String,
    /// Byte range of `{{…}}` in the template text.
    pub start: usize,
    pub end: usize,
    /// Where the placeholder starts in the template.
    pub position: Position,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Code,
    String { raw: bool },
    Backtick,
    LineComment,
    BlockComment,
}

impl State {
    fn describe(self) -> &'static str {
        match self {
            State::Code => "code",
            State::String { .. } => "a quoted string",
            State::Backtick => "a backtick name",
            State::LineComment | State::BlockComment => "a comment",
        }
    }
}

/// Every placeholder of `text`, in order.
pub(super) fn find_placeholders(text: &str) -> Result<Vec<Found>, TemplateError> {
    let characters: Vec<(usize, char)> = text.char_indices().collect();
    let at = |index: usize| characters.get(index).map(|(_, character)| *character);
    let mut found = Vec::new();
    let mut state = State::Code;
    let mut position = Position::START;
    let mut index = 0;
    // Moves past `count` characters, keeping line and column.
    let advance = |index: &mut usize, position: &mut Position, count: usize| {
        for _ in 0..count {
            if at(*index) == Some('\n') {
                position.line = position.line.saturating_add(1);
                position.column = 1;
            } else {
                position.column = position.column.saturating_add(1);
            }
            *index += 1;
        }
    };
    while let Some(character) = at(index) {
        let next = at(index + 1);
        if character == '{' && next == Some('{') {
            if state != State::Code {
                let name = placeholder_name(text, characters[index].0).unwrap_or_default();
                return Err(TemplateError::PlaceholderInQuotes { name, position, inside: state.describe() });
            }
            let start = characters[index].0;
            let Some(close) = text[start..].find("}}").map(|offset| start + offset) else {
                return Err(TemplateError::UnclosedPlaceholder { position });
            };
            let raw_name = &text[start + 2..close];
            let name = raw_name.trim();
            if !is_valid_name(name) {
                return Err(TemplateError::InvalidPlaceholderName { text: raw_name.to_owned(), position });
            }
            let before = index.checked_sub(1).and_then(at);
            let width = text[start..close + 2].chars().count();
            let after = at(index + width);
            if before.is_some_and(glues) || after.is_some_and(glues) {
                return Err(TemplateError::PlaceholderNotSeparated { name: name.to_owned(), position });
            }
            found.push(Found { name: name.to_owned(), start, end: close + 2, position });
            advance(&mut index, &mut position, width);
            continue;
        }
        let mut step = 1;
        state = match state {
            State::Code => match (character, next) {
                ('\'', _) => {
                    let previous = index.checked_sub(1).and_then(at);
                    let before_previous = index.checked_sub(2).and_then(at);
                    // `r'…'` is raw only when the `r` starts a token, as the lexer reads it.
                    let raw = matches!(previous, Some('r' | 'R'))
                        && !before_previous
                            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
                    State::String { raw }
                }
                ('`', _) => State::Backtick,
                ('-', Some('-')) | ('/', Some('/')) => {
                    step = 2;
                    State::LineComment
                }
                ('/', Some('*')) => {
                    step = 2;
                    State::BlockComment
                }
                _ => State::Code,
            },
            State::String { raw } => match (character, next) {
                ('\\', Some('\'' | '\\')) if !raw => {
                    step = 2;
                    state
                }
                ('\'', Some('\'')) if !raw => {
                    step = 2;
                    state
                }
                ('\'', _) => State::Code,
                _ => state,
            },
            State::Backtick => match (character, next) {
                ('`', Some('`')) => {
                    step = 2;
                    state
                }
                ('`', _) => State::Code,
                _ => state,
            },
            State::LineComment if character == '\n' => State::Code,
            State::LineComment => state,
            State::BlockComment if character == '*' && next == Some('/') => {
                step = 2;
                State::Code
            }
            State::BlockComment => state,
        };
        advance(&mut index, &mut position, step);
    }
    Ok(found)
}

/// The name inside a `{{…}}` starting at byte `start`, for error messages.
fn placeholder_name(text: &str, start: usize) -> Option<String> {
    let rest = text.get(start + 2..)?;
    let close = rest.find("}}")?;
    Some(rest[..close].trim().to_owned())
}

/// A placeholder or parameter name: an ASCII letter or `_`, then letters, digits or `_`.
pub(super) fn is_valid_name(name: &str) -> bool {
    let mut characters = name.chars();
    characters.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && characters.all(|character| character.is_ascii_alphanumeric() || character == '_')
        && name.len() <= MAX_NAME_LEN
}

/// One swap of a placeholder for its sentinel, for mapping parser positions back.
#[derive(Debug, Clone)]
pub(super) struct Replacement {
    line: u32,
    /// Column span of the sentinel in the substituted text (start inclusive, end exclusive).
    sentinel_start: u32,
    sentinel_end: u32,
    /// Column span of `{{…}}` in the template.
    original_start: u32,
    original_end: u32,
}

/// `text` with each placeholder swapped for `sentinels[i]` (same order as `found`), and
/// the swaps made.
pub(super) fn substitute(text: &str, found: &[Found], sentinels: &[String]) -> (String, Vec<Replacement>) {
    let mut out = String::with_capacity(text.len() + found.len() * 24);
    let mut replacements = Vec::with_capacity(found.len());
    let mut copied = 0;
    let mut column_shift: i64 = 0;
    let mut shift_line = 0;
    for (placeholder, sentinel) in found.iter().zip(sentinels) {
        out.push_str(&text[copied..placeholder.start]);
        if placeholder.position.line != shift_line {
            shift_line = placeholder.position.line;
            column_shift = 0;
        }
        let original_width = text[placeholder.start..placeholder.end].chars().count() as i64;
        let sentinel_width = sentinel.chars().count() as i64;
        let original_start = i64::from(placeholder.position.column);
        let sentinel_start = original_start + column_shift;
        replacements.push(Replacement {
            line: placeholder.position.line,
            sentinel_start: clamp_column(sentinel_start),
            sentinel_end: clamp_column(sentinel_start + sentinel_width),
            original_start: clamp_column(original_start),
            original_end: clamp_column(original_start + original_width),
        });
        column_shift += sentinel_width - original_width;
        out.push_str(sentinel);
        copied = placeholder.end;
    }
    out.push_str(&text[copied..]);
    (out, replacements)
}

fn clamp_column(column: i64) -> u32 {
    u32::try_from(column.max(1)).unwrap_or(u32::MAX)
}

/// Maps a position in the substituted text back to the template: a position inside a
/// sentinel maps to its placeholder's start.
pub(super) fn original_position(position: Position, replacements: &[Replacement]) -> Position {
    let mut column = position.column;
    for replacement in replacements.iter().filter(|replacement| replacement.line == position.line) {
        if position.column < replacement.sentinel_start {
            break;
        }
        column = if position.column < replacement.sentinel_end {
            replacement.original_start
        } else {
            (position.column - replacement.sentinel_end).saturating_add(replacement.original_end)
        };
    }
    Position { line: position.line, column }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn names(text: &str) -> Result<Vec<String>, String> {
        find_placeholders(text)
            .map(|found| found.into_iter().map(|placeholder| placeholder.name).collect())
            .map_err(|error| error.to_string())
    }

    #[test]
    fn finds_placeholders_outside_quotes_and_comments() {
        let cases: Vec<(&str, Result<Vec<&str>, &str>)> = vec![
            ("SELECT count(*) FROM T WHERE a = {{app}}", Ok(vec!["app"])),
            (
                "FROM T SELECT x WHERE a = {{ app }} AND b IN ({{one}}, {{two}})",
                Ok(vec!["app", "one", "two"]),
            ),
            ("WHERE a = 'it''s {' AND b = {{b}}", Ok(vec!["b"])),
            (r"WHERE a = 'it\'s' AND b = {{b}}", Ok(vec!["b"])),
            (r"WHERE a = r'\' AND b = {{b}}", Ok(vec!["b"])),
            ("WHERE `we``ird` = {{b}} -- trailing\n", Ok(vec!["b"])),
            ("WHERE a = '{{b}}'", Err("placeholder {{b}} at 1:12 is inside a quoted string")),
            (r"WHERE a = 'x\'{{b}}'", Err("placeholder {{b}} at 1:15 is inside a quoted string")),
            ("FACET `{{b}}`", Err("placeholder {{b}} at 1:8 is inside a backtick name")),
            ("x -- {{b}}\n", Err("placeholder {{b}} at 1:6 is inside a comment")),
            ("x /* \n {{b}} */", Err("placeholder {{b}} at 2:2 is inside a comment")),
            ("WHERE a = {{b", Err("unclosed placeholder at 1:11")),
            ("WHERE a = {{b c}}", Err("'{{b c}}' at 1:11 is not a placeholder")),
            ("WHERE a = {{}}", Err("'{{}}' at 1:11 is not a placeholder")),
            ("WHERE a = x{{b}}", Err("placeholder {{b}} at 1:12 touches the text around it")),
            ("WHERE a = {{b}}{{c}}", Err("placeholder {{b}} at 1:11 touches the text around it")),
            ("WHERE a = {{b}}.5", Err("placeholder {{b}} at 1:11 touches the text around it")),
            ("WHERE a IN ({{b}},{{c}})", Ok(vec!["b", "c"])),
        ];
        for (text, expected) in cases {
            let expected = expected.map(|names| names.into_iter().map(String::from).collect::<Vec<_>>());
            match (names(text), expected) {
                (Ok(found), Ok(expected)) => assert_eq!(found, expected, "{text}"),
                (Err(error), Err(prefix)) => assert!(error.starts_with(prefix), "{text}: {error}"),
                (found, expected) => panic!("{text}: got {found:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn maps_positions_back_to_the_template() {
        let text = "SELECT x FROM T WHERE a = {{a}} AND b = {{b}} junk";
        let found = find_placeholders(text).unwrap();
        let sentinels = vec!["'0123456789'".to_owned(), "7".to_owned()];
        let (substituted, replacements) = substitute(text, &found, &sentinels);
        assert_eq!(substituted, "SELECT x FROM T WHERE a = '0123456789' AND b = 7 junk");
        let junk_in_substituted = substituted.find("junk").unwrap() as u32 + 1;
        let junk_in_template = text.find("junk").unwrap() as u32 + 1;
        let cases = [
            (1, 1),
            (27, 27),
            (30, 27),
            (junk_in_substituted, junk_in_template),
            (substituted.rfind('7').unwrap() as u32 + 1, text.find("{{b}}").unwrap() as u32 + 1),
        ];
        for (column, expected) in cases {
            let mapped = original_position(Position { line: 1, column }, &replacements);
            assert_eq!(mapped, Position { line: 1, column: expected }, "column {column}");
        }
    }
}
