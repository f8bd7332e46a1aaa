//! Finds the top-level `"id"` of a JSON-RPC message fed in pieces, holding a few bytes at most.
//!
//! A line over the size limit is refused, but its request still deserves an answer that
//! names it, and the line may be any length: it cannot be kept, so no JSON parser (they hold
//! a whole value, or a whole string token, to hand it over) fits. This scanner only follows
//! nesting and strings, compares top-level keys with `id`, and keeps the id's text once it
//! meets it (ids longer than [`MAX_ID_BYTES`] are given up on). A key spelt with escapes
//! (`"\u0069d"`) is not recognised; anything that stops looking like a JSON object ends
//! the scan with no id.

use rmcp::model::RequestId;

/// Longest id text kept; a longer id is not recovered.
const MAX_ID_BYTES: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the opening `{`.
    Start,
    /// Inside the top-level object, where a key (or its end) comes next.
    Key,
    /// Inside a top-level key's string.
    KeyText,
    /// After a top-level key, before its `:`.
    Colon,
    /// After `:`, before the value's first byte.
    ValueStart,
    /// Inside a value at top level (or nested within one).
    Value,
    /// Inside the id, a string.
    IdString,
    /// Inside the id, a number.
    IdNumber,
    /// Between a top-level value and the next `,` or the closing `}`.
    AfterValue,
    /// Finished: found the id, or the text is not an object of the expected form.
    Done,
}

#[derive(Debug)]
pub(super) struct IdScanner {
    phase: Phase,
    /// Nesting inside the current top-level value.
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// How the current top-level key compares with `id`: bytes matched, or `None` once it differs.
    key_match: Option<usize>,
    /// Whether the value being read belongs to the key `id`.
    capturing: bool,
    captured: Vec<u8>,
    id: Option<RequestId>,
}

impl IdScanner {
    pub(super) fn new() -> Self {
        Self {
            phase: Phase::Start,
            depth: 0,
            in_string: false,
            escaped: false,
            key_match: Some(0),
            capturing: false,
            captured: Vec::new(),
            id: None,
        }
    }

    /// Whether more input can change the outcome.
    pub(super) fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The id found so far.
    pub(super) fn into_id(self) -> Option<RequestId> {
        self.id
    }

    pub(super) fn feed(&mut self, bytes: &[u8]) {
        let mut at = 0;
        while at < bytes.len() && self.phase != Phase::Done {
            // Inside a string that is not kept, jump to the next byte that matters.
            if self.phase == Phase::Value && self.in_string && !self.escaped {
                match bytes[at..].iter().position(|byte| *byte == b'"' || *byte == b'\\') {
                    Some(skip) => at += skip,
                    None => return,
                }
            }
            self.step(bytes[at]);
            at += 1;
        }
    }

    fn step(&mut self, byte: u8) {
        match self.phase {
            Phase::Start => match byte {
                b'{' => self.phase = Phase::Key,
                _ if byte.is_ascii_whitespace() => {}
                _ => self.phase = Phase::Done,
            },
            Phase::Key => match byte {
                b'"' => {
                    self.phase = Phase::KeyText;
                    self.key_match = Some(0);
                }
                b',' => {}
                _ if byte.is_ascii_whitespace() => {}
                _ => self.phase = Phase::Done,
            },
            Phase::KeyText => self.step_key(byte),
            Phase::Colon => match byte {
                b':' => self.phase = Phase::ValueStart,
                _ if byte.is_ascii_whitespace() => {}
                _ => self.phase = Phase::Done,
            },
            Phase::ValueStart => self.start_value(byte),
            Phase::Value => self.step_value(byte),
            Phase::IdString => self.step_id_string(byte),
            Phase::IdNumber => {
                if byte.is_ascii_digit() || matches!(byte, b'-' | b'+' | b'.' | b'e' | b'E') {
                    self.keep(byte);
                } else {
                    self.finish_id();
                }
            }
            Phase::AfterValue => match byte {
                b',' => self.phase = Phase::Key,
                _ if byte.is_ascii_whitespace() => {}
                _ => self.phase = Phase::Done,
            },
            Phase::Done => {}
        }
    }

    fn step_key(&mut self, byte: u8) {
        if self.escaped {
            self.escaped = false;
            self.key_match = None;
            return;
        }
        match byte {
            b'\\' => self.escaped = true,
            b'"' => {
                self.capturing = self.key_match == Some(2);
                self.captured.clear();
                self.phase = Phase::Colon;
            }
            _ => {
                self.key_match = match self.key_match {
                    Some(matched) if b"id".get(matched) == Some(&byte) => Some(matched + 1),
                    _ => None,
                };
            }
        }
    }

    fn start_value(&mut self, byte: u8) {
        if byte.is_ascii_whitespace() {
            return;
        }
        if !self.capturing {
            self.phase = Phase::Value;
            self.step_value(byte);
            return;
        }
        self.captured.clear();
        self.captured.push(byte);
        self.phase = match byte {
            b'"' => Phase::IdString,
            b'-' | b'0'..=b'9' => Phase::IdNumber,
            // null, an object, an array: no id a response could carry.
            _ => Phase::Done,
        };
    }

    fn step_id_string(&mut self, byte: u8) {
        self.keep(byte);
        if self.escaped {
            self.escaped = false;
        } else if byte == b'\\' {
            self.escaped = true;
        } else if byte == b'"' {
            self.finish_id();
        }
    }

    fn keep(&mut self, byte: u8) {
        if self.captured.len() >= MAX_ID_BYTES {
            self.phase = Phase::Done;
        } else {
            self.captured.push(byte);
        }
    }

    fn finish_id(&mut self) {
        self.id = serde_json::from_slice::<RequestId>(&self.captured).ok();
        self.captured = Vec::new();
        self.phase = Phase::Done;
    }

    /// One byte of a value that is not the id: follows strings and nesting to its end.
    fn step_value(&mut self, byte: u8) {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.in_string = false;
                if self.depth == 0 {
                    self.phase = Phase::AfterValue;
                }
            }
            return;
        }
        match byte {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' if self.depth > 0 => {
                self.depth -= 1;
                if self.depth == 0 {
                    self.phase = Phase::AfterValue;
                }
            }
            // The end of a bare value (a number or a literal).
            b',' if self.depth == 0 => self.phase = Phase::Key,
            b'}' if self.depth == 0 => self.phase = Phase::Done,
            _ if self.depth == 0 && byte.is_ascii_whitespace() => self.phase = Phase::AfterValue,
            _ => {}
        }
    }
}

/// The id of `text` read in pieces of `piece` bytes.
#[cfg(test)]
fn id_of(text: &str, piece: usize) -> Option<RequestId> {
    let mut scanner = IdScanner::new();
    for chunk in text.as_bytes().chunks(piece.max(1)) {
        scanner.feed(chunk);
    }
    scanner.into_id()
}

#[cfg(test)]
mod tests {
    use rmcp::model::NumberOrString;

    use super::*;

    #[test]
    fn finds_the_top_level_id_wherever_it_stands_in_any_pieces() {
        let number = |n| Some(NumberOrString::Number(n));
        let string = |s: &str| Some(NumberOrString::String(s.into()));
        let cases: [(&str, Option<RequestId>); 16] = [
            (r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#, number(7)),
            (r#"{"id":-12}"#, number(-12)),
            (r#"{ "id" : 42 , "method": "x"}"#, number(42)),
            (r#"{"id":"a\"b","method":"x"}"#, string("a\"b")),
            (
                r#"{"method":"tools/call","params":{"id":1,"arguments":{"id":"inner"}},"id":"outer"}"#,
                string("outer"),
            ),
            (r#"{"params":["id", {"id": 3}, "}"],"id":9}"#, number(9)),
            (r#"{"params":"a \\\" \"id\":5 string","id":6}"#, number(6)),
            (r#"{"idx":1,"xid":2,"i":3,"id":4}"#, number(4)),
            (r#"{"params":{"deep":[[[{"x":"}"}]]]},"id":"after"}"#, string("after")),
            (r#"{"method":"notifications/cancelled","params":{"requestId":1}}"#, None),
            (r#"{"id":null}"#, None),
            (r#"{"id":{"nested":1}}"#, None),
            (r#"{"\u0069d":5}"#, None),
            (r#"[{"id":1}]"#, None),
            ("not json at all \"id\": 1", None),
            (r#"{"id":1.5}"#, None),
        ];
        for (text, expected) in cases {
            for piece in [1, 2, 3, 7, text.len()] {
                assert_eq!(id_of(text, piece), expected, "{text} in pieces of {piece}");
            }
        }
    }

    #[test]
    fn gives_up_on_an_overlong_id_and_stops_once_it_knows() {
        let long = format!(r#"{{"id":"{}","method":"x"}}"#, "i".repeat(MAX_ID_BYTES * 2));
        assert_eq!(id_of(&long, 64), None);
        let mut scanner = IdScanner::new();
        scanner.feed(br#"{"id":3,"params":{"#);
        assert!(scanner.is_done());
        assert_eq!(scanner.into_id(), Some(NumberOrString::Number(3)));
    }
}
