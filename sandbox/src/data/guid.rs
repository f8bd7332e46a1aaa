//! Entity GUIDs in New Relic's format: unpadded base64 of `ACCOUNT|DOMAIN|TYPE|ID`.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The GUID of an entity: `entity_guid(1, "APM", "APPLICATION", "123")` is
/// `MXxBUE18QVBQTElDQVRJT058MTIz`.
pub fn entity_guid(account_id: i64, domain: &str, entity_type: &str, id: &str) -> String {
    base64_unpadded(format!("{account_id}|{domain}|{entity_type}|{id}").as_bytes())
}

fn base64_unpadded(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let symbols = chunk.len() + 1;
        for i in 0..symbols {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_match_new_relic_encoding() {
        let cases = [
            ((1, "APM", "APPLICATION", "123"), "MXxBUE18QVBQTElDQVRJT058MTIz"),
            ((1000001, "INFRA", "HOST", "7"), "MTAwMDAwMXxJTkZSQXxIT1NUfDc"),
        ];
        for ((account, domain, kind, id), expected) in cases {
            assert_eq!(entity_guid(account, domain, kind, id), expected);
        }
    }
}
