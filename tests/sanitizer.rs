//! The sanitizer against realistic leaks (each secret must go, the useful part must
//! stay) and realistic ordinary output (must come back byte for byte).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;

use newrelic_mcp::sanitize::{
    ErrorId, new_error_id, sanitize, sanitize_json, sanitize_upstream, sanitize_upstream_json,
};
use proptest::prelude::*;
use serde_json::json;

const USER_KEY: &str = "NRAK-7JQ2ZC4XW8KD1M5TB9VH3NP6LRA";
const LICENSE_KEY: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f901234NRAL";
const EU_LICENSE_KEY: &str = "eu01xx6f3e2d1c0b9a8f7e6d5c4b3a291807NRAL";
const LEGACY_HEX_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c";
const HMAC_SECRET_HEX: &str = "9b8a7c6d5e4f30211203f4e5d6c7b8a99b8a7c6d5e4f30211203f4e5d6c7b8a9";
const HMAC_SECRET_B64: &str = "q83vEjRWeJq8Sx7Wk9Zp2Lm4Nb6Vc8Xz0Ty1Ru3Ei5=";
const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.dGhpcyBpcyBub3QgYSByZWFsIGp3dA";

/// (what, text, secrets that must disappear, parts that must remain)
fn leaks() -> Vec<(&'static str, String, Vec<String>, Vec<&'static str>)> {
    let s = |text: &str| text.to_owned();
    vec![
        (
            "user key in an auth error",
            format!("NerdGraph refused the key {USER_KEY}: 401 Unauthorized"),
            vec![s(USER_KEY)],
            vec!["NerdGraph refused the key", "401 Unauthorized", "[redacted key]"],
        ),
        (
            "user key as an API-Key header",
            format!("request failed; headers: API-Key: {USER_KEY}, Content-Type: application/json"),
            vec![s(USER_KEY)],
            vec!["request failed", "Content-Type: application/json"],
        ),
        (
            "API-Key header with an unrecognised key shape",
            s("sent API-Key: abcDEF123456ghiJKL to https://api.newrelic.com/graphql"),
            vec![s("abcDEF123456ghiJKL")],
            vec!["sent API-Key: [redacted]", "https://api.newrelic.com/graphql"],
        ),
        (
            "insert key",
            s("Insights insert key NRII-x9Yb2Kc3Ld4Me5Nf6Og7Ph8Qi9Rj0Sk1 rejected"),
            vec![s("NRII-x9Yb2Kc3Ld4Me5Nf6Og7Ph8Qi9Rj0Sk1")],
            vec!["Insights insert key", "rejected"],
        ),
        (
            "browser key",
            s("browser agent configured with NRJS-1a2b3c4d5e6f7a8b9c0 for app 42"),
            vec![s("NRJS-1a2b3c4d5e6f7a8b9c0")],
            vec!["for app 42"],
        ),
        (
            "browser key (BR)",
            s("licenseKey NRBR-0a1b2c3d4e5f6a7b8c9 is invalid"),
            vec![s("NRBR-0a1b2c3d4e5f6a7b8c9")],
            vec!["is invalid"],
        ),
        (
            "REST admin key",
            s("X-Api-Key NRRA-5f4e3d2c1b0a99887766554433221100aabbccdd failed"),
            vec![s("NRRA-5f4e3d2c1b0a99887766554433221100aabbccdd")],
            vec!["failed"],
        ),
        (
            "query key",
            s("query key NRIQ-Zx8Cv7Bn6Mm5Ll4Kk3Jj2Hh1Gg0Ff expired"),
            vec![s("NRIQ-Zx8Cv7Bn6Mm5Ll4Kk3Jj2Hh1Gg0Ff")],
            vec!["expired"],
        ),
        (
            "license key",
            format!("agent config: license {LICENSE_KEY} for account 1234567"),
            vec![s(LICENSE_KEY)],
            vec!["agent config", "for account 1234567"],
        ),
        ("EU license key", format!("license={EU_LICENSE_KEY}"), vec![s(EU_LICENSE_KEY)], vec!["license="]),
        (
            "legacy 40-hex key after license_key=",
            format!("newrelic.ini: license_key = {LEGACY_HEX_KEY}"),
            vec![s(LEGACY_HEX_KEY)],
            vec!["newrelic.ini: license_key = [redacted]"],
        ),
        (
            "legacy 40-hex key after the words 'license key'",
            format!("the license key {LEGACY_HEX_KEY} is not valid for this region"),
            vec![s(LEGACY_HEX_KEY)],
            vec!["the license key", "is not valid for this region"],
        ),
        (
            "bearer token in a header",
            format!("upstream said 403 for Authorization: Bearer {JWT}"),
            vec![s(JWT), s("eyJhbGciOiJIUzI1NiJ9")],
            vec!["upstream said 403 for Authorization: Bearer [redacted]"],
        ),
        (
            "lowercase authorization header in JSON text",
            format!(r#"{{"headers": {{"authorization": "Bearer {JWT}"}}, "status": 403}}"#),
            vec![s(JWT)],
            vec![r#""status": 403"#],
        ),
        (
            "bare bearer token",
            s("retrying with bearer 4f8c2a9e1b7d3f6a0c5e8b2d9f1a4c7e"),
            vec![s("4f8c2a9e1b7d3f6a0c5e8b2d9f1a4c7e")],
            vec!["retrying with bearer [redacted]"],
        ),
        (
            "basic auth header",
            s("Authorization: Basic YWRtaW46czNjcjN0UGFzcw=="),
            vec![s("YWRtaW46czNjcjN0UGFzcw==")],
            vec!["Authorization: Basic [redacted]"],
        ),
        (
            "api_key in a query string",
            s("GET https://example.com/v2/applications.json?api_key=abc123XYZ789&page=2 returned 500"),
            vec![s("abc123XYZ789")],
            vec!["https://example.com/v2/applications.json?api_key=[redacted]&page=2", "returned 500"],
        ),
        (
            "apikey without separator punctuation",
            s("config apikey=ZXCVBNM123456 loaded"),
            vec![s("ZXCVBNM123456")],
            vec!["config apikey=[redacted] loaded"],
        ),
        (
            "environment variable assignment",
            s("NEW_RELIC_API_KEY=not-a-real-key-but-secret-42 was ignored"),
            vec![s("not-a-real-key-but-secret-42")],
            vec!["NEW_RELIC_API_KEY=[redacted]", "was ignored"],
        ),
        (
            "secret= pair",
            s("webhook secret=shh-dont-tell-9 invalid"),
            vec![s("shh-dont-tell-9")],
            vec!["webhook secret=[redacted] invalid"],
        ),
        (
            "token= pair",
            s("callback https://hooks.example.com/notify?token=t0k3nV4lu3&channel=ops failed"),
            vec![s("t0k3nV4lu3")],
            vec!["https://hooks.example.com/notify?token=[redacted]&channel=ops", "failed"],
        ),
        (
            "password= pair",
            s("connect failed: host=db port=5432 password=hunter2 user=app"),
            vec![s("hunter2")],
            vec!["connect failed: host=db port=5432", "user=app"],
        ),
        (
            "password in JSON text",
            s(r#"{"user":"app","password":"correct horse","port":5432}"#),
            vec![s("correct"), s("horse")],
            vec![r#"{"user":"app","password":"[redacted]","port":5432}"#],
        ),
        (
            "password inside JSON that was itself escaped into a string",
            s(r#"{"body":"{\"user\":\"app\",\"password\":\"s3cret pass\"}"}"#),
            vec![s("s3cret"), s("pass\\")],
            vec![r#"{"body":"{\"user\":\"app\",\"password\":\"[redacted]\"}"}"#],
        ),
        (
            "client secret with a colon",
            s("oauth: client_secret: Zm9vYmFyYmF6cXV4 rejected by provider"),
            vec![s("Zm9vYmFyYmF6cXV4")],
            vec!["rejected by provider"],
        ),
        (
            "access token in YAML",
            s("access_token: ya29.a0AfH6SMBx-very-secret-token\nregion: US"),
            vec![s("ya29.a0AfH6SMBx-very-secret-token")],
            vec!["region: US"],
        ),
        (
            "HMAC secret as hex after its name",
            format!("hmac_secret={HMAC_SECRET_HEX} (64 hex chars)"),
            vec![s(HMAC_SECRET_HEX)],
            vec!["(64 hex chars)"],
        ),
        (
            "HMAC secret as base64 after prose",
            format!("the HMAC secret is {HMAC_SECRET_B64} and must be rotated"),
            vec![s(HMAC_SECRET_B64)],
            vec!["and must be rotated"],
        ),
        (
            "signing key in hex",
            format!("signing key: {HMAC_SECRET_HEX}"),
            vec![s(HMAC_SECRET_HEX)],
            vec!["signing key"],
        ),
        (
            "credentials in a URL",
            s("proxy https://svc-user:Sup3rS3cret@proxy.internal:8443 unreachable"),
            vec![s("Sup3rS3cret"), s("svc-user")],
            vec!["https://[redacted]@proxy.internal:8443 unreachable"],
        ),
        (
            "home directory path",
            s("failed to read /home/alice/.config/newrelic-mcp/config.toml: permission denied"),
            vec![s("/home/alice"), s("alice")],
            vec!["failed to read [path]", "permission denied"],
        ),
        (
            "root home path",
            s("loading /root/.newrelic/credentials.json"),
            vec![s("/root/.newrelic")],
            vec!["loading [path]"],
        ),
        (
            "macOS user path",
            s("cannot open '/Users/bob/Library/Application Support/x' (denied)"),
            vec![s("/Users/bob")],
            vec!["cannot open '[path]", "(denied)"],
        ),
        (
            "Windows path",
            s(r"config not found at C:\Users\carol\AppData\Roaming\newrelic-mcp\config.toml"),
            vec![s(r"C:\Users\carol"), s("carol")],
            vec!["config not found at [path]"],
        ),
        (
            "temporary file path",
            s("spill file /tmp/newrelic-mcp-4242/cache.bin is full"),
            vec![s("/tmp/newrelic-mcp-4242")],
            vec!["spill file [path] is full"],
        ),
        (
            "system paths",
            s("cert /etc/ssl/private/nr.pem and socket /var/run/nr.sock"),
            vec![s("/etc/ssl"), s("/var/run")],
            vec!["cert [path] and socket [path]"],
        ),
        (
            "source location",
            s("internal error at src/nerdgraph/client.rs:214:17: connection reset"),
            vec![s("client.rs:214"), s("src/nerdgraph")],
            vec!["internal error at [path]", "connection reset"],
        ),
        (
            "panic message",
            s("thread 'tokio-runtime-worker' panicked at src/tools/nrql.rs:88:9:\nindex out of bounds"),
            vec![s("nrql.rs:88"), s("tokio-runtime-worker")],
            vec!["[backtrace removed]", "index out of bounds"],
        ),
        (
            "full backtrace",
            s(
                "query failed\nstack backtrace:\n   0: rust_begin_unwind\n             at /rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/std/src/panicking.rs:665:5\n   1: newrelic_mcp::tools::nrql::render\n             at ./src/tools/nrql.rs:88:9\nnote: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\nplease retry",
            ),
            vec![s("rust_begin_unwind"), s("/rustc/"), s("newrelic_mcp::tools"), s("RUST_BACKTRACE")],
            vec!["query failed", "please retry", "[backtrace removed]"],
        ),
        (
            "backtrace hint",
            s(
                "worker stopped\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
            ),
            vec![s("RUST_BACKTRACE")],
            vec!["worker stopped"],
        ),
        (
            "backtrace inside JSON-escaped text",
            s(
                r#"{"error":"boom\nstack backtrace:\n   0: std::panicking::begin_panic\n             at /home/dev/src/main.rs:3:5","code":500}"#,
            ),
            vec![s("begin_panic"), s("/home/dev")],
            vec![r#"{"error":"boom\n[backtrace removed]","code":500}"#],
        ),
        (
            "private key block",
            s(
                "tls: -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq\n-----END RSA PRIVATE KEY----- loaded",
            ),
            vec![s("MIIEowIBAAKCAQEA7bq")],
            vec!["tls:", "loaded"],
        ),
        (
            "AWS access key id",
            s("s3 upload as AKIAIOSFODNN7EXAMPLE denied"),
            vec![s("AKIAIOSFODNN7EXAMPLE")],
            vec!["s3 upload as", "denied"],
        ),
        (
            "several secrets in one message",
            format!("key {USER_KEY} from /home/dave/.env with password=p4ssw0rd!"),
            vec![s(USER_KEY), s("/home/dave"), s("p4ssw0rd")],
            vec!["from [path] with password=[redacted]"],
        ),
        (
            "user key inside a permalink's query",
            format!("https://one.newrelic.com/nr1-core?api_key={USER_KEY}&account=1"),
            vec![s(USER_KEY)],
            vec!["https://one.newrelic.com/nr1-core?api_key=", "&account=1"],
        ),
        (
            "x-license-key header",
            s("X-License-Key: 0123456789abcdef0123456789abcdef01234567"),
            vec![s("0123456789abcdef0123456789abcdef01234567")],
            vec!["X-License-Key: [redacted]"],
        ),
        (
            "Windows path with spaces, removed whole",
            s(r"config not found at C:\Program Files\newrelic mcp\config.toml (denied)"),
            vec![s("Files"), s("newrelic mcp"), s("config.toml")],
            vec!["config not found at [path] (denied)"],
        ),
        (
            "user key lowercased in a URL host",
            s("GET https://nrak-7jq2zc4xw8kd1m5tb9vh3np6lra.example.com/ failed"),
            vec![s("7jq2zc4xw8kd1m5tb9vh3np6lra")],
            vec!["GET https://[redacted key].example.com/ failed"],
        ),
        (
            "token that looks like a secret after 'token:'",
            s("token: 8f14e45fceea167a5a36dedd4bea2543 refused"),
            vec![s("8f14e45fceea167a5a36dedd4bea2543")],
            vec!["refused"],
        ),
    ]
}

#[test]
fn leaks_are_removed_and_the_useful_part_stays() {
    let corpus = leaks();
    assert!(corpus.len() >= 40, "corpus has {} texts", corpus.len());
    for (what, text, secrets, kept) in corpus {
        let clean = sanitize(&text);
        for secret in &secrets {
            assert!(!clean.contains(secret.as_str()), "{what}: {secret:?} survived in {clean:?}");
        }
        for part in &kept {
            assert!(clean.contains(part), "{what}: lost {part:?}, got {clean:?}");
        }
        assert_eq!(sanitize(&clean), clean, "{what}: a second pass changed the text");
    }
}

fn benign() -> Vec<&'static str> {
    vec![
        "SELECT count(*) FROM Transaction WHERE appName = 'checkout' SINCE 1 hour ago TIMESERIES 5 minutes",
        "SELECT percentile(duration, 95) FROM Transaction FACET name LIMIT MAX SINCE '2024-05-01 00:00:00' UNTIL '2024-05-02 00:00:00'",
        "SELECT average(cpuPercent) FROM SystemSample WHERE hostname LIKE 'web-%' FACET hostname COMPARE WITH 1 week ago",
        "SELECT count(*) FROM Log WHERE message LIKE '%timeout%' AND level = 'error' SINCE 30 minutes ago",
        "SELECT uniqueCount(session) FROM PageView WHERE request.uri = '/api/v2/users' FACET countryCode",
        "NRQL syntax error: unexpected token: FROM at position 17",
        "Unexpected token ')' at line 1, column 42; check the parentheses",
        "NRQL timed out after 5 s: narrow SINCE or pass timeout_seconds up to 120",
        "Entity MXxBUE18QVBQTElDQVRJT058MTIz (checkout-service) is reporting",
        "guid: MTIzNDU2N3xBUE18QVBQTElDQVRJT058OTg3NjU0MzIx",
        "Open it in New Relic: https://one.newrelic.com/redirect/entity/MXxBUE18QVBQTElDQVRJT058MTIz",
        "Dashboard: https://one.newrelic.com/dashboards/detail/MXxWSVp8REFTSEJPQVJEfDQy?account=1234567&state=9a8b7c6d",
        "Short link https://onenr.io/0LwGmLyLaQx shared with the team",
        "Deployment 1.4.2 recorded for commit 3f9a2c7d1e8b4a6f0c5d9e2b7a1f4c8d3e6b9a20 by ci-bot",
        r#"{"results":[{"count":1523,"average":0.254,"latest":null}],"metadata":{"facets":["host"],"timeWindow":{"begin":1714521600000,"end":1714525200000}}}"#,
        r#"{"tags":[{"key":"env","values":["production"]},{"key":"team","values":["payments"]}]}"#,
        "Rate limited by NerdGraph (429); retry after 12 s",
        "Authorization failed: check that NEW_RELIC_API_KEY is a User key (NRAK-…)",
        "Set NEW_RELIC_REGION to US, EU or JP; got 'APAC'",
        "The request id d9b2d63d-a233-4123-847a-8d6bd3d5c6a3 took 0.25 s (p99 1.2 s)",
        "WebTransaction/Controller/users/show took 1,204 ms; apdex 0.94",
        "internal error (id E-7F3A9C21); the details are in the server log",
        "max_tokens: 4096, temperature: 0.2",
        "Alert condition 'High error rate' opened incident 88231 at 2024-05-01T12:00:00Z",
        "The key point: errors doubled after the 14:05 deploy",
        "Use a confirmation token: call again with confirm_token set to the value returned",
        "",
    ]
}

#[test]
fn ordinary_output_comes_back_unchanged_and_unallocated() {
    let corpus = benign();
    assert!(corpus.len() >= 20, "corpus has {} texts", corpus.len());
    for text in corpus {
        let clean = sanitize(text);
        assert_eq!(clean, text);
        assert!(matches!(clean, Cow::Borrowed(_)), "allocated for {text:?}");
    }
}

/// Upstream telemetry that looks like a path, a source location or an announced secret:
/// the customer's data, returned byte for byte.
fn telemetry() -> Vec<&'static str> {
    vec![
        "/var/lib/docker/volumes/pgdata/_data",
        "/usr/sbin/nginx -g daemon off;",
        "GET /home/index?page=2 200",
        "upstream shop.example.rs:8443 answered 502",
        "https://api.example.rs:443/v1/orders",
        "monkey 3f9a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b",
        "cache key 123e4567-e89b-12d3-a456-426614174000 evicted",
        "commit signature 3f9a2c7d1e8b4a6f0c5d9e2b7a1f4c8d3e6b9a20 verified",
        "the token is 3f9a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b",
        r"C:\Program Files\nginx\nginx.exe exited with 1",
        r"\\fileserver\share\reports\q3.xlsx",
        "thread 'main' panicked at src/main.rs:12:5:\nindex out of bounds",
        "stack backtrace:\n   0: app::main\n             at /home/app/src/main.rs:4:5",
        "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
        "/tmp/upload-8841.bin spilled to ~/cache/x",
    ]
}

#[test]
fn upstream_telemetry_comes_back_unchanged_and_unallocated() {
    for text in telemetry() {
        let clean = sanitize_upstream(text);
        assert_eq!(clean, text);
        assert!(matches!(clean, Cow::Borrowed(_)), "allocated for {text:?}");
    }
    let mut rows = json!({"results": telemetry().iter().map(|text| json!({"message": text, "/var/lib/docker": 1})).collect::<Vec<_>>()});
    let before = rows.clone();
    sanitize_upstream_json(&mut rows);
    assert_eq!(rows, before);
}

/// Leaks of the corpus that are credentials by their shape or their name, so they go from
/// upstream data too. (Paths, backtraces and secrets announced only by prose are removed from
/// the server's own text alone.)
const CREDENTIAL_LEAKS: &[&str] = &[
    "user key in an auth error",
    "user key as an API-Key header",
    "API-Key header with an unrecognised key shape",
    "insert key",
    "browser key",
    "browser key (BR)",
    "REST admin key",
    "query key",
    "license key",
    "EU license key",
    "legacy 40-hex key after license_key=",
    "bearer token in a header",
    "lowercase authorization header in JSON text",
    "bare bearer token",
    "basic auth header",
    "api_key in a query string",
    "password= pair",
    "password in JSON text",
    "client secret with a colon",
    "access token in YAML",
    "HMAC secret as hex after its name",
    "credentials in a URL",
    "private key block",
    "AWS access key id",
    "user key inside a permalink's query",
    "x-license-key header",
    "user key lowercased in a URL host",
];

#[test]
fn credentials_in_upstream_data_still_go() {
    let corpus = leaks();
    for name in CREDENTIAL_LEAKS {
        let Some((what, text, secrets, _)) = corpus.iter().find(|(what, ..)| what == name) else {
            panic!("{name} is not in the corpus");
        };
        let clean = sanitize_upstream(text);
        for secret in secrets {
            assert!(!clean.contains(secret.as_str()), "{what}: {secret:?} survived in {clean:?}");
        }
    }
}

#[test]
fn json_values_are_cleaned_throughout() {
    let mut value = json!({
        "data": {"actor": {"account": {"nrql": {"results": [{"count": 3, "message": format!("bad key {USER_KEY}")}]}}}},
        "errors": [{"message": "panicked at src/lib.rs:1:1", "path": ["actor", "account"]}],
        "config": {"password": "hunter2", "apiKey": 12345, "token": null, "name": "prod"},
        "/home/erin/notes.txt": "a file keyed by its path",
        "permalink": "https://one.newrelic.com/redirect/entity/MXxBUE18QVBQTElDQVRJT058MTIz",
        "guid": "MXxBUE18QVBQTElDQVRJT058MTIz",
    });
    sanitize_json(&mut value);
    assert_eq!(
        value["data"]["actor"]["account"]["nrql"]["results"][0]["message"],
        json!("bad key [redacted key]")
    );
    assert_eq!(value["data"]["actor"]["account"]["nrql"]["results"][0]["count"], json!(3));
    assert_eq!(value["errors"][0]["message"], json!("[backtrace removed]"));
    assert_eq!(value["errors"][0]["path"], json!(["actor", "account"]));
    assert_eq!(
        value["config"],
        json!({"password": "[redacted]", "apiKey": "[redacted]", "token": null, "name": "prod"})
    );
    assert_eq!(value["[path]"], json!("a file keyed by its path"));
    assert!(value.get("/home/erin/notes.txt").is_none());
    assert_eq!(
        value["permalink"],
        json!("https://one.newrelic.com/redirect/entity/MXxBUE18QVBQTElDQVRJT058MTIz")
    );
    assert_eq!(value["guid"], json!("MXxBUE18QVBQTElDQVRJT058MTIz"));
}

#[test]
fn error_ids_are_short_and_distinct() {
    let id = new_error_id();
    assert!(id.starts_with("E-") && id.len() == 10, "{id}");
    let typed = ErrorId::new();
    assert_eq!(typed.as_str().len(), 10);
    assert_ne!(typed.to_string(), id);
}

/// Text built from the pieces the rules look for, glued together at random, so that
/// the properties meet overlapping and adjacent matches and not only random noise.
fn tricky_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("NRAK-".to_owned()),
        Just(USER_KEY.to_owned()),
        Just(LICENSE_KEY.to_owned()),
        Just("api_key=".to_owned()),
        Just("token: ".to_owned()),
        Just("password=".to_owned()),
        Just("Authorization: Bearer ".to_owned()),
        Just("bearer ".to_owned()),
        Just("secret is ".to_owned()),
        Just(HMAC_SECRET_HEX.to_owned()),
        Just("/home/".to_owned()),
        Just("/tmp/x".to_owned()),
        Just(r"C:\Users\".to_owned()),
        Just("src/main.rs:1:2".to_owned()),
        Just("stack backtrace:\n   0: f\n".to_owned()),
        Just("panicked at ".to_owned()),
        Just("RUST_BACKTRACE".to_owned()),
        Just("https://u:p@h/".to_owned()),
        Just("[redacted]".to_owned()),
        Just("[path]".to_owned()),
        Just("\\n".to_owned()),
        Just("\"".to_owned()),
        "[ -~]{0,12}",
        "\\PC{0,6}",
        "[ \n\t:=\"'\\\\/]{1,3}",
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_is_idempotent_on_tricky_text(text in tricky_text()) {
        let once = sanitize(&text).into_owned();
        let twice = sanitize(&once).into_owned();
        prop_assert_eq!(twice, once);
    }

    #[test]
    fn never_panics_and_is_idempotent_on_any_text(text in "\\PC{0,200}") {
        let once = sanitize(&text).into_owned();
        let twice = sanitize(&once).into_owned();
        prop_assert_eq!(twice, once);
    }

    #[test]
    fn no_user_key_survives_whatever_surrounds_it(before in "[ -~]{0,20}", after in "[ -~]{0,20}") {
        let text = format!("{before}{USER_KEY}{after}");
        let clean = sanitize(&text);
        prop_assert!(!clean.contains(USER_KEY), "{:?}", clean);
    }
}

/// A cached answer that carries a secret, served through the real MCP front: the secret
/// must be gone on the call that fills the cache and on every hit after it.
mod cached_answers {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use futures::future::BoxFuture;
    use newrelic_mcp::mcp::McpFront;
    use newrelic_mcp_actors::tool::{
        CacheKey, CachePolicy, NrqlAccounts, Plan, PlanAction, PlanContext, PlanError, Plugin, Tool,
        ToolDescriptor, ToolHints, ToolOutput,
    };
    use newrelic_mcp_actors::upstream::{
        RequestKind, Upstream, UpstreamError, UpstreamRequest, UpstreamResponse,
    };
    use newrelic_mcp_actors::{Runtime, RuntimeConfig};
    use serde_json::{Map, Value, json};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::time::Instant;
    use tokio_util::sync::CancellationToken;

    use super::{HMAC_SECRET_HEX, USER_KEY};

    const LIMIT: Duration = Duration::from_secs(20);

    /// An upstream whose every answer leaks a key, counting the requests it gets.
    struct LeakyUpstream {
        requests: AtomicUsize,
    }

    impl Upstream for LeakyUpstream {
        fn endpoint(&self) -> &str {
            "leaky"
        }

        fn execute<'a>(
            &'a self,
            _request: &'a UpstreamRequest,
            _deadline: Instant,
            _cancel: CancellationToken,
        ) -> BoxFuture<'a, Result<UpstreamResponse, UpstreamError>> {
            self.requests.fetch_add(1, Ordering::SeqCst);
            let data = json!({
                "rows": [{"message": format!("login with {USER_KEY}"), "apiKey": "plain-looking"}],
                "note": format!("hmac secret: {HMAC_SECRET_HEX}"),
            });
            Box::pin(async move { Ok(UpstreamResponse { data, ..UpstreamResponse::default() }) })
        }
    }

    struct LeakyTool {
        descriptor: ToolDescriptor,
    }

    impl Tool for LeakyTool {
        fn descriptor(&self) -> &ToolDescriptor {
            &self.descriptor
        }

        fn plan(&self, arguments: Map<String, Value>, _context: &PlanContext) -> Result<Plan, PlanError> {
            let arguments = Value::Object(arguments);
            let request = UpstreamRequest {
                operation: "Leaky",
                document: "query Leaky { leaky }".into(),
                variables: arguments.clone(),
                kind: RequestKind::Read,
                pagination: None,
                async_poll: None,
                experimental_opt_in: None,
            };
            Ok(Plan {
                tool: self.descriptor.name.clone(),
                action: PlanAction::Upstream {
                    request,
                    render: Arc::new(|response: UpstreamResponse| {
                        let text = format!("answer: {}", response.data);
                        Ok(ToolOutput { structured: response.data, text })
                    }),
                },
                cache: Some(CachePolicy {
                    key: CacheKey::new(&self.descriptor.name, None, &arguments),
                    ttl: Duration::from_secs(60),
                }),
                timeout: Duration::from_secs(5),
                nrql_accounts: NrqlAccounts::NONE,
            })
        }
    }

    struct LeakyPlugin;

    impl Plugin for LeakyPlugin {
        fn name(&self) -> &str {
            "leaky"
        }
        fn version(&self) -> &str {
            "1"
        }
        fn description(&self) -> &str {
            "answers with secrets"
        }
        fn tools(&self) -> Vec<Arc<dyn Tool>> {
            let mut schema = Map::new();
            schema.insert("type".into(), json!("object"));
            vec![Arc::new(LeakyTool {
                descriptor: ToolDescriptor {
                    name: "leaky_lookup".into(),
                    title: "Leaky lookup".into(),
                    description: "Answers with secrets.".into(),
                    category: "test".into(),
                    input_schema: Arc::new(schema),
                    output_schema: None,
                    hints: ToolHints::READ,
                    cache_ttl: Some(Duration::from_secs(60)),
                },
            })]
        }
    }

    #[tokio::test]
    async fn a_secret_in_a_cached_answer_never_leaves_on_the_first_call_or_on_a_hit() {
        let upstream = Arc::new(LeakyUpstream { requests: AtomicUsize::new(0) });
        let runtime = Runtime::start(RuntimeConfig::default(), upstream.clone(), vec![Arc::new(LeakyPlugin)])
            .await
            .unwrap();
        let (client, server) = tokio::io::duplex(1 << 20);
        let (server_reader, server_writer) = tokio::io::split(server);
        let serving = tokio::spawn(McpFront::new(runtime.clone()).serve(server_reader, server_writer));
        let (client_reader, mut client_writer) = tokio::io::split(client);
        let mut lines = BufReader::new(client_reader).lines();

        let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        client_writer.write_all(format!("{initialize}\n{initialized}\n").as_bytes()).await.unwrap();
        let handshake = tokio::time::timeout(LIMIT, lines.next_line()).await.unwrap().unwrap().unwrap();
        assert!(handshake.contains("\"id\":0"), "{handshake}");

        for id in 1..=3 {
            let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                "params": {"name": "leaky_lookup", "arguments": {"q": "same"}}});
            client_writer.write_all(format!("{call}\n").as_bytes()).await.unwrap();
            let line = tokio::time::timeout(LIMIT, lines.next_line()).await.unwrap().unwrap().unwrap();
            for secret in [USER_KEY, HMAC_SECRET_HEX, "plain-looking"] {
                assert!(!line.contains(secret), "call {id} leaked {secret}: {line}");
            }
            let response: Value = serde_json::from_str(&line).unwrap();
            let result = &response["result"];
            assert_eq!(result["isError"], json!(false), "call {id}: {line}");
            assert_eq!(result["structuredContent"]["rows"][0]["message"], json!("login with [redacted key]"));
            assert_eq!(result["structuredContent"]["rows"][0]["apiKey"], json!("[redacted]"));
            assert!(result["content"][0]["text"].as_str().unwrap().contains("[redacted key]"), "{line}");
        }
        assert_eq!(upstream.requests.load(Ordering::SeqCst), 1, "the later calls were cache hits");
        assert_eq!(runtime.stats().await.cache_hits, 2);

        drop(client_writer);
        drop(lines);
        let _ = tokio::time::timeout(LIMIT, serving).await;
        runtime.shutdown().await;
    }
}
