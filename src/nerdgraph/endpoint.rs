//! Where NerdGraph requests go: the three New Relic regions, or a custom URL that passes
//! [`validate_endpoint`].
//!
//! The API key travels with every request, so the rules are strict: a custom endpoint must be
//! `https` on `newrelic.com` (or a subdomain of it), or a loopback address when local endpoints
//! are explicitly permitted (sandbox mode, `--allow-local-endpoint`). Error messages name the
//! host at most, never the whole URL: a URL may carry credentials.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use reqwest::Url;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The domain every production NerdGraph endpoint lives under.
const NEW_RELIC_DOMAIN: &str = "newrelic.com";

/// What a custom endpoint may be; repeated in every refusal so the fix is obvious.
const ALLOWED: &str = "an https URL on newrelic.com or one of its subdomains \
     (e.g. https://api.eu.newrelic.com/graphql), or a loopback URL (127.0.0.1, ::1, localhost) \
     when running with --sandbox or --allow-local-endpoint";

/// A New Relic data-center region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Region {
    #[default]
    Us,
    Eu,
    Jp,
}

impl Region {
    pub const ALL: [Region; 3] = [Region::Us, Region::Eu, Region::Jp];

    /// The region's NerdGraph endpoint.
    pub fn nerdgraph_url(self) -> &'static str {
        match self {
            Region::Us => "https://api.newrelic.com/graphql",
            Region::Eu => "https://api.eu.newrelic.com/graphql",
            Region::Jp => "https://api.jp.newrelic.com/graphql",
        }
    }

    /// The spelling `NEW_RELIC_REGION` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Us => "US",
            Region::Eu => "EU",
            Region::Jp => "JP",
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown New Relic region `{given}`: NEW_RELIC_REGION must be US, EU or JP")]
pub struct RegionError {
    given: String,
}

impl FromStr for Region {
    type Err = RegionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        Region::ALL
            .into_iter()
            .find(|region| region.as_str().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| RegionError { given: trimmed.chars().take(32).collect() })
    }
}

impl Serialize for Region {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Region {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether loopback endpoints are acceptable. Only the sandbox and an explicit operator flag
/// permit them: anywhere else a loopback URL is more likely a misconfiguration or an attempt to
/// capture the API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopbackPolicy {
    Permit,
    Refuse,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("NEW_RELIC_NERDGRAPH_URL is not a valid URL ({reason}); it must be {ALLOWED}")]
    Unparsable { reason: String },
    #[error("NEW_RELIC_NERDGRAPH_URL must not carry a user name or password; it must be {ALLOWED}")]
    Credentials,
    #[error("NEW_RELIC_NERDGRAPH_URL uses scheme `{scheme}` for host `{host}`; it must be {ALLOWED}")]
    Scheme { scheme: String, host: String },
    /// The host is kept for code, never shown: a value that is no New Relic host may be
    /// something else pasted in the wrong place, such as the API key itself.
    #[error(
        "NEW_RELIC_NERDGRAPH_URL points at a host that is not a New Relic host (not shown, as it may \
         hold a secret pasted in the wrong place); it must be {ALLOWED}"
    )]
    ForeignHost { host: String },
    #[error(
        "NEW_RELIC_NERDGRAPH_URL points at loopback host `{host}`, which is refused unless the server \
         runs with --sandbox or --allow-local-endpoint; otherwise it must be {ALLOWED}"
    )]
    LoopbackRefused { host: String },
}

/// A NerdGraph URL that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    url: Url,
    loopback: bool,
}

impl Endpoint {
    /// The production endpoint of `region`.
    pub fn for_region(region: Region) -> Result<Self, EndpointError> {
        validate_endpoint(region.nerdgraph_url(), LoopbackPolicy::Refuse)
    }

    /// A custom endpoint, such as the value of `NEW_RELIC_NERDGRAPH_URL`.
    pub fn custom(raw: &str, loopback: LoopbackPolicy) -> Result<Self, EndpointError> {
        validate_endpoint(raw, loopback)
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// True for a loopback endpoint (the sandbox, a local proxy).
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks `raw` against the endpoint rules (see the module docs).
pub fn validate_endpoint(raw: &str, loopback: LoopbackPolicy) -> Result<Endpoint, EndpointError> {
    let url = Url::parse(raw.trim()).map_err(|err| EndpointError::Unparsable { reason: err.to_string() })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointError::Credentials);
    }
    let scheme = url.scheme();
    let Some(host_text) = url.host_str().map(str::to_owned) else {
        return Err(EndpointError::Unparsable { reason: "the URL has no host".to_owned() });
    };
    let host = HostKind::of(&host_text);
    match host {
        HostKind::NewRelic if scheme == "https" => Ok(Endpoint { url, loopback: false }),
        HostKind::NewRelic => Err(EndpointError::Scheme { scheme: scheme.to_owned(), host: host_text }),
        HostKind::Loopback if loopback == LoopbackPolicy::Refuse => {
            Err(EndpointError::LoopbackRefused { host: host_text })
        }
        HostKind::Loopback if scheme == "https" || scheme == "http" => Ok(Endpoint { url, loopback: true }),
        HostKind::Loopback => Err(EndpointError::Scheme { scheme: scheme.to_owned(), host: host_text }),
        HostKind::Foreign => Err(EndpointError::ForeignHost { host: host_text }),
    }
}

enum HostKind {
    NewRelic,
    Loopback,
    Foreign,
}

impl HostKind {
    /// Classifies a host as the URL parser normalised it: IPv6 literals in brackets, IPv4
    /// literals (in any notation the user wrote) as a dotted quad, domains in lower case.
    fn of(host: &str) -> Self {
        let ip = match host.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
            Some(v6) => v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
            None => host.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
        };
        if let Some(ip) = ip {
            // IP literals are never New Relic: an IP sidesteps the domain rule entirely.
            return if ip.is_loopback() { HostKind::Loopback } else { HostKind::Foreign };
        }
        // A single trailing dot names the same (fully qualified) domain.
        let domain = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        if domain.split('.').any(str::is_empty) {
            HostKind::Foreign
        } else if domain == "localhost" {
            HostKind::Loopback
        } else if is_new_relic_domain(&domain) {
            HostKind::NewRelic
        } else {
            HostKind::Foreign
        }
    }
}

fn is_new_relic_domain(domain: &str) -> bool {
    domain == NEW_RELIC_DOMAIN
        || domain.strip_suffix(NEW_RELIC_DOMAIN).is_some_and(|prefix| prefix.ends_with('.'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[derive(Debug, PartialEq)]
    enum Expect {
        Accepted { loopback: bool },
        Unparsable,
        Credentials,
        Scheme,
        Foreign,
        LoopbackRefused,
    }

    fn outcome(result: Result<Endpoint, EndpointError>) -> Expect {
        match result {
            Ok(endpoint) => Expect::Accepted { loopback: endpoint.is_loopback() },
            Err(EndpointError::Unparsable { .. }) => Expect::Unparsable,
            Err(EndpointError::Credentials) => Expect::Credentials,
            Err(EndpointError::Scheme { .. }) => Expect::Scheme,
            Err(EndpointError::ForeignHost { .. }) => Expect::Foreign,
            Err(EndpointError::LoopbackRefused { .. }) => Expect::LoopbackRefused,
        }
    }

    #[test]
    fn endpoint_rules() {
        use Expect::*;
        use LoopbackPolicy::{Permit, Refuse};
        let table: &[(&str, LoopbackPolicy, Expect)] = &[
            ("https://api.newrelic.com/graphql", Refuse, Accepted { loopback: false }),
            ("https://api.eu.newrelic.com/graphql", Refuse, Accepted { loopback: false }),
            ("https://API.JP.NEWRELIC.COM/graphql", Refuse, Accepted { loopback: false }),
            ("https://newrelic.com/graphql", Refuse, Accepted { loopback: false }),
            ("https://api.newrelic.com:8443/graphql", Refuse, Accepted { loopback: false }),
            ("https://api.newrelic.com./graphql", Refuse, Accepted { loopback: false }),
            ("  https://api.newrelic.com/graphql  ", Refuse, Accepted { loopback: false }),
            ("http://api.newrelic.com/graphql", Refuse, Scheme),
            ("ftp://api.newrelic.com/graphql", Permit, Scheme),
            ("https://evilnewrelic.com/graphql", Refuse, Foreign),
            ("https://newrelic.com.evil.io/graphql", Refuse, Foreign),
            ("https://api.newrelic.co/graphql", Refuse, Foreign),
            ("https://newrelic.com@evil.io/graphql", Refuse, Credentials),
            ("https://user:secret@api.newrelic.com/graphql", Refuse, Credentials),
            ("https://evil.io#@api.newrelic.com/graphql", Refuse, Foreign),
            ("https://evil.io\\@api.newrelic.com/graphql", Refuse, Foreign),
            ("https://evil.io/api.newrelic.com/graphql", Refuse, Foreign),
            ("https://api..newrelic.com/graphql", Refuse, Foreign),
            ("https://162.247.241.2/graphql", Refuse, Foreign),
            ("https://[2001:db8::1]/graphql", Refuse, Foreign),
            ("http://127.0.0.1:4000/graphql", Permit, Accepted { loopback: true }),
            ("http://127.10.0.1:4000/graphql", Permit, Accepted { loopback: true }),
            ("https://127.0.0.1/graphql", Permit, Accepted { loopback: true }),
            ("http://[::1]:4000/graphql", Permit, Accepted { loopback: true }),
            ("http://localhost:4000/graphql", Permit, Accepted { loopback: true }),
            ("http://LOCALHOST./graphql", Permit, Accepted { loopback: true }),
            ("http://127.0.0.1:4000/graphql", Refuse, LoopbackRefused),
            ("http://[::1]/graphql", Refuse, LoopbackRefused),
            ("http://localhost/graphql", Refuse, LoopbackRefused),
            ("http://0.0.0.0:4000/graphql", Permit, Foreign),
            ("http://10.0.0.5/graphql", Permit, Foreign),
            ("http://localhost.evil.io/graphql", Permit, Foreign),
            ("file:///etc/passwd", Permit, Unparsable),
            ("api.newrelic.com/graphql", Refuse, Unparsable),
            ("", Refuse, Unparsable),
        ];
        for (raw, policy, expected) in table {
            assert_eq!(&outcome(validate_endpoint(raw, *policy)), expected, "{raw:?} with {policy:?}");
        }
    }

    #[test]
    fn refusals_say_what_is_allowed_and_never_echo_credentials() {
        for raw in
            ["https://user:NRAK-SECRET@api.newrelic.com/", "https://evil.io/", "http://api.newrelic.com/"]
        {
            let message = validate_endpoint(raw, LoopbackPolicy::Refuse).unwrap_err().to_string();
            assert!(message.contains("https URL on newrelic.com"), "{message}");
            assert!(message.contains("--allow-local-endpoint"), "{message}");
            assert!(!message.contains("NRAK-SECRET"), "{message}");
        }
    }

    #[test]
    fn regions_parse_case_insensitively_and_map_to_their_endpoints() {
        let table = [
            ("US", Region::Us, "https://api.newrelic.com/graphql"),
            ("us", Region::Us, "https://api.newrelic.com/graphql"),
            (" eu ", Region::Eu, "https://api.eu.newrelic.com/graphql"),
            ("Jp", Region::Jp, "https://api.jp.newrelic.com/graphql"),
        ];
        for (text, region, url) in table {
            assert_eq!(text.parse::<Region>().unwrap(), region, "{text}");
            assert_eq!(region.nerdgraph_url(), url);
            let endpoint = Endpoint::for_region(region).unwrap();
            assert_eq!(endpoint.as_str(), url);
            assert!(!endpoint.is_loopback());
        }
    }

    #[test]
    fn unknown_regions_are_refused_with_the_accepted_values() {
        for text in ["", "USA", "gov", "E U"] {
            let message = text.parse::<Region>().unwrap_err().to_string();
            assert!(message.contains("US, EU or JP"), "{message}");
        }
    }

    #[test]
    fn regions_round_trip_through_serde() {
        let region: Region = serde_json::from_str("\"eu\"").unwrap();
        assert_eq!(region, Region::Eu);
        assert_eq!(serde_json::to_string(&Region::Jp).unwrap(), "\"JP\"");
        assert!(serde_json::from_str::<Region>("\"mars\"").is_err());
    }
}
