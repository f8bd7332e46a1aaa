//! How tools name entities: a GUID (and the account encoded in it), and literals of the
//! entity-search query language.

use base64::Engine;
use newrelic_mcp_actors::tool::{PlanContext, PlanError, ToolError, ToolErrorKind};

use super::account::{check_allowed, resolve_account};

/// Longest GUID New Relic issues, with room to spare.
const MAX_GUID_CHARS: usize = 200;

/// A GUID argument, trimmed; refused unless it is base64 text of a sane length.
pub(crate) fn checked_guid(argument: &str, value: &str) -> Result<String, PlanError> {
    let trimmed = value.trim();
    let valid = !trimmed.is_empty()
        && trimmed.len() <= MAX_GUID_CHARS
        && trimmed.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_'));
    if valid {
        Ok(trimmed.to_string())
    } else {
        Err(PlanError::InvalidArguments(format!(
            "{argument} '{}' is not an entity GUID (base64 such as MXxBUE18QVBQTElDQVRJT058MTIz); \
             get_entity finds GUIDs by name",
            trimmed.chars().take(60).collect::<String>()
        )))
    }
}

/// The account a GUID names (`ACCOUNT|DOMAIN|TYPE|ID`, base64), when it decodes. Decoded as
/// leniently as a server might (either alphabet, stray trailing bits), so that a GUID spelled
/// unusually still shows its account to the allow-list.
pub(crate) fn guid_account(guid: &str) -> Option<i64> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let config = GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let trimmed = guid.trim();
    let decoded = [base64::alphabet::STANDARD, base64::alphabet::URL_SAFE]
        .iter()
        .find_map(|alphabet| GeneralPurpose::new(alphabet, config).decode(trimmed).ok())?;
    let text = String::from_utf8(decoded).ok()?;
    text.split('|').next()?.trim().parse().ok()
}

/// The account a call about the entity `guid` touches: the one inside the GUID when it
/// decodes, else the requested or default account; refused outside the allow-list, and
/// when the request names a different account than the GUID does.
pub(crate) fn entity_account(
    requested: Option<i64>,
    guid: &str,
    context: &PlanContext,
) -> Result<i64, ToolError> {
    match guid_account(guid) {
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
            check_allowed(owner, context)?;
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
    #![allow(clippy::unwrap_used, clippy::type_complexity)]
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn encode(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    #[test]
    fn a_guid_shows_its_account_however_it_is_spelled() {
        // "7|APM|APPLICATION|9?>" has bytes that encode to '+' and '/' in the standard alphabet.
        let standard = encode("7|APM|APPLICATION|9?>");
        let url_safe = standard.replace('+', "-").replace('/', "_");
        let unpadded = standard.trim_end_matches('=').to_string();
        for spelling in [&standard, &url_safe, &unpadded] {
            assert_eq!(guid_account(spelling), Some(7), "{spelling}");
        }
        // Stray trailing bits: the last character of an unpadded GUID nudged by one.
        let mut nudged = encode("7|APM|APPLICATION|12").trim_end_matches('=').to_string();
        if let Some(last) = nudged.pop() {
            let next = if last == 'z' { 'y' } else { char::from(last as u8 + 1) };
            nudged.push(next);
        }
        assert_eq!(guid_account(&nudged), Some(7));
        assert_eq!(guid_account("not base64 at all!"), None);
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
    fn reads_the_account_out_of_a_guid() {
        assert_eq!(guid_account(&encode("1000001|APM|APPLICATION|42")), Some(1_000_001));
        assert_eq!(guid_account(&encode("x|APM")), None);
        assert_eq!(guid_account("%%%"), None);
    }

    #[test]
    fn resolves_the_entity_account() {
        let guid = encode("7|APM|APPLICATION|1");
        let cases: &[(Option<i64>, &str, Option<&[i64]>, Result<i64, ToolErrorKind>)] = &[
            (None, &guid, None, Ok(7)),
            (Some(7), &guid, None, Ok(7)),
            (Some(8), &guid, None, Err(ToolErrorKind::BadRequest)),
            (None, &guid, Some(&[1]), Err(ToolErrorKind::Policy)),
            (None, "bm9wZQ", None, Ok(1)),
            (Some(3), "bm9wZQ", Some(&[1]), Err(ToolErrorKind::Policy)),
        ];
        for (requested, guid, allowed, expected) in cases {
            let got = entity_account(*requested, guid, &context(*allowed)).map_err(|e| e.kind);
            assert_eq!(&got, expected, "{requested:?} {guid} {allowed:?}");
        }
    }

    #[test]
    fn checks_guids_and_quotes_literals() {
        assert!(checked_guid("guid", " MXxBUE18QVBQTElDQVRJT058MTIz ").is_ok());
        for bad in ["", "a b", "x'y", &"A".repeat(201)] {
            assert!(checked_guid("guid", bad).is_err(), "{bad}");
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
