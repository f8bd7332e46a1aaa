//! NerdGraph's entity search query language, as far as the sandbox needs it:
//! `field = 'v'`, `field != 'v'`, `field LIKE 'v'`, `field [NOT] IN ('a', 'b')`, joined by
//! `AND`, over `name`, `type`, `domain`, `guid`, `accountId`, `reporting`,
//! `alertSeverity`, `entityType` and `tags.<key>` (key optionally in backticks).
//! Comparisons ignore case, except tag values when case-sensitive tag matching is asked.

use crate::data::Entity;

/// A parsed search: every condition must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityQuery {
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq)]
struct Condition {
    field: SearchField,
    op: Op,
    values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum SearchField {
    Name,
    Type,
    Domain,
    Guid,
    AccountId,
    Reporting,
    AlertSeverity,
    EntityType,
    Tag(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    NotEq,
    Like,
    NotLike,
    In,
    NotIn,
}

/// Why a search query was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Invalid entity search query: {0}")]
pub struct EntityQueryError(pub String);

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Symbol(&'static str),
}

fn tokenize(input: &str) -> Result<Vec<Token>, EntityQueryError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '\'' | '"' => {
                let quote = c;
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(EntityQueryError(format!(
                                "unterminated string starting with {quote}"
                            )));
                        }
                        Some('\\') if chars.get(i + 1).is_some() => {
                            text.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(ch) if *ch == quote => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            text.push(*ch);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Quoted(text));
            }
            '(' => {
                tokens.push(Token::Symbol("("));
                i += 1;
            }
            ')' => {
                tokens.push(Token::Symbol(")"));
                i += 1;
            }
            ',' => {
                tokens.push(Token::Symbol(","));
                i += 1;
            }
            '=' => {
                tokens.push(Token::Symbol("="));
                i += 1;
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                tokens.push(Token::Symbol("!="));
                i += 2;
            }
            _ => {
                let mut word = String::new();
                while let Some(&ch) = chars.get(i) {
                    if ch.is_whitespace()
                        || matches!(ch, '(' | ')' | ',' | '=' | '\'' | '"')
                        || (ch == '!' && chars.get(i + 1) == Some(&'='))
                    {
                        break;
                    }
                    if ch != '`' {
                        word.push(ch);
                    }
                    i += 1;
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

impl EntityQuery {
    /// Parses a query string; an empty string matches every entity.
    pub fn parse(input: &str) -> Result<EntityQuery, EntityQueryError> {
        let tokens = tokenize(input)?;
        let mut conditions = Vec::new();
        let mut at = 0;
        while at < tokens.len() {
            if !conditions.is_empty() {
                match tokens.get(at) {
                    Some(Token::Word(word)) if word.eq_ignore_ascii_case("AND") => at += 1,
                    Some(Token::Word(word)) if word.eq_ignore_ascii_case("OR") => {
                        return Err(EntityQueryError(
                            "OR is not supported; combine conditions with AND or use IN".into(),
                        ));
                    }
                    other => {
                        return Err(EntityQueryError(format!("expected AND, found {}", describe(other))));
                    }
                }
            }
            let field = match tokens.get(at) {
                Some(Token::Word(word)) => parse_field(word)?,
                other => {
                    return Err(EntityQueryError(format!(
                        "expected a field name, found {}",
                        describe(other)
                    )));
                }
            };
            at += 1;
            let op = match (tokens.get(at), tokens.get(at + 1)) {
                (Some(Token::Symbol("=")), _) => Op::Eq,
                (Some(Token::Symbol("!=")), _) => Op::NotEq,
                (Some(Token::Word(w)), _) if w.eq_ignore_ascii_case("LIKE") => Op::Like,
                (Some(Token::Word(w)), _) if w.eq_ignore_ascii_case("IN") => Op::In,
                (Some(Token::Word(w)), Some(Token::Word(next))) if w.eq_ignore_ascii_case("NOT") => {
                    at += 1;
                    if next.eq_ignore_ascii_case("LIKE") {
                        Op::NotLike
                    } else if next.eq_ignore_ascii_case("IN") {
                        Op::NotIn
                    } else {
                        return Err(EntityQueryError(format!("expected LIKE or IN after NOT, found {next}")));
                    }
                }
                (other, _) => {
                    return Err(EntityQueryError(format!(
                        "expected =, !=, LIKE or IN, found {}",
                        describe(other)
                    )));
                }
            };
            at += 1;
            let values = if matches!(op, Op::In | Op::NotIn) {
                if tokens.get(at) != Some(&Token::Symbol("(")) {
                    return Err(EntityQueryError("expected ( after IN".into()));
                }
                at += 1;
                let mut values = Vec::new();
                loop {
                    match tokens.get(at) {
                        Some(Token::Quoted(text) | Token::Word(text)) => values.push(text.clone()),
                        other => {
                            return Err(EntityQueryError(format!(
                                "expected a value, found {}",
                                describe(other)
                            )));
                        }
                    }
                    at += 1;
                    match tokens.get(at) {
                        Some(Token::Symbol(",")) => at += 1,
                        Some(Token::Symbol(")")) => {
                            at += 1;
                            break;
                        }
                        other => {
                            return Err(EntityQueryError(format!(
                                "expected , or ), found {}",
                                describe(other)
                            )));
                        }
                    }
                }
                values
            } else {
                let value = match tokens.get(at) {
                    Some(Token::Quoted(text) | Token::Word(text)) => text.clone(),
                    other => {
                        return Err(EntityQueryError(format!("expected a value, found {}", describe(other))));
                    }
                };
                at += 1;
                vec![value]
            };
            conditions.push(Condition { field, op, values });
        }
        Ok(EntityQuery { conditions })
    }

    /// Whether an entity satisfies every condition.
    pub fn matches(&self, entity: &Entity, case_sensitive_tags: bool) -> bool {
        self.conditions.iter().all(|condition| condition.matches(entity, case_sensitive_tags))
    }
}

fn describe(token: Option<&Token>) -> String {
    match token {
        None => "the end of the query".to_string(),
        Some(Token::Word(word)) => format!("'{word}'"),
        Some(Token::Quoted(text)) => format!("'{text}'"),
        Some(Token::Symbol(symbol)) => format!("'{symbol}'"),
    }
}

fn parse_field(word: &str) -> Result<SearchField, EntityQueryError> {
    let lower = word.to_ascii_lowercase();
    Ok(match lower.as_str() {
        "name" => SearchField::Name,
        "type" => SearchField::Type,
        "domain" => SearchField::Domain,
        "guid" | "id" => SearchField::Guid,
        "accountid" => SearchField::AccountId,
        "reporting" => SearchField::Reporting,
        "alertseverity" => SearchField::AlertSeverity,
        "entitytype" => SearchField::EntityType,
        _ => match word.split_once('.') {
            Some((prefix, key)) if prefix.eq_ignore_ascii_case("tags") && !key.is_empty() => {
                SearchField::Tag(key.to_string())
            }
            _ => return Err(EntityQueryError(format!("unknown field '{word}'"))),
        },
    })
}

/// New Relic treats these as whitespace in `LIKE` searches.
fn normalize_for_like(text: &str) -> String {
    text.chars()
        .map(|c| {
            if matches!(c, '.' | ',' | ';' | ':' | '*' | '-' | '_' | '%') {
                ' '
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

fn like_matches(candidate: &str, pattern: &str) -> bool {
    let candidate = normalize_for_like(candidate);
    let pattern = normalize_for_like(pattern);
    let words: Vec<&str> = pattern.split_whitespace().collect();
    !words.is_empty() && words.iter().all(|word| candidate.contains(word))
}

impl Condition {
    fn matches(&self, entity: &Entity, case_sensitive_tags: bool) -> bool {
        let candidates: Vec<String> = match &self.field {
            SearchField::Name => vec![entity.name.clone()],
            SearchField::Type => vec![entity.entity_type_tag.to_string()],
            SearchField::Domain => vec![entity.domain.to_string()],
            SearchField::Guid => vec![entity.guid.clone()],
            SearchField::AccountId => vec![entity.account_id.to_string()],
            SearchField::Reporting => vec![entity.reporting.to_string()],
            SearchField::AlertSeverity => vec![entity.alert_severity.to_string()],
            SearchField::EntityType => vec![entity.kind.entity_type_enum().to_string()],
            SearchField::Tag(key) => entity.tag_values(key).to_vec(),
        };
        let exact = |a: &str, b: &str| {
            if matches!(self.field, SearchField::Tag(_)) && case_sensitive_tags {
                a == b
            } else {
                a.eq_ignore_ascii_case(b)
            }
        };
        let any_equal =
            candidates.iter().any(|candidate| self.values.iter().any(|value| exact(candidate, value)));
        match self.op {
            Op::Eq | Op::In => any_equal,
            Op::NotEq | Op::NotIn => !any_equal,
            Op::Like => candidates.iter().any(|c| self.values.iter().any(|v| like_matches(c, v))),
            Op::NotLike => !candidates.iter().any(|c| self.values.iter().any(|v| like_matches(c, v))),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::data::EntityKind;

    fn app(name: &str, environment: &str) -> Entity {
        Entity {
            guid: format!("guid-{name}"),
            name: name.to_string(),
            account_id: 42,
            domain: "APM",
            entity_type_tag: "APPLICATION",
            kind: EntityKind::ApmApplication { application_id: 1, language: "go".into() },
            reporting: true,
            alert_severity: "NOT_ALERTING",
            tags: vec![("Environment".into(), vec![environment.into()])],
            permalink: String::new(),
        }
    }

    #[test]
    fn queries_match_as_documented() {
        let checkout = app("checkout-service", "Production");
        let cases = [
            ("", true),
            ("name = 'checkout-service'", true),
            ("name = 'CHECKOUT-SERVICE'", true),
            ("name = 'checkout'", false),
            ("name LIKE 'checkout'", true),
            ("name LIKE 'checkout_service'", true),
            ("name LIKE 'payments'", false),
            ("type IN ('APPLICATION', 'HOST')", true),
            ("type IN ('HOST')", false),
            ("domain IN ('INFRA','APM') AND accountId = 42", true),
            ("accountId = 43", false),
            ("reporting = 'true' AND type = 'APPLICATION'", true),
            ("reporting = 'false'", false),
            ("tags.Environment = 'production'", true),
            ("tags.`environment` = 'production'", true),
            ("`tags.Environment` = 'staging'", false),
            ("tags.team = 'x'", false),
            ("name NOT IN ('a', 'b')", true),
            ("name != 'checkout-service'", false),
            ("entityType = 'APM_APPLICATION_ENTITY'", true),
        ];
        for (query, expected) in cases {
            let parsed = EntityQuery::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
            assert_eq!(parsed.matches(&checkout, false), expected, "{query}");
        }
    }

    #[test]
    fn case_sensitive_tag_matching_is_honoured() {
        let checkout = app("checkout-service", "Production");
        let query = EntityQuery::parse("tags.Environment = 'production'").unwrap();
        assert!(!query.matches(&checkout, true));
        assert!(query.matches(&checkout, false));
    }

    #[test]
    fn malformed_queries_are_rejected_with_a_reason() {
        let cases = [
            ("name = ", "expected a value"),
            ("name 'x'", "expected =, !=, LIKE or IN"),
            ("colour = 'red'", "unknown field"),
            ("name = 'x' OR name = 'y'", "OR is not supported"),
            ("type IN ('A'", "expected , or )"),
            ("name = 'x", "unterminated"),
            ("name = 'x' name = 'y'", "expected AND"),
        ];
        for (query, reason) in cases {
            let error = EntityQuery::parse(query).expect_err(query);
            assert!(error.0.contains(reason), "{query}: {error}");
        }
    }
}
