//! Opaque cursors and fixed-size pages, as NerdGraph's cursor pagination works.

use super::FieldError;

/// Entities per `entitySearch.results` page.
pub const ENTITY_PAGE_SIZE: usize = 10;
/// Items per page of alert policies, conditions, issues and incidents.
pub const LIST_PAGE_SIZE: usize = 5;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn encode(text: &str) -> String {
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]));
        }
    }
    out
}

fn decode(text: &str) -> Option<String> {
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push(((bits >> count) & 0xff) as u8);
        }
    }
    String::from_utf8(out).ok()
}

/// The cursor of the page starting at `offset` of a listing of `kind`.
pub fn cursor(kind: &str, offset: usize) -> String {
    encode(&format!("{kind}:{offset}"))
}

/// Reads a cursor of `kind`; `None` means the first page.
pub fn offset(kind: &str, cursor: Option<&str>) -> Result<usize, FieldError> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else { return Ok(0) };
    decode(cursor)
        .and_then(|text| text.strip_prefix(&format!("{kind}:")).and_then(|rest| rest.parse().ok()))
        .ok_or_else(|| {
            FieldError::invalid_input(format!(
                "Invalid cursor '{cursor}': pass back a nextCursor from the previous page"
            ))
        })
}

/// One page of `items` and the cursor of the next page, if any.
pub fn page<T: Clone>(
    kind: &str,
    items: &[T],
    cursor: Option<&str>,
    size: usize,
) -> Result<(Vec<T>, Option<String>), FieldError> {
    let start = offset(kind, cursor)?.min(items.len());
    let end = start.saturating_add(size).min(items.len());
    let next = (end < items.len()).then(|| self::cursor(kind, end));
    Ok((items[start..end].to_vec(), next))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn pages_walk_the_whole_list_once() {
        let items: Vec<u32> = (0..12).collect();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let (chunk, next) = page("things", &items, cursor.as_deref(), 5).unwrap();
            seen.extend(chunk);
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, items);
    }

    #[test]
    fn foreign_or_garbled_cursors_are_rejected() {
        assert!(offset("things", Some(&cursor("other", 5))).is_err());
        assert!(offset("things", Some("%%%")).is_err());
        assert_eq!(offset("things", Some(&cursor("things", 7))).unwrap(), 7);
    }
}
