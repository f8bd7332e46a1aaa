//! The `newrelic://` URIs this server answers, read into what they name and written back.
//!
//! Segments that carry names (an event type, an entity GUID) are percent-decoded, as an
//! RFC 6570 client expands `{type}` percent-encoded; the writers encode the same way.

/// URI scheme and authority prefix of every resource.
pub(crate) const SCHEME: &str = "newrelic://";
pub(crate) const NRQL_REFERENCE: &str = "newrelic://reference/nrql";
pub(crate) const EVENT_TYPES_TEMPLATE: &str = "newrelic://accounts/{id}/event-types";
pub(crate) const ATTRIBUTES_TEMPLATE: &str = "newrelic://accounts/{id}/event-types/{type}/attributes";
pub(crate) const ENTITY_TEMPLATE: &str = "newrelic://entities/{guid}";

/// Every URI form, for error messages.
pub(crate) const SUPPORTED: [&str; 4] =
    [NRQL_REFERENCE, EVENT_TYPES_TEMPLATE, ATTRIBUTES_TEMPLATE, ENTITY_TEMPLATE];

/// Longest URI read; anything longer is refused unread.
const MAX_URI_BYTES: usize = 2048;

/// What a resource URI names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResourceUri {
    NrqlReference,
    EventTypes { account: i64 },
    Attributes { account: i64, event_type: String },
    Entity { guid: String },
}

/// Why a URI names no resource.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UriError {
    #[error("no resource has the URI '{uri}'; supported: {}", SUPPORTED.join(", "))]
    Unsupported { uri: String },
    #[error(
        "'{segment}' in '{uri}' is not an account id (a positive whole number, as {EVENT_TYPES_TEMPLATE} takes)"
    )]
    BadAccount { uri: String, segment: String },
    #[error("the {what} in '{uri}' is empty")]
    Empty { uri: String, what: &'static str },
    #[error("the {what} in '{uri}' is not valid percent-encoded UTF-8")]
    BadEncoding { uri: String, what: &'static str },
    #[error("the URI is {0} bytes long; resource URIs are at most 2048")]
    TooLong(usize),
}

impl ResourceUri {
    pub(crate) fn parse(uri: &str) -> Result<Self, UriError> {
        if uri.len() > MAX_URI_BYTES {
            return Err(UriError::TooLong(uri.len()));
        }
        let unsupported = || UriError::Unsupported { uri: uri.to_string() };
        let rest = match uri.get(..SCHEME.len()) {
            Some(scheme) if scheme.eq_ignore_ascii_case(SCHEME) => &uri[SCHEME.len()..],
            _ => return Err(unsupported()),
        };
        if rest.contains(['?', '#']) {
            return Err(unsupported());
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if let Some(guid) = rest.strip_prefix("entities/") {
            // A GUID is base64 and may itself hold a `/`, so it is the whole rest.
            let guid = decode(uri, guid, "entity GUID")?;
            return Ok(ResourceUri::Entity { guid });
        }
        let segments: Vec<&str> = rest.split('/').collect();
        match segments.as_slice() {
            ["reference", "nrql"] => Ok(ResourceUri::NrqlReference),
            ["accounts", account, "event-types"] => {
                Ok(ResourceUri::EventTypes { account: account_id(uri, account)? })
            }
            ["accounts", account, "event-types", event_type, "attributes"] => Ok(ResourceUri::Attributes {
                account: account_id(uri, account)?,
                event_type: decode(uri, event_type, "event type")?,
            }),
            _ => Err(unsupported()),
        }
    }
}

pub(crate) fn event_types_uri(account: i64) -> String {
    format!("{SCHEME}accounts/{account}/event-types")
}

pub(crate) fn attributes_uri(account: i64, event_type: &str) -> String {
    format!("{SCHEME}accounts/{account}/event-types/{}/attributes", encode(event_type))
}

fn account_id(uri: &str, segment: &str) -> Result<i64, UriError> {
    let bad = || UriError::BadAccount { uri: uri.to_string(), segment: segment.to_string() };
    if segment.is_empty() || !segment.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(bad());
    }
    segment.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(bad)
}

/// Percent-decodes one segment; a lone `%` or a sequence that is not UTF-8 is refused.
fn decode(uri: &str, segment: &str, what: &'static str) -> Result<String, UriError> {
    let bad = || UriError::BadEncoding { uri: uri.to_string(), what };
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        if byte == b'%' {
            let hex = bytes.get(index + 1..index + 3).ok_or_else(bad)?;
            let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
            decoded.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            index += 3;
        } else {
            decoded.push(byte);
            index += 1;
        }
    }
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    if text.is_empty() {
        return Err(UriError::Empty { uri: uri.to_string(), what });
    }
    Ok(text)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_every_uri_form() {
        let attributes =
            |account, event_type: &str| ResourceUri::Attributes { account, event_type: event_type.into() };
        let cases = [
            ("newrelic://reference/nrql", ResourceUri::NrqlReference),
            ("newrelic://reference/nrql/", ResourceUri::NrqlReference),
            ("NewRelic://reference/nrql", ResourceUri::NrqlReference),
            ("newrelic://accounts/1000001/event-types", ResourceUri::EventTypes { account: 1_000_001 }),
            ("newrelic://accounts/7/event-types/Transaction/attributes", attributes(7, "Transaction")),
            ("newrelic://accounts/7/event-types/My%20Event/attributes", attributes(7, "My Event")),
            ("newrelic://accounts/7/event-types/a%2Fb/attributes", attributes(7, "a/b")),
            (
                "newrelic://entities/MXxBUE18QVBQTElDQVRJT058MTIz",
                ResourceUri::Entity { guid: "MXxBUE18QVBQTElDQVRJT058MTIz".into() },
            ),
            ("newrelic://entities/ab+c/d==", ResourceUri::Entity { guid: "ab+c/d==".into() }),
        ];
        for (uri, expected) in cases {
            assert_eq!(ResourceUri::parse(uri), Ok(expected), "{uri}");
        }
    }

    #[test]
    fn refuses_what_names_no_resource_saying_why() {
        let cases = [
            ("file:///etc/passwd", "supported: newrelic://reference/nrql"),
            ("newrelic://reference/sql", "no resource has the URI"),
            ("newrelic://accounts/1/event-types?x=1", "no resource has the URI"),
            ("newrelic://accounts/1/events", "no resource has the URI"),
            ("newrelic://accounts/abc/event-types", "'abc' in"),
            ("newrelic://accounts/-1/event-types", "not an account id"),
            ("newrelic://accounts/0/event-types", "not an account id"),
            ("newrelic://accounts/99999999999999999999/event-types", "not an account id"),
            ("newrelic://accounts/1/event-types//attributes", "event type in"),
            ("newrelic://accounts/1/event-types/%ZZ/attributes", "percent-encoded"),
            ("newrelic://accounts/1/event-types/%C3/attributes", "percent-encoded"),
            ("newrelic://accounts/1/event-types/abc%/attributes", "percent-encoded"),
            ("newrelic://entities/", "no resource has the URI"),
            ("newrelic", "no resource has the URI"),
            ("", "no resource has the URI"),
        ];
        for (uri, needle) in cases {
            let error = ResourceUri::parse(uri).unwrap_err().to_string();
            assert!(error.contains(needle), "{uri}: {error}");
        }
        assert!(matches!(ResourceUri::parse(&"x".repeat(5000)), Err(UriError::TooLong(5000))));
    }

    #[test]
    fn written_uris_read_back() {
        for event_type in ["Transaction", "My Event", "a/b", "ü%x"] {
            let uri = attributes_uri(42, event_type);
            assert_eq!(
                ResourceUri::parse(&uri),
                Ok(ResourceUri::Attributes { account: 42, event_type: event_type.into() }),
                "{uri}"
            );
        }
        assert_eq!(ResourceUri::parse(&event_types_uri(42)), Ok(ResourceUri::EventTypes { account: 42 }));
    }
}
