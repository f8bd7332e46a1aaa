//! Log patterns: a message with its variable parts (numbers, ids, UUIDs) masked, so lines
//! that differ only in those parts group together.

use std::collections::BTreeMap;

/// `message` with UUIDs as `<uuid>`, long hex ids as `<hex>`, numbers as `<n>`, and runs of
/// whitespace as one space. Short digit runs glued to letters stay (`v1`, `G1`, `http2`):
/// they name things rather than count them.
pub(crate) fn message_pattern(message: &str) -> String {
    let without_uuids = mask_uuids(message);
    let mut out = String::with_capacity(without_uuids.len());
    let mut segment = String::new();
    for c in without_uuids.chars() {
        if c.is_ascii_alphanumeric() {
            segment.push(c);
        } else {
            mask_segment(&segment, &mut out);
            segment.clear();
            out.push(c);
        }
    }
    mask_segment(&segment, &mut out);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn mask_uuids(text: &str) -> String {
    const SHAPE: [usize; 5] = [8, 4, 4, 4, 12];
    let chars: Vec<char> = text.chars().collect();
    let matches_at = |start: usize| {
        let mut index = start;
        for (group, length) in SHAPE.iter().enumerate() {
            if group > 0 {
                if chars.get(index) != Some(&'-') {
                    return false;
                }
                index += 1;
            }
            for _ in 0..*length {
                if !chars.get(index).is_some_and(char::is_ascii_hexdigit) {
                    return false;
                }
                index += 1;
            }
        }
        !chars.get(index).is_some_and(char::is_ascii_alphanumeric)
    };
    let mut out = String::with_capacity(text.len());
    let mut index = 0;
    while index < chars.len() {
        let boundary = index == 0 || !chars[index - 1].is_ascii_alphanumeric();
        if boundary && matches_at(index) {
            out.push_str("<uuid>");
            index += 36;
        } else {
            out.push(chars[index]);
            index += 1;
        }
    }
    out
}

fn mask_segment(segment: &str, out: &mut String) {
    if segment.is_empty() {
        return;
    }
    let has_digit = segment.chars().any(|c| c.is_ascii_digit());
    let has_hex_letter = segment.chars().any(|c| matches!(c.to_ascii_lowercase(), 'a'..='f'));
    if segment.len() >= 8 && has_digit && has_hex_letter && segment.chars().all(|c| c.is_ascii_hexdigit()) {
        out.push_str("<hex>");
        return;
    }
    let chars: Vec<char> = segment.chars().collect();
    let mut index = 0;
    while index < chars.len() {
        if chars[index].is_ascii_digit() {
            let start = index;
            while index < chars.len() && chars[index].is_ascii_digit() {
                index += 1;
            }
            let after_letter = start > 0 && chars[start - 1].is_ascii_alphabetic();
            if after_letter && index - start < 3 {
                out.extend(&chars[start..index]);
            } else {
                out.push_str("<n>");
            }
        } else {
            out.push(chars[index]);
            index += 1;
        }
    }
}

/// Whether a log level reports a failure, whatever its spelling.
pub(crate) fn is_error_level(level: &str) -> bool {
    matches!(
        level.trim().to_ascii_lowercase().as_str(),
        "error" | "err" | "fatal" | "critical" | "crit" | "alert" | "emerg" | "emergency" | "severe"
    )
}

/// One pattern and the lines behind it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PatternGroup {
    pub pattern: String,
    pub count: f64,
    /// Lines per level.
    pub levels: BTreeMap<String, f64>,
    /// Distinct messages merged into the pattern.
    pub variants: usize,
    /// The most frequent message of the pattern.
    pub example: String,
    example_count: f64,
    /// Latest timestamp seen (epoch ms), when the rows carry one.
    pub last_seen_ms: Option<i64>,
}

/// One input of [`group`]: a distinct message with its level and count.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MessageCount {
    pub message: String,
    pub level: String,
    pub count: f64,
    pub last_seen_ms: Option<i64>,
}

/// Groups messages by pattern, most lines first (ties by pattern, so the order is stable).
pub(crate) fn group(messages: &[MessageCount]) -> Vec<PatternGroup> {
    let mut groups: BTreeMap<String, PatternGroup> = BTreeMap::new();
    for message in messages {
        let pattern = message_pattern(&message.message);
        let group = groups.entry(pattern.clone()).or_insert_with(|| PatternGroup {
            pattern,
            count: 0.0,
            levels: BTreeMap::new(),
            variants: 0,
            example: message.message.clone(),
            example_count: 0.0,
            last_seen_ms: None,
        });
        group.count += message.count;
        *group.levels.entry(message.level.clone()).or_insert(0.0) += message.count;
        group.variants += 1;
        if message.count > group.example_count {
            group.example = message.message.clone();
            group.example_count = message.count;
        }
        group.last_seen_ms = match (group.last_seen_ms, message.last_seen_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    let mut groups: Vec<PatternGroup> = groups.into_values().collect();
    groups.sort_by(|a, b| b.count.total_cmp(&a.count).then_with(|| a.pattern.cmp(&b.pattern)));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_what_varies_and_keeps_what_names() {
        let cases = [
            ("completed   in 240 ms", "completed in <n> ms"),
            ("completed GET /products/42 in 36 ms", "completed GET /products/<n> in <n> ms"),
            ("order 550e8400-e29b-41d4-a716-446655440000 failed", "order <uuid> failed"),
            ("trace=3df688a89c1f573f span 786479ff", "trace=<hex> span <hex>"),
            ("POST /v1/payments on http2 by G1", "POST /v1/payments on http2 by G1"),
            ("user12345 from 10.0.1.12:8080", "user<n> from <n>.<n>.<n>.<n>:<n>"),
            ("deadbeef is a word", "deadbeef is a word"),
            ("12345678 rows", "<n> rows"),
            ("", ""),
        ];
        for (message, expected) in cases {
            assert_eq!(message_pattern(message), expected, "{message}");
        }
    }

    #[test]
    fn recognises_error_levels_in_any_spelling() {
        for level in ["ERROR", "error", " Fatal ", "CRITICAL", "severe"] {
            assert!(is_error_level(level), "{level}");
        }
        for level in ["INFO", "warn", "debug", ""] {
            assert!(!is_error_level(level), "{level}");
        }
    }

    #[test]
    fn groups_messages_by_pattern_with_levels_and_the_commonest_example() {
        let message = |text: &str, level: &str, count: f64, seen: i64| MessageCount {
            message: text.into(),
            level: level.into(),
            count,
            last_seen_ms: Some(seen),
        };
        let groups = group(&[
            message("completed in 240 ms", "INFO", 9.0, 10),
            message("completed in 241 ms", "INFO", 6.0, 30),
            message("timeout after 5000 ms", "ERROR", 4.0, 20),
            message("timeout after 3000 ms", "WARN", 8.0, 5),
            message("completed in 99 ms", "INFO", 1.0, 1),
        ]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].pattern, "completed in <n> ms");
        assert_eq!((groups[0].count, groups[0].variants), (16.0, 3));
        assert_eq!(groups[0].example, "completed in 240 ms");
        assert_eq!(groups[0].last_seen_ms, Some(30));
        assert_eq!(groups[1].levels.get("ERROR"), Some(&4.0));
        assert_eq!(groups[1].levels.get("WARN"), Some(&8.0));
        assert_eq!(groups[1].example, "timeout after 3000 ms");
    }
}
