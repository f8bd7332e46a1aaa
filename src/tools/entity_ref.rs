//! How tools name entities: a GUID (and the account encoded in it), and literals of the
//! entity-search query language.
//!
//! An entity GUID is `ACCOUNT|DOMAIN|TYPE|ID` in base64. [`guid_account`] is the one reading of
//! it in the product: every tool that takes a GUID, and `query_nerdgraph` for every GUID inside
//! a document, finds the account through it. It reads leniently (either base64 alphabet, even
//! mixed; padding or none; stray trailing bits), because a server may accept any of those
//! spellings, and a spelling it accepts must not hide its account.
//!
//! The rule under an account allow-list: every GUID a call passes must decode to an allowed
//! account, and a GUID that decodes to no account is refused, since New Relic may still resolve
//! it to an entity of any account the key reaches. Without an allow-list GUIDs pass as given.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use newrelic_mcp_actors::tool::{PlanContext, PlanError, ToolError, ToolErrorKind};

use super::account::{check_allowed, resolve_account};

/// Longest GUID New Relic issues, with room to spare.
const MAX_GUID_CHARS: usize = 200;

/// Standard alphabet, padding optional, trailing bits ignored: the most a decoder tolerates.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A GUID argument, trimmed; refused unless it is base64 text of a sane length, and, under an
/// allow-list, unless it names an allowed account.
pub(crate) fn checked_guid(argument: &str, value: &str, context: &PlanContext) -> Result<String, PlanError> {
    let trimmed = value.trim();
    let valid = !trimmed.is_empty()
        && trimmed.len() <= MAX_GUID_CHARS
        && trimmed.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_'));
    if !valid {
        return Err(PlanError::InvalidArguments(format!(
            "{argument} '{}' is not an entity GUID (base64 such as MXxBUE18QVBQTElDQVRJT058MTIz); \
             get_entity finds GUIDs by name",
            trimmed.chars().take(60).collect::<String>()
        )));
    }
    check_guid(trimmed, context)?;
    Ok(trimmed.to_string())
}

/// The account a GUID names (`ACCOUNT|DOMAIN|TYPE|ID`, base64), when it decodes to one.
pub(crate) fn guid_account(guid: &str) -> Option<i64> {
    // The URL-safe alphabet differs only in two characters; mapping them lets one decoder read
    // both, and GUIDs that mix them.
    let standard: String = guid
        .trim()
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            other => other,
        })
        .collect();
    let decoded = LENIENT.decode(standard.trim_end_matches('=')).ok()?;
    let account = decoded.split(|&byte| byte == b'|').next()?;
    std::str::from_utf8(account).ok()?.trim().parse().ok()
}

/// Under an allow-list, refuses a GUID that names no account or an account outside the list;
/// the account it names, when it names one.
pub(crate) fn check_guid(guid: &str, context: &PlanContext) -> Result<Option<i64>, ToolError> {
    let account = guid_account(guid);
    if context.allowed_accounts.is_none() {
        return Ok(account);
    }
    match account {
        Some(account) => check_allowed(account, context).map(|()| Some(account)),
        None => Err(unreadable_guid(guid)),
    }
}

/// The refusal of a GUID that names no account, under an allow-list.
pub(crate) fn unreadable_guid(guid: &str) -> ToolError {
    ToolError::new(
        ToolErrorKind::Policy,
        format!(
            "entity GUID '{}' does not name an account (a GUID is base64 of ACCOUNT|DOMAIN|TYPE|ID), so this \
             server's account allow-list cannot vouch for it; pass the GUID exactly as get_entity returns it",
            guid.trim().chars().take(60).collect::<String>()
        ),
    )
}

/// The account a call about the entity `guid` touches: the one inside the GUID, refused
/// outside the allow-list and when the request names a different account. A GUID that names
/// no account is refused under an allow-list; otherwise the requested or default account is
/// assumed.
pub(crate) fn entity_account(
    requested: Option<i64>,
    guid: &str,
    context: &PlanContext,
) -> Result<i64, ToolError> {
    match check_guid(guid, context)? {
        Some(owner) => {
            if let Some(requested) = requested
                && requested != owner
            {
                return Err(ToolError::new(
                    ToolErrorKind::BadRequest,
                    format!(
                        "entity {guid} belongs to account {owner}, not {requested}: drop account_id or pass {owner}"
                    ),
                ));
            }
            Ok(owner)
        }
        None => resolve_account(requested, context),
    }
}

/// A value inside a single-quoted entity-search literal: quotes and backslashes escaped,
/// control characters dropped, so the value cannot end the literal.
pub(crate) fn search_literal(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        if matches!(c, '\'' | '\\') {
            quoted.push('\\');
        }
        if !c.is_control() {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}

/// An optional name filter: trimmed, empty as none, refused past 255 characters.
pub(crate) fn name_filter(argument: &str, value: Option<&str>) -> Result<Option<String>, PlanError> {
    let Some(value) = value.map(str::trim).filter(|value| !value.is_empty()) else { return Ok(None) };
    if value.chars().count() > 255 || value.chars().any(char::is_control) {
        return Err(PlanError::InvalidArguments(format!("{argument} must be 1 to 255 printable characters")));
    }
    Ok(Some(value.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, clippy::type_complexity)]
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn encode(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    /// `text` in base64 with the unused low bits of its last character set, unpadded.
    fn with_trailing_bits(text: &str) -> String {
        let mut guid = base64::engine::general_purpose::STANDARD_NO_PAD.encode(text);
        let spare = match guid.len() % 4 {
            2 => 0b1111,
            3 => 0b11,
            _ => panic!("{text} leaves no spare bits"),
        };
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let last = guid.pop().unwrap();
        let index = alphabet.iter().position(|&c| char::from(c) == last).unwrap();
        guid.push(char::from(alphabet[index | spare]));
        guid
    }

    #[test]
    fn a_guid_shows_its_account_however_it_is_spelled() {
        // Bytes that encode to both `+` and `/` in the standard alphabet, and need padding.
        let standard = encode("7|APM|APPLICATION|9?>???1");
        assert!(standard.contains('+') && standard.contains('/') && standard.ends_with('='), "{standard}");
        let url_safe = standard.replace('+', "-").replace('/', "_");
        let mixed = standard.replace('+', "-");
        let cases: Vec<(String, Option<i64>)> = vec![
            (standard.clone(), Some(7)),
            (url_safe.clone(), Some(7)),
            (mixed, Some(7)),
            (standard.trim_end_matches('=').to_string(), Some(7)),
            (url_safe.trim_end_matches('=').to_string(), Some(7)),
            (format!("  {standard}\n"), Some(7)),
            (with_trailing_bits("1000002|VIZ|DASHBOARD|8001"), Some(1_000_002)),
            (with_trailing_bits("1000002|APM|APPLICATION|20001"), Some(1_000_002)),
            (encode("1000001|APM|APPLICATION|42"), Some(1_000_001)),
            (encode(" 1000001 |APM"), Some(1_000_001)),
            // Bytes after the account need not be text.
            (base64::engine::general_purpose::STANDARD.encode(b"5|\xff\xfe"), Some(5)),
            (encode("1000001"), Some(1_000_001)),
            // No account inside, or not base64 at all.
            (encode("x|APM"), None),
            (encode("|APM|APPLICATION|1"), None),
            (encode("99999999999999999999|APM"), None),
            ("bm9wZQ".to_string(), None),
            ("not base64 at all!".to_string(), None),
            ("%%%".to_string(), None),
            ("MTAw=MDAy".to_string(), None),
            ("A".to_string(), None),
            (String::new(), None),
        ];
        for (guid, expected) in cases {
            assert_eq!(guid_account(&guid), expected, "{guid:?}");
        }
    }

    fn context(allowed: Option<&[i64]>) -> PlanContext {
        PlanContext {
            default_account: Some(1),
            allowed_accounts: allowed.map(Arc::from),
            now_epoch_ms: 0,
            default_timeout: Duration::from_secs(30),
        }
    }

    #[test]
    fn resolves_the_entity_account() {
        let guid = encode("7|APM|APPLICATION|1");
        let cases: &[(Option<i64>, &str, Option<&[i64]>, Result<i64, ToolErrorKind>)] = &[
            (None, &guid, None, Ok(7)),
            (Some(7), &guid, None, Ok(7)),
            (Some(8), &guid, None, Err(ToolErrorKind::BadRequest)),
            (None, &guid, Some(&[1]), Err(ToolErrorKind::Policy)),
            (None, &guid, Some(&[7]), Ok(7)),
            (None, "bm9wZQ", None, Ok(1)),
            (Some(3), "bm9wZQ", None, Ok(3)),
            // Under an allow-list a GUID must name an allowed account.
            (None, "bm9wZQ", Some(&[1]), Err(ToolErrorKind::Policy)),
            (Some(1), "bm9wZQ", Some(&[1]), Err(ToolErrorKind::Policy)),
        ];
        for (requested, guid, allowed, expected) in cases {
            let got = entity_account(*requested, guid, &context(*allowed)).map_err(|e| e.kind);
            assert_eq!(&got, expected, "{requested:?} {guid} {allowed:?}");
        }
    }

    #[test]
    fn checks_guids_and_quotes_literals() {
        let open = context(None);
        assert_eq!(
            checked_guid("guid", " MXxBUE18QVBQTElDQVRJT058MTIz ", &open).unwrap(),
            "MXxBUE18QVBQTElDQVRJT058MTIz"
        );
        for bad in ["", "a b", "x'y", &"A".repeat(201)] {
            assert!(matches!(checked_guid("guid", bad, &open), Err(PlanError::InvalidArguments(_))), "{bad}");
        }
        // Under an allow-list: the GUID's account must be allowed, and it must name one.
        let allowed = context(Some(&[1]));
        assert!(checked_guid("guid", "MXxBUE18QVBQTElDQVRJT058MTIz", &allowed).is_ok());
        assert!(checked_guid("guid", "bm9wZQ", &open).is_ok());
        for (guid, needle) in [
            (encode("7|APM|APPLICATION|1"), "account 7 is outside"),
            ("bm9wZQ".into(), "does not name an account"),
        ] {
            match checked_guid("guid", &guid, &allowed) {
                Err(PlanError::Tool(error)) => {
                    assert_eq!(error.kind, ToolErrorKind::Policy);
                    assert!(error.message.contains(needle), "{}", error.message);
                }
                other => panic!("{guid}: {other:?}"),
            }
        }
        let cases = [("web", "'web'"), ("Bob's", r"'Bob\'s'"), (r"a\b", r"'a\\b'"), ("a\nb", "'ab'")];
        for (value, expected) in cases {
            assert_eq!(search_literal(value), expected);
        }
        assert_eq!(name_filter("name", Some("  ")).unwrap(), None);
        assert_eq!(name_filter("name", Some(" web ")).unwrap().as_deref(), Some("web"));
        assert!(name_filter("name", Some(&"x".repeat(300))).is_err());
    }
}
