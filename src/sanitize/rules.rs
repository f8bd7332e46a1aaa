//! The redaction rules: what each pattern finds and what replaces it.
//!
//! Rules run in order on the output of the previous one. Whole-line removals
//! (backtraces, panics) come first, then paths (so a path never hides a key from later
//! rules), then keys with a recognisable shape, then credentials recognised by the word
//! before them. Every value pattern stops at a quote or backslash, so text that is
//! itself JSON keeps its string escapes intact.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex, RegexSet};

use super::{BACKTRACE, PATH, REDACTED, REDACTED_KEY};

/// A line break, raw or JSON-escaped.
const LINE_BREAK: &str = r"(?:\r?\n|\\r\\n|\\n)";
/// The rest of a line, stopping at a raw or escaped line break and at a string's end.
const REST_OF_LINE: &str = r#"(?:[^\r\n"\\]|\\[^nr"])*"#;
/// What may stand right before an absolute path (kept in the output).
const PATH_PREFIX: &str = r#"(^|[\s"'`(\[{=,:;<>|]|\\[nrt])"#;
const UNIX_PATH_CHAR: &str = r#"[^\s"'`<>()\[\]{},;|*?\\]"#;
/// A Windows path character; a backslash only when it does not escape a quote.
const WINDOWS_PATH_CHAR: &str = r#"(?:[^\s"'`<>|\\]|\\[^\s"'`<>|])"#;
/// A character of one Windows path segment (no separator).
const WINDOWS_SEGMENT_CHAR: &str = r#"[^\s"'`<>|\\]"#;
/// Directories whose paths reveal a machine's layout or a user's name.
const UNIX_ROOTS: &str = "home|root|Users|tmp|var|etc|opt|usr|srv|mnt|private|nix|rustc|Library|Volumes";
/// A credential value after `key=` or `key: `; never starts with a marker's `[`.
const VALUE: &str = r#"[^\s"'`,;&<>()\[\]{}:\\][^\s"'`,;&<>()\[\]{}\\]*"#;
/// A quoted credential value, raw or JSON-escaped, with its opening quote; it may hold
/// spaces and ends before the closing quote.
const QUOTED_VALUE: &str = r#"\\?"[^"\\\r\n]+|'[^'\\\r\n]+"#;
/// Words whose value is a credential.
const CREDENTIAL_NAMES: &str = "api[_-]?key|license[_-]?key|insert[_-]?key|query[_-]?key|user[_-]?key\
    |admin[_-]?key|ingest[_-]?key|browser[_-]?key|access[_-]?token|refresh[_-]?token|auth[_-]?token\
    |id[_-]?token|session[_-]?token|client[_-]?secret|hmac[_-]?secret|signing[_-]?(?:key|secret)\
    |private[_-]?key|token|secret|password|passwd|pwd|credentials?";

/// How the runtime's write confirmation tokens begin, and how many hex digits follow.
const CONFIRMATION_TOKEN_PREFIX: &str = "nrcfm1_";
const CONFIRMATION_TOKEN_DIGITS: usize = 112;

type Replace = fn(&Captures<'_>) -> String;

/// Which text a rule guards.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Credentials: removed from every text, the server's own and upstream data alike.
    Everywhere,
    /// The server's own paths, source locations, backtraces and prose that announces a
    /// secret: only the server writes these, while the same shapes in upstream data are the
    /// customer's telemetry (volumes, process names, URIs, hosts, their own panics).
    ServerText,
}

struct Rule {
    regex: Regex,
    replace: Replace,
}

/// The compiled rules, and one combined scan that tells whether any of them applies.
pub(super) struct Rules {
    any: RegexSet,
    rules: Vec<Rule>,
}

/// Every rule, for text the server writes itself.
static SERVER_TEXT_RULES: LazyLock<Option<Rules>> =
    LazyLock::new(|| Rules::build(patterns(&own_paths()), |_| true).ok());
/// The credential rules only, for upstream data.
static UPSTREAM_DATA_RULES: LazyLock<Option<Rules>> =
    LazyLock::new(|| Rules::build(patterns(&[]), |scope| scope == Scope::Everywhere).ok());

/// The rules for the server's own text; `None` only if a pattern failed to compile (a unit
/// test guards it).
pub(super) fn server_text() -> Option<&'static Rules> {
    SERVER_TEXT_RULES.as_ref()
}

/// The rules for upstream data; `None` only if a pattern failed to compile.
pub(super) fn upstream_data() -> Option<&'static Rules> {
    UPSTREAM_DATA_RULES.as_ref()
}

/// Directories this process knows as its own, longest first: where it was built (panics and
/// `file!()` embed it), where its executable lies, where it runs, and its user's home.
/// A bare `/` or a one-letter path would swallow everything, so only paths below a
/// directory of their own count.
fn own_paths() -> Vec<String> {
    let build_dir = Some(env!("CARGO_MANIFEST_DIR").to_owned());
    let install_dir = std::env::current_exe()
        .ok()
        .and_then(|executable| executable.parent().map(|dir| dir.display().to_string()));
    let working_dir = std::env::current_dir().ok().map(|dir| dir.display().to_string());
    let home_dir = std::env::var("HOME").ok();
    let cargo_home = std::env::var("CARGO_HOME").ok();
    let mut paths: Vec<String> = [build_dir, install_dir, working_dir, home_dir, cargo_home]
        .into_iter()
        .flatten()
        .map(|path| path.trim_end_matches(['/', '\\']).to_owned())
        .filter(|path| is_specific_directory(path))
        .collect();
    paths.sort_by_key(|path| std::cmp::Reverse(path.len()));
    paths.dedup();
    paths
}

fn is_specific_directory(path: &str) -> bool {
    path.len() >= 4 && (path.starts_with('/') || path.contains(":\\"))
}

fn patterns(own_paths: &[String]) -> Vec<(Scope, String, Replace)> {
    use Scope::{Everywhere, ServerText};
    let mut table = vec![
        // A backtrace: the header and every frame line under it.
        (ServerText, format!(r"(?i:stack backtrace:)[ \t]*(?:{LINE_BREAK}[ \t]*(?:\d+:|at )[ \t]*{REST_OF_LINE})*"), backtrace as Replace),
        // `thread 'main' panicked at src/main.rs:2:5:` (the location line).
        (ServerText, format!(r"(?:thread '[^'\r\n]*' )?panicked at {REST_OF_LINE}"), backtrace),
        // `note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace`.
        (ServerText, format!(r#"(?:note:[^\r\n"\\]*?)?RUST_BACKTRACE{REST_OF_LINE}"#), backtrace),
        (Everywhere, r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)".to_owned(), key),
        // user:password@ in a URL.
        (
            Everywhere,
            r#"(?i)((?:https?|wss?|ftp|postgres(?:ql)?|mysql|redis|amqps?|mongodb(?:\+srv)?)://)[^/\s:@'"<>\\]+:[^/\s@'"<>\\]+@"#
                .to_owned(),
            url_credentials,
        ),
    ];
    if !own_paths.is_empty() {
        let alternatives: Vec<String> = own_paths.iter().map(|path| regex::escape(path)).collect();
        table.push((
            ServerText,
            format!(r"{PATH_PREFIX}((?:{}){UNIX_PATH_CHAR}*)", alternatives.join("|")),
            own_path,
        ));
    }
    table.extend([
        (ServerText, format!(r"{PATH_PREFIX}(/(?:{UNIX_ROOTS})/{UNIX_PATH_CHAR}+)"), path_after_prefix as Replace),
        // A Windows path, spaces included as long as a later backslash shows the path goes
        // on (`C:\Program Files\x`), so it is never cut half-way.
        (
            ServerText,
            format!(r"{PATH_PREFIX}([A-Za-z]:\\{WINDOWS_PATH_CHAR}*(?:[ ]+{WINDOWS_SEGMENT_CHAR}*\\{WINDOWS_PATH_CHAR}*)*)"),
            path_after_prefix,
        ),
        (
            ServerText,
            format!(r"{PATH_PREFIX}(\\\\[A-Za-z0-9._$-]+\\{WINDOWS_PATH_CHAR}*(?:[ ]+{WINDOWS_SEGMENT_CHAR}*\\{WINDOWS_PATH_CHAR}*)*)"),
            path_after_prefix,
        ),
        (ServerText, format!(r"{PATH_PREFIX}(~/{UNIX_PATH_CHAR}+)"), path_after_prefix),
        // A source location such as `src/server.rs:42:7`. The file's stem holds no dot, so a
        // host on the `.rs` domain with a port (`shop.example.rs:443`) is not one.
        (
            ServerText,
            r"(^|[^A-Za-z0-9_.\-/])((?:[A-Za-z0-9_.\-]*/)*[A-Za-z0-9_\-]+\.rs:\d+(?::\d+)?)".to_owned(),
            path_after_prefix,
        ),
        // New Relic User (NRAK), admin, insert, query, browser and REST keys, in any case (a
        // key lowercased inside a URL's host is still a key).
        (Everywhere, r"(?i)NR(?:AK|AA|II|IQ|JS|BR|RA|SP)-[A-Za-z0-9]{6,}".to_owned(), key),
        // License keys: 40 characters ending in NRAL (EU keys start with `eu01xx`).
        (Everywhere, r"(?i)[A-Za-z0-9]{36}NRAL(?-u:\b)".to_owned(), key),
        (Everywhere, r"(?-u:\b)(?:AKIA|ASIA)[0-9A-Z]{16}(?-u:\b)".to_owned(), key),
        (
            Everywhere,
            r#"(?i)((?:proxy-)?authorization\\?["']?[ \t]*[:=][ \t]*\\?["']?)((?:bearer|basic|digest|token|nrmcp1-hmac-sha256)[ \t]+)?([^\s"',;\\\[][^\s"',;\\]*)"#
                .to_owned(),
            authorization,
        ),
        (Everywhere, r"(?i)(?-u:\b)(bearer[ \t]+)([A-Za-z0-9\-._~+/]+=*)".to_owned(), bearer),
        (
            Everywhere,
            format!(
                r#"(?i)(\\?["']?)((?:x-)?(?:{CREDENTIAL_NAMES}))(\\?["']?[ \t]*[:=][ \t]*)({QUOTED_VALUE}|{VALUE})"#
            ),
            credential_pair,
        ),
        // A long hex or base64 secret right after a word that announces one. Only in the
        // server's own text: in telemetry, `cache key <uuid>` or `commit signature <sha>`
        // are ordinary values.
        (
            ServerText,
            r#"(?i)((?-u:\b)(?:key|secret|token|hmac|signature|password|passphrase)(?:[ \t]+(?:(?:is|was|of)[ \t]+)?(?:[:=][ \t]*)?|[ \t]*[:=][ \t]*)\\?["']?)([A-Za-z0-9+/_\-]{32,}={0,2})"#
                .to_owned(),
            announced_secret,
        ),
    ]);
    table
}

impl Rules {
    fn build(
        table: Vec<(Scope, String, Replace)>,
        applies: impl Fn(Scope) -> bool,
    ) -> Result<Self, regex::Error> {
        let table: Vec<(String, Replace)> = table
            .into_iter()
            .filter(|(scope, _, _)| applies(*scope))
            .map(|(_, pattern, replace)| (pattern, replace))
            .collect();
        let any = RegexSet::new(table.iter().map(|(pattern, _)| pattern.as_str()))?;
        let rules = table
            .into_iter()
            .map(|(pattern, replace)| Ok(Rule { regex: Regex::new(&pattern)?, replace }))
            .collect::<Result<Vec<_>, regex::Error>>()?;
        Ok(Self { any, rules })
    }
    /// One pass of every rule; borrowed when nothing changed.
    pub(super) fn apply<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if !self.any.is_match(text) {
            return Cow::Borrowed(text);
        }
        let mut current: Cow<'t, str> = Cow::Borrowed(text);
        for rule in &self.rules {
            let changed =
                match rule.regex.replace_all(&current, |captures: &Captures<'_>| (rule.replace)(captures)) {
                    Cow::Borrowed(_) => None,
                    Cow::Owned(changed) => Some(changed),
                };
            if let Some(changed) = changed {
                current = Cow::Owned(changed);
            }
        }
        if current == text { Cow::Borrowed(text) } else { current }
    }
}

fn group<'c>(captures: &'c Captures<'_>, index: usize) -> &'c str {
    captures.get(index).map_or("", |found| found.as_str())
}

fn backtrace(_: &Captures<'_>) -> String {
    BACKTRACE.to_owned()
}

fn key(_: &Captures<'_>) -> String {
    REDACTED_KEY.to_owned()
}

fn path_after_prefix(captures: &Captures<'_>) -> String {
    format!("{}{PATH}", group(captures, 1))
}

/// One of the server's own directories, or a path below it; a longer name that merely
/// starts the same (`/root` before `/rootfs`) is left alone.
fn own_path(captures: &Captures<'_>) -> String {
    let found = group(captures, 2);
    let is_below = own_paths_cache().iter().any(|own| {
        found.strip_prefix(own.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '\\']))
    });
    if is_below { path_after_prefix(captures) } else { group(captures, 0).to_owned() }
}

fn own_paths_cache() -> &'static [String] {
    static OWN_PATHS: LazyLock<Vec<String>> = LazyLock::new(own_paths);
    &OWN_PATHS
}

fn url_credentials(captures: &Captures<'_>) -> String {
    format!("{}{REDACTED}@", group(captures, 1))
}

/// True when a value looks like a secret rather than a word: long, or mixing digits
/// and letters.
fn looks_like_credential(value: &str) -> bool {
    let has_digit = value.bytes().any(|b| b.is_ascii_digit());
    let has_letter = value.bytes().any(|b| b.is_ascii_alphabetic());
    value.len() >= 24 || (value.len() >= 8 && has_digit && has_letter)
}

fn authorization(captures: &Captures<'_>) -> String {
    let scheme = group(captures, 2);
    let value = group(captures, 3);
    // `Authorization: required` is prose, not a header.
    if scheme.is_empty() && value.len() < 16 && value.bytes().all(|b| b.is_ascii_alphabetic()) {
        return group(captures, 0).to_owned();
    }
    format!("{}{scheme}{REDACTED}", group(captures, 1))
}

fn bearer(captures: &Captures<'_>) -> String {
    if looks_like_credential(group(captures, 2)) {
        format!("{}{REDACTED}", group(captures, 1))
    } else {
        group(captures, 0).to_owned()
    }
}

fn credential_pair(captures: &Captures<'_>) -> String {
    let quote = group(captures, 1);
    let name = group(captures, 2);
    let separator = group(captures, 3);
    let value = group(captures, 4);
    let opening = value.len() - value.trim_start_matches(['\\', '"', '\'']).len();
    let (value_quote, value) = value.split_at(opening);
    if is_confirmation_token(value) {
        return group(captures, 0).to_owned();
    }
    // Bare `token:` is common in parser errors ("unexpected token: FROM"); only a
    // secret-looking value counts there.
    let generic =
        ["token", "pwd", "credential", "credentials"].iter().any(|word| name.eq_ignore_ascii_case(word));
    let needs_evidence = generic && quote.is_empty() && !separator.contains('=');
    if needs_evidence && !looks_like_credential(value) {
        return group(captures, 0).to_owned();
    }
    format!("{quote}{name}{separator}{value_quote}{REDACTED}")
}

/// A write's confirmation token is no credential: it confirms one previewed call with its
/// exact arguments, once, and the caller needs to read it to send it back.
/// Only the exact shape the runtime issues counts (the prefix and 112 lowercase hex digits),
/// so a secret that merely starts with the prefix is still redacted.
fn is_confirmation_token(value: &str) -> bool {
    value.strip_prefix(CONFIRMATION_TOKEN_PREFIX).is_some_and(|digits| {
        digits.len() == CONFIRMATION_TOKEN_DIGITS
            && digits.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
    })
}

fn announced_secret(captures: &Captures<'_>) -> String {
    let blob = group(captures, 2);
    if is_confirmation_token(blob) {
        return group(captures, 0).to_owned();
    }
    let has_digit = blob.bytes().any(|b| b.is_ascii_digit());
    let has_letter = blob.bytes().any(|b| b.is_ascii_alphabetic());
    if has_digit && has_letter {
        format!("{}{REDACTED}", group(captures, 1))
    } else {
        group(captures, 0).to_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn every_rule_compiles() {
        assert!(server_text().is_some());
        assert!(upstream_data().is_some());
    }

    #[test]
    fn confirmation_tokens_are_kept_and_credentials_beside_them_are_not() {
        let token = format!("nrcfm1_{}", "0123456789abcdef".repeat(7));
        let cases = [
            (format!("plus \"confirmation_token\": \"{token}\" (valid for 300 s, once)."), None),
            (format!("confirmation token: {token}"), None),
            (format!("token={token}"), None),
            (
                format!("token: {token} api_key: abc123def456"),
                Some(format!("token: {token} api_key: [redacted]")),
            ),
            (
                "token: a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2".to_string(),
                Some("token: [redacted]".to_string()),
            ),
            ("password: nrcfm1_hunter2hunter2".to_string(), Some("password: [redacted]".to_string())),
            (format!("secret: {token}ff"), Some("secret: [redacted]".to_string())),
        ];
        for (text, expected) in cases {
            let expected = expected.unwrap_or_else(|| text.clone());
            assert_eq!(crate::sanitize::sanitize(&text), expected, "{text}");
        }
    }

    #[test]
    fn credential_evidence() {
        let cases = [
            ("FROM", false),
            ("abcdefgh", false),
            ("abc12345", true),
            ("12345678", false),
            ("abcdefghijklmnopqrstuvwx", true),
        ];
        for (value, expected) in cases {
            assert_eq!(looks_like_credential(value), expected, "{value}");
        }
    }

    #[test]
    fn each_rule_fires_on_its_own_example() {
        let cases = [
            ("stack backtrace:\n   0: main\n             at ./x", "[backtrace removed]"),
            ("thread 'main' panicked at src/main.rs:2:5:", "[backtrace removed]"),
            ("note: run with `RUST_BACKTRACE=1` to see more", "[backtrace removed]"),
            ("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----", "[redacted key]"),
            ("https://bob:pa55@example.com/x", "https://[redacted]@example.com/x"),
            ("open /home/bob/x.toml", "open [path]"),
            (r"open C:\Users\bob\x.toml", "open [path]"),
            (r"open \\fileserver\share\x.toml", "open [path]"),
            ("open ~/x.toml", "open [path]"),
            ("at src/main.rs:2:5", "at [path]"),
            ("NRAK-ABCDEFGHIJKLMNOPQRSTUVWXYZ0", "[redacted key]"),
            ("0123456789abcdef0123456789abcdef0123NRAL", "[redacted key]"),
            ("AKIAABCDEFGHIJKLMNOP", "[redacted key]"),
            ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [redacted]"),
            ("bearer abc123def456", "bearer [redacted]"),
            ("password=hunter2", "password=[redacted]"),
            ("signing key 3f9a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b", "signing key [redacted]"),
        ];
        let rules = server_text().unwrap();
        for (input, expected) in cases {
            assert_eq!(rules.apply(input), expected, "{input}");
        }
    }
}
